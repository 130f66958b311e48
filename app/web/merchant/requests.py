"""Customer requests: cancellations and their Shopify order edits and refunds, switch requests,
goodwill codes, with every failure spelled out."""

from __future__ import annotations

from flask import Blueprint

from app.db import unit_of_work
from app.domain.customer_options.requests import (
    EDIT_LABELS,
    customer_requests,
    refund_label,
    when,
)
from app.web.deps import rt
from app.web.merchant.common import merchant, page

bp = Blueprint("requests", __name__, url_prefix="/requests")


@bp.get("/")
def index():
    with unit_of_work(rt().sessions) as session:
        view = customer_requests(session, merchant().shop_id)
    return page("merchant/requests.html", view=view, edit_labels=EDIT_LABELS,
                refund_label=refund_label, when=when)
