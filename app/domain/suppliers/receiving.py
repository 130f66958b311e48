"""Receiving a purchase order, fully or partly, and adding the units in Shopify.

Receiving is the fact: PO lines count the units, each line records its actual
lead time (for learning), the local copy of `available` rises at once so the
engine moves the covered customers to "ready to ship" without waiting, and a
receipt row per line remembers that Shopify still needs the units.

The push to Shopify (inventoryAdjustQuantities, a delta with no idempotency
key) happens at most once per receipt: `claim_receipt` commits "pushing"
before the call, `record_receipt_pushed` commits "pushed" after. A failure
that surely changed nothing goes back to "pending" (retried); one that may
have applied the delta (a timeout, a 5xx) becomes "unknown" for the merchant
to settle with `resolve_receipt_push`, since adding it twice would be stock
that does not exist. Shopify's own inventory webhook then confirms the level;
each receipt's `echo_pending` says how many of its units that webhook will
still bring back, so they are not taken for a second delivery
(shopify_receipts.py matches stock received directly in Shopify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.domain.base import utcnow
from app.domain.intents import PushReceipts
from app.domain.inventory.models import InventoryLevel, ShopSettings, Variant
from app.domain.inventory.state import lock_variants
from app.domain.suppliers.models import (
    LeadTimeRecord,
    PoReceipt,
    PoStatus,
    PurchaseOrder,
    PurchaseOrderLine,
)
from app.domain.suppliers.service import recompute, supplier_settings
from app.errors import Conflict, InvalidInput, NotFound

RECEIVABLE = (PoStatus.SENDING, PoStatus.SENT, PoStatus.CONFIRMED, PoStatus.PARTIALLY_RECEIVED)
PENDING, PUSHING, PUSHED, FAILED, UNKNOWN = "pending", "pushing", "pushed", "failed", "unknown"
IN_SHOPIFY = "in_shopify"  # received directly in Shopify: nothing to push
IN_FLIGHT = timedelta(minutes=5)  # longer than the Admin client's timeouts and retries


def receive_purchase_order(session: Session, po_id: int, quantities: Mapping[int, int], *,
                           shop_id: int | None = None, location_id: int | None = None,
                           now: datetime | None = None) -> list:
    """Receive units per PO line id; returns intents (the engine's, the Shopify push)."""
    now = now or utcnow()
    po = _locked_po(session, po_id, shop_id)
    wanted = _validate(po, quantities)
    # Variants before stock levels, the order the inventory webhook handler keeps.
    lock_variants(session, po.shop_id, [line.variant_id for line in po.lines])
    variants = _variants(session, po)
    for line in po.lines:
        if wanted.get(line.id):
            variant = variants.get(line.variant_id)
            location = _location(session, po.shop_id, variant, location_id)
            _add_receipt(session, po, line, wanted[line.id], variant, location, now)
    touched = apply_received(session, po, wanted, now=now)
    return [*recompute(session, po.shop_id, touched), PushReceipts(po.id)]


def apply_received(session: Session, po: PurchaseOrder, quantities: Mapping[int, int], *,
                   now: datetime) -> list[int]:
    """Count received units on the PO's lines (lead times, PO status); returns variant ids.

    The one place received quantities land, whether the merchant counted them on
    the PO page or Shopify's stock rose (shopify_receipts.py). Quantities are
    already checked against what each line still expects.
    """
    for line in po.lines:
        if quantities.get(line.id):
            line.received_quantity += quantities[line.id]
            _record_lead_time(session, po, line, now)
    done = all(line.received_quantity >= line.quantity for line in po.lines)
    po.status = PoStatus.RECEIVED if done else PoStatus.PARTIALLY_RECEIVED
    po.sent_at = po.sent_at or po.dispatch_started_at or now  # goods arrived: it was sent
    session.flush()
    return [line.variant_id for line in po.lines if quantities.get(line.id)]


def _locked_po(session: Session, po_id: int, shop_id: int | None) -> PurchaseOrder:
    po = session.scalar(select(PurchaseOrder).options(selectinload(PurchaseOrder.lines))
                        .where(PurchaseOrder.id == po_id).with_for_update(of=PurchaseOrder))
    if po is None or (shop_id is not None and po.shop_id != shop_id):
        raise NotFound("no such purchase order")
    if po.status not in RECEIVABLE:
        raise Conflict(f"purchase order {po.number} is {po.status.value}; "
                       "only a sent purchase order can be received")
    return po


def _validate(po: PurchaseOrder, quantities: Mapping[int, int]) -> dict[int, int]:
    lines = {line.id: line for line in po.lines}
    errors = {}
    for line_id, quantity in quantities.items():
        line = lines.get(line_id)
        if line is None:
            errors[f"line {line_id}"] = "is not a line of this purchase order"
        elif not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            errors[f"line {line_id}"] = "must be a whole number >= 0"
        elif quantity > line.open_quantity:
            errors[f"line {line_id}"] = f"only {line.open_quantity} still expected"
    if errors:
        raise InvalidInput("Nothing was received; fix the quantities.", field_errors=errors)
    if not any(quantities.values()):
        raise InvalidInput("Enter the quantity received for at least one line.")
    return dict(quantities)


def _variants(session: Session, po: PurchaseOrder) -> dict[int, Variant]:
    ids = [line.variant_id for line in po.lines]
    return {v.variant_id: v for v in session.scalars(
        select(Variant).where(Variant.shop_id == po.shop_id, Variant.variant_id.in_(ids)))}


def _location(session: Session, shop_id: int, variant: Variant | None,
              explicit: int | None) -> int | None:
    """Where the units go: the caller's choice, the shop's setting, else the variant's first."""
    chosen = explicit or supplier_settings(session, shop_id).receiving_location_id
    if chosen or variant is None or variant.inventory_item_id is None:
        return chosen
    query = select(InventoryLevel.location_id).where(
        InventoryLevel.shop_id == shop_id,
        InventoryLevel.inventory_item_id == variant.inventory_item_id)
    settings = session.get(ShopSettings, shop_id)
    if settings is not None and settings.counted_location_ids:
        query = query.where(InventoryLevel.location_id.in_(settings.counted_location_ids))
    return session.scalar(query.order_by(InventoryLevel.location_id).limit(1))


def _add_receipt(session: Session, po: PurchaseOrder, line: PurchaseOrderLine, quantity: int,
                 variant: Variant | None, location_id: int | None, now: datetime) -> None:
    """A receipt Shopify still needs; the local level rises now, the push comes after commit."""
    item_id = variant.inventory_item_id if variant is not None else None
    pushable = item_id is not None and location_id is not None
    # Once pushed, Shopify reports these units back in its next stock snapshot: that
    # rise is expected (echo_pending) and must not be matched to the PO a second time.
    session.add(PoReceipt(
        shop_id=po.shop_id, po_id=po.id, po_line_id=line.id, variant_id=line.variant_id,
        inventory_item_id=item_id, location_id=location_id, quantity=quantity, received_at=now,
        push_status=PENDING if pushable else FAILED, push_attempts=0,
        echo_pending=quantity if pushable else 0,
        last_error=None if pushable else "no inventory item or location to add the units to"))
    if pushable:
        _raise_local_level(session, po.shop_id, item_id, location_id, quantity)


def _raise_local_level(session: Session, shop_id: int, item_id: int, location_id: int,
                       quantity: int) -> None:
    # The snapshot time stays as it is, so Shopify's next snapshot (which
    # includes these units once pushed) still replaces this value.
    level = session.scalar(select(InventoryLevel).where(
        InventoryLevel.shop_id == shop_id, InventoryLevel.inventory_item_id == item_id,
        InventoryLevel.location_id == location_id).with_for_update())
    if level is None:
        level = InventoryLevel(shop_id=shop_id, inventory_item_id=item_id,
                               location_id=location_id, available=0, local_added=0)
        session.add(level)
    level.available += quantity
    level.local_added += quantity  # not Shopify's count yet: the next snapshot replaces it


def _record_lead_time(session: Session, po: PurchaseOrder, line: PurchaseOrderLine,
                      now: datetime) -> None:
    """Promised against actual days for the line, as of its latest receipt."""
    sent = po.sent_at or po.dispatch_started_at or po.created_at
    record = session.scalar(select(LeadTimeRecord).where(LeadTimeRecord.po_line_id == line.id))
    if record is None:
        record = LeadTimeRecord(shop_id=po.shop_id, supplier_id=po.supplier_id,
                                po_line_id=line.id)
        session.add(record)
    record.promised_days = line.promised_lead_time_days
    record.actual_days = max(0, (now.date() - sent.date()).days)
    record.received_on = now.date()


# --- Pushing receipts to Shopify ------------------------------------------------------


@dataclass(frozen=True)
class ReceiptPush:
    receipt_id: int
    shop_id: int
    inventory_item_id: int
    location_id: int
    delta: int
    reference: str  # shows in Shopify's inventory history


def pending_receipt_ids(session: Session, po_id: int) -> list[int]:
    return list(session.scalars(select(PoReceipt.id).where(
        PoReceipt.po_id == po_id, PoReceipt.push_status == PENDING).order_by(PoReceipt.id)))


def claim_receipt(session: Session, receipt_id: int, *,
                  now: datetime | None = None) -> ReceiptPush | None:
    """Take a pending receipt for pushing (committed before the call); None: nothing to do."""
    now = now or utcnow()
    receipt = session.scalar(select(PoReceipt).where(PoReceipt.id == receipt_id)
                             .with_for_update())
    if receipt is not None and receipt.push_status == PUSHING:
        _flag_if_stuck(receipt, now)
    if receipt is None or receipt.push_status != PENDING:
        return None
    if receipt.inventory_item_id is None or receipt.location_id is None:
        receipt.push_status = FAILED
        receipt.last_error = "no inventory item or location to add the units to"
        return None
    receipt.push_status, receipt.push_started_at = PUSHING, now
    receipt.push_attempts += 1
    number = session.scalar(select(PurchaseOrder.number).where(PurchaseOrder.id == receipt.po_id))
    return ReceiptPush(receipt.id, receipt.shop_id, receipt.inventory_item_id,
                       receipt.location_id, receipt.quantity,
                       reference=f"backorder://purchase-order/{number}/receipt/{receipt.id}")


def _flag_if_stuck(receipt: PoReceipt, now: datetime) -> None:
    # Older than any Shopify call can take: the worker died inside the crash window.
    if now - receipt.push_started_at > IN_FLIGHT:
        receipt.push_status = UNKNOWN
        receipt.last_error = ("outcome unknown: the push started at "
                              f"{receipt.push_started_at.isoformat(timespec='seconds')} did not "
                              "finish; check Shopify's inventory history for "
                              f"+{receipt.quantity}, then mark it applied or push it again")


def record_receipt_pushed(session: Session, receipt_id: int) -> None:
    receipt = session.get(PoReceipt, receipt_id, with_for_update=True)
    if receipt is not None and receipt.push_status == PUSHING:
        receipt.push_status, receipt.pushed_at, receipt.last_error = PUSHED, utcnow(), None


def record_receipt_failure(session: Session, receipt_id: int, error: str, *,
                           outcome: str) -> None:
    """After a failed push: PENDING (retry), FAILED (needs the merchant) or UNKNOWN."""
    receipt = session.get(PoReceipt, receipt_id, with_for_update=True)
    if receipt is not None and receipt.push_status == PUSHING:
        # echo_pending stays: the merchant may well add these units by hand in Shopify,
        # and that rise is this receipt, not a second delivery.
        receipt.push_status, receipt.last_error = outcome, error[:2000]


def fail_pending_receipts(session: Session, po_id: int, error: str) -> int:
    """Shopify cannot be called for this PO's shop: its waiting receipts need the merchant."""
    receipts = session.scalars(select(PoReceipt).where(
        PoReceipt.po_id == po_id, PoReceipt.push_status == PENDING).with_for_update()).all()
    for receipt in receipts:
        receipt.push_status, receipt.last_error = FAILED, error[:2000]
    return len(receipts)


def resolve_receipt_push(session: Session, shop_id: int, receipt_id: int, *,
                         applied: bool) -> list:
    """The merchant settles an unknown or failed push: Shopify has the units, or push again."""
    receipt = session.get(PoReceipt, receipt_id, with_for_update=True)
    if receipt is None or receipt.shop_id != shop_id:
        raise NotFound("no such receipt")
    if receipt.push_status not in (UNKNOWN, FAILED):
        raise Conflict("this receipt is not waiting for a decision")
    if applied:
        receipt.push_status, receipt.pushed_at = PUSHED, utcnow()
        return []
    receipt.push_status, receipt.echo_pending = PENDING, receipt.quantity
    return [PushReceipts(receipt.po_id)]
