"""The backorder queue as the merchant sees it: variants, and who waits for each, in order.

Read-only, scoped to one shop by every query. The order of a variant's queue
is the engine's (priority, then placed time, then line id), so position 1 is
the customer the next unit goes to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from app.domain.inventory.models import CustomerOrder, InventoryLevel, OrderLine, Variant
from app.domain.inventory.rules import Status
from app.domain.merchant.cap import cap_words
from app.domain.suppliers.models import OPEN_PO_STATUSES, PurchaseOrder, PurchaseOrderLine
from app.errors import NotFound

STATUSES = tuple(s.value for s in Status)
PER_PAGE = 50


@dataclass(frozen=True)
class VariantRow:
    variant_id: int
    sku: str | None
    title: str
    product_title: str
    status: str | None
    backordered_units: int
    waiting_lines: int
    next_eta: date | None
    capacity: int | None
    managed: bool
    closed_early_left: int | None = None
    closed_early_rate: float | None = None
    cap: str | None = None  # the cap in words (see app.domain.merchant.cap)

    @property
    def closed_early(self) -> str | None:
        """Why Shopify stopped selling it before its cap, in the merchant's words."""
        if self.closed_early_left is None:
            return None
        left, rate = self.closed_early_left, self.closed_early_rate or 0
        return (f"Closed early: {left} unit{'' if left == 1 else 's'} left while selling "
                f"{rate:.0f} a second. It opens again once the orders on their way are in.")

    @property
    def name(self) -> str:
        parts = [p for p in (self.product_title, self.title) if p and p != "Default Title"]
        return " / ".join(parts) or f"Variant {self.variant_id}"


@dataclass(frozen=True)
class Page:
    rows: list[VariantRow]
    total: int
    page: int
    pages: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _waiting_lines(shop_id: int):
    """Backordered lines per variant of the shop."""
    return (select(OrderLine.variant_id, func.count().label("waiting"))
            .where(OrderLine.shop_id == shop_id, OrderLine.backordered > 0)
            .group_by(OrderLine.variant_id).subquery())


def variant_page(session: Session, shop_id: int, *, status: str | None = None, query: str = "",
                 waiting_only: bool = False, page: int = 1) -> Page:
    """One page of the shop's variants, most backordered first, filtered and searched."""
    waiting = _waiting_lines(shop_id)
    conditions = _conditions(shop_id, status, query.strip(), waiting_only)
    total = session.scalar(select(func.count()).select_from(Variant).where(*conditions)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = session.execute(
        select(Variant, func.coalesce(waiting.c.waiting, 0))
        .outerjoin(waiting, waiting.c.variant_id == Variant.variant_id)
        .where(*conditions)
        .order_by(Variant.backordered_units.desc(), Variant.product_title, Variant.title,
                  Variant.variant_id)
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    words = cap_words(session, shop_id, [v for v, _ in rows])
    return Page([_row(v, int(n), words) for v, n in rows], total, page, pages)


def _conditions(shop_id: int, status: str | None, query: str, waiting_only: bool) -> list:
    conditions = [Variant.shop_id == shop_id, Variant.deleted.is_(False)]
    if status in STATUSES:
        conditions.append(Variant.status == status)
    if waiting_only:
        conditions.append(Variant.backordered_units > 0)
    if query:
        conditions.append(_matches(shop_id, query))
    return conditions


def _matches(shop_id: int, text: str):
    """SKU or title, or an order (name or customer email) waiting for the variant."""
    pattern = _like(text)
    order_waits = exists().where(
        OrderLine.shop_id == shop_id, OrderLine.variant_id == Variant.variant_id,
        OrderLine.open_quantity > 0, CustomerOrder.id == OrderLine.order_pk,
        or_(CustomerOrder.name.ilike(pattern, escape="\\"),
            CustomerOrder.email.ilike(pattern, escape="\\")))
    return or_(Variant.sku.ilike(pattern, escape="\\"), Variant.title.ilike(pattern, escape="\\"),
               Variant.product_title.ilike(pattern, escape="\\"), order_waits)


def _row(v: Variant, waiting: int, cap: dict[int, str]) -> VariantRow:
    return VariantRow(v.variant_id, v.sku, v.title, v.product_title, v.status,
                      v.backordered_units, waiting, v.next_eta, v.capacity, v.managed,
                      v.closed_early_left, v.closed_early_rate, cap.get(v.variant_id))


@dataclass(frozen=True)
class QueueLine:
    position: int
    order_name: str
    customer: str
    placed_at: datetime | None
    open_quantity: int
    backordered: int
    eta: date | None
    promised_eta: date | None

    @property
    def covered(self) -> int:
        return self.open_quantity - self.backordered


@dataclass(frozen=True)
class SupplyLine:
    po_id: int
    po_number: str
    status: str
    expected_on: date | None
    open_quantity: int


@dataclass(frozen=True)
class VariantQueue:
    variant: VariantRow
    available: int
    lines: list[QueueLine]
    total_lines: int
    supply: list[SupplyLine]


def variant_queue(session: Session, shop_id: int, variant_id: int, *,
                  limit: int = 200) -> VariantQueue:
    """Who waits for the variant, in queue order, and what open POs bring; NotFound otherwise."""
    variant = session.scalar(select(Variant).where(Variant.shop_id == shop_id,
                                                   Variant.variant_id == variant_id))
    if variant is None:
        raise NotFound("no such variant in this shop")
    lines, total = _queue_lines(session, shop_id, variant_id, limit)
    waiting = sum(1 for line in lines if line.backordered > 0)
    return VariantQueue(_row(variant, waiting, cap_words(session, shop_id, [variant])),
                        _available(session, variant), lines, total,
                        _supply(session, shop_id, variant_id))


def _queue_lines(session: Session, shop_id: int, variant_id: int,
                 limit: int) -> tuple[list[QueueLine], int]:
    """The first `limit` open lines in the engine's queue order, and how many there are."""
    where = (OrderLine.shop_id == shop_id, OrderLine.variant_id == variant_id,
             OrderLine.open_quantity > 0)
    total = session.scalar(select(func.count()).select_from(OrderLine).where(*where)) or 0
    rows = session.execute(
        select(OrderLine, CustomerOrder.name, CustomerOrder.email, CustomerOrder.phone)
        .join(CustomerOrder, CustomerOrder.id == OrderLine.order_pk).where(*where)
        .order_by(OrderLine.priority, OrderLine.placed_at, OrderLine.line_item_id)
        .limit(limit)).all()
    return [QueueLine(i, name or f"#{line.line_item_id}", email or phone or "-",
                      line.placed_at, line.open_quantity, line.backordered, line.eta,
                      line.promised_eta)
            for i, (line, name, email, phone) in enumerate(rows, start=1)], total


def _available(session: Session, variant: Variant) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(InventoryLevel.available), 0)).where(
        InventoryLevel.shop_id == variant.shop_id,
        InventoryLevel.inventory_item_id == variant.inventory_item_id)) or 0)


def _supply(session: Session, shop_id: int, variant_id: int) -> list[SupplyLine]:
    rows = session.execute(
        select(PurchaseOrder.id, PurchaseOrder.number, PurchaseOrder.status,
               PurchaseOrderLine.expected_on,
               PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrderLine.shop_id == shop_id, PurchaseOrderLine.variant_id == variant_id,
               PurchaseOrder.status.in_(OPEN_PO_STATUSES))
        .order_by(PurchaseOrderLine.expected_on, PurchaseOrderLine.id)).all()
    return [SupplyLine(r[0], r[1], r[2].value.replace("_", " "), r[3], int(r[4]))
            for r in rows if r[4] > 0]
