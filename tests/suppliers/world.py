"""A shop's world for supplier tests: catalog, variants, stock and orders, stored the
way the webhook handlers store them (app.domain.inventory.state), so the engine
recomputes them exactly as in production."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.inventory import state
from app.domain.inventory.models import OrderLine, ShopSettings, Variant
from app.domain.inventory.payloads import LevelSnapshot, LineSnapshot, OrderSnapshot
from app.domain.ports import InventoryLevelInfo, VariantInfo
from app.domain.suppliers.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierItem
from app.domain.suppliers.service import recompute
from app.domain.suppliers.shopify_receipts import RECEIPTS
from app.security import TokenCipher
from tests.support.factories import make_shop

LOCATION = 1
_ids = itertools.count(1000)


def now() -> datetime:
    return datetime.now(UTC)


class World:
    """One shop and helpers that each run in their own committed transaction."""

    def __init__(self, rt, *, buffer: int = 100, **settings_extra):
        self.rt = rt
        self.shop = make_shop(rt, name="Tee Shop")
        self.shop_id = self.shop.id
        with self.session() as s:
            s.add(ShopSettings(shop_id=self.shop_id, mode="auto", buffer=buffer, handling_days=0,
                               extra=dict(settings_extra)))

    def session(self):
        return unit_of_work(self.rt.sessions)

    # --- catalog --------------------------------------------------------------------

    def supplier(self, name: str, *, email: str | None = None, endpoint_url=None,
                 endpoint_secret=None) -> int:
        with self.session() as s:
            supplier = Supplier(shop_id=self.shop_id, name=name, active=True, currency="USD",
                                email=email if email is not None else f"{name.lower()}@example.com",
                                endpoint_url=endpoint_url, endpoint_secret_ciphertext=TokenCipher(
                                    self.rt.settings.secret_key).encrypt(endpoint_secret)
                                if endpoint_secret else None)
            s.add(supplier)
            s.flush()
            return supplier.id

    def http_supplier_po(self, url: str, secret: str) -> tuple[int, PurchaseOrder]:
        """A supplier reached by HTTP and the PO planned for two backordered units, to be
        sent at once."""
        self.settings(po_auto_send=True, po_coalesce_minutes=0)
        supplier = self.supplier("Acme", email="", endpoint_url=url, endpoint_secret=secret)
        self.item(supplier, "TEE-M")
        self.variant(11, "TEE-M", available=0)
        self.backorder(11, 2)
        self.plan()
        [po] = self.pos()
        return supplier, po

    def item(self, supplier_id: int, sku: str, *, lead_time_days: int = 7, moq: int = 1,
             pack_size: int = 1, priority: int = 1, unit_cost: str = "4.50") -> None:
        with self.session() as s:
            s.add(SupplierItem(shop_id=self.shop_id, supplier_id=supplier_id, sku=sku,
                               supplier_sku=f"S-{sku}", unit_cost=unit_cost, currency="USD",
                               lead_time_days=lead_time_days, moq=moq, pack_size=pack_size,
                               priority=priority, active=True))

    def po(self, supplier_id: int, lines: list[tuple[int, int, date]], *,
           status=None, sent_at: datetime | None = None, promised_days: int = 7) -> int:
        """A PO already sent; lines are (variant id, quantity, expected on)."""
        from app.domain.suppliers.models import PoStatus
        with self.session() as s:
            po = PurchaseOrder(shop_id=self.shop_id, supplier_id=supplier_id,
                               number=f"T-{next(_ids)}", status=status or PoStatus.SENT,
                               sent_at=sent_at or now(), dispatch_attempts=1)
            for variant_id, quantity, expected_on in lines:
                sku = s.scalar(select(Variant.sku).where(Variant.variant_id == variant_id))
                po.lines.append(PurchaseOrderLine(
                    shop_id=self.shop_id, variant_id=variant_id, sku=sku or "?",
                    supplier_sku=f"S-{sku}", quantity=quantity, received_quantity=0,
                    unit_cost="4.50", promised_lead_time_days=promised_days,
                    expected_on=expected_on))
            s.add(po)
            s.flush()
            return po.id

    # --- Shopify state -----------------------------------------------------------------

    def variant(self, variant_id: int, sku: str, *, available: int = 0) -> int:
        info = VariantInfo(variant_id=variant_id, product_id=variant_id // 10 or 1, sku=sku,
                           title=sku, inventory_item_id=variant_id * 10, tracked=True,
                           inventory_policy="DENY",
                           levels=(InventoryLevelInfo(LOCATION, available, now()),))
        with self.session() as s:  # as the sync path stores what the Admin API returned
            state.apply_fetched_variant(s, self.shop_id, info, fetched_at=now(),
                                        receipts=RECEIPTS)
        return variant_id

    def level(self, variant_id: int, available: int) -> None:
        with self.session() as s:
            state.apply_level(s, self.shop_id, LevelSnapshot(variant_id * 10, LOCATION,
                                                             available, now()),
                              receipts=RECEIPTS)

    def order(self, variant_id: int, quantity: int, *, placed_at: datetime | None = None,
              sell: bool = True) -> int:
        """A storefront order; `sell` also lowers Shopify's `available` as Shopify does."""
        placed = placed_at or now()
        order_id, line_id = next(_ids), next(_ids)
        line = LineSnapshot(line_id, variant_id, "Tee", quantity, quantity, 0)
        snap = OrderSnapshot(order_id, f"#{order_id}", "c@example.com", None, None, "en",
                             placed, placed, None, (line,))
        with self.session() as s:
            state.apply_order(s, self.shop_id, snap)
            if sell:
                current = self.available(s, variant_id)
                state.apply_level(s, self.shop_id, LevelSnapshot(
                    variant_id * 10, LOCATION, current - quantity, now()), receipts=RECEIPTS)
        return line_id

    def history(self, variant_id: int, daily_units: list[int], *, today: date) -> None:
        """Past orders, oldest day first, ending yesterday (already shipped: no open demand)."""
        for back, units in enumerate(reversed(daily_units), start=1):
            if units:
                day = datetime.combine(today - timedelta(days=back), datetime.min.time(), UTC)
                line_id = self.order(variant_id, units, placed_at=day + timedelta(hours=12),
                                     sell=False)
                with self.session() as s:
                    s.execute(OrderLine.__table__.update()
                              .where(OrderLine.line_item_id == line_id)
                              .values(fulfilled_quantity=units, open_quantity=0))

    @staticmethod
    def available(session, variant_id: int) -> int:
        from app.domain.inventory.models import InventoryLevel
        return session.scalar(select(InventoryLevel.available).where(
            InventoryLevel.inventory_item_id == variant_id * 10)) or 0

    def backorder(self, variant_id: int, units: int) -> int:
        """An order Shopify oversold, recomputed as the webhook worker would."""
        line_id = self.order(variant_id, units)
        self.recompute(variant_id)
        return line_id

    def settings(self, **extra) -> None:
        """Replace the shop's supplier settings (ShopSettings.extra)."""
        with self.session() as s:
            s.get(ShopSettings, self.shop_id).extra = dict(extra)

    def plan(self) -> list:
        from app.domain.suppliers.reorder import plan_reorders
        with self.session() as s:
            return plan_reorders(s, self.shop_id)

    def recompute(self, *variant_ids: int) -> list:
        with self.session() as s:
            return recompute(s, self.shop_id, variant_ids)

    # --- reading back ---------------------------------------------------------------

    def pos(self) -> list[PurchaseOrder]:
        with self.session() as s:
            pos = s.scalars(select(PurchaseOrder).where(PurchaseOrder.shop_id == self.shop_id)
                            .order_by(PurchaseOrder.id)).all()
            for po in pos:
                _ = po.lines
            return list(pos)

    def po_lines(self) -> dict[int, PurchaseOrderLine]:
        """Open PO lines by variant id."""
        return {line.variant_id: line for po in self.pos() for line in po.lines}

    def variant_row(self, variant_id: int) -> Variant:
        with self.session() as s:
            return s.scalar(select(Variant).where(Variant.shop_id == self.shop_id,
                                                  Variant.variant_id == variant_id))

    def line(self, line_item_id: int) -> OrderLine:
        with self.session() as s:
            return s.scalar(select(OrderLine).where(OrderLine.line_item_id == line_item_id))
