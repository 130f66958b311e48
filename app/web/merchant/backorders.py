"""Backorders: every variant's standing, and who waits for it in what order."""

from __future__ import annotations

from flask import Blueprint, request

from app.db import unit_of_work
from app.domain.merchant import queue
from app.web.deps import row_id, rt
from app.web.merchant.common import merchant, page

bp = Blueprint("backorders", __name__, url_prefix="/backorders")


@bp.get("/")
def index():
    """Variants, most backordered first; filter by status, search SKU, title, order or email."""
    status = request.args.get("status", "")
    query = request.args.get("q", "")[:200]
    waiting = request.args.get("waiting") == "1"
    with unit_of_work(rt().sessions) as session:
        result = queue.variant_page(session, merchant().shop_id, status=status or None,
                                    query=query, waiting_only=waiting,
                                    page=row_id(request.args.get("page")) or 1)
    return page("merchant/backorders.html", result=result, status=status, q=query,
                waiting=waiting, statuses=queue.STATUSES)


@bp.get("/<id:variant_id>")
def variant(variant_id: int):
    """One variant's queue: position, order, units covered and backordered, each line's ETA."""
    with unit_of_work(rt().sessions) as session:
        view = queue.variant_queue(session, merchant().shop_id, variant_id)
    return page("merchant/variant.html", view=view)
