"""Stock received directly in Shopify, matched to the open PO lines it was ordered on.

Merchants often count a delivery in Shopify admin rather than on the PO page.
Shopify then reports a higher `available` (inventory_levels/update, or a sync).
The rise of a counted location's `available` over the previous stored snapshot
is explained, in this order, by:

1. the app's own receipts coming back: units the PO page added with
   inventoryAdjustQuantities (`PoReceipt.echo_pending`), oldest receipt first;
2. units released since the previous snapshot by cancelled or refunded order
   lines (Shopify restocks them);
3. goods received: the rest is matched to the variant's open PO lines, earliest
   expected date first, each capped at what the line still expects. Units beyond
   every line are left alone (a stock count, a customer return).

Matched units are counted by `receiving.apply_received`, the same code the PO
page uses (line totals, lead-time records, PO status), and each leaves a receipt
row marked `in_shopify`: nothing is pushed, Shopify already has the units.
Redelivered and stale snapshots never get here: `state.apply_level` drops them
by timestamp before asking, so no rise is matched twice. The engine reaches this
module through its `StockReceipts` port (inventory/ports.py): `RECEIPTS` below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.domain.inventory.models import OrderLine, ShopSettings, Variant
from app.domain.inventory.ports import StockRise
from app.domain.suppliers.models import PoReceipt, PurchaseOrder, PurchaseOrderLine
from app.domain.suppliers.receiving import IN_SHOPIFY, RECEIVABLE, apply_received

# Clock difference allowed between Shopify's snapshot times and our push times: a
# snapshot taken this long after a push surely shows the pushed units.
CLOCK_SKEW = timedelta(minutes=1)


def lock_open_purchase_orders(session: Session, shop_id: int,
                              variant_ids: Iterable[int]) -> list[PurchaseOrder]:
    """Lock (by id) the receivable POs with open lines for these variants, lines loaded.

    Callers that may match stock take these locks before any variant row, the order
    the PO page, the supplier page and dispatch keep (PO, then variants).
    """
    ids = sorted(set(variant_ids))
    if not ids:
        return []
    open_pos = (select(PurchaseOrderLine.po_id)
                .where(PurchaseOrderLine.shop_id == shop_id,
                       PurchaseOrderLine.variant_id.in_(ids),
                       PurchaseOrderLine.quantity > PurchaseOrderLine.received_quantity))
    return list(session.scalars(
        select(PurchaseOrder).options(selectinload(PurchaseOrder.lines))
        .where(PurchaseOrder.shop_id == shop_id, PurchaseOrder.status.in_(RECEIVABLE),
               PurchaseOrder.id.in_(open_pos))
        .order_by(PurchaseOrder.id).with_for_update(of=PurchaseOrder)))


def match_stock_rise(session: Session, rise: StockRise) -> set[int]:
    """Receive on open PO lines what the rise does not otherwise explain; variant ids touched."""
    if rise.units <= 0 or not _counted(session, rise.shop_id, rise.location_id):
        return set()
    units = rise.units - _consume_echoes(session, rise)
    variant_ids = _variants_of_item(session, rise.shop_id, rise.inventory_item_id)
    units -= _released_units(session, rise, variant_ids)
    if units <= 0 or not variant_ids:
        return set()
    return _receive(session, rise, variant_ids, units)


def _counted(session: Session, shop_id: int, location_id: int) -> bool:
    settings = session.get(ShopSettings, shop_id)
    counted = settings.counted_location_ids if settings is not None else None
    return not counted or location_id in counted


def _consume_echoes(session: Session, rise: StockRise) -> int:
    """Units of the rise that are the app's own receipts coming back from Shopify."""
    receipts = session.scalars(select(PoReceipt).where(
        PoReceipt.shop_id == rise.shop_id, PoReceipt.inventory_item_id == rise.inventory_item_id,
        PoReceipt.location_id == rise.location_id, PoReceipt.echo_pending > 0)
        .order_by(PoReceipt.id).with_for_update())
    used = 0
    for receipt in receipts:
        if receipt.pushed_at is not None and receipt.pushed_at + CLOCK_SKEW < rise.since:
            receipt.echo_pending = 0  # the previous snapshot already counted these units
            continue
        take = min(receipt.echo_pending, rise.units - used)
        receipt.echo_pending -= take
        used += take
    return used


def _variants_of_item(session: Session, shop_id: int, item_id: int) -> list[int]:
    return sorted(session.scalars(select(Variant.variant_id).where(
        Variant.shop_id == shop_id, Variant.inventory_item_id == item_id)))


def _released_units(session: Session, rise: StockRise, variant_ids: list[int]) -> int:
    """Units freed by cancellations and refunds between the two snapshots (restocked)."""
    if not variant_ids:
        return 0
    return int(session.scalar(select(func.coalesce(func.sum(OrderLine.released_quantity), 0))
                              .where(OrderLine.shop_id == rise.shop_id,
                                     OrderLine.variant_id.in_(variant_ids),
                                     OrderLine.placed_at <= rise.at,
                                     OrderLine.released_at > rise.since,
                                     OrderLine.released_at <= rise.at)))


def _receive(session: Session, rise: StockRise, variant_ids: list[int], units: int) -> set[int]:
    pos = {po.id: po for po in lock_open_purchase_orders(session, rise.shop_id, variant_ids)}
    lines = sorted((line for po in pos.values() for line in po.lines
                    if line.variant_id in variant_ids and line.open_quantity > 0),
                   key=lambda line: (line.expected_on or date.max, line.po_id, line.id))
    plan: dict[int, dict[int, int]] = defaultdict(dict)
    for line in lines:
        take = min(units, line.open_quantity)
        if take <= 0:
            break
        plan[line.po_id][line.id] = take
        units -= take
        session.add(PoReceipt(
            shop_id=rise.shop_id, po_id=line.po_id, po_line_id=line.id,
            variant_id=line.variant_id, inventory_item_id=rise.inventory_item_id,
            location_id=rise.location_id, quantity=take, received_at=rise.at,
            push_status=IN_SHOPIFY, push_attempts=0, echo_pending=0))
    touched: set[int] = set()
    for po_id, quantities in plan.items():
        touched.update(apply_received(session, pos[po_id], quantities, now=rise.at))
    return touched


class ShopifyReceipts:
    """The engine's `StockReceipts` port: a stock rise is matched to open PO lines here."""

    def lock_open_purchase_orders(self, session: Session, shop_id: int,
                                  variant_ids: Iterable[int]) -> list[PurchaseOrder]:
        return lock_open_purchase_orders(session, shop_id, variant_ids)

    def match_stock_rise(self, session: Session, rise: StockRise) -> set[int]:
        return match_stock_rise(session, rise)


RECEIPTS = ShopifyReceipts()
