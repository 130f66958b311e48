"""What a batch of a shop's events can share, so a flash sale costs little per order.

Applied one at a time, an order costs a few queries of its own (find the order, check
its line ids) and each query first flushes what the previous event wrote, one row at a
time. In a batch the orders are read in one query and their line ids checked in one, so
nothing is flushed until the commit, when the rows go in together.

Stock snapshots that a batch can skip without changing the outcome are skipped: a run
of falling `available` values of one item and location (each sale's webhook) leaves
the same level as its last one, and no rise in between means no delivery to match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.domain.intake.topics import ORDER_TOPICS
from app.domain.inventory.models import CustomerOrder, InventoryLevel
from app.domain.inventory.payloads import LevelSnapshot, OrderSnapshot, parse_level, parse_order
from app.errors import InvalidInput

LEVEL_TOPIC = "inventory_levels/update"
SNAPSHOT_ORDER_TOPICS = frozenset(ORDER_TOPICS) - {"refunds/create"}


@dataclass
class OrderBook:
    """The batch's orders, read once and locked; new ones join as they are created."""

    orders: dict[int, CustomerOrder | None] = field(default_factory=dict)
    # line item id -> order id, for the batch's orders (a line claimed twice in one batch)
    line_owner: dict[int, int] = field(default_factory=dict)

    def knows(self, order_id: int) -> bool:
        return order_id in self.orders

    def add(self, order: CustomerOrder) -> None:
        self.orders[order.order_id] = order


def read_orders(session: Session, shop_id: int, snaps: Iterable[OrderSnapshot]) -> OrderBook:
    """Lock and load the snapshots' orders, with their lines, in one query.

    A line id the batch finds stored under another order is left to the (shop, line
    item) key: the INSERT fails, the batch is applied again one event at a time, and the
    single event's own check names the line. Checking every new line id of every batch
    up front cost more than anything else in a flash sale."""
    order_ids = sorted({s.order_id for s in snaps})
    book = OrderBook(orders=dict.fromkeys(order_ids))
    if not order_ids:
        return book
    for order in session.scalars(
            select(CustomerOrder).options(selectinload(CustomerOrder.lines))
            .where(CustomerOrder.shop_id == shop_id, CustomerOrder.order_id.in_(order_ids))
            .order_by(CustomerOrder.id).with_for_update(of=CustomerOrder)):
        book.orders[order.order_id] = order
        book.line_owner.update({line.line_item_id: order.order_id for line in order.lines})
    return book


def skipped_levels(levels: Sequence[tuple[int, LevelSnapshot]],
                   stored: dict[tuple[int, int], datetime | None]) -> set[int]:
    """Of the batch's stock snapshots (position, snapshot) in arrival order, the positions
    whose skipping changes nothing: not newer than what is stored or than one before them
    of the same item and location (a no-op either way), or inside a run of falling values
    (only the run's ends count). `stored`: each level's stored snapshot time."""
    skip: set[int] = set()
    chains: dict[tuple[int, int], list[tuple[int, LevelSnapshot]]] = defaultdict(list)
    for position, snap in levels:
        if snap.available is None:
            continue
        key = (snap.inventory_item_id, snap.location_id)
        chain, newest = chains[key], stored.get(key)
        if chain:
            newest = chain[-1][1].updated_at
        if newest is not None and snap.updated_at <= newest:
            skip.add(position)
            continue
        chain.append((position, snap))
    for chain in chains.values():  # each one applied in turn, the first over what is stored
        for (_, before), (position, snap), (_, after) in zip(chain, chain[1:], chain[2:],
                                                            strict=False):
            if before.available >= snap.available >= after.available:
                skip.add(position)
    return skip


def stored_levels(session: Session, shop_id: int,
                  keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], datetime | None]:
    """When each (item, location) level was last stored. Read without a lock: only a
    level update of the same item applied outside the batch at this very moment could
    move it, and each handler still checks its snapshot against the row it locks."""
    items = sorted({item for item, _ in keys})
    if not items:
        return {}
    rows = session.execute(select(InventoryLevel.inventory_item_id, InventoryLevel.location_id,
                                  InventoryLevel.source_updated_at)
                           .where(InventoryLevel.shop_id == shop_id,
                                  InventoryLevel.inventory_item_id.in_(items)))
    return {(item, location): at for item, location, at in rows}


@dataclass
class BatchPlan:
    """What `prepare` found: events to settle without applying, and the order book."""

    skip: set[int] = field(default_factory=set)
    orders: OrderBook | None = None


def prepare(session: Session, shop_id: int, events: Sequence[tuple[str, dict]]) -> BatchPlan:
    """Read what the batch's events share; a payload that does not parse is left to its
    handler, which refuses it as it always does."""
    snaps, levels = [], []
    for position, (topic, payload) in enumerate(events):
        try:
            if topic in SNAPSHOT_ORDER_TOPICS:
                snaps.append(parse_order(payload))
            elif topic == LEVEL_TOPIC:
                levels.append((position, parse_level(payload)))
        except InvalidInput:
            continue
    stored = stored_levels(session, shop_id, {(s.inventory_item_id, s.location_id)
                                              for _, s in levels})
    return BatchPlan(skip=skipped_levels(levels, stored),
                     orders=read_orders(session, shop_id, snaps))
