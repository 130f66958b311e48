"""Sending a purchase order to its supplier at most once.

States, on the PO row:

    DRAFT (approved_at None)   waiting for the merchant's approval
    DRAFT (approved_at set)    a dispatch job will send it (after the coalescing window)
    SENDING, started           claimed: the job is talking to the supplier right now
    SENDING, not started       the last attempt failed; retried (transient) or waiting
                               for the merchant (permanent: approval withdrawn)
    SENT                       the supplier has it

A job first *claims* the PO (DRAFT/approved -> SENDING, `dispatch_started_at`
set) and commits, then calls the channel, then records SENT in a second
transaction. The lines are frozen from the claim on, so every attempt sends
the same document under the same number.

The crash window: if the worker dies after the supplier accepted the PO but
before SENT is committed, the PO stays SENDING with `dispatch_started_at` set.
No automatic retry sends it again (that could order the goods twice); the next
attempt marks it "outcome unknown" and the merchant resolves it with
`resolve_uncertain_dispatch` (a supplier confirming on their page resolves it
too). A failed attempt is not in that window: the channel raised, so the claim
is released and a transient failure is retried with the same PO number, the
same email Message-ID and the same HTTP Idempotency-Key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from app.domain.base import utcnow
from app.domain.intents import SendPurchaseOrder
from app.domain.ports import PurchaseOrderDoc, PurchaseOrderLineDoc
from app.domain.shops.models import Shop
from app.domain.suppliers.leadtimes import observed_days
from app.domain.suppliers.models import PoStatus, PurchaseOrder, Supplier
from app.domain.suppliers.portal import supplier_link
from app.domain.suppliers.service import recompute
from app.errors import Conflict, NotFound

# Longer than any channel's timeouts: a claim older than this is not in flight any more.
IN_FLIGHT = timedelta(minutes=5)
UNKNOWN = ("outcome unknown: the dispatch started at {} did not finish; check with the "
           "supplier whether the PO arrived, then mark it sent or send it again")


@dataclass(frozen=True)
class Claim:
    """A PO this job may send now, with what the channel needs."""

    po_id: int
    doc: PurchaseOrderDoc
    endpoint_url: str | None
    endpoint_secret_ciphertext: str | None


def approve_purchase_order(session: Session, shop_id: int, po_id: int) -> list:
    """The merchant's go-ahead: the PO is sent now (also re-sends one that failed for good)."""
    po = _locked(session, po_id, shop_id=shop_id)
    in_flight = po.status == PoStatus.SENDING and po.dispatch_started_at is not None
    if po.status not in (PoStatus.DRAFT, PoStatus.SENDING) or in_flight:
        raise Conflict(f"purchase order {po.number} is {po.status.value}; it cannot be sent now")
    if not po.lines:
        raise Conflict(f"purchase order {po.number} has no lines")
    po.approved_at = utcnow()
    return [SendPurchaseOrder(po.id)]


def claim_dispatch(session: Session, po_id: int, *, signer, public_url: str,
                   now: datetime | None = None) -> tuple[Claim | None, list]:
    """Take the PO for sending, or None when it must not be sent (now or ever)."""
    now = now or utcnow()
    po = session.scalar(_query(po_id).with_for_update(of=PurchaseOrder))
    if po is None or not _claimable(po, now):
        return None, []
    was_draft = po.status == PoStatus.DRAFT
    po.status, po.dispatch_started_at = PoStatus.SENDING, now
    po.dispatch_attempts += 1
    session.flush()
    intents = _redate(session, po, now) if was_draft else []
    supplier = session.get(Supplier, po.supplier_id)
    doc = purchase_order_doc(session, po, supplier,
                             link=supplier_link(signer, po, public_url=public_url))
    return Claim(po.id, doc, supplier.endpoint_url,
                 supplier.endpoint_secret_ciphertext), intents


def _claimable(po: PurchaseOrder, now: datetime) -> bool:
    """Whether this attempt may send; an abandoned claim is flagged for the merchant."""
    if po.approved_at is None or not po.lines:
        return False
    if po.status == PoStatus.DRAFT:
        return True
    if po.status != PoStatus.SENDING:
        return False  # sent already, or cancelled: a retried job does nothing
    if po.dispatch_started_at is None:
        return True  # the previous attempt failed and released its claim
    if now - po.dispatch_started_at > IN_FLIGHT:
        po.last_error = UNKNOWN.format(po.dispatch_started_at.isoformat(timespec="seconds"))
    return False


def _redate(session: Session, po: PurchaseOrder, now: datetime) -> list:
    """Expected dates count from the day the supplier gets the PO, not the day it was drafted.

    Every variant of the PO is recomputed, moved or not: a PO leaving its draft is no
    longer the next reorder, so the next one counts toward the cap again."""
    for line in po.lines:
        lead = observed_days(session, shop_id=po.shop_id, supplier_id=po.supplier_id,
                             promised_days=line.promised_lead_time_days)
        expected = now.date() + timedelta(days=lead)
        if line.expected_on is None or line.expected_on < expected:
            line.expected_on = expected
    return recompute(session, po.shop_id, [line.variant_id for line in po.lines])


def record_sent(session: Session, po_id: int, *, now: datetime | None = None) -> None:
    """The channel accepted the PO: SENT, exactly once."""
    po = _locked(session, po_id)
    if po.status == PoStatus.SENDING:
        po.status, po.sent_at, po.last_error = PoStatus.SENT, now or utcnow(), None


def record_failure(session: Session, po_id: int, error: str, *, permanent: bool) -> None:
    """The channel refused or failed: release the claim; a permanent failure needs the merchant."""
    po = _locked(session, po_id)
    if po.status != PoStatus.SENDING:
        return
    po.dispatch_started_at, po.last_error = None, error[:2000]
    if permanent:
        po.approved_at = None  # a retried job must not send it again; the merchant re-approves


def resolve_uncertain_dispatch(session: Session, shop_id: int, po_id: int, *,
                               delivered: bool) -> list:
    """The merchant settles the crash window: the supplier has it (SENT) or it goes again."""
    po = _locked(session, po_id, shop_id=shop_id)
    if po.status != PoStatus.SENDING or po.dispatch_started_at is None:
        raise Conflict(f"purchase order {po.number} is not waiting for a decision")
    if delivered:
        po.status, po.sent_at, po.last_error = PoStatus.SENT, po.dispatch_started_at, None
        return []
    po.dispatch_started_at, po.approved_at = None, utcnow()
    return [SendPurchaseOrder(po.id)]


def needing_attention(session: Session, shop_id: int, *,
                      now: datetime | None = None) -> list[PurchaseOrder]:
    """POs the merchant must act on: refused for good, or stuck in the crash window."""
    stale = (now or utcnow()) - IN_FLIGHT
    return list(session.scalars(
        select(PurchaseOrder).where(
            PurchaseOrder.shop_id == shop_id, PurchaseOrder.status == PoStatus.SENDING,
            or_(PurchaseOrder.approved_at.is_(None), PurchaseOrder.dispatch_started_at < stale))
        .order_by(PurchaseOrder.id)))


def purchase_order_doc(session: Session, po: PurchaseOrder, supplier: Supplier, *,
                       link: str) -> PurchaseOrderDoc:
    """The PO as the supplier sees it: plain data any channel can render."""
    shop = session.get(Shop, po.shop_id)
    lines = tuple(PurchaseOrderLineDoc(sku=line.sku, supplier_sku=line.supplier_sku,
                                       quantity=line.quantity, unit_cost=_money(line.unit_cost),
                                       expected_on=line.expected_on)
                  for line in sorted(po.lines, key=lambda line: (line.sku, line.id)))
    return PurchaseOrderDoc(number=po.number, shop_name=shop.name or shop.domain,
                            supplier_name=supplier.name, supplier_email=supplier.email,
                            supplier_endpoint=supplier.endpoint_url, currency=supplier.currency,
                            lines=lines, link=link)


def _money(value: Decimal) -> str:
    cents = Decimal(value).quantize(Decimal("0.01"))
    return str(cents) if cents == value else str(Decimal(value).normalize())


def _query(po_id: int):
    return (select(PurchaseOrder).options(selectinload(PurchaseOrder.lines))
            .where(PurchaseOrder.id == po_id))


def _locked(session: Session, po_id: int, *, shop_id: int | None = None) -> PurchaseOrder:
    po = session.scalar(_query(po_id).with_for_update(of=PurchaseOrder))
    if po is None or (shop_id is not None and po.shop_id != shop_id):
        raise NotFound("no such purchase order")
    return po
