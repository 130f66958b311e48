"""A sold-out variant whose supplier can receive POs sells from the start (issue 14, part 1).

Default settings (auto, buffer 0), no open PO: the next reorder, at least its MOQ in
whole packs, counts as incoming, so the variant is backorderable with the supplier's
lead time, and its first backorder drafts that PO.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app import jobs
from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.inventory.models import Variant
from app.domain.suppliers.dispatch import approve_purchase_order
from app.domain.suppliers.models import PoStatus, PurchaseOrder, Supplier
from app.domain.suppliers.service import import_catalog
from tests.engine.conftest import ITEM, LOCATION, PRODUCT, VARIANT, Storefront
from tests.support.factories import make_shop
from tests.support.shopify import SHOP
from workers.shopify import recompute_shop, sync_shop

HEADER = ("supplier,supplier_email,sku,supplier_sku,unit_cost,currency,lead_time_days,moq,"
          "pack_size,priority\n")


def mug_red_shop(rt, client, run_jobs, fake, *, pack_size=1):
    """MUG-RED at zero stock, default settings, and Acme's catalog row for it."""
    shop = make_shop(rt, domain=SHOP)
    fake.add_variant(VARIANT, product_id=PRODUCT, sku="MUG-RED", inventory_item_id=ITEM,
                     available={LOCATION: 0})
    sync_shop(shop.id)
    run_jobs()
    csv = HEADER + f"Acme,po@acme.test,MUG-RED,A-MUG,4.50,USD,10,10,{pack_size},1\n"
    with unit_of_work(rt.sessions) as session:
        intents = import_catalog(session, shop.id, csv.encode()).intents
    jobs.enqueue(rt.redis, intents)
    run_jobs()
    return Storefront(rt, client, run_jobs, fake, shop.id)


def first_backorder(store) -> None:
    """One unit sold with none in stock (Shopify's `available` goes to -1)."""
    store.order(1, 1, minute=1)
    store.stock(-1, minute=1)
    store.settle()


def variant(rt) -> Variant:
    with rt.sessions() as session:
        return session.scalar(select(Variant).where(Variant.variant_id == VARIANT))


def test_a_sold_out_variant_with_a_supplier_is_backorderable_up_to_the_next_reorder(
        rt, client, run_jobs, fake_shopify):
    mug_red_shop(rt, client, run_jobs, fake_shopify)

    mug = variant(rt)
    assert (mug.status, mug.capacity) == ("backorderable", 10)
    handling = 1  # the default
    assert mug.next_eta == utcnow().date() + timedelta(days=10 + handling)
    assert fake_shopify.policies[VARIANT] == "CONTINUE"
    assert fake_shopify.metafields[(VARIANT, "status")] == "backorderable"


def test_the_next_reorder_is_its_moq_in_whole_packs(rt, client, run_jobs, fake_shopify):
    mug_red_shop(rt, client, run_jobs, fake_shopify, pack_size=4)

    assert variant(rt).capacity == 12


def test_the_first_backorder_drafts_the_reorder_that_the_cap_counted(
        rt, client, run_jobs, fake_shopify):
    store = mug_red_shop(rt, client, run_jobs, fake_shopify)

    first_backorder(store)

    with rt.sessions() as session:
        [po] = session.scalars(select(PurchaseOrder)).all()
        assert po.status == PoStatus.DRAFT
        assert [(line.variant_id, line.quantity) for line in po.lines] == [(VARIANT, 10)]
    mug = variant(rt)
    assert (mug.status, mug.backordered_units, mug.capacity) == ("backorderable", 1, 9)


def test_once_the_reorder_is_sent_the_next_one_counts_toward_the_cap(
        rt, client, run_jobs, fake_shopify):
    store = mug_red_shop(rt, client, run_jobs, fake_shopify)
    first_backorder(store)
    with unit_of_work(rt.sessions) as session:
        po_id = session.scalar(select(PurchaseOrder.id))
        intents = approve_purchase_order(session, store.shop_id, po_id)
    jobs.enqueue(rt.redis, intents)
    run_jobs()

    with rt.sessions() as session:
        assert session.get(PurchaseOrder, po_id).status == PoStatus.SENT
    # 9 of the sent PO not yet promised, and the next order from Acme (minimum 10).
    assert variant(rt).capacity == 19


def test_a_supplier_that_cannot_receive_pos_adds_nothing_to_the_cap(
        rt, client, run_jobs, fake_shopify):
    store = mug_red_shop(rt, client, run_jobs, fake_shopify)
    assert variant(rt).status == "backorderable"
    with unit_of_work(rt.sessions) as session:
        session.execute(update(Supplier).values(active=False))
    recompute_shop(store.shop_id)
    run_jobs()

    mug = variant(rt)
    assert (mug.status, mug.capacity) == ("out_of_stock", 0)
    assert fake_shopify.policies[VARIANT] == "DENY"
