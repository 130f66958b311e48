"""What the engine asks of the suppliers area, which builds on it (suppliers -> inventory).

Purchase orders live above the engine: they lock variants and call the recompute. So
the engine never imports them; it asks through these two ports, which the suppliers
area implements (suppliers/supply.py, suppliers/shopify_receipts.py) and the callers
that put the pieces together pass in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from app.domain.inventory.models import Variant
from app.domain.inventory.rules import Supply


class SupplyPlan(Protocol):
    """What the suppliers will bring: the recompute's inputs beyond stock and orders."""

    def lead_time_days(self, session: Session, *, shop_id: int, sku: str | None) -> int | None:
        """Days to plan with for units no purchase order covers; None: no supplier."""

    def open_supply(self, session: Session, variant: Variant) -> list[Supply]:
        """The variant's units still expected on open purchase orders, with their dates."""

    def next_reorders(self, session: Session, shop_id: int,
                      variants: Iterable[Variant]) -> Mapping[int, int]:
        """By variant id: units of its next reorder that no PO holds yet, where its supplier
        can receive POs (the default cap counts them as incoming)."""


@dataclass(frozen=True)
class StockRise:
    """Shopify's `available` for one item at one location rose between two snapshots."""

    shop_id: int
    inventory_item_id: int
    location_id: int
    since: datetime  # the previous snapshot's time
    at: datetime  # the new snapshot's time: when the units were counted in Shopify
    units: int


class StockReceipts(Protocol):
    """A rise in Shopify's stock may be a delivery counted there: goods received on a PO."""

    def lock_open_purchase_orders(self, session: Session, shop_id: int,
                                  variant_ids: Iterable[int]) -> object:
        """Lock the POs a rise of these variants may receive on; before any variant row."""

    def match_stock_rise(self, session: Session, rise: StockRise) -> object:
        """Receive on open PO lines what the rise does not otherwise explain."""
