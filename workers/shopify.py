"""Jobs that talk to a shop's Admin API: push decisions, fetch variant details, reconcile.

The network call happens outside any transaction; reads and writes around it are
short units of work, so a slow Shopify never holds a row lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy import select

from app import jobs as queueing
from app.db import unit_of_work
from app.domain import intents
from app.domain.base import utcnow
from app.domain.inventory import publish, service, sync
from app.domain.ports import ShopifyAdmin
from app.domain.shops.credentials import ShopToken, mark_needs_reconnect
from app.domain.shops.models import Shop
from app.domain.suppliers.shopify_receipts import RECEIPTS
from app.domain.suppliers.supply import PLAN
from app.errors import AuthRevoked, PermanentError
from app.locks import exclusive
from app.security import TokenCipher
from workers.context import runtime
from workers.job import call, job, run

log = logging.getLogger(__name__)


def admin_for(shop_id: int):
    """The shop's Admin API adapter, or None when the shop cannot be called. An expiring
    token is refreshed when due, one refresh per shop at a time (a Redis lock)."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        domain = session.scalar(select(Shop.domain).where(Shop.id == shop_id))
    if domain is None:
        return None
    token = ShopToken(rt.sessions, shop_id, domain, cipher=TokenCipher(rt.settings.secret_key),
                      endpoint=rt.shopify_tokens(),
                      lock=lambda key: exclusive(rt.redis, key))
    return rt.shopify_admin(domain, token) if token.load() else None


def needs_reinstall(shop_id: int, exc: AuthRevoked) -> None:
    mark_needs_reconnect(runtime().sessions, shop_id, str(exc))


def with_shop(shop_id: int, calls: Callable[[ShopifyAdmin], int]) -> int:
    """Run `calls` against the shop's Admin API; 0 when the shop cannot be called, or
    when its token was revoked (the shop is then marked for reconnection)."""
    admin = admin_for(shop_id)
    if admin is None:
        return 0
    try:
        return calls(admin)
    except AuthRevoked as exc:
        needs_reinstall(shop_id, exc)
        return 0


def more_waiting(done: int, batch: int, intent) -> int:
    """A run that filled its batch asks for a fresh job to continue; returns `done`."""
    if done == batch:
        queueing.enqueue(runtime().redis, [intent])
    return done


@job
def push_variants(shop_id: int) -> int:
    """Write pending inventory policies and metafields to Shopify; returns how many."""
    return with_shop(shop_id, partial(_push, shop_id))


def _push(shop_id: int, admin: ShopifyAdmin) -> int:
    pushes = call(publish.claim_pushes, shop_id)
    if not pushes:
        return 0
    publish.publish(admin, pushes)
    call(publish.mark_pushed, shop_id, pushes, pushed_at=utcnow())
    return more_waiting(len(pushes), publish.BATCH, intents.PushVariants(shop_id))


@job
def fetch_variant_details(shop_id: int, variant_id: int) -> None:
    """Ask Shopify about a variant first seen in an order, then allocate it."""
    with_shop(shop_id, partial(_fetch_variant, shop_id, variant_id))


def _fetch_variant(shop_id: int, variant_id: int, admin: ShopifyAdmin) -> int:
    info = admin.fetch_variant(variant_id)
    if info is None:
        log.info("variant %s of shop %s no longer exists in Shopify", variant_id, shop_id)
        return 0
    run(_store_and_recompute, shop_id, variant_id, info)
    return 1


def _store_and_recompute(session, shop_id: int, variant_id: int, info) -> list:
    sync.store_variants(session, shop_id, [info], receipts=RECEIPTS)
    return service.recompute_variants(session, shop_id, [variant_id], plan=PLAN)


@job
def recheck_variants(shop_id: int, variant_ids: list[int]) -> None:
    """Recompute variants closed early, once their sale may have calmed (scheduled)."""
    run(service.recompute_variants, shop_id, variant_ids, plan=PLAN)


@job
def sync_shop(shop_id: int, *, page: int = 50) -> int:
    """Reconcile one shop with Shopify: variants, stock, open orders, then recompute all."""
    if not with_shop(shop_id, partial(_store_shop, shop_id, page=page)):
        return 0
    return recompute_shop(shop_id, check_totals=True)  # reconciliation trusts no kept total


def _store_shop(shop_id: int, admin: ShopifyAdmin, *, page: int) -> int:
    rt = runtime()
    _define_metafields(shop_id, admin)
    _store_pages(rt, shop_id, admin.iter_variants(),
                 partial(sync.store_variants, receipts=RECEIPTS), page)
    _store_pages(rt, shop_id, admin.iter_open_orders(), sync.store_orders, page)
    return 1


def _define_metafields(shop_id: int, admin) -> None:
    """The storefront block's metafield definitions, on install and for shops installed
    before it; a refusal must not stop the reconciliation."""
    try:
        admin.create_metafield_definitions()
    except PermanentError as exc:
        log.warning("shop %s: backorder metafield definitions not created: %s", shop_id, exc)


def _store_pages(rt, shop_id: int, items, store, page: int) -> None:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == page:
            call(store, shop_id, batch)
            batch = []
    if batch:
        call(store, shop_id, batch)


@job
def recompute_shop(shop_id: int, *, batch: int = 100, check_totals: bool = False) -> int:
    """Recompute every variant of the shop, a batch per transaction."""
    variant_ids = call(service.all_variant_ids, shop_id)
    for start in range(0, len(variant_ids), batch):
        run(service.recompute_variants, shop_id, variant_ids[start:start + batch], plan=PLAN,
            check_totals=check_totals)
    return len(variant_ids)


@job
def reconcile_all() -> None:
    """The daily reconciliation: one sync job per active shop."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        shop_ids = session.scalars(select(Shop.id).where(Shop.active.is_(True))).all()
    queueing.enqueue(rt.redis, [intents.SyncShop(i) for i in shop_ids])
