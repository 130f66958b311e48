"""Reorder planning: each variant's net need, as lines on ONE draft PO per supplier.

For every variant with a SKU some supplier sells, `reorder_quantity` (rules.py)
weighs backordered units, safety stock and the demand forecast over the
supplier's observed lead time against spare stock and what open POs already
bring. The preferred supplier gets the order (`choose_supplier`).

Coalescing: all needs for one supplier land on its single open draft. The
supplier row is locked FOR UPDATE before its draft is read, so concurrent
planners take turns and each one sees the lines the previous one committed; a
partial unique index (one DRAFT per supplier) backs this up in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.domain.base import utcnow
from app.domain.intents import SendPurchaseOrder
from app.domain.inventory.models import (
    CustomerOrder,
    OrderLine,
    Variant,
)
from app.domain.shops.models import Shop
from app.domain.suppliers.leadtimes import observed_days, supplier_options
from app.domain.suppliers.models import (
    OPEN_PO_STATUSES,
    PoStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierItem,
)
from app.domain.suppliers.rules import (
    ReorderDecision,
    choose_supplier,
    forecast_daily_demand,
    reorder_quantity,
)
from app.domain.suppliers.service import SupplierSettings, recompute, supplier_settings


@dataclass(frozen=True)
class _Candidate:
    variant_id: int
    inventory_item_id: int | None
    item: SupplierItem  # the chosen supplier's catalog row for the variant's SKU


def plan_reorders(session: Session, shop_id: int, *, today: date | None = None) -> list:
    """Create or adjust the draft PO of every supplier something must be ordered from.

    Returns what to enqueue after commit: the engine's intents for variants
    whose incoming supply changed, and dispatches of new auto-sent drafts.
    """
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.active:
        return []
    today = today or utcnow().date()
    settings = supplier_settings(session, shop_id)
    intents: list = []
    changed: set[int] = set()
    by_supplier = _candidates_by_supplier(session, shop_id)
    for supplier_id in sorted(by_supplier):  # one lock order for every planner: no deadlocks
        plan = _SupplierPlan(session, shop_id, supplier_id, settings, today)
        changed |= plan.run(by_supplier[supplier_id])
        intents += plan.intents
    return recompute(session, shop_id, changed) + intents


# --- Who sells what ----------------------------------------------------------------


def _candidates_by_supplier(session: Session, shop_id: int) -> dict[int, list[_Candidate]]:
    """Managed variants with a SKU someone sells, grouped by the supplier chosen for each."""
    options = supplier_options(session, shop_id)
    variants = session.execute(
        select(Variant.variant_id, Variant.sku, Variant.inventory_item_id)
        .where(Variant.shop_id == shop_id, Variant.managed.is_(True),
               Variant.deleted.is_(False), Variant.sku.in_(sorted(options)))).all()
    grouped: dict[int, list[_Candidate]] = {}
    for variant_id, sku, inventory_item_id in variants:
        chosen = choose_supplier([option for option, _, _ in options[sku]])
        if chosen is not None:
            item = next(i for o, i, _ in options[sku] if o is chosen)
            grouped.setdefault(chosen.supplier_id, []).append(
                _Candidate(variant_id, inventory_item_id, item))
    return grouped


# --- One supplier ------------------------------------------------------------------


class _SupplierPlan:
    """Plans one supplier's draft while holding that supplier's row lock."""

    def __init__(self, session: Session, shop_id: int, supplier_id: int,
                 settings: SupplierSettings, today: date):
        self.session, self.shop_id, self.supplier_id = session, shop_id, supplier_id
        self.settings, self.today = settings, today
        self.intents: list = []
        self.draft: PurchaseOrder | None = None

    def run(self, candidates: list[_Candidate]) -> set[int]:
        """Bring the draft in line with the candidates' needs; returns variants changed."""
        supplier = self.session.scalar(select(Supplier).where(Supplier.id == self.supplier_id)
                                       .with_for_update())
        if supplier is None or not supplier.active:
            return set()
        self.draft = _open_draft(self.session, self.shop_id, self.supplier_id)
        decisions = self._decide(candidates)
        changed = {c.variant_id for c in candidates if self._apply(c, decisions[c.variant_id])}
        if self.draft is not None and not self.draft.lines:
            self.session.delete(self.draft)  # nothing left to order: no empty PO to approve
        self.session.flush()
        return changed

    def _decide(self, candidates: list[_Candidate]) -> dict[int, ReorderDecision]:
        ids = [c.variant_id for c in candidates]
        # Read after the lock: a planner that waited sees what the previous one committed.
        backordered, spare = _allocated_stock(self.session, self.shop_id, ids)
        incoming = _incoming(self.session, self.shop_id, ids, self.draft)
        history = _daily_demand(self.session, self.shop_id, ids, self.today,
                                self.settings.forecast_days)
        return {c.variant_id: reorder_quantity(
            backordered=backordered.get(c.variant_id, 0),
            on_hand=spare.get(c.variant_id, 0), incoming=incoming.get(c.variant_id, 0),
            forecast=forecast_daily_demand(history[c.variant_id],
                                           alpha=self.settings.forecast_alpha),
            lead_time_days=self._lead_time(c.item), service_level=self.settings.service_level,
            moq=c.item.moq, pack_size=c.item.pack_size) for c in candidates}

    def _lead_time(self, item: SupplierItem) -> int:
        return observed_days(self.session, shop_id=self.shop_id, supplier_id=self.supplier_id,
                             promised_days=item.lead_time_days)

    def _apply(self, candidate: _Candidate, decision: ReorderDecision) -> bool:
        """Set the variant's line on the draft to the decision; True when supply changed."""
        line = self._line(candidate.variant_id)
        if line is not None and line.quantity == decision.quantity:
            line.reason = decision.explanation
            return False
        if decision.quantity == 0:
            if line is None:
                return False
            self.draft.lines.remove(line)
            return True
        if line is None:
            line = self._new_line(candidate)
        line.quantity, line.reason = decision.quantity, decision.explanation
        return True

    def _line(self, variant_id: int) -> PurchaseOrderLine | None:
        lines = self.draft.lines if self.draft is not None else []
        return next((line for line in lines if line.variant_id == variant_id), None)

    def _new_line(self, candidate: _Candidate) -> PurchaseOrderLine:
        if self.draft is None:
            self.draft = self._new_draft()
        item = candidate.item
        line = PurchaseOrderLine(
            shop_id=self.shop_id, variant_id=candidate.variant_id, sku=item.sku,
            supplier_sku=item.supplier_sku, received_quantity=0, unit_cost=item.unit_cost,
            promised_lead_time_days=item.lead_time_days,
            expected_on=self.today + timedelta(days=self._lead_time(item)))
        self.draft.lines.append(line)
        return line

    def _new_draft(self) -> PurchaseOrder:
        auto = self.settings.po_auto_send
        draft = PurchaseOrder(shop_id=self.shop_id, supplier_id=self.supplier_id,
                              number=f"new-{uuid4().hex[:16]}", status=PoStatus.DRAFT,
                              dispatch_attempts=0, approved_at=utcnow() if auto else None)
        self.session.add(draft)
        self.session.flush()
        # Derived from the global id, so the number (and the email Message-ID built
        # from it) is unique across shops too.
        draft.number = f"PO-{draft.id:06d}"
        if auto:
            self.intents.append(SendPurchaseOrder(draft.id,
                                                  self.settings.po_coalesce_minutes * 60))
        return draft


def _open_draft(session: Session, shop_id: int, supplier_id: int) -> PurchaseOrder | None:
    return session.scalar(select(PurchaseOrder).options(selectinload(PurchaseOrder.lines))
                          .where(PurchaseOrder.shop_id == shop_id,
                                 PurchaseOrder.supplier_id == supplier_id,
                                 PurchaseOrder.status == PoStatus.DRAFT))


# --- Stock, supply and demand ---------------------------------------------------------


def _allocated_stock(session: Session, shop_id: int,
                     variant_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Backordered and spare units per variant, as the engine's last allocation left them.

    Spare is what is on hand and promised to nobody. Shopify's `available` has the
    committed units taken off only once its snapshot has seen the orders; the engine's
    on-hand (`available` plus the open demand that snapshot counted) covers the queue
    first, so units already covering orders are never counted again here.
    """
    rows = session.execute(select(Variant.variant_id, Variant.backordered_units,
                                  Variant.alloc_on_hand, Variant.alloc_total_open)
                           .where(Variant.shop_id == shop_id,
                                  Variant.variant_id.in_(variant_ids))).all()
    backordered = {r.variant_id: max(0, r.backordered_units or 0) for r in rows}
    spare = {r.variant_id: max(0, (r.alloc_on_hand or 0) - (r.alloc_total_open or 0))
             for r in rows}
    return backordered, spare


def _incoming(session: Session, shop_id: int, variant_ids: list[int],
              draft: PurchaseOrder | None) -> dict[int, int]:
    """Open PO units per variant, leaving out the draft being planned (it is decided anew)."""
    query = (select(PurchaseOrderLine.variant_id,
                    func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity))
             .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
             .where(PurchaseOrderLine.shop_id == shop_id,
                    PurchaseOrderLine.variant_id.in_(variant_ids),
                    PurchaseOrder.status.in_(OPEN_PO_STATUSES),
                    PurchaseOrderLine.quantity > PurchaseOrderLine.received_quantity)
             .group_by(PurchaseOrderLine.variant_id))
    if draft is not None:
        query = query.where(PurchaseOrder.id != draft.id)
    return {variant_id: int(units) for variant_id, units in session.execute(query).all()}


def _daily_demand(session: Session, shop_id: int, variant_ids: list[int], today: date,
                  days: int) -> dict[int, list[int]]:
    """Units ordered per variant on each of the last `days` full days (UTC), oldest first.

    Today is left out: a day still filling up would read as a drop in demand.
    """
    start = datetime.combine(today - timedelta(days=days), time(), UTC)
    rows = session.execute(
        select(OrderLine.variant_id, CustomerOrder.placed_at, OrderLine.quantity)
        .join(CustomerOrder, CustomerOrder.id == OrderLine.order_pk)
        .where(OrderLine.shop_id == shop_id, OrderLine.variant_id.in_(variant_ids),
               CustomerOrder.cancelled_at.is_(None), CustomerOrder.placed_at >= start,
               CustomerOrder.placed_at < start + timedelta(days=days))).all()
    series = {variant_id: [0] * days for variant_id in variant_ids}
    for variant_id, placed_at, quantity in rows:
        day = (placed_at.astimezone(UTC).date() - start.date()).days
        series[variant_id][day] += max(0, quantity)
    return series
