"""Reconciliation with Shopify and the rules for writing back to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from rq import Queue
from sqlalchemy import select

from app.domain.base import utcnow
from app.domain.inventory.models import OrderLine, Variant
from app.domain.ports import OrderLineInfo
from app.domain.shops.models import Shop
from app.errors import AuthRevoked, TransientError
from app.jobs import WEBHOOKS
from tests.conftest import burst_worker
from tests.engine.conftest import ITEM, PRODUCT, VARIANT
from tests.support.shopify import SHOP
from workers.shopify import push_variants


def cli(rt, monkeypatch, *args):
    from app import cli as cli_module
    monkeypatch.setattr(cli_module._Context, "_rt", rt)
    return CliRunner().invoke(cli_module.cli, list(args))


def test_sync_pulls_open_orders_missed_by_webhooks_and_recomputes(storefront, monkeypatch):
    storefront.fake.add_variant(VARIANT, product_id=PRODUCT, sku="SKU-1", inventory_item_id=ITEM,
                                available={4001: -2})
    placed = utcnow() - timedelta(hours=1)
    for n in (1, 2):
        storefront.fake.add_order(n, created_at=placed + timedelta(minutes=n), lines=[
            OrderLineInfo(line_id=n * 10, variant_id=VARIANT, quantity=1)])
    result = cli(storefront.rt, monkeypatch, "sync", "--shop", SHOP)
    assert result.exit_code == 0, result.output
    storefront.settle()
    with storefront.rt.sessions() as session:
        backordered = session.execute(select(OrderLine.line_item_id, OrderLine.backordered)
                                      .order_by(OrderLine.line_item_id)).all()
    assert [tuple(r) for r in backordered] == [(10, 1), (20, 1)]
    with storefront.rt.sessions() as session:
        variant = session.scalar(select(Variant).where(Variant.variant_id == VARIANT))
    assert (variant.status, variant.pushed_policy, variant.push_pending) == (
        "backorderable", "CONTINUE", False)


def test_shops_add_registers_subscribes_and_syncs(rt, fake_shopify, monkeypatch):
    fake_shopify.add_variant(77, product_id=7, sku="S-77", inventory_item_id=770,
                             available={1: 3})
    rt.admin_factory = lambda domain, token: fake_shopify
    result = cli(rt, monkeypatch, "shops", "add", "new-shop.myshopify.com", "--token", "shpat_x")
    assert result.exit_code == 0, result.output
    assert "1 variants synced" in result.output
    assert fake_shopify.webhooks["orders/create"] == "https://backorder.test/webhooks/shopify"
    with rt.sessions() as session:
        shop = session.scalar(select(Shop))
        assert shop.token_ciphertext and "shpat_x" not in shop.token_ciphertext
        assert session.scalar(select(Variant.status)) == "in_stock"


def test_shops_add_defines_the_metafields_the_storefront_block_reads(rt, fake_shopify,
                                                                   monkeypatch):
    rt.admin_factory = lambda domain, token: fake_shopify
    result = cli(rt, monkeypatch, "shops", "add", "new-shop.myshopify.com", "--token", "shpat_x")
    assert result.exit_code == 0, result.output
    assert fake_shopify.metafield_definitions == {("backorder", "status"), ("backorder", "eta")}


def test_a_revoked_token_marks_the_shop_for_reinstall_instead_of_retrying(storefront):
    storefront.fake.fail_next(10, AuthRevoked("401 Unauthorized"))
    storefront.stock(3, minute=0)  # in stock now: Shopify should be told
    storefront.settle()
    with storefront.rt.sessions() as session:
        assert session.scalar(select(Shop.needs_reinstall)) is True
        assert session.scalar(select(Variant.push_pending)) is True  # pushed after reinstall


def test_a_transient_shopify_failure_keeps_the_push_pending_for_the_retry(storefront):
    import pytest

    from workers.shopify import push_variants
    storefront.stock(0, minute=0)
    storefront.rt.admin_factory = lambda d, t: storefront.fake
    storefront.fake.fail_next(1, TransientError("503"))
    from app.db import unit_of_work
    with unit_of_work(storefront.rt.sessions) as session:
        session.execute(Variant.__table__.update().values(push_pending=True, pushed_policy=None))
    with pytest.raises(TransientError):
        push_variants(storefront.shop_id)
    with storefront.rt.sessions() as session:
        assert session.scalar(select(Variant.push_pending)) is True
    assert push_variants(storefront.shop_id) == 1


def test_a_push_asked_for_while_one_runs_is_run_again_by_it_so_shopify_ends_with_the_newest_decision(
        storefront):
    """Two workers can each pick up a shop's push (one was queued while the other ran).
    If both ran at once, the older read could reach Shopify last while the database
    records the newer one as pushed. So the later run writes nothing and returns at once
    (a worker waiting on a lock serves nobody), and the running one runs again."""
    import threading

    from rq import Queue

    from app.jobs import WEBHOOKS
    from tests.conftest import burst_worker
    from workers.queues import run_coalesced

    fake, shop_id = storefront.fake, storefront.shop_id
    entered, release = threading.Event(), threading.Event()
    write = fake.set_variant_metafields

    def held_first_write(values):  # the first run's write is in flight until released
        if not entered.is_set():
            entered.set()
            assert release.wait(10)
        write(values)
    fake.set_variant_metafields = held_first_write

    def apply_webhooks():  # the decision changes; its push job stays queued
        burst_worker([Queue(WEBHOOKS, connection=storefront.rt.redis)],
                     storefront.rt.redis).work(burst=True)

    def push_run() -> threading.Thread:
        run = threading.Thread(target=run_coalesced, args=(
            "workers.shopify.push_variants", f"push-variants-{shop_id}", shop_id))
        run.start()
        return run

    storefront.stock(3, minute=1)
    apply_webhooks()
    first = push_run()
    assert entered.wait(10)
    storefront.stock(0, minute=2)
    apply_webhooks()
    writes_before = len(fake.calls)
    second = push_run()
    second.join(5)
    assert not second.is_alive() and len(fake.calls) == writes_before  # returned, wrote nothing
    release.set()
    first.join(10)
    assert not first.is_alive()

    with storefront.rt.sessions() as session:
        variant = session.scalars(select(Variant)).one()
    assert variant.status == "backorderable" and not variant.push_pending
    assert fake.metafields[(VARIANT, "status")] == "backorderable"
    assert fake.policies[VARIANT] == variant.desired_policy == "CONTINUE"


def test_a_coalesced_run_finding_another_running_never_waits_for_it(rt):
    """The running one is asked to run again instead; no second job is queued."""
    import time

    from rq import Queue

    from app.domain.intents import PushVariants
    from app.jobs import SHOPIFY, enqueue, route
    from app.locks import one_run_at_a_time
    from tests.conftest import burst_worker

    shopify = Queue(SHOPIFY, connection=rt.redis)
    push = PushVariants(shop_id=1)  # no such shop: the run itself does nothing
    job_id = route(push).job_id
    with one_run_at_a_time(rt.redis, job_id) as running:
        assert running
        assert enqueue(rt.redis, [push]) == 1 and shopify.count == 1
        started = time.monotonic()
        burst_worker([shopify], rt.redis).work(burst=True)
        assert time.monotonic() - started < 5 and shopify.count == 0
        assert rt.redis.exists(f"backorder:rerun:{job_id}")  # left for the runner


def test_a_refused_metafield_definition_does_not_stop_the_sync(storefront):
    from app.errors import PermanentError
    from workers.shopify import sync_shop
    storefront.fake.fail_next(1, PermanentError("metafieldDefinitionCreate rejected: denied"))
    assert sync_shop(storefront.shop_id) == 1
def test_a_write_that_reached_shopify_unrecorded_is_undone_when_the_decision_goes_back(
        storefront):
    """A metafield write can land in Shopify while the push still fails (the answer times
    out, the worker dies, the database goes before it is recorded). When the decision then
    returns to what was pushed before, Shopify must still be told: its badge would
    otherwise show the landed write to customers for good."""
    fake, shop_id = storefront.fake, storefront.shop_id
    write = fake.set_variant_metafields

    def landed_then_timed_out(values):
        write(values)
        raise TransientError("read timeout")

    assert fake.metafields[(VARIANT, "status")] == "backorderable"
    storefront.stock(3, minute=1)
    fake.set_variant_metafields = landed_then_timed_out
    burst_worker([Queue(WEBHOOKS, connection=storefront.rt.redis)],
                 storefront.rt.redis).work(burst=True)  # its push job stays queued
    with pytest.raises(TransientError):
        push_variants(shop_id)
    fake.set_variant_metafields = write
    assert fake.metafields[(VARIANT, "status")] == "in_stock"

    storefront.stock(0, minute=2)  # back to the decision pushed before the failed write
    storefront.settle()

    with storefront.rt.sessions() as session:
        variant = session.scalars(select(Variant)).one()
    assert variant.status == "backorderable" and not variant.push_pending
    assert fake.metafields[(VARIANT, "status")] == "backorderable"
    assert fake.metafields[(VARIANT, "eta")] == variant.next_eta.isoformat()
