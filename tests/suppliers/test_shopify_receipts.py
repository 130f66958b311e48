"""Stock received directly in Shopify admin is matched to open PO lines, exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.base import utcnow
from app.domain.inventory import state
from app.domain.inventory.payloads import LevelSnapshot, LineSnapshot, OrderSnapshot
from app.domain.suppliers import receiving
from app.domain.suppliers.leadtimes import lead_time_days_for
from app.domain.suppliers.models import LeadTimeRecord, PoReceipt, PoStatus
from app.domain.suppliers.shopify_receipts import RECEIPTS
from tests.conftest import WEBHOOK_SECRET
from tests.suppliers.world import LOCATION
from tests.support.shopify import level_payload, post_webhook
from workers import suppliers as jobs

TODAY = utcnow().date()
TEE, ITEM = 11, 110  # the world's inventory item id is the variant id * 10


@pytest.fixture
def ordered(world, shopify, client, run_jobs):
    """Two sent POs for the same tee: the first placed is due later than the second."""
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M", lead_time_days=7)
    world.variant(TEE, "TEE-M", available=0)
    shopify.add_variant(TEE, sku="TEE-M", inventory_item_id=ITEM, available={LOCATION: 0})
    sent = utcnow() - timedelta(days=12)
    world.late = world.po(acme, [(TEE, 5, TODAY + timedelta(days=5))], sent_at=sent)
    world.early = world.po(acme, [(TEE, 4, TODAY + timedelta(days=2))], sent_at=sent)
    world.client, world.run_jobs, world.minute = client, run_jobs, 0
    return world


def stock_webhook(world, available: int, *, minute: int | None = None, **headers) -> None:
    """Shopify's inventory_levels/update for the tee, then the workers; newer each call."""
    if minute is None:
        world.minute += 1
        minute = world.minute
    at = (utcnow() + timedelta(minutes=minute)).isoformat()
    response = post_webhook(world.client, "inventory_levels/update",
                            level_payload(ITEM, LOCATION, available, at),
                            secret=WEBHOOK_SECRET, shop=world.shop.domain, **headers)
    assert response.status_code == 200
    world.run_jobs()


def received(world) -> dict[int, tuple[int, PoStatus]]:
    """Units received and status per PO id."""
    return {po.id: (sum(line.received_quantity for line in po.lines), po.status)
            for po in world.pos()}


def receipts(world) -> list[tuple[int, int, str]]:
    with world.session() as s:
        return [(r.po_id, r.quantity, r.push_status)
                for r in s.scalars(select(PoReceipt).order_by(PoReceipt.id))]


def test_stock_received_in_shopify_is_matched_to_the_oldest_open_po_line(ordered):
    stock_webhook(ordered, 4)

    assert received(ordered) == {ordered.early: (4, PoStatus.RECEIVED),
                                 ordered.late: (0, PoStatus.SENT)}
    assert receipts(ordered) == [(ordered.early, 4, receiving.IN_SHOPIFY)]


def test_a_partial_restock_in_shopify_partly_receives_the_po(ordered):
    stock_webhook(ordered, 3)
    assert received(ordered) == {ordered.early: (3, PoStatus.PARTIALLY_RECEIVED),
                                 ordered.late: (0, PoStatus.SENT)}

    stock_webhook(ordered, 6)  # three more: one finishes the early PO, two go to the late one

    assert received(ordered) == {ordered.early: (4, PoStatus.RECEIVED),
                                 ordered.late: (2, PoStatus.PARTIALLY_RECEIVED)}
    assert receipts(ordered) == [(ordered.early, 3, receiving.IN_SHOPIFY),
                                 (ordered.early, 1, receiving.IN_SHOPIFY),
                                 (ordered.late, 2, receiving.IN_SHOPIFY)]


def test_units_beyond_every_open_line_are_left_alone(ordered):
    stock_webhook(ordered, 20)

    assert received(ordered) == {ordered.early: (4, PoStatus.RECEIVED),
                                 ordered.late: (5, PoStatus.RECEIVED)}
    assert sum(quantity for _, quantity, _ in receipts(ordered)) == 9


def test_a_redelivered_stock_webhook_is_not_matched_twice(ordered):
    stock_webhook(ordered, 3, minute=10, event_id="ev-restock")
    stock_webhook(ordered, 3, minute=10, event_id="ev-restock")  # the same delivery: inbox dedup
    stock_webhook(ordered, 3, minute=10)  # the same snapshot under another event id
    stock_webhook(ordered, 0, minute=5)  # a stale, older snapshot arriving late
    stock_webhook(ordered, 3, minute=10)

    assert received(ordered)[ordered.early] == (3, PoStatus.PARTIALLY_RECEIVED)
    assert receipts(ordered) == [(ordered.early, 3, receiving.IN_SHOPIFY)]
    with ordered.session() as s:
        assert ordered.available(s, TEE) == 3


def test_stock_the_app_received_itself_is_not_matched_again(ordered, shopify):
    early_line = ordered.pos()[1].lines[0].id
    with ordered.session() as s:
        receiving.receive_purchase_order(s, ordered.early, {early_line: 4})
    jobs.push_receipts(ordered.early)
    assert shopify.level(TEE, LOCATION) == 4

    stock_webhook(ordered, 4)  # Shopify reports the units the app just added

    assert received(ordered) == {ordered.early: (4, PoStatus.RECEIVED),
                                 ordered.late: (0, PoStatus.SENT)}
    assert receipts(ordered) == [(ordered.early, 4, receiving.PUSHED)]

    stock_webhook(ordered, 7)  # later, a delivery counted in Shopify admin

    assert received(ordered)[ordered.late] == (3, PoStatus.PARTIALLY_RECEIVED)


def test_the_apps_own_units_are_recognised_after_an_older_snapshot_replaced_them(ordered,
                                                                                 shopify):
    early_line = ordered.pos()[1].lines[0].id
    with ordered.session() as s:
        receiving.receive_purchase_order(s, ordered.early, {early_line: 4})
    stock_webhook(ordered, -1)  # a sale, before the push: Shopify's count lacks the 4 units
    jobs.push_receipts(ordered.early)

    stock_webhook(ordered, 3)  # the push comes back: +4 over the last snapshot

    assert received(ordered)[ordered.late] == (0, PoStatus.SENT)
    assert [status for *_, status in receipts(ordered)] == [receiving.PUSHED]
    with ordered.session() as s:
        assert s.scalar(select(PoReceipt.echo_pending)) == 0


def test_a_restock_from_a_cancelled_order_is_not_taken_for_a_delivery(ordered):
    placed = utcnow()
    line = LineSnapshot(9001, TEE, "Tee", 2, 2, 0)
    order = OrderSnapshot(9000, "#9000", "c@example.com", None, None, "en", placed, placed,
                          None, (line,))
    with ordered.session() as s:
        state.apply_order(s, ordered.shop_id, order)
        state.apply_level(s, ordered.shop_id, LevelSnapshot(ITEM, LOCATION, -2, placed),
                          receipts=RECEIPTS)
    cancelled = placed + timedelta(minutes=1)
    with ordered.session() as s:
        state.apply_order(s, ordered.shop_id, OrderSnapshot(
            9000, "#9000", "c@example.com", None, None, "en", placed, cancelled, cancelled,
            (line,)))
        # Shopify restocks the two units when the order is cancelled.
        state.apply_level(s, ordered.shop_id, LevelSnapshot(ITEM, LOCATION, 0, cancelled),
                          receipts=RECEIPTS)

    assert received(ordered) == {ordered.early: (0, PoStatus.SENT),
                                 ordered.late: (0, PoStatus.SENT)}
    assert receipts(ordered) == []


def test_matched_receipts_feed_learned_lead_times(ordered):
    sent_on = ordered.pos()[0].sent_at.date()
    third = ordered.po(ordered.pos()[0].supplier_id, [(TEE, 2, TODAY + timedelta(days=9))],
                       sent_at=ordered.pos()[0].sent_at)
    with ordered.session() as s:  # no deliveries yet: plans use Acme's 7-day promise
        assert lead_time_days_for(s, shop_id=ordered.shop_id, sku="TEE-M") == 7

    stock_webhook(ordered, 11)  # all three of Acme's POs arrive, counted in Shopify admin

    assert received(ordered)[third] == (2, PoStatus.RECEIVED)
    with ordered.session() as s:
        records = s.scalars(select(LeadTimeRecord).order_by(LeadTimeRecord.id)).all()
        actual = (records[0].received_on - sent_on).days
        assert actual >= 12 and records[0].received_on >= TODAY
        assert [(r.promised_days, r.actual_days) for r in records] == [(7, actual)] * 3
        # Three deliveries are enough history: what Acme really takes replaces its promise.
        assert lead_time_days_for(s, shop_id=ordered.shop_id, sku="TEE-M") == actual


def test_no_inventory_adjust_is_sent_for_stock_received_in_shopify(ordered, shopify):
    stock_webhook(ordered, 9)
    jobs.push_receipts(ordered.early)
    jobs.push_receipts(ordered.late)

    assert received(ordered) == {ordered.early: (4, PoStatus.RECEIVED),
                                 ordered.late: (5, PoStatus.RECEIVED)}
    assert shopify.adjustments == []
    assert not [call for call in shopify.calls if call[0] == "adjust_inventory"]
    with ordered.session() as s:
        assert receiving.pending_receipt_ids(s, ordered.early) == []


def test_stock_found_by_a_sync_is_matched_too(ordered, shopify):
    from workers.shopify import sync_shop
    shopify.add_variant(TEE, sku="TEE-M", inventory_item_id=ITEM, available={LOCATION: 6})

    sync_shop(ordered.shop_id)  # the daily reconciliation reads Shopify's stock

    assert received(ordered) == {ordered.early: (4, PoStatus.RECEIVED),
                                 ordered.late: (2, PoStatus.PARTIALLY_RECEIVED)}
    assert shopify.adjustments == []


def test_stock_at_a_location_the_shop_does_not_count_is_not_matched(ordered):
    from app.domain.inventory.models import ShopSettings
    with ordered.session() as s:
        s.get(ShopSettings, ordered.shop_id).counted_location_ids = [LOCATION + 1]

    stock_webhook(ordered, 4)

    assert receipts(ordered) == []


def test_units_added_by_hand_after_a_failed_push_are_not_a_second_delivery(ordered, shopify):
    from app.errors import PermanentError
    early_line = ordered.pos()[1].lines[0].id
    with ordered.session() as s:
        receiving.receive_purchase_order(s, ordered.early, {early_line: 4})
    shopify.fail_next(1, PermanentError("location not active"))
    with pytest.raises(PermanentError):
        jobs.push_receipts(ordered.early)

    stock_webhook(ordered, 4)  # the merchant adds the 4 units in Shopify admin instead

    assert received(ordered) == {ordered.early: (4, PoStatus.RECEIVED),
                                 ordered.late: (0, PoStatus.SENT)}
    assert [status for *_, status in receipts(ordered)] == [receiving.FAILED]
