"""Fulfilment holds and the `backorder` tag: which orders are due, what they should show.

The recompute marks an order due whenever one of its lines changes its backordered
units (`mark_due`, in the recompute's transaction). A per-shop job (workers/fulfilment.py)
then reads the due orders, brings Shopify in step one order at a time (rules.py), and
`settle`s each. Shopify is the record of what is held: a run that died half-way, or a
duplicate run, reads the holds it already placed (by handle) and places nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.domain.base import utcnow
from app.domain.fulfilment.models import FulfilmentSync
from app.domain.inventory.models import CustomerOrder, OrderLine, ShopSettings

BATCH = 100
# A hold that waits behind someone else's (see rules.Blocked), or an order Shopify refused
# to change, is looked at again this much later: Shopify sends no webhook when a merchant
# releases a hold.
RETRY_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class DueOrder:
    order_id: int
    version: int
    held: dict[int, int]  # line item id -> units that must be on hold
    tagged: bool


def mark_due(session: Session, shop_id: int, order_ids: Iterable[int]) -> None:
    """Note that these orders' holds and tag must be brought in step with their lines."""
    ids = sorted(set(order_ids))
    if not ids:
        return
    # One statement, rows in id order: two workers marking the same orders neither
    # collide on the key nor deadlock.
    insert = _dialect_insert(session)(FulfilmentSync).values(
        [{"shop_id": shop_id, "order_id": i, "version": 1, "due_at": utcnow()} for i in ids])
    session.execute(insert.on_conflict_do_update(
        index_elements=["shop_id", "order_id"],
        set_={"version": FulfilmentSync.version + 1, "due_at": insert.excluded.due_at}))


def _dialect_insert(session: Session):
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert
    return postgresql.insert


def mark_backordered_orders_due(session: Session, shop_id: int) -> int:
    """Every order with a backordered line (the hold setting changed); returns how many."""
    ids = set(session.scalars(select(CustomerOrder.order_id).join(
        OrderLine, OrderLine.order_pk == CustomerOrder.id).where(
        CustomerOrder.shop_id == shop_id, OrderLine.backordered > 0)))
    ids |= set(session.scalars(select(FulfilmentSync.order_id).where(
        FulfilmentSync.shop_id == shop_id)))  # and those that held some before
    mark_due(session, shop_id, ids)
    return len(ids)


def holds_enabled(session: Session, shop_id: int) -> bool:
    value = session.scalar(select(ShopSettings.hold_backorders)
                           .where(ShopSettings.shop_id == shop_id))
    return True if value is None else value  # no settings yet: a new shop, on by default


def due_orders(session: Session, shop_id: int, *, now: datetime | None = None,
               limit: int = BATCH) -> list[DueOrder]:
    """Orders due by now, oldest first, with the holds and tag each should show."""
    rows = session.execute(select(FulfilmentSync.order_id, FulfilmentSync.version).where(
        FulfilmentSync.shop_id == shop_id, FulfilmentSync.due_at <= (now or utcnow()))
        .order_by(FulfilmentSync.due_at, FulfilmentSync.order_id).limit(limit)).all()
    if not rows:
        return []
    holding = holds_enabled(session, shop_id)
    lines = session.execute(
        select(CustomerOrder.order_id, CustomerOrder.cancelled_at, OrderLine.line_item_id,
               OrderLine.backordered)
        .join(OrderLine, OrderLine.order_pk == CustomerOrder.id)
        .where(CustomerOrder.shop_id == shop_id,
               CustomerOrder.order_id.in_([r.order_id for r in rows]))).all()
    backordered: dict[int, dict[int, int]] = {r.order_id: {} for r in rows}
    for line in lines:
        units = 0 if line.cancelled_at is not None else line.backordered
        backordered[line.order_id][line.line_item_id] = units
    return [DueOrder(order_id=r.order_id, version=r.version,
                     held={k: (v if holding else 0) for k, v in backordered[r.order_id].items()},
                     tagged=any(backordered[r.order_id].values())) for r in rows]


def settle(session: Session, shop_id: int, order: DueOrder, *, retry: bool = False,
           error: str | None = None) -> None:
    """Record the run's outcome, unless the order changed since it was read (then it stays due)."""
    session.execute(update(FulfilmentSync).where(and_(
        FulfilmentSync.shop_id == shop_id, FulfilmentSync.order_id == order.order_id,
        FulfilmentSync.version == order.version)).values(
        due_at=(utcnow() + RETRY_AFTER) if retry else None, last_error=error))


def count_due(session: Session, shop_id: int) -> int:
    return session.scalar(select(func.count()).select_from(FulfilmentSync).where(
        FulfilmentSync.shop_id == shop_id, FulfilmentSync.due_at.is_not(None))) or 0
