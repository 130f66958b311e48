"""The engine's view of purchase orders: its `SupplyPlan` port (inventory/ports.py).

Open PO lines are supply with a date; units no PO covers wait the preferred supplier's
observed lead time (leadtimes.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.inventory.models import Variant
from app.domain.inventory.rules import Supply
from app.domain.suppliers.leadtimes import lead_time_days_for, next_reorders
from app.domain.suppliers.models import OPEN_PO_STATUSES, PurchaseOrder, PurchaseOrderLine


class PurchaseOrderPlan:
    """What the shop's suppliers will bring, read from its purchase orders and catalog."""

    def lead_time_days(self, session: Session, *, shop_id: int, sku: str | None) -> int | None:
        return lead_time_days_for(session, shop_id=shop_id, sku=sku)

    def open_supply(self, session: Session, variant: Variant) -> list[Supply]:
        rows = session.execute(
            select(PurchaseOrderLine.id, PurchaseOrderLine.expected_on,
                   PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity)
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .where(PurchaseOrderLine.shop_id == variant.shop_id,
                   PurchaseOrderLine.variant_id == variant.variant_id,
                   PurchaseOrder.status.in_(OPEN_PO_STATUSES),
                   PurchaseOrderLine.expected_on.is_not(None))).all()
        return [Supply(ref=r[0], expected_on=r[1], open_qty=int(r[2])) for r in rows if r[2] > 0]


    def next_reorders(self, session: Session, shop_id: int,
                      variants: Iterable[Variant]) -> dict[int, int]:
        reorders = next_reorders(session, shop_id, [(v.variant_id, v.sku) for v in variants])
        return {variant_id: r.units for variant_id, r in reorders.items() if r.units}


PLAN = PurchaseOrderPlan()
