"""Reconciliation: Shopify's own view of variants, stock and open orders, stored as snapshots."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from app.domain.base import utcnow
from app.domain.inventory import state
from app.domain.inventory.payloads import order_from_admin
from app.domain.inventory.ports import StockReceipts
from app.domain.ports import OrderInfo, VariantInfo


def store_variants(session: Session, shop_id: int, infos: Iterable[VariantInfo], *,
                   receipts: StockReceipts) -> set[int]:
    """Variant details and inventory levels as the Admin API reports them."""
    infos = list(infos)
    # Stock that rose may receive PO lines: their POs are locked before the variants.
    receipts.lock_open_purchase_orders(session, shop_id, [i.variant_id for i in infos])
    state.lock_or_create_variants(session, shop_id, [i.variant_id for i in infos])
    fetched_at = utcnow()
    for info in infos:
        state.apply_fetched_variant(session, shop_id, info, fetched_at=fetched_at,
                                    receipts=receipts)
    return {i.variant_id for i in infos}


def store_orders(session: Session, shop_id: int, orders: Iterable[OrderInfo]) -> set[int]:
    """Open orders as the Admin API reports them (stale ones are dropped as usual)."""
    snaps = [order_from_admin(o) for o in orders]
    variant_ids = set().union(*(s.variant_ids for s in snaps)) if snaps else set()
    state.lock_or_create_variants(session, shop_id, variant_ids)
    changed: set[int] = set()
    for snap in snaps:
        changed |= state.apply_order(session, shop_id, snap)
    return changed
