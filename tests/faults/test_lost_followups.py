"""Work a job asks for after its commit is not lost when Redis is gone at that moment.

A webhook job commits the new state, then enqueues its follow-ups: the Shopify push,
the customer messages, the reorder planning. If Redis is unreachable right then (or
the worker dies between the commit and the enqueue), the event is already processed,
so the inbox sweeper will not look at it again. Something else must notice.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import Effect, ShopSettings, Variant
from app.jobs import ALL_QUEUES
from app.runtime import Runtime
from app.web import create_app
from integrations.shopify.fake import FakeShopifyAdmin
from tests.engine.conftest import VARIANT, open_storefront
from tests.support.processes import PrivateRedis
from workers import context, jobs
from workers.periodic import SCHEDULES

pytestmark = pytest.mark.slow


@pytest.fixture
def outage(rt):
    """The test database, a private redis-server the test stops, and a fake Shopify."""
    with PrivateRedis() as server:
        private = Runtime(rt.settings.with_overrides(redis_url=server.url))
        fake = FakeShopifyAdmin()
        private.admin_factory = lambda domain, token: fake
        context.install(private)
        yield private, server, fake
        context.install(rt)
        private.close()


def drain(runtime) -> None:
    queues = [Queue(name, connection=runtime.redis) for name in ALL_QUEUES]
    SimpleWorker(queues, connection=runtime.redis).work(burst=True, logging_level="WARNING")


def run_every_periodic_job(runtime) -> None:
    """Everything the service does by itself over time, run now (as if its thresholds had
    passed: `older_than_seconds=0` where a job has one), then the jobs they enqueue."""
    for path, _ in SCHEDULES.values():
        module, name = path.rsplit(".", 1)
        func = getattr(importlib.import_module(module), name)
        if "older_than_seconds" in inspect.signature(func).parameters:
            func(older_than_seconds=0)
        else:
            func()
    drain(runtime)


def test_the_push_and_the_messages_happen_even_if_redis_was_down_at_commit(outage):
    runtime, server, fake = outage
    storefront = open_storefront(runtime, create_app(runtime=runtime).test_client(),
                                 lambda: drain(runtime), fake)
    with unit_of_work(runtime.sessions) as session:  # tell customers at once, not after a minute
        session.get(ShopSettings, storefront.shop_id).extra = {
            "notifications": {"group_window_seconds": 0}}
    storefront.stock(2, minute=1)
    storefront.settle()
    assert fake.metafields[(VARIANT, "status")] == "in_stock"
    # Both units sold, then one more: the variant is backorderable, one customer waits.
    storefront.order(1, 2, minute=2)
    storefront.stock(0, minute=2)
    storefront.order(2, 1, minute=3)
    storefront.stock(-1, minute=3)
    with runtime.sessions() as session:
        pending = session.scalars(select(WebhookEvent.id).where(
            WebhookEvent.status == EventStatus.RECEIVED).order_by(WebhookEvent.id)).all()

    server.stop()  # a worker has taken the jobs; Redis goes away while they run
    for event_id in pending:
        jobs.process_webhook(event_id)
    server.start()
    runtime.redis.connection_pool.disconnect()

    run_every_periodic_job(runtime)
    with runtime.sessions() as session:
        variant = session.scalar(select(Variant).where(Variant.variant_id == VARIANT))
        undispatched = session.scalars(select(Effect.kind).where(
            Effect.dispatched_at.is_(None), Effect.line_item_id.is_not(None))).all()
    assert variant.status == "backorderable"
    problems = []
    shown = (fake.policies[VARIANT], fake.metafields.get((VARIANT, "status")))
    if shown != (variant.desired_policy, variant.status) or variant.push_pending:
        problems.append(f"Shopify shows {shown}, the engine decided "
                        f"{(variant.desired_policy, variant.status)} "
                        f"(push pending: {variant.push_pending})")
    if undispatched:
        problems.append(f"customer effects never turned into messages: {undispatched}")
    assert not problems, "\n".join(problems)


def test_a_push_lost_on_its_way_to_redis_does_not_block_the_shops_pushes(rt, monkeypatch):
    """Coalescing sets a marker ("a push for this shop is waiting") before it enqueues the
    job. If the enqueue fails after the marker was set (the connection drops between the
    two commands, a Redis timeout), or the job is lost, the marker must not keep every
    later push of the shop from being enqueued for its ten-minute lifetime."""
    import redis
    from rq import Queue as RqQueue

    fake = FakeShopifyAdmin()
    monkeypatch.setattr(rt, "admin_factory", lambda domain, token: fake)
    storefront = open_storefront(rt, create_app(runtime=rt).test_client(), lambda: drain(rt),
                                 fake)
    storefront.stock(2, minute=1)
    storefront.settle()
    real_enqueue = RqQueue.enqueue
    dropped = []

    def enqueue_dropping_the_first_push(queue, func, *args, **kwargs):
        if args and args[0] == "workers.shopify.push_variants" and not dropped:
            dropped.append(kwargs.get("job_id"))
            raise redis.exceptions.ConnectionError("Connection reset by peer")
        return real_enqueue(queue, func, *args, **kwargs)

    monkeypatch.setattr(RqQueue, "enqueue", enqueue_dropping_the_first_push)
    storefront.order(1, 2, minute=2)
    storefront.stock(0, minute=2)
    storefront.settle()
    assert dropped, "the push was not attempted"
    monkeypatch.setattr(RqQueue, "enqueue", real_enqueue)

    storefront.order(2, 1, minute=3)  # more news for the same variant: another push is due
    storefront.stock(-1, minute=3)
    storefront.settle()
    run_every_periodic_job(rt)
    with rt.sessions() as session:
        variant = session.scalar(select(Variant).where(Variant.variant_id == VARIANT))
    shown = fake.metafields.get((VARIANT, "status"))
    assert (shown, variant.push_pending) == (variant.status, False), (
        f"Shopify still shows {shown!r}; the engine decided {variant.status!r} and the push "
        f"is {'still pending' if variant.push_pending else 'done'}; coalescing markers left: "
        f"{[k.decode() for k in rt.redis.scan_iter('backorder:coalesce:*')]}")
