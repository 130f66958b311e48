"""The queries the recompute needs, as plain rows (no ORM objects on the hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from app.domain.inventory.models import CustomerOrder, InventoryLevel, OrderLine, Variant

CHECK_MODULUS = 1_000_003  # weights lines in the checksum that guards the fast path


def weigh(line_item_id: int, open_quantity: int) -> int:
    return (line_item_id % CHECK_MODULUS + 1) * open_quantity


@dataclass(frozen=True)
class Stock:
    available: int
    as_of: datetime | None  # newest level snapshot; None: no level known


@dataclass(frozen=True)
class DemandTotals:
    total_open: int
    checksum: int
    committed: int  # units the stock snapshot already counts as sold and unshipped


def stock(session: Session, variant: Variant, counted: frozenset[int] | None) -> Stock:
    query = select(func.coalesce(func.sum(InventoryLevel.available), 0),
                   func.max(InventoryLevel.source_updated_at)).where(
        InventoryLevel.shop_id == variant.shop_id,
        InventoryLevel.inventory_item_id == variant.inventory_item_id)
    if counted is not None:
        query = query.where(InventoryLevel.location_id.in_(counted))
    available, as_of = session.execute(query).one()
    return Stock(int(available), as_of)


def _variant_lines(variant: Variant):
    return (OrderLine.shop_id == variant.shop_id, OrderLine.variant_id == variant.variant_id)


def demand_totals(session: Session, variant: Variant, as_of: datetime | None) -> DemandTotals:
    """Open demand and its checksum (kept on the variant row), and what the stock snapshot
    taken at `as_of` already counts.

    Shopify lowers `available` when an order is placed and raises it when units are
    released, but its inventory webhook and the order webhook arrive separately and
    in any order. Counting only what the snapshot can have seen keeps a late or early
    inventory webhook from briefly covering (or uncovering) customers' lines. Both
    corrections read only lines newer than the snapshot, never the whole queue.
    """
    committed = 0
    if as_of is not None:
        lines = _variant_lines(variant)
        # Three range reads, each an index condition (an OR would scan the whole queue).
        placed_after, undated, released_after = session.execute(select(
            _sum(OrderLine.open_quantity, lines, OrderLine.placed_at > as_of),
            _sum(OrderLine.open_quantity, lines, OrderLine.placed_at.is_(None)),
            _sum(OrderLine.released_quantity, lines, OrderLine.released_at > as_of,
                 OrderLine.placed_at <= as_of))).one()
        committed = variant.open_total - int(placed_after) - int(undated) + int(released_after)
    return DemandTotals(total_open=variant.open_total, checksum=variant.open_checksum,
                        committed=committed)


def _sum(column, where: tuple, *conditions):
    return (select(func.coalesce(func.sum(column), 0)).where(*where, *conditions)
            .scalar_subquery())


def open_demand_of_lines(session: Session, variant: Variant) -> tuple[int, int]:
    """Open units and their checksum summed from the lines themselves (reads every open line)."""
    units, checksum = session.execute(select(
        func.coalesce(func.sum(OrderLine.open_quantity), 0),
        func.coalesce(func.sum((OrderLine.line_item_id % CHECK_MODULUS + 1)
                               * OrderLine.open_quantity), 0),
    ).where(*_variant_lines(variant), OrderLine.open_quantity > 0)).one()
    return int(units), int(checksum)


_ROW = (OrderLine.id, OrderLine.line_item_id, OrderLine.placed_at, OrderLine.open_quantity,
        OrderLine.priority, OrderLine.backordered, OrderLine.eta, OrderLine.promised_eta,
        OrderLine.quantity, OrderLine.ordered_quantity, OrderLine.fulfilled_quantity,
        OrderLine.released_quantity, OrderLine.cancelled_by_customer,
        CustomerOrder.order_id, CustomerOrder.cancelled_at)


def queue_rows(session: Session, variant: Variant) -> list:
    """Every open line of the variant, and every line that was backordered until now."""
    return session.connection().execute(
        select(*_ROW).join(CustomerOrder, CustomerOrder.id == OrderLine.order_pk)
        .where(*_variant_lines(variant),
               or_(OrderLine.open_quantity > 0, OrderLine.backordered > 0))).all()


def rows_after(session: Session, variant: Variant, placed_at: datetime, line_item_id: int) -> list:
    """Open lines queued behind the given position (placed time, then line id)."""
    return session.execute(
        select(*_ROW).join(CustomerOrder, CustomerOrder.id == OrderLine.order_pk)
        .where(*_variant_lines(variant), OrderLine.open_quantity > 0,
               tuple_(OrderLine.placed_at, OrderLine.line_item_id) > (placed_at, line_item_id))
        .order_by(OrderLine.placed_at, OrderLine.line_item_id)).all()


def close_reason(row) -> str:
    """Why a previously backordered line is no longer open."""
    if row.cancelled_at is not None or row.cancelled_by_customer:
        return "cancelled"
    if row.released_quantity > 0:
        return "refunded"  # released without the order being cancelled: a refund
    if row.fulfilled_quantity >= row.quantity > 0:
        return "fulfilled"
    return "removed"
