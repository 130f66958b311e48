"""Receiving a PO: counts, lead-time records, stock in Shopify exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import jobs as queueing
from app.domain.base import utcnow
from app.domain.intents import PushReceipts
from app.domain.shops.models import Shop
from app.domain.suppliers import receiving
from app.domain.suppliers.models import LeadTimeRecord, PoReceipt, PoStatus, PurchaseOrder
from app.errors import Conflict, InvalidInput, TransientError
from tests.suppliers.world import LOCATION
from workers import suppliers as jobs

TODAY = utcnow().date()


@pytest.fixture
def sent(world, shopify):
    """Acme's PO for 5 of variant 11 (3 backordered) and 4 of variant 12, sent 9 days ago."""
    acme = world.supplier("Acme")
    for variant_id, sku in ((11, "TEE-M"), (12, "TEE-L")):
        world.item(acme, sku)
        world.variant(variant_id, sku, available=0)
        shopify.add_variant(variant_id, sku=sku, inventory_item_id=variant_id * 10,
                            available={LOCATION: 0})
    world.po_id = world.po(acme, [(11, 5, TODAY + timedelta(days=1)),
                                  (12, 4, TODAY + timedelta(days=1))],
                           sent_at=utcnow() - timedelta(days=9), promised_days=7)
    world.customer = world.order(11, 3)
    world.recompute(11, 12)
    world.line_ids = {line.variant_id: line.id for line in world.pos()[0].lines}
    return world


def receive(world, quantities: dict[int, int]) -> list:
    with world.session() as s:
        return receiving.receive_purchase_order(
            s, world.po_id, {world.line_ids[v]: q for v, q in quantities.items()},
            shop_id=world.shop_id)


def receipts(world) -> list[PoReceipt]:
    with world.session() as s:
        return list(s.scalars(select(PoReceipt).order_by(PoReceipt.id)))


def test_a_partial_then_full_receipt_moves_the_po_to_received(sent):
    receive(sent, {11: 2})
    assert sent.pos()[0].status == PoStatus.PARTIALLY_RECEIVED

    receive(sent, {11: 3, 12: 4})

    po = sent.pos()[0]
    assert po.status == PoStatus.RECEIVED
    assert sorted((line.variant_id, line.received_quantity) for line in po.lines) == [
        (11, 5), (12, 4)]


def test_each_received_line_records_promised_against_actual_lead_time(sent):
    receive(sent, {11: 5, 12: 4})

    with sent.session() as s:
        records = s.scalars(select(LeadTimeRecord)).all()
    assert sorted((r.po_line_id, r.promised_days, r.actual_days) for r in records) == sorted(
        (line_id, 7, 9) for line_id in sent.line_ids.values())


def test_received_units_cover_the_waiting_customers_at_once(sent):
    assert sent.line(sent.customer).backordered == 3

    receive(sent, {11: 3})

    assert sent.line(sent.customer).backordered == 0


def test_received_stock_is_added_in_shopify_once_per_receipt(sent, run_jobs, shopify):
    followups = receive(sent, {11: 5, 12: 4})
    assert PushReceipts(sent.po_id) in followups

    queueing.enqueue(sent.rt.redis, [PushReceipts(sent.po_id)])
    run_jobs()
    jobs.push_receipts(sent.po_id)  # a retried job

    assert sorted((item, delta) for item, _, delta, _ in shopify.adjustments) == [
        (110, 5), (120, 4)]
    assert shopify.level(11, LOCATION) == 5
    assert {r.push_status for r in receipts(sent)} == {receiving.PUSHED}


def test_a_crash_after_shopify_applied_the_units_never_adds_them_twice(sent, shopify,
                                                                       monkeypatch):
    receive(sent, {11: 5})

    def crash(session, receipt_id):
        raise SystemExit("worker killed after Shopify applied the adjustment")

    with monkeypatch.context() as patch:
        patch.setattr(receiving, "record_receipt_pushed", crash)
        with pytest.raises(SystemExit):
            jobs.push_receipts(sent.po_id)
    jobs.push_receipts(sent.po_id)
    [receipt] = receipts(sent)
    with sent.session() as s:  # much later, the next attempt finds the claim abandoned
        s.get(PoReceipt, receipt.id).push_started_at -= timedelta(minutes=30)
        assert receiving.claim_receipt(s, receipt.id) is None

    assert len(shopify.adjustments) == 1
    [receipt] = receipts(sent)
    assert receipt.push_status == receiving.UNKNOWN and "outcome unknown" in receipt.last_error


def test_throttling_is_retried_but_a_timeout_waits_for_the_merchant(sent, shopify):
    receive(sent, {11: 5, 12: 4})
    shopify.fail_next(1, TransientError("throttled", code="THROTTLED"))
    with pytest.raises(TransientError):
        jobs.push_receipts(sent.po_id)
    shopify.fail_next(1, TransientError("read timeout", code="timeout"))
    with pytest.raises(TransientError):
        jobs.push_receipts(sent.po_id)  # the retry: first receipt times out
    jobs.push_receipts(sent.po_id)  # and again: the second goes through

    statuses = [r.push_status for r in receipts(sent)]
    assert statuses == [receiving.UNKNOWN, receiving.PUSHED]
    assert [(item, delta) for item, _, delta, _ in shopify.adjustments] == [(120, 4)]

    with sent.session() as s:  # Shopify's history shows no +5: the merchant pushes it again
        followups = receiving.resolve_receipt_push(s, sent.shop_id, receipts(sent)[0].id,
                                                   applied=False)
    assert followups == [PushReceipts(sent.po_id)]
    jobs.push_receipts(sent.po_id)
    assert sorted(delta for _, _, delta, _ in shopify.adjustments) == [4, 5]


def test_receiving_more_than_is_still_expected_is_refused_and_changes_nothing(sent):
    with pytest.raises(InvalidInput) as refused:
        receive(sent, {11: 6, 12: 1})

    assert refused.value.field_errors == {f"line {sent.line_ids[11]}": "only 5 still expected"}
    assert {line.received_quantity for line in sent.pos()[0].lines} == {0}
    assert receipts(sent) == []


def test_a_draft_cannot_be_received(sent):
    with sent.session() as s:
        s.get(PurchaseOrder, sent.po_id).status = PoStatus.DRAFT

    with pytest.raises(Conflict):
        receive(sent, {11: 1})


def test_a_shop_without_admin_access_fails_the_push_once_and_says_what_to_do(sent, run_jobs,
                                                                               rt):
    with sent.session() as s:
        s.get(Shop, sent.shop_id).token_ciphertext = None  # the demo shop: no Admin token
    followups = receive(sent, {11: 5})
    queueing.enqueue(rt.redis, [f for f in followups if isinstance(f, PushReceipts)])

    run_jobs()
    assert [(r.push_status, r.last_error) for r in receipts(sent)] == [
        ("failed", "Could not update Shopify: this shop has no Admin API access; reconnect it")]
