"""The dashboard: the shop's backorder health at a glance, charts drawn on the server."""

from __future__ import annotations

from flask import Blueprint

from app.db import unit_of_work
from app.domain.merchant.dashboard import metrics
from app.web.deps import rt
from app.web.merchant import charts
from app.web.merchant.common import merchant, page

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    with unit_of_work(rt().sessions) as session:
        m = metrics(session, merchant().shop_id)
    suppliers = [(p.name, p.on_time_rate) for p in m.suppliers]
    return page("merchant/dashboard.html", m=m, supplier_rows=suppliers, charts={
        "backordered": charts.line_chart(m.days, [p.value for p in m.backordered_units]),
        "messages": charts.stacked_bars(m.days, {"sent": [d.sent for d in m.messages],
                                                 "failed": [d.failed for d in m.messages]}),
        "suppliers": charts.share_bars(suppliers),
        "waits": charts.wait_histogram(m.waits_days),
    })
