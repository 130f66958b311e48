"""Backordered units are held on their fulfillment order, and their order is tagged.

Signed webhooks in, the workers run, and the fake Shopify's fulfillment orders show
what the warehouse would see: exactly the backordered units on hold (the rest free to
ship), released when stock covers them or the order is cancelled, and nobody else's
hold touched.
"""

from __future__ import annotations

from sqlalchemy import select, update

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.fulfilment.models import FulfilmentSync
from app.domain.fulfilment.rules import handle_for
from app.domain.inventory.models import ShopSettings
from tests.engine.conftest import VARIANT, at
from tests.support.shopify import order_payload

ORDER, LINE = 501, 5010


def held(storefront, line=LINE) -> int:
    return storefront.fake.fulfilment.held_by_app(line, handle_for(line))


def tags(storefront, order=ORDER) -> set[str]:
    return storefront.fake.fulfilment.tags[order]


def place(storefront, qty: int, *, stock: int, held_by: str | None = None):
    """Stock `stock` units, then an order of `qty` that Shopify knows with one fulfillment
    order, held first by someone else under the handle `held_by` when given."""
    fo = storefront.fake.fulfilment.add_order(ORDER, {LINE: qty})
    hold = (None if held_by is None
            else storefront.fake.fulfilment.add_foreign_hold(fo.fo_id, handle=held_by))
    storefront.stock(stock, minute=0)
    storefront.order(ORDER, qty, minute=1, line_id=LINE)
    storefront.stock(stock - qty, minute=1)
    storefront.settle()
    return fo, hold


def calls(storefront, method: str) -> list:
    return [args for name, args in storefront.fake.calls if name == method]


def test_only_the_backordered_units_are_held_and_the_covered_ones_can_ship(storefront):
    place(storefront, 3, stock=1)
    assert held(storefront) == 2
    open_units = [x.remaining for fo in storefront.fake.fulfilment.of_order(ORDER)
                  if fo.status == "OPEN" for x in fo.lines]
    assert open_units == [1]  # the covered unit moved to a fulfillment order that ships
    hold = next(h for fo in storefront.fake.fulfilment.of_order(ORDER) for h in fo.holds)
    assert (hold.handle, hold.reason) == (handle_for(LINE), "INVENTORY_OUT_OF_STOCK")
    assert tags(storefront) == {"backorder"}


def test_restock_releases_the_hold_and_removes_the_tag(storefront):
    place(storefront, 2, stock=0)
    assert held(storefront) == 2
    storefront.stock(0, minute=5)  # two units arrive: Shopify's available goes from -2 to 0
    storefront.settle()
    assert held(storefront) == 0
    assert all(fo.status == "OPEN" for fo in storefront.fake.fulfilment.of_order(ORDER))
    assert tags(storefront) == set()


def test_a_partial_restock_holds_only_what_is_still_backordered(storefront):
    place(storefront, 3, stock=0)
    storefront.stock(-1, minute=5)  # two of three arrive
    storefront.settle()
    assert held(storefront) == 1
    assert tags(storefront) == {"backorder"}


def test_cancelling_the_order_releases_its_hold(storefront):
    place(storefront, 2, stock=0)
    assert held(storefront) == 2
    storefront.send("orders/cancelled", order_payload(
        ORDER, [(LINE, VARIANT, 2)], created_at=at(1), updated_at=at(3), cancelled_at=at(3)))
    storefront.settle()
    assert held(storefront) == 0
    assert tags(storefront) == set()


def test_a_merchant_hold_is_left_alone_and_ours_waits_behind_it(storefront):
    fo, merchant = place(storefront, 3, stock=1, held_by="")
    # A held fulfillment order cannot be split: the two units wait, held by the merchant.
    assert held(storefront) == 0
    assert fo.holds == [merchant]
    assert tags(storefront) == {"backorder"}
    with storefront.rt.sessions() as session:
        due = session.scalar(select(FulfilmentSync.due_at))
    assert due > utcnow()  # looked at again later, not in a loop


def test_a_wholly_backordered_fulfillment_order_is_held_on_top_of_a_merchant_hold(storefront):
    fo, merchant = place(storefront, 2, stock=0, held_by="")
    assert held(storefront) == 2
    storefront.stock(0, minute=5)
    storefront.settle()
    assert held(storefront) == 0
    assert fo.holds == [merchant] and fo.status == "ON_HOLD"


def test_another_apps_hold_with_our_handle_is_never_released(storefront):
    fo, other = place(storefront, 2, stock=0, held_by=handle_for(LINE))
    assert held(storefront) == 2
    storefront.stock(0, minute=5)
    storefront.settle()
    assert held(storefront) == 0
    assert fo.holds == [other]
    assert len(calls(storefront, "release_fulfillment_holds")) == 1


def test_a_rerun_after_a_lost_commit_places_no_second_hold(storefront):
    place(storefront, 3, stock=1)
    # The worker died after Shopify placed the hold, before the order was settled.
    with unit_of_work(storefront.rt.sessions) as session:
        session.execute(update(FulfilmentSync).values(due_at=utcnow()))
    from workers.fulfilment import sync_fulfilment
    sync_fulfilment(storefront.shop_id)
    sync_fulfilment(storefront.shop_id)  # and a duplicate job
    assert len(calls(storefront, "hold_fulfillment_order")) == 1
    assert held(storefront) == 2


def test_with_holds_turned_off_the_order_is_tagged_but_nothing_is_held(storefront):
    with unit_of_work(storefront.rt.sessions) as session:
        session.execute(update(ShopSettings).values(hold_backorders=False))
    place(storefront, 2, stock=0)
    assert held(storefront) == 0
    assert tags(storefront) == {"backorder"}


def test_turning_holds_off_in_settings_releases_them_and_on_again_holds_them(storefront):
    from dataclasses import replace

    from app.domain.merchant.settings import current_settings, save_settings
    place(storefront, 2, stock=0)
    assert held(storefront) == 2

    def holds(on: bool) -> None:
        with unit_of_work(storefront.rt.sessions) as session:
            values = current_settings(session, storefront.shop_id)
            save_settings(session, storefront.shop_id, replace(values, hold_backorders=on))
        from workers.fulfilment import sync_fulfilment
        sync_fulfilment(storefront.shop_id)

    holds(False)
    assert held(storefront) == 0
    assert tags(storefront) == {"backorder"}
    holds(True)
    assert held(storefront) == 2


def test_the_follow_up_sweeper_asks_again_for_an_order_whose_job_was_lost(storefront):
    from datetime import timedelta

    from app.domain.fulfilment.service import mark_backordered_orders_due
    from workers.jobs import sweep_followups
    place(storefront, 2, stock=0)
    with unit_of_work(storefront.rt.sessions) as session:  # the job for this never ran
        session.execute(update(ShopSettings).values(hold_backorders=False))
        mark_backordered_orders_due(session, storefront.shop_id)
        session.execute(update(FulfilmentSync).values(due_at=utcnow() - timedelta(minutes=5)))
    assert held(storefront) == 2
    assert sweep_followups() >= 1
    storefront.settle()
    assert held(storefront) == 0
