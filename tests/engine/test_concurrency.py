"""Two real worker processes allocating the same variants at once never corrupt the queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.db import unit_of_work
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import OrderLine, Variant
from app.domain.shops.models import Shop
from tests.conftest import WEBHOOK_SECRET
from tests.engine.conftest import VARIANT, at
from tests.support.shopify import order_payload

OTHER_VARIANT, OTHER_ITEM = 1002, 3002
pytestmark = pytest.mark.slow


def worker_env(rt) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "TWILIO_", "SMTP_"))}
    env.update(DATABASE_URL=rt.settings.database_url, REDIS_URL=rt.settings.redis_url,
               SECRET_KEY=rt.settings.secret_key, SHOPIFY_API_SECRET=WEBHOOK_SECRET)
    return env


def test_two_workers_on_the_same_variants_give_the_sequential_allocation(storefront):
    rt = storefront.rt
    storefront.fake.add_variant(OTHER_VARIANT, product_id=2001, sku="SKU-1",
                                inventory_item_id=OTHER_ITEM, available={4001: 0})
    from workers.shopify import sync_shop
    sync_shop(storefront.shop_id)
    storefront.settle()
    with unit_of_work(rt.sessions) as session:  # no Admin API from the worker processes
        session.execute(update(Shop).values(token_ciphertext=None))
    storefront.stock(20, minute=0)
    storefront.stock(20, minute=0, item=OTHER_ITEM)
    orders = 60
    for n in range(1, orders + 1):
        # Lines for both variants, listed in both orders, so lock ordering matters.
        lines = [(n * 10, VARIANT, 1), (n * 10 + 1, OTHER_VARIANT, 1)]
        storefront.send("orders/create", order_payload(n, lines if n % 2 else lines[::-1],
                                                       created_at=at(n)))
    storefront.stock(20 - orders, minute=orders + 1)
    storefront.stock(20 - orders, minute=orders + 1, item=OTHER_ITEM)

    backorder = str(Path(sys.executable).parent / "backorder")
    workers = [subprocess.Popen([backorder, "worker", "--burst"], env=worker_env(rt),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()[-2000:]

    with rt.sessions() as session:
        statuses = session.scalars(select(WebhookEvent.status)).all()
        assert set(statuses) == {EventStatus.PROCESSED}  # no deadlock, no failure
        for variant_id in (VARIANT, OTHER_VARIANT):
            backordered = session.scalars(
                select(OrderLine.line_item_id).where(OrderLine.variant_id == variant_id,
                                                     OrderLine.backordered > 0)
                .order_by(OrderLine.line_item_id)).all()
            # The 20 oldest orders are covered, the 40 newest backordered: FIFO held.
            assert [line // 10 for line in backordered] == list(range(21, orders + 1))
            total = session.scalar(select(Variant.backordered_units)
                                   .where(Variant.variant_id == variant_id))
            assert total == orders - 20
        assert session.scalar(select(func.count()).select_from(OrderLine)) == orders * 2
