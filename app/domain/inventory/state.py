"""Storing snapshots: newest wins, stale ones are dropped, nothing is a blind delta.

Each function returns the Shopify variant ids whose state it changed, so the
caller recomputes exactly those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import insert_ignoring_conflict
from app.domain.base import utcnow
from app.domain.inventory.batching import OrderBook
from app.domain.inventory.models import CustomerOrder, InventoryLevel, OrderLine, Variant
from app.domain.inventory.payloads import CancelRefund, LevelSnapshot, OrderSnapshot
from app.domain.inventory.ports import StockReceipts, StockRise
from app.domain.inventory.reads import weigh
from app.domain.inventory.rules import newer
from app.domain.ports import VariantInfo
from app.errors import InvalidInput, TransientError

# Orders placed longer ago than this do not count towards a variant's sale rate, nor
# orders stamped further ahead of this clock than Shopify's could plausibly be.
RECENT_ORDER, CLOCK_SKEW = timedelta(minutes=10), timedelta(minutes=1)


def ensure_variants(session: Session, shop_id: int, variant_ids: Iterable[int]) -> set[int]:
    """Create placeholder rows for variants not seen yet; returns the new ones."""
    created = set()
    for variant_id in sorted(set(variant_ids)):
        if insert_ignoring_conflict(session, Variant.__table__,
                                    {"shop_id": shop_id, "variant_id": variant_id},
                                    ["shop_id", "variant_id"]) is not None:
            created.add(variant_id)
    return created


def lock_variants(session: Session, shop_id: int, variant_ids: Iterable[int]) -> list[Variant]:
    """Row-lock the variants in primary-key order, so concurrent workers never deadlock.

    Locks already taken in this transaction are remembered, so a handler and the
    recompute it calls lock once.
    """
    ids = sorted(set(variant_ids))
    held = _held_locks(session)
    if not ids:
        return []
    if all((shop_id, i) in held for i in ids):
        return sorted((held[(shop_id, i)] for i in ids), key=lambda v: v.id)
    variants = list(session.scalars(select(Variant)
                                    .where(Variant.shop_id == shop_id, Variant.variant_id.in_(ids))
                                    .order_by(Variant.id).with_for_update()))
    held.update({(shop_id, v.variant_id): v for v in variants})
    return variants


def _held_locks(session: Session) -> dict:
    transaction = session.get_transaction()
    cache = session.info.get("variant_locks")
    if cache is None or cache[0] is not transaction:
        cache = session.info["variant_locks"] = (transaction, {})
    return cache[1]


def lock_or_create_variants(session: Session, shop_id: int,
                            variant_ids: Iterable[int]) -> list[Variant]:
    """Lock the variants, creating placeholders for those never seen (then locked too)."""
    ids = set(variant_ids)
    existing = lock_variants(session, shop_id, ids)
    missing = ids - {v.variant_id for v in existing}
    if not missing:
        return existing
    ensure_variants(session, shop_id, missing)
    return lock_variants(session, shop_id, ids)


def open_quantity(line: OrderLine, order: CustomerOrder) -> int:
    """Units of the line still waiting to ship."""
    if order.cancelled_at is not None or line.cancelled_by_customer:
        return 0
    refunded = sum(int(q) for q in (line.cancel_refunds or {}).values())
    current = min(line.quantity, line.ordered_quantity - refunded)
    return max(0, current - line.fulfilled_quantity)


def apply_order(session: Session, shop_id: int, snap: OrderSnapshot, *,
                book: OrderBook | None = None) -> set[int]:
    """Store the order snapshot unless a newer one is already stored. `book`: the batch's
    orders, read and locked at once (batching.py), instead of a query each."""
    if book is not None and book.knows(snap.order_id):
        order = book.orders[snap.order_id]
    else:
        order = session.scalar(select(CustomerOrder).where(
            CustomerOrder.shop_id == shop_id, CustomerOrder.order_id == snap.order_id)
            .with_for_update())
    if order is not None and not newer(order.source_updated_at, snap.updated_at):
        return set()
    taken = _lines_of_other_orders(session, shop_id, order, snap, book)
    if taken:
        raise InvalidInput(f"line item {min(taken)} belongs to another order")
    if order is None:
        order = CustomerOrder(shop_id=shop_id, order_id=snap.order_id, lines=[])
        session.add(order)
    with _open_demand_kept(session, order):
        changed = _store_order(order, shop_id, snap)
    if book is not None:
        book.add(order)
        book.line_owner.update({line.line_item_id: order.order_id for line in order.lines})
    return changed


def _lines_of_other_orders(session: Session, shop_id: int, order: CustomerOrder | None,
                           snap: OrderSnapshot, book: OrderBook | None) -> set[int]:
    """The snapshot's new line item ids already stored under another order: Shopify's
    ids are unique, so such a payload is wrong, and storing it would break the
    (shop, line item) key."""
    new = ({line.line_item_id for line in snap.lines if line.variant_id is not None}
           - {line.line_item_id for line in (order.lines if order else ())})
    if not new:
        return set()
    if book is not None:
        return {i for i in new if book.line_owner.get(i, snap.order_id) != snap.order_id}
    return set(session.scalars(select(OrderLine.line_item_id).where(
        OrderLine.shop_id == shop_id, OrderLine.line_item_id.in_(new))))


def _store_order(order: CustomerOrder, shop_id: int, snap: OrderSnapshot) -> set[int]:
    for field in ("name", "email", "phone", "customer_id", "customer_first_name", "locale",
                  "placed_at", "cancelled_at"):
        setattr(order, field, getattr(snap, field))
    order.source_updated_at = snap.updated_at
    by_id = {line.line_item_id: line for line in order.lines}
    for line_snap in snap.lines:
        if line_snap.variant_id is None:
            continue  # custom items have no stock to allocate
        line = by_id.get(line_snap.line_item_id) or _new_line(order, shop_id, line_snap)
        line.variant_id, line.title = line_snap.variant_id, line_snap.title
        line.ordered_quantity, line.quantity = line_snap.ordered_quantity, line_snap.quantity
        line.fulfilled_quantity = line_snap.fulfilled_quantity
        line.placed_at = snap.placed_at
    return _refresh_open(order, at=snap.cancelled_at or snap.updated_at)


def _new_line(order: CustomerOrder, shop_id: int, snap) -> OrderLine:
    line = OrderLine(shop_id=shop_id, line_item_id=snap.line_item_id, cancel_refunds={},
                     backordered=0)
    order.lines.append(line)
    return line


def cancel_for_customer(session: Session, order: CustomerOrder, line: OrderLine, *,
                        at) -> set[int]:
    """The customer gave up the line's remaining units (status page)."""
    with _open_demand_kept(session, order):
        line.cancelled_by_customer = True
        return _refresh_open(order, at=at)


# The key of a customer's own cancellation among a line's cancelled units (the others are
# Shopify refund lines): `open_quantity` takes the smaller of Shopify's quantity and the
# ordered units less these, so the order edit that follows never counts twice.
CUSTOMER_CANCEL_KEY = "status-page"


def cancel_units_for_customer(session: Session, order: CustomerOrder, line: OrderLine,
                              units: int, *, at) -> set[int]:
    """The customer gave up `units` of the line (its backordered ones) and keeps the rest."""
    with _open_demand_kept(session, order):
        line.cancel_refunds = {**(line.cancel_refunds or {}), CUSTOMER_CANCEL_KEY: units}
        return _refresh_open(order, at=at)


def _refresh_open(order: CustomerOrder, *, at) -> set[int]:
    """Recompute each line's open and released units after the order changed.

    The only writer of `open_quantity`; callers run it inside `_open_demand_kept`.
    """
    for line in order.lines:
        line.open_quantity = open_quantity(line, order)
        released = max(0, line.ordered_quantity - line.fulfilled_quantity - line.open_quantity)
        if released > (line.released_quantity or 0):
            line.released_at = at
        line.released_quantity = released
    return {line.variant_id for line in order.lines if line.variant_id is not None}


def apply_refund(session: Session, shop_id: int, order_id: int,
                 cancels: list[CancelRefund], at) -> set[int]:
    """Record refunded units that will never ship (keyed by refund line, so replays are no-ops)."""
    if not cancels:
        return set()
    order = session.scalar(select(CustomerOrder).where(CustomerOrder.shop_id == shop_id,
                                                       CustomerOrder.order_id == order_id)
                           .with_for_update())
    if order is None:
        # Out of order: the refund came before its order. Retry once the order is stored.
        raise TransientError(f"order {order_id} is not stored yet")
    by_id = {line.line_item_id: line for line in order.lines}
    with _open_demand_kept(session, order):
        for cancel in cancels:
            line = by_id.get(cancel.line_item_id)
            if line is not None:
                line.cancel_refunds = {**(line.cancel_refunds or {}),
                                       str(cancel.refund_line_item_id): cancel.quantity}
        return _refresh_open(order, at=at)


@contextmanager
def _open_demand_kept(session: Session, order: CustomerOrder) -> Iterator[None]:
    """Move each variant's open-demand totals by what the block changed in the order's lines.

    The recompute trusts these totals to tell an order appended at the back of the
    queue from a change in front of it (service.py), so every write of a line's open
    quantity goes through here. A line moving to another variant leaves the old one's
    totals and joins the new one's.
    """
    before = _open_demand(order.lines)
    open_before = {line.line_item_id: (line.variant_id, line.open_quantity or 0)
                   for line in order.lines}
    yield
    moved = _open_demand(order.lines)
    moved.subtract(before)
    joined = _joined(open_before, order.lines)
    changed = {variant_id for (variant_id, _), delta in moved.items() if delta}
    for variant in lock_variants(session, order.shop_id, changed | set(joined)):
        variant.open_total += moved[(variant.variant_id, "units")]
        variant.open_checksum += moved[(variant.variant_id, "checksum")]
        variant.queued_units += joined[variant.variant_id]


def _joined(open_before: dict[int, tuple], lines: Iterable[OrderLine]) -> Counter:
    """Units that joined each variant's queue (a new line, or a line that grew): what
    the sale rate counts. Units leaving it (cancels, fulfilments) do not slow a sale."""
    joined: Counter = Counter()
    now = utcnow()
    for line in lines:
        if line.variant_id is None or line.placed_at is None or not (
                now - RECENT_ORDER <= line.placed_at <= now + CLOCK_SKEW):
            continue  # old orders (a first sync, a late redelivery) say nothing of a sale now
        variant_id, units = open_before.get(line.line_item_id, (None, 0))
        grew = (line.open_quantity or 0) - (units if variant_id == line.variant_id else 0)
        if grew > 0:
            joined[line.variant_id] += grew
    return joined


def _open_demand(lines: Iterable[OrderLine]) -> Counter:
    totals: Counter = Counter()
    for line in lines:
        if line.variant_id is not None and line.open_quantity:
            totals[(line.variant_id, "units")] += line.open_quantity
            totals[(line.variant_id, "checksum")] += weigh(line.line_item_id, line.open_quantity)
    return totals


def apply_level(session: Session, shop_id: int, snap: LevelSnapshot, *,
                receipts: StockReceipts) -> set[int]:
    """Store `available` at a location unless a newer value is stored; None is ignored.

    A rise over the previous snapshot may be a delivery counted in Shopify admin:
    `receipts` matches it to the item's open PO lines.
    """
    if snap.available is None:
        return set()
    level = session.scalar(select(InventoryLevel).where(
        InventoryLevel.shop_id == shop_id, InventoryLevel.inventory_item_id == snap.inventory_item_id,
        InventoryLevel.location_id == snap.location_id).with_for_update())
    if level is None:
        level = InventoryLevel(shop_id=shop_id, inventory_item_id=snap.inventory_item_id,
                               location_id=snap.location_id, available=0, local_added=0)
        session.add(level)
    elif not newer(level.source_updated_at, snap.updated_at):
        return set()
    since, shopify_before = level.source_updated_at, level.available - level.local_added
    level.available, level.source_updated_at = snap.available, snap.updated_at
    level.local_added = 0  # Shopify's own count from here on
    if since is not None and snap.available > shopify_before:
        receipts.match_stock_rise(session, StockRise(
            shop_id, snap.inventory_item_id, snap.location_id, since, snap.updated_at,
            snap.available - shopify_before))
    return variants_of_item(session, shop_id, snap.inventory_item_id)


def variants_of_item(session: Session, shop_id: int, inventory_item_id: int) -> set[int]:
    return set(session.scalars(select(Variant.variant_id).where(
        Variant.shop_id == shop_id, Variant.inventory_item_id == inventory_item_id)))


def apply_variant_info(session: Session, shop_id: int, info: VariantInfo,
                       updated_at=None) -> bool:
    """Store a variant's catalog details from products/update; False if stale (by `updated_at`)."""
    return _store_details(session, shop_id, info, updated_at) is not None


def apply_fetched_variant(session: Session, shop_id: int, info: VariantInfo, *, fetched_at,
                          receipts: StockReceipts) -> None:
    """Store a variant as the Admin API described it when asked at `fetched_at`: its
    details, and its levels as the stock as of then."""
    variant = _store_details(session, shop_id, info, None)
    if info.inventory_item_id is None:
        return
    variant.stock_confirmed = True
    for level in info.levels:
        apply_level(session, shop_id, LevelSnapshot(
            info.inventory_item_id, level.location_id, level.available,
            level.updated_at or fetched_at), receipts=receipts)


def _store_details(session: Session, shop_id: int, info: VariantInfo,
                   updated_at) -> Variant | None:
    """The variant with the details stored; None when `updated_at` is older than stored."""
    ensure_variants(session, shop_id, [info.variant_id])
    variant = session.scalar(select(Variant).where(Variant.shop_id == shop_id,
                                                   Variant.variant_id == info.variant_id))
    if updated_at is not None and not newer(variant.details_updated_at, updated_at):
        return None
    variant.product_id, variant.sku, variant.title = info.product_id, info.sku, info.title
    variant.product_title = info.product_title or variant.product_title
    variant.inventory_item_id = info.inventory_item_id or variant.inventory_item_id
    variant.tracked, variant.shopify_policy = info.tracked, info.inventory_policy
    variant.details_known, variant.deleted = True, False
    variant.details_updated_at = updated_at or variant.details_updated_at
    return variant


def mark_deleted(session: Session, shop_id: int, product_id: int,
                 keep: Iterable[int] = ()) -> set[int]:
    """Variants of the product no longer sold (product deleted, or variant removed)."""
    gone = set(session.scalars(select(Variant.variant_id).where(
        Variant.shop_id == shop_id, Variant.product_id == product_id,
        Variant.deleted.is_(False), Variant.variant_id.not_in(list(keep)))))
    if gone:
        session.execute(update(Variant).where(Variant.shop_id == shop_id,
                                              Variant.variant_id.in_(gone))
                        .values(deleted=True))
    return gone
