"""Sending POs: one per supplier after a burst, by real SMTP, at most once across retries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app.domain.suppliers import dispatch, portal
from app.domain.suppliers.models import PoStatus, PurchaseOrder
from app.errors import PermanentError, TransientError
from app.jobs import SUPPLIERS, enqueue, route
from workers import suppliers as jobs


def supplier_jobs(intents) -> list:
    """What the engine asked of the supplier queue (the other queues are not under test)."""
    return [i for i in intents if route(i).queue == SUPPLIERS]


def draft_for(world, *skus: str, auto_send: bool = True) -> int:
    """A draft PO from Acme for one backordered unit of each SKU; approved when auto_send."""
    world.settings(po_auto_send=auto_send, po_coalesce_minutes=0)
    acme = world.supplier("Acme")
    for n, sku in enumerate(skus, start=1):
        world.item(acme, sku, unit_cost="4.50")
        world.variant(10 + n, sku, available=0)
        world.backorder(10 + n, n)
    world.plan()
    [po] = world.pos()
    return po.id


def crash(rt, po_id: int) -> None:
    """The worker dies after the SMTP server accepted the PO, before SENT is committed."""
    raise SystemExit("worker killed")


def po(world, po_id: int) -> PurchaseOrder:
    return next(p for p in world.pos() if p.id == po_id)


def test_a_backorder_burst_sends_one_po_per_supplier_by_email_with_the_csv(world, smtp,
                                                                           run_jobs, shopify):
    world.settings(po_auto_send=True, po_coalesce_minutes=0)
    acme, bolt = world.supplier("Acme"), world.supplier("Bolt")
    variants = {11: acme, 12: acme, 13: acme, 14: acme, 15: acme, 16: bolt, 17: bolt}
    for variant_id, supplier in variants.items():
        world.item(supplier, f"SKU-{variant_id}")
        world.variant(variant_id, f"SKU-{variant_id}", available=0)
    for variant_id in variants:  # the burst: every order is a webhook, each one recomputes
        world.order(variant_id, 2)
        enqueue(world.rt.redis, supplier_jobs(world.recompute(variant_id)))

    run_jobs()

    pos = world.pos()
    assert sorted(p.supplier_id for p in pos) == [acme, bolt]
    assert all(p.status == PoStatus.SENT and p.dispatch_attempts == 1 for p in pos)
    assert sorted(m["To"] for m in smtp.messages) == ["acme@example.com", "bolt@example.com"]
    acme_po = next(p for p in pos if p.supplier_id == acme)
    mail = next(m for m in smtp.messages if m["To"] == "acme@example.com")
    assert mail["Message-ID"] == f"<purchase-order.{acme_po.number}@backorder.test>"
    assert mail["Subject"] == f"Purchase order {acme_po.number} from Tee Shop"
    body = mail.get_body(("plain",)).get_content()
    assert "https://backorder.test/supplier/po/" in body and "SKU-15" in body
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"{acme_po.number}.csv"
    rows = list(csv.DictReader(io.StringIO(attachment.get_content().decode()
                                           if isinstance(attachment.get_content(), bytes)
                                           else attachment.get_content())))
    assert sorted((r["sku"], r["quantity"]) for r in rows) == [
        (f"SKU-{v}", "2") for v in (11, 12, 13, 14, 15)]


def test_a_retry_after_a_crash_between_sending_and_recording_does_not_send_twice(
        world, smtp, monkeypatch):
    po_id = draft_for(world, "TEE-M", "TEE-L")

    with monkeypatch.context() as patch:
        patch.setattr(jobs, "_record_sent", crash)
        with pytest.raises(SystemExit):
            jobs.send_purchase_order(po_id)
    assert len(smtp.messages) == 1

    jobs.send_purchase_order(po_id)  # RQ's retry, while the claim could still be in flight
    with world.session() as s:  # ...and much later
        s.get(PurchaseOrder, po_id).dispatch_started_at -= timedelta(minutes=30)
    jobs.send_purchase_order(po_id)

    assert len(smtp.messages) == 1
    stuck = po(world, po_id)
    assert stuck.status == PoStatus.SENDING and "outcome unknown" in stuck.last_error
    with world.session() as s:
        assert [p.id for p in dispatch.needing_attention(s, world.shop_id)] == [po_id]
    with world.session() as s:  # the merchant checked with the supplier
        assert dispatch.resolve_uncertain_dispatch(s, world.shop_id, po_id, delivered=True) == []
    assert po(world, po_id).status == PoStatus.SENT


def test_a_transient_smtp_failure_is_retried_and_the_po_goes_out_once(world, smtp):
    po_id = draft_for(world, "TEE-M")
    smtp.replies.append("451 4.3.0 try again later")

    with pytest.raises(TransientError):
        jobs.send_purchase_order(po_id)
    failed = po(world, po_id)
    assert failed.status == PoStatus.SENDING and failed.dispatch_started_at is None
    assert "451" in failed.last_error

    jobs.send_purchase_order(po_id)  # RQ's retry with backoff
    jobs.send_purchase_order(po_id)  # a duplicate job

    assert len(smtp.messages) == 1
    sent = po(world, po_id)
    assert (sent.status, sent.dispatch_attempts, sent.last_error) == (PoStatus.SENT, 2, None)


def test_a_permanent_failure_waits_for_the_merchant_instead_of_retrying(world, smtp, run_jobs,
                                                                        shopify):
    po_id = draft_for(world, "TEE-M")
    smtp.replies.append("550 5.1.1 mailbox unknown")

    with pytest.raises(PermanentError):
        jobs.send_purchase_order(po_id)
    jobs.send_purchase_order(po_id)  # RQ retries anything; this must do nothing
    assert smtp.messages == []
    assert po(world, po_id).approved_at is None
    with world.session() as s:
        assert [p.id for p in dispatch.needing_attention(s, world.shop_id)] == [po_id]

    with world.session() as s:  # the merchant fixed the address and approves again
        intents = dispatch.approve_purchase_order(s, world.shop_id, po_id)
    enqueue(world.rt.redis, intents)
    run_jobs()

    assert len(smtp.messages) == 1
    assert po(world, po_id).status == PoStatus.SENT


def test_a_draft_waits_for_approval_when_auto_send_is_off(world, smtp, run_jobs, shopify):
    po_id = draft_for(world, "TEE-M", auto_send=False)

    jobs.send_purchase_order(po_id)
    assert smtp.messages == []

    with world.session() as s:
        enqueue(world.rt.redis, dispatch.approve_purchase_order(s, world.shop_id, po_id))
    run_jobs()

    assert [m["X-Purchase-Order"] for m in smtp.messages] == [po(world, po_id).number]


def test_dispatch_dates_lines_from_the_day_the_supplier_gets_the_po(world, smtp):
    po_id = draft_for(world, "TEE-M", auto_send=False)
    with world.session() as s:  # the merchant sat on the draft for ten days
        draft = s.get(PurchaseOrder, po_id)
        for line in draft.lines:
            line.expected_on -= timedelta(days=10)
        dispatch.approve_purchase_order(s, world.shop_id, po_id)

    jobs.send_purchase_order(po_id)

    [line] = po(world, po_id).lines
    assert line.expected_on == po(world, po_id).sent_at.date() + timedelta(days=7)


def test_a_supplier_confirming_on_the_page_settles_an_unknown_outcome(world, smtp, monkeypatch):
    po_id = draft_for(world, "TEE-M")
    with monkeypatch.context() as patch:
        patch.setattr(jobs, "_record_sent", crash)
        with pytest.raises(SystemExit):
            jobs.send_purchase_order(po_id)

    with world.session() as s:  # the supplier got the email and confirms from its link
        claimed = s.get(PurchaseOrder, po_id)
        portal.update_from_supplier(s, claimed, {}, confirm=True)

    confirmed = po(world, po_id)
    assert confirmed.status == PoStatus.CONFIRMED
    assert confirmed.sent_at is not None and confirmed.dispatch_started_at is None
    assert confirmed.last_error is None
    jobs.send_purchase_order(po_id)
    assert len(smtp.messages) == 1
