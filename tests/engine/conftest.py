"""An engine test shop: one product with one tracked variant, known to a fake Shopify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.db import unit_of_work
from app.domain.inventory.models import ShopSettings
from app.domain.suppliers.models import Supplier, SupplierItem
from integrations.shopify.fake import FakeShopifyAdmin
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, level_payload, order_payload, post_webhook

VARIANT, PRODUCT, ITEM, LOCATION = 1001, 2001, 3001, 4001
# Webhooks in these tests happen after the initial sync, which reads stock "now" (a day
# ahead keeps that true however long the session has been running).
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


class Storefront:
    """Drives the service the way Shopify does: signed webhooks, then the workers."""

    def __init__(self, rt, client, run_jobs, fake: FakeShopifyAdmin, shop_id: int):
        self.rt, self.client, self.run_jobs, self.fake, self.shop_id = (
            rt, client, run_jobs, fake, shop_id)

    def send(self, topic: str, payload: dict, **headers) -> None:
        response = post_webhook(self.client, topic, payload, secret=WEBHOOK_SECRET, **headers)
        assert response.status_code == 200, response.get_data(as_text=True)

    def order(self, order_id: int, qty: int = 1, *, minute: int, variant: int = VARIANT,
              line_id: int | None = None, **kwargs) -> dict:
        payload = order_payload(order_id, [(line_id or order_id * 10, variant, qty)],
                                created_at=at(minute), **kwargs)
        self.send("orders/create", payload)
        return payload

    def stock(self, available: int, *, minute: int, item: int = ITEM) -> None:
        self.send("inventory_levels/update", level_payload(item, LOCATION, available, at(minute)))

    def settle(self) -> None:
        self.run_jobs()


@pytest.fixture
def fake_shopify(rt):
    fake = FakeShopifyAdmin()
    rt.admin_factory = lambda domain, token: fake
    yield fake
    rt.admin_factory = None


def open_storefront(rt, client, run_jobs, fake: FakeShopifyAdmin) -> Storefront:
    """A shop with one variant (no stock), a supplier with a 10-day lead time, synced."""
    shop = make_shop(rt, domain=SHOP)
    fake.add_variant(VARIANT, product_id=PRODUCT, sku="SKU-1", inventory_item_id=ITEM,
                     available={LOCATION: 0})
    with unit_of_work(rt.sessions) as session:
        # A buffer of 5: up to five units may be backordered on the lead time alone.
        session.add(ShopSettings(shop_id=shop.id, mode="auto", buffer=5, handling_days=1))
        supplier = Supplier(shop_id=shop.id, name="Acme", email="po@acme.test")
        session.add(supplier)
        session.flush()
        session.add(SupplierItem(shop_id=shop.id, supplier_id=supplier.id, sku="SKU-1",
                                 supplier_sku="A-1", unit_cost=5, currency="USD",
                                 lead_time_days=10, moq=1, pack_size=1, priority=1))
    from workers.shopify import sync_shop
    sync_shop(shop.id)  # what `backorder shops add` does: learn the catalog
    run_jobs()
    return Storefront(rt, client, run_jobs, fake, shop.id)


@pytest.fixture
def storefront(rt, client, run_jobs, fake_shopify):
    return open_storefront(rt, client, run_jobs, fake_shopify)
