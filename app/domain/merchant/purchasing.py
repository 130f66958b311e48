"""Suppliers and purchase orders as the merchant pages list them, scoped to one shop.

Read-only: changes go through app.domain.suppliers (import_catalog, dispatch,
receiving), which check the shop themselves. `actions` tells the page which
buttons make sense for a PO in its current state, so the template holds no rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.domain.base import utcnow
from app.domain.suppliers.dispatch import IN_FLIGHT
from app.domain.suppliers.leadtimes import SupplierPerformance, supplier_performance
from app.domain.suppliers.models import PoReceipt, PoStatus, PurchaseOrder, Supplier, SupplierItem
from app.domain.suppliers.receiving import FAILED, RECEIVABLE, UNKNOWN
from app.errors import NotFound

STATUSES = tuple(s.value for s in PoStatus)


@dataclass(frozen=True)
class SupplierRow:
    id: int
    name: str
    email: str | None
    currency: str
    active: bool
    items: int
    performance: SupplierPerformance | None


def supplier_rows(session: Session, shop_id: int) -> list[SupplierRow]:
    """Every supplier of the shop with its catalog size and delivery record."""
    counts = dict(session.execute(
        select(SupplierItem.supplier_id, func.count()).where(
            SupplierItem.shop_id == shop_id, SupplierItem.active.is_(True))
        .group_by(SupplierItem.supplier_id)).all())
    performance = {p.supplier_id: p for p in supplier_performance(session, shop_id)}
    suppliers = session.scalars(select(Supplier).where(Supplier.shop_id == shop_id)
                                .order_by(Supplier.name)).all()
    return [SupplierRow(s.id, s.name, s.email, s.currency, s.active, counts.get(s.id, 0),
                        performance.get(s.id)) for s in suppliers]


def catalog_items(session: Session, shop_id: int, supplier_id: int) -> tuple[Supplier, list]:
    """One supplier of the shop and its catalog rows; NotFound for any other supplier."""
    supplier = session.scalar(select(Supplier).where(Supplier.id == supplier_id,
                                                     Supplier.shop_id == shop_id))
    if supplier is None:
        raise NotFound("no such supplier")
    items = session.scalars(select(SupplierItem).where(
        SupplierItem.shop_id == shop_id, SupplierItem.supplier_id == supplier_id)
        .order_by(SupplierItem.sku)).all()
    return supplier, list(items)


@dataclass(frozen=True)
class PoRow:
    id: int
    number: str
    supplier: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    confirmed_at: datetime | None
    approved_at: datetime | None
    units: int
    received: int
    next_expected: date | None
    last_error: str | None

    @property
    def label(self) -> str:
        if self.status == PoStatus.DRAFT.value:
            return "approved, sending soon" if self.approved_at else "waiting for approval"
        return self.status.replace("_", " ")


def po_list(session: Session, shop_id: int, *, status: str | None = None,
            limit: int = 200) -> list[PoRow]:
    """The shop's POs, newest first, optionally of one status."""
    query = (select(PurchaseOrder, Supplier.name).options(selectinload(PurchaseOrder.lines))
             .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
             .where(PurchaseOrder.shop_id == shop_id))
    if status in STATUSES:
        query = query.where(PurchaseOrder.status == PoStatus(status))
    rows = session.execute(query.order_by(PurchaseOrder.id.desc()).limit(limit)).all()
    return [_po_row(po, name) for po, name in rows]


def _po_row(po: PurchaseOrder, supplier: str) -> PoRow:
    open_dates = [line.expected_on for line in po.lines
                  if line.expected_on and line.received_quantity < line.quantity]
    return PoRow(po.id, po.number, supplier, po.status.value, po.created_at, po.sent_at,
                 po.confirmed_at, po.approved_at, sum(line.quantity for line in po.lines),
                 sum(line.received_quantity for line in po.lines),
                 min(open_dates) if open_dates else None, po.last_error)


@dataclass(frozen=True)
class PoLineRow:
    id: int
    variant_id: int
    sku: str
    supplier_sku: str
    quantity: int
    received: int
    unit_cost: Decimal
    expected_on: date | None
    reason: str | None

    @property
    def open(self) -> int:
        return max(0, self.quantity - self.received)


@dataclass(frozen=True)
class ReceiptRow:
    id: int
    sku: str
    quantity: int
    received_at: datetime
    push_status: str
    last_error: str | None

    @property
    def needs_decision(self) -> bool:
        return self.push_status in (UNKNOWN, FAILED)


@dataclass(frozen=True)
class PoDetail:
    po: PoRow
    currency: str
    supplier_email: str | None
    lines: list[PoLineRow]
    receipts: list[ReceiptRow]
    actions: frozenset[str] = field(default_factory=frozenset)


def po_detail(session: Session, shop_id: int, po_id: int) -> PoDetail:
    """One PO of the shop with its lines, receipts and possible actions; NotFound otherwise."""
    po = session.scalar(select(PurchaseOrder).options(selectinload(PurchaseOrder.lines))
                        .where(PurchaseOrder.id == po_id, PurchaseOrder.shop_id == shop_id))
    if po is None:
        raise NotFound("no such purchase order")
    supplier = session.get(Supplier, po.supplier_id)
    lines = [PoLineRow(line.id, line.variant_id, line.sku, line.supplier_sku, line.quantity,
                       line.received_quantity, line.unit_cost, line.expected_on, line.reason)
             for line in sorted(po.lines, key=lambda line: (line.sku, line.id))]
    skus = {line.id: line.sku for line in po.lines}
    receipts = [ReceiptRow(r.id, skus.get(r.po_line_id, ""), r.quantity, r.received_at,
                           r.push_status, r.last_error)
                for r in session.scalars(select(PoReceipt).where(PoReceipt.po_id == po.id,
                                                                 PoReceipt.shop_id == shop_id)
                                         .order_by(PoReceipt.id))]
    return PoDetail(_po_row(po, supplier.name), supplier.currency, supplier.email, lines,
                    receipts, actions_for(po))


def actions_for(po: PurchaseOrder, *, now: datetime | None = None) -> frozenset[str]:
    """Buttons that make sense now: approve, resolve (an unknown send), receive."""
    actions = set()
    if po.status == PoStatus.DRAFT and po.approved_at is None and po.lines:
        actions.add("approve")
    if po.status == PoStatus.SENDING and po.dispatch_started_at is None and po.approved_at is None:
        actions.add("approve")  # a permanent failure withdrew the approval: send again
    started = po.dispatch_started_at
    if po.status == PoStatus.SENDING and started and (now or utcnow()) - started > IN_FLIGHT:
        actions.add("resolve")
    if po.status in RECEIVABLE and any(line.received_quantity < line.quantity
                                       for line in po.lines):
        actions.add("receive")
    return frozenset(actions)
