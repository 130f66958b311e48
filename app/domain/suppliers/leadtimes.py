"""Which lead time the engine uses for units no purchase order covers yet, and how
each supplier has really performed."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.suppliers.models import (
    LeadTimeRecord,
    PoStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierItem,
)
from app.domain.suppliers.rules import (
    SupplierOption,
    choose_supplier,
    observed_lead_time,
    on_time_rate,
    reorder_minimum,
)

HISTORY = 20  # deliveries that count: recent enough to see a supplier improve or slip


def lead_time_days_for(session: Session, *, shop_id: int, sku: str | None) -> int | None:
    """The preferred active supplier's observed lead time for this SKU; None: no supplier."""
    if not sku:
        return None
    item = session.execute(
        select(SupplierItem.supplier_id, SupplierItem.lead_time_days)
        .join(Supplier, Supplier.id == SupplierItem.supplier_id)
        .where(SupplierItem.shop_id == shop_id, SupplierItem.sku == sku,
               SupplierItem.active.is_(True), Supplier.active.is_(True))
        .order_by(SupplierItem.priority, SupplierItem.lead_time_days, SupplierItem.id)
        .limit(1)).first()
    if item is None:
        return None
    return observed_days(session, shop_id=shop_id, supplier_id=item.supplier_id,
                         promised_days=item.lead_time_days)


def observed_days(session: Session, *, shop_id: int, supplier_id: int, promised_days: int) -> int:
    """The lead time to plan with for this supplier: learned from history, else the promise."""
    return observed_lead_time(promised_days=promised_days,
                              actual_days=_recent(session, shop_id, supplier_id))


def _recent(session: Session, shop_id: int, supplier_id: int) -> list[int]:
    """Actual lead times of the supplier's last deliveries, oldest first."""
    newest_first = session.scalars(
        select(LeadTimeRecord.actual_days)
        .where(LeadTimeRecord.shop_id == shop_id, LeadTimeRecord.supplier_id == supplier_id)
        .order_by(LeadTimeRecord.received_on.desc(), LeadTimeRecord.id.desc())
        .limit(HISTORY)).all()
    return list(reversed(newest_first))


def supplier_options(session: Session, shop_id: int, skus: Iterable[str] | None = None
                     ) -> dict[str, list[tuple[SupplierOption, SupplierItem, str]]]:
    """Who sells each SKU (all of the shop's SKUs, or those given): the option the reorder
    policy weighs, the catalog row and the supplier's name."""
    query = (select(SupplierItem, Supplier.active, Supplier.email, Supplier.endpoint_url,
                    Supplier.name)
             .join(Supplier, Supplier.id == SupplierItem.supplier_id)
             .where(SupplierItem.shop_id == shop_id, SupplierItem.active.is_(True)))
    if skus is not None:
        query = query.where(SupplierItem.sku.in_(sorted(set(skus))))
    options: dict[str, list[tuple[SupplierOption, SupplierItem, str]]] = {}
    for item, active, email, endpoint, name in session.execute(query).all():
        # A supplier with no way to receive a PO cannot deliver: the next one is asked.
        option = SupplierOption(supplier_id=item.supplier_id, priority=item.priority,
                                active=active, can_deliver=bool(email or endpoint),
                                lead_time_days=item.lead_time_days, moq=item.moq,
                                pack_size=item.pack_size, unit_cost=item.unit_cost)
        options.setdefault(item.sku, []).append((option, item, name))
    return options


@dataclass(frozen=True)
class NextReorder:
    """The order a variant's supplier gets next, as the default cap counts it."""

    supplier: str
    moq: int
    pack_size: int
    drafted: bool  # a draft PO holds it: its line is incoming already

    @property
    def units(self) -> int:
        """Units it adds to the cap beyond open POs: its minimum until a draft holds it."""
        return 0 if self.drafted else reorder_minimum(self.moq, self.pack_size)


def next_reorders(session: Session, shop_id: int,
                  variants: Iterable[tuple[int, str | None]]) -> dict[int, NextReorder]:
    """For each (variant id, SKU) whose supplier can receive POs, its next reorder."""
    skus = {variant_id: sku for variant_id, sku in variants if sku}
    if not skus:
        return {}
    options = supplier_options(session, shop_id, skus.values())
    drafted = set(session.scalars(
        select(PurchaseOrderLine.variant_id).join(PurchaseOrder)
        .where(PurchaseOrderLine.shop_id == shop_id,
               PurchaseOrderLine.variant_id.in_(sorted(skus)),
               PurchaseOrder.status == PoStatus.DRAFT)))
    out = {}
    for variant_id, sku in skus.items():
        sellers = options.get(sku, [])
        chosen = choose_supplier([option for option, _, _ in sellers])
        if chosen is not None:
            name = next(name for option, _, name in sellers if option is chosen)
            out[variant_id] = NextReorder(name, chosen.moq, chosen.pack_size,
                                          variant_id in drafted)
    return out


@dataclass(frozen=True)
class SupplierPerformance:
    """One supplier as the merchant page shows it."""

    supplier_id: int
    name: str
    deliveries: int  # received PO lines in the window
    on_time_rate: float | None  # None: nothing received yet
    promised_days: int | None  # typical promised lead time (median)
    observed_days: int | None  # what ETAs use for units no PO covers
    average_delay_days: float | None  # actual minus promised, on average


def supplier_performance(session: Session, shop_id: int) -> list[SupplierPerformance]:
    """On-time rate and observed versus promised lead time of every supplier of the shop."""
    suppliers = session.scalars(select(Supplier).where(Supplier.shop_id == shop_id)
                                .order_by(Supplier.name)).all()
    return [_performance(session, shop_id, s) for s in suppliers]


def _performance(session: Session, shop_id: int, supplier: Supplier) -> SupplierPerformance:
    records = session.execute(
        select(LeadTimeRecord.promised_days, LeadTimeRecord.actual_days)
        .where(LeadTimeRecord.shop_id == shop_id, LeadTimeRecord.supplier_id == supplier.id)
        .order_by(LeadTimeRecord.received_on.desc(), LeadTimeRecord.id.desc())
        .limit(HISTORY)).all()
    pairs = [(int(p), int(a)) for p, a in reversed(records)]
    promised = _catalog_promise(session, shop_id, supplier.id)
    if pairs:
        promised = int(statistics.median_low(p for p, _ in pairs))
    observed = None if promised is None else observed_lead_time(
        promised_days=promised, actual_days=[a for _, a in pairs])
    delay = statistics.fmean(a - p for p, a in pairs) if pairs else None
    return SupplierPerformance(supplier.id, supplier.name, len(pairs), on_time_rate(pairs),
                               promised, observed, delay)


def _catalog_promise(session: Session, shop_id: int, supplier_id: int) -> int | None:
    days = session.scalars(select(SupplierItem.lead_time_days).where(
        SupplierItem.shop_id == shop_id, SupplierItem.supplier_id == supplier_id,
        SupplierItem.active.is_(True))).all()
    return int(statistics.median_low(days)) if days else None
