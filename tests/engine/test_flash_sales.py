"""Flash sales through the real job path: the cap first, closing early, opening again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory import publish
from app.domain.inventory.models import CustomerOrder, ShopSettings
from app.domain.inventory.publish import Push
from app.domain.merchant.queue import variant_queue
from app.domain.shops.models import Shop
from app.jobs import SHOPIFY, WEBHOOKS
from tests.conftest import burst_worker
from tests.engine.conftest import ITEM, LOCATION, VARIANT, at
from tests.engine.test_backorder_flow import variant
from tests.support.factories import make_shop
from tests.support.shopify import handed_off, level_payload, order_payload
from workers.shopify import recheck_variants


def capped(storefront, cap: int, *, order_to_deny: float | None = None) -> None:
    """A fixed cap, no stock (a snapshot taken now), and what the shop measured so far."""
    with unit_of_work(storefront.rt.sessions) as session:
        session.get(ShopSettings, storefront.shop_id).fixed_cap = cap
        session.get(Shop, storefront.shop_id).order_to_deny_seconds = order_to_deny
    storefront.send("inventory_levels/update",
                    level_payload(ITEM, LOCATION, 0, utcnow().isoformat()))
    storefront.settle()
    assert storefront.fake.policies[VARIANT] == "CONTINUE"


def sell(storefront, orders: range) -> None:
    """Orders placed now and their stock webhooks arrive; only the webhook jobs run (no
    push job)."""
    for n in orders:
        placed = utcnow().isoformat()
        storefront.send("orders/create", order_payload(n, [(n * 10, VARIANT, 1)],
                                                       created_at=placed))
        storefront.send("inventory_levels/update", level_payload(ITEM, LOCATION, -n, placed))
    rt = storefront.rt
    handed_off(rt)
    burst_worker([Queue(WEBHOOKS, connection=rt.redis)], rt.redis).work(burst=True)


def test_the_order_that_fills_the_cap_has_its_deny_pushed_by_the_job_that_applied_it(
        storefront):
    capped(storefront, 3)
    sell(storefront, range(1, 4))
    assert storefront.fake.policies[VARIANT] == "DENY"  # no push job ran: the apply job did it
    waiting = Queue(SHOPIFY, connection=storefront.rt.redis).get_job_ids()
    assert not [job for job in waiting if job.startswith("push-variants-")]
    with storefront.rt.sessions() as session:  # and it was timed from the newest order
        assert session.get(Shop, storefront.shop_id).order_to_deny_seconds < 30


def test_the_push_of_a_deny_measures_the_time_from_the_order_that_closed_the_variant(rt):
    shop = make_shop(rt, domain="lag-shop.myshopify.com")
    pushed_at = utcnow()
    closing = Push(1, 2, "DENY", "out_of_stock", None, policy_changed=True,
                   metafields_changed=True, deny_order_at=pushed_at - timedelta(seconds=0.7))
    with unit_of_work(rt.sessions) as session:
        publish.mark_pushed(session, shop.id, [closing], pushed_at=pushed_at)
    with rt.sessions() as session:
        assert session.get(Shop, shop.id).order_to_deny_seconds == pytest.approx(0.7)
    ahead = replace(closing, deny_order_at=pushed_at + timedelta(seconds=5))
    with unit_of_work(rt.sessions) as session:  # a clock ahead of ours: nothing measured
        publish.mark_pushed(session, shop.id, [ahead], pushed_at=pushed_at)
    with rt.sessions() as session:
        assert session.get(Shop, shop.id).order_to_deny_seconds == pytest.approx(0.7)


def test_a_variant_selling_faster_than_its_capacity_lasts_closes_early_and_says_why(
        storefront):
    capped(storefront, 10)
    sell(storefront, range(1, 9))  # 8 of 10 sold within a second: 2 left, more on their way
    closed = variant(storefront.rt)
    assert (closed.status, closed.desired_policy, closed.closed_early_left) == (
        "out_of_stock", "DENY", 2)
    assert storefront.fake.policies[VARIANT] == "DENY"
    with storefront.rt.sessions() as session:
        reason = variant_queue(session, storefront.shop_id, VARIANT).variant.closed_early
    assert reason.startswith("Closed early: 2 units left while selling 8 a second")
    rechecks = Queue(SHOPIFY, connection=storefront.rt.redis).scheduled_job_registry
    assert any(j.startswith(f"recheck-{storefront.shop_id}-{VARIANT}-")
               for j in rechecks.get_job_ids())


def test_a_variant_closed_early_opens_again_once_the_sale_has_calmed(storefront, monkeypatch):
    capped(storefront, 10, order_to_deny=2.0)
    sell(storefront, range(1, 9))
    recheck_variants(storefront.shop_id, [VARIANT])  # too soon: the orders are still coming
    assert variant(storefront.rt).desired_policy == "DENY"

    later = utcnow() + timedelta(seconds=60)
    monkeypatch.setattr("app.domain.inventory.service.utcnow", lambda: later)
    recheck_variants(storefront.shop_id, [VARIANT])
    storefront.settle()
    reopened = variant(storefront.rt)
    assert (reopened.status, reopened.desired_policy, reopened.closed_early_left) == (
        "backorderable", "CONTINUE", None)
    assert storefront.fake.policies[VARIANT] == "CONTINUE"


def test_one_bad_event_in_a_batch_fails_alone_and_the_others_are_applied(storefront):
    storefront.order(1, minute=1)  # line item 10
    storefront.send("orders/create", order_payload(2, [(10, VARIANT, 1)], created_at=at(2)))
    storefront.order(3, minute=3)
    storefront.settle()  # the three arrive together: one batch, which the bad order fails
    with storefront.rt.sessions() as session:
        outcome = dict(session.execute(select(WebhookEvent.resource_id, WebhookEvent.status)
                                       .where(WebhookEvent.topic == "orders/create")).all())
        orders = set(session.scalars(select(CustomerOrder.order_id)))
    assert outcome == {1: EventStatus.PROCESSED, 2: EventStatus.FAILED,
                       3: EventStatus.PROCESSED}
    assert orders == {1, 3}
