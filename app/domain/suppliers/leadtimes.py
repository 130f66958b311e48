"""Which lead time the engine uses for units no purchase order covers yet."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.suppliers.models import LeadTimeRecord, Supplier, SupplierItem
from app.domain.suppliers.rules import observed_lead_time


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
    actual = session.scalars(
        select(LeadTimeRecord.actual_days)
        .where(LeadTimeRecord.shop_id == shop_id, LeadTimeRecord.supplier_id == item.supplier_id)
        .order_by(LeadTimeRecord.received_on.desc(), LeadTimeRecord.id.desc()).limit(20)).all()
    return observed_lead_time(promised_days=item.lead_time_days, actual_days=list(reversed(actual)))
