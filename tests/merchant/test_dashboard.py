"""Dashboard figures from the shop's history, and the page that draws them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.domain.inventory.models import Effect
from app.domain.merchant.dashboard import metrics, percentile
from app.domain.notifications.models import Notification
from app.domain.suppliers.models import LeadTimeRecord
from tests.suppliers.world import now

TODAY = now().date()


def at(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), UTC) \
        + timedelta(hours=hour)


def effect(world, line_id: int, kind: str, when: datetime) -> None:
    with world.session() as s:
        s.add(Effect(shop_id=world.shop_id, variant_id=11, line_item_id=line_id, kind=kind,
                     created_at=when))


def history(world) -> list[int]:
    """Four one-unit lines: backordered 6 days ago and filled 4 days ago; backordered 4 days
    ago and filled yesterday; backordered 2 days ago and still waiting; never backordered."""
    from app.domain.inventory.models import OrderLine
    world.variant(11, "TEE-M", available=0)
    lines = [world.order(11, 1, placed_at=at(n)) for n in (6, 4, 2, 3)]
    for line, opened, closed in ((lines[0], 6, 4), (lines[1], 4, 1), (lines[2], 2, None)):
        effect(world, line, "line_backordered", at(opened))
        if closed is not None:
            effect(world, line, "line_ready_to_ship", at(closed))
    with world.session() as s:
        s.execute(OrderLine.__table__.update().where(OrderLine.line_item_id == lines[2])
                  .values(backordered=1))
    return lines


def test_open_backordered_units_are_replayed_day_by_day(world):
    history(world)
    with world.session() as s:
        m = metrics(s, world.shop_id, today=TODAY, days=8)
    assert [p.day for p in m.backordered_units] == m.days
    # Each day's peak: yesterday began with two lines waiting and one was filled at noon.
    assert [int(p.value) for p in m.backordered_units] == [0, 1, 1, 1, 1, 2, 2, 1]


def test_a_backorder_filled_the_same_day_still_shows_on_the_chart(world):
    world.variant(11, "TEE-M", available=0)
    line = world.order(11, 3, placed_at=at(1, 9))
    effect(world, line, "line_backordered", at(1, 9))
    effect(world, line, "line_ready_to_ship", at(1, 15))
    with world.session() as s:
        m = metrics(s, world.shop_id, today=TODAY, days=3)
    assert [int(p.value) for p in m.backordered_units] == [0, 3, 0]


def test_fill_rate_and_waits(world):
    history(world)
    with world.session() as s:
        m = metrics(s, world.shop_id, today=TODAY, days=8)
    assert (m.lines_ordered, m.lines_backordered) == (4, 3)
    assert m.fill_rate == 0.25
    assert sorted(round(w) for w in m.waits_days) == [2, 3]
    assert m.wait_average == 2.5 and m.wait_p90 == 3


def test_percentile_is_nearest_rank():
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0


def test_messages_and_supplier_on_time_rate(world):
    supplier = world.supplier("Acme")
    with world.session() as s:
        s.add_all([Notification(shop_id=world.shop_id, order_id=1, dedup_key=f"k{n}",
                                channel="email", kind="backordered", status=status,
                                sent_at=at(1) if status == "sent" else None, updated_at=at(1))
                   for n, status in enumerate(["sent", "sent", "failed", "pending"])])
        s.add_all([LeadTimeRecord(shop_id=world.shop_id, supplier_id=supplier, po_line_id=n,
                                  promised_days=7, actual_days=actual, received_on=TODAY)
                   for n, actual in enumerate([5, 7, 9, 12])])
    with world.session() as s:
        m = metrics(s, world.shop_id, today=TODAY, days=8)
    assert (m.sent, m.failed) == (2, 1)
    assert m.messages[-2].sent == 2 and m.messages[-2].failed == 1
    acme, = m.suppliers
    assert acme.on_time_rate == 0.5


def test_the_dashboard_draws_its_charts_as_inline_svg(merchant_client, world):
    history(world)
    page = merchant_client.get("/app/").get_data(as_text=True)
    for chart in ("chart-backordered", "chart-waits", "chart-suppliers", "chart-messages"):
        assert re.search(rf'<svg class="chart" id="{chart}"', page), chart
    assert re.search(r'<path class="line" d="M[\d., L]+"', page)
    assert len(re.findall(r'<rect class="bar wait"', page)) == 2
    assert 'id="fill-rate">25%' in page
