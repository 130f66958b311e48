"""Jobs that talk to a shop's Admin API: push decisions, fetch variant details, reconcile.

The network call happens outside any transaction; reads and writes around it are
short units of work, so a slow Shopify never holds a row lock.
"""

from __future__ import annotations

import logging
from functools import partial

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.followups import push_variants as push_followup
from app.domain.inventory import publish, service, sync
from app.domain.shops.credentials import ShopToken, mark_needs_reconnect
from app.domain.shops.models import Shop
from app.domain.suppliers.shopify_receipts import RECEIPTS
from app.domain.suppliers.supply import PLAN
from app.errors import AuthRevoked, PermanentError
from app.security import TokenCipher
from workers import queues
from workers.context import runtime

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
                      lock=lambda key: queues.exclusive(rt.redis, key))
    return rt.shopify_admin(domain, token) if token.load() else None


def needs_reinstall(shop_id: int, exc: AuthRevoked) -> None:
    mark_needs_reconnect(runtime().sessions, shop_id, str(exc))


def push_variants(shop_id: int) -> int:
    """Write pending inventory policies and metafields to Shopify; returns how many."""
    rt = runtime()
    admin = admin_for(shop_id)
    if admin is None:
        return 0
    with unit_of_work(rt.sessions) as session:
        pushes = publish.claim_pushes(session, shop_id)
    if not pushes:
        return 0
    try:
        publish.publish(admin, pushes)
    except AuthRevoked as exc:
        needs_reinstall(shop_id, exc)
        return 0
    with unit_of_work(rt.sessions) as session:
        publish.mark_pushed(session, shop_id, pushes, pushed_at=utcnow())
    if len(pushes) == publish.BATCH:  # more waiting: continue in a fresh job
        queues.enqueue(rt.redis, push_followup(shop_id))
    return len(pushes)


def fetch_variant_details(shop_id: int, variant_id: int) -> None:
    """Ask Shopify about a variant first seen in an order, then allocate it."""
    rt = runtime()
    admin = admin_for(shop_id)
    if admin is None:
        return
    try:
        info = admin.fetch_variant(variant_id)
    except AuthRevoked as exc:
        needs_reinstall(shop_id, exc)
        return
    if info is None:
        log.info("variant %s of shop %s no longer exists in Shopify", variant_id, shop_id)
        return
    with unit_of_work(rt.sessions) as session:
        sync.store_variants(session, shop_id, [info], receipts=RECEIPTS)
        followups = service.recompute_variants(session, shop_id, [variant_id], plan=PLAN)
    queues.after_commit(rt.redis, followups)


def recheck_variants(shop_id: int, variant_ids: list[int]) -> None:
    """Recompute variants closed early, once their sale may have calmed (scheduled)."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        followups = service.recompute_variants(session, shop_id, variant_ids, plan=PLAN)
    queues.after_commit(rt.redis, followups)


def sync_shop(shop_id: int, *, page: int = 50) -> int:
    """Reconcile one shop with Shopify: variants, stock, open orders, then recompute all."""
    rt = runtime()
    admin = admin_for(shop_id)
    if admin is None:
        return 0
    try:
        _define_metafields(shop_id, admin)
        _store_pages(rt, shop_id, admin.iter_variants(),
                     partial(sync.store_variants, receipts=RECEIPTS), page)
        _store_pages(rt, shop_id, admin.iter_open_orders(), sync.store_orders, page)
    except AuthRevoked as exc:
        needs_reinstall(shop_id, exc)
        return 0
    return recompute_shop(shop_id, check_totals=True)  # reconciliation trusts no kept total


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
            with unit_of_work(rt.sessions) as session:
                store(session, shop_id, batch)
            batch = []
    if batch:
        with unit_of_work(rt.sessions) as session:
            store(session, shop_id, batch)


def recompute_shop(shop_id: int, *, batch: int = 100, check_totals: bool = False) -> int:
    """Recompute every variant of the shop, a batch per transaction."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        variant_ids = service.all_variant_ids(session, shop_id)
    for start in range(0, len(variant_ids), batch):
        with unit_of_work(rt.sessions) as session:
            followups = service.recompute_variants(session, shop_id,
                                                   variant_ids[start:start + batch],
                                                   plan=PLAN, check_totals=check_totals)
        queues.after_commit(rt.redis, followups)
    return len(variant_ids)


def reconcile_all() -> None:
    """The daily reconciliation: one sync job per active shop."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        shop_ids = session.scalars(select(Shop.id).where(Shop.active.is_(True))).all()
    queues.enqueue_all(rt.redis, [queues.FollowUp("workers.shopify.sync_shop", (i,),
                                                  queues.SHOPIFY, job_id=f"sync-shop-{i}")
                                  for i in shop_ids])
