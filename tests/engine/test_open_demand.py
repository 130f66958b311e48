"""The open demand kept on each variant row: always what its lines add up to, repaired if not.

The recompute trusts these totals to tell an order appended at the back of the
queue (the flash-sale case, read without the rest of the queue) from a change in
front of it, so every kind of order change must move them, and a drift must not last.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, insert, select, text, update

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.inventory import reads
from app.domain.inventory.models import CustomerOrder, OrderLine, Variant
from app.domain.notifications.customer import cancel_line
from app.domain.shops.models import Shop
from app.domain.suppliers.service import recompute
from app.migrate import upgrade
from tests.engine.conftest import VARIANT, at
from tests.support import servers
from tests.support.shopify import order_payload


def kept_and_counted(rt) -> tuple[tuple[int, int], tuple[int, int]]:
    with rt.sessions() as session:
        variant = session.scalar(select(Variant).where(Variant.variant_id == VARIANT))
        return ((variant.open_total, variant.open_checksum),
                reads.open_demand_of_lines(session, variant))


def backordered(rt) -> dict[int, int]:
    with rt.sessions() as session:
        return dict(session.execute(select(OrderLine.line_item_id, OrderLine.backordered)).all())


def test_every_kind_of_order_change_moves_the_kept_totals_with_it(storefront):
    rt = storefront.rt
    storefront.stock(0, minute=0)
    for order_id, qty in ((1, 3), (2, 2), (3, 1), (4, 2)):
        storefront.order(order_id, qty, minute=order_id)
    storefront.settle()
    assert kept_and_counted(rt)[0][0] == 8

    storefront.send("orders/partially_fulfilled", order_payload(
        1, [(10, VARIANT, 3, 1)], created_at=at(1), updated_at=at(10)))
    storefront.send("refunds/create", {"order_id": 2, "created_at": at(11), "refund_line_items": [
        {"id": 700, "line_item_id": 20, "quantity": 1, "restock_type": "cancel"}]})
    storefront.send("orders/cancelled", order_payload(
        3, [(30, VARIANT, 1)], created_at=at(3), updated_at=at(12), cancelled_at=at(12)))
    storefront.settle()
    with unit_of_work(rt.sessions) as session:
        cancel_line(session, storefront.shop_id, 4, 40, now=utcnow(), recompute=recompute)

    kept, counted = kept_and_counted(rt)
    assert kept == counted
    assert kept[0] == 2 + 1  # order 1: 3 less 1 shipped; order 2: 2 less 1 refunded


def test_a_replayed_or_stale_order_moves_nothing(storefront):
    storefront.stock(0, minute=0)
    payload = storefront.order(1, 2, minute=1)
    storefront.send("orders/updated", payload)  # the same snapshot again
    storefront.send("orders/updated", order_payload(1, [(10, VARIANT, 5)], created_at=at(1),
                                                    updated_at=at(0)))  # older than stored
    storefront.settle()
    kept, counted = kept_and_counted(storefront.rt)
    assert kept == counted and kept[0] == 2


def test_a_drifted_total_is_repaired_at_the_next_check_and_the_queue_comes_from_the_lines(
        storefront, caplog):
    rt = storefront.rt
    storefront.stock(1, minute=0)
    for n in (1, 2):
        storefront.order(n, minute=n)
        storefront.stock(1 - n, minute=n)
    storefront.settle()
    with unit_of_work(rt.sessions) as session:  # as if a write had bypassed the totals
        session.execute(update(Variant).values(open_total=Variant.open_total + 5,
                                               open_checked_at=utcnow() - timedelta(hours=1)))

    with caplog.at_level(logging.WARNING, logger="app.domain.inventory.service"):
        storefront.order(3, minute=3)
        storefront.stock(-2, minute=3)
        storefront.settle()

    kept, counted = kept_and_counted(rt)
    assert kept == counted and kept[0] == 3
    assert backordered(rt) == {10: 0, 20: 1, 30: 1}
    assert any("drifted" in r.getMessage() for r in caplog.records)


@pytest.fixture
def scratch_database():
    name, url = servers.create_database()
    yield url
    servers.drop_database(name)


def test_the_migration_sums_existing_lines_into_their_variants(scratch_database):
    upgrade(scratch_database, "0006_customer_options")
    engine = create_engine(scratch_database)
    with engine.begin() as db:  # rows as the previous release wrote them
        shop_id = db.execute(insert(Shop.__table__).values(domain="s.myshopify.com")
                             .returning(Shop.__table__.c.id)).scalar_one()
        db.execute(text(
            "INSERT INTO variants (shop_id, variant_id, title, product_title, tracked, managed,"
            " deleted, details_known, stock_confirmed, backordered_units, push_pending)"
            " VALUES (:shop, 7, '', '', true, true, false, true, true, 0, false),"
            " (:shop, 8, '', '', true, true, false, true, true, 0, false)"), {"shop": shop_id})
        order_pk = db.execute(insert(CustomerOrder.__table__).values(shop_id=shop_id, order_id=100,
                                                                   placed_at=utcnow())
                              .returning(CustomerOrder.__table__.c.id)).scalar_one()
        db.execute(insert(OrderLine.__table__), [
            {"shop_id": shop_id, "order_pk": order_pk, "line_item_id": line_id, "variant_id": 7,
             "ordered_quantity": qty, "quantity": qty, "open_quantity": open_qty,
             "cancel_refunds": {}} for line_id, qty, open_qty in ((11, 2, 2), (12, 3, 1),
                                                                  (13, 1, 0))])
    upgrade(scratch_database)
    with engine.connect() as db:
        rows = db.execute(text("SELECT variant_id, open_total, open_checksum FROM variants"
                               " ORDER BY variant_id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(7, 3, reads.weigh(11, 2) + reads.weigh(12, 1)),
                                        (8, 0, 0)]
