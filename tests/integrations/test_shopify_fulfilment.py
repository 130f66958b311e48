"""Holds, tags and metafield definitions through the real GraphQL adapter, over loopback
against the fake Shopify: what is sent, how Shopify's answers and userErrors are read."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.config import Settings
from app.errors import PermanentError, TransientError
from integrations.shopify.admin import build_admin
from tests.support.fake_servers import FakeShopify

SHOP, TOKEN, ORDER, LINE, OTHER_LINE = "holds.myshopify.com", "shpat_holds", 9, 5, 6


@pytest.fixture
def shopify():
    with FakeShopify() as fake:
        fake.add_shop(SHOP, TOKEN)
        yield fake


@pytest.fixture
def admin(shopify, base_settings: Settings):
    settings = replace(base_settings, shopify_admin_api_url=shopify.url + "/{shop}/graphql.json",
                       http_timeout=2.0)
    return build_admin(settings, SHOP, TOKEN)


def fulfilment(shopify):
    return shopify.shop(SHOP).fulfilment


def test_the_order_is_read_with_its_fulfillment_orders_lines_holds_and_tags(shopify, admin):
    fo = fulfilment(shopify).add_order(ORDER, {LINE: 3, OTHER_LINE: 1}, tags=["vip"])
    fulfilment(shopify).add_foreign_hold(fo.fo_id)
    state = admin.order_fulfilment(ORDER)
    assert state.tags == ("vip",)
    [read] = state.fulfillment_orders
    assert (read.fo_id, read.status) == (fo.fo_id, "ON_HOLD")
    assert {(x.line_item_id, x.remaining) for x in read.lines} == {(LINE, 3), (OTHER_LINE, 1)}
    assert [(h.handle, h.mine) for h in read.holds] == [("", False)]
    assert admin.order_fulfilment(404) is None


def test_holding_some_units_splits_the_rest_onto_a_fulfillment_order_that_ships(shopify, admin):
    fo = fulfilment(shopify).add_order(ORDER, {LINE: 3, OTHER_LINE: 1})
    admin.hold_fulfillment_order(fo.fo_id, handle="backorder-line-5",
                                 lines=[(fo.lines[0].fo_line_id, 2)])
    [held, rest] = admin.order_fulfilment(ORDER).fulfillment_orders
    assert (held.status, [(x.line_item_id, x.remaining) for x in held.lines]) == (
        "ON_HOLD", [(LINE, 2)])
    assert (rest.status, sorted((x.line_item_id, x.remaining) for x in rest.lines)) == (
        "OPEN", [(LINE, 1), (OTHER_LINE, 1)])
    [call] = shopify.calls_of("BackorderHoldFulfillmentOrder")
    assert call.variables["hold"]["reason"] == "INVENTORY_OUT_OF_STOCK"


def test_a_hold_whose_answer_was_lost_is_not_repeated_and_is_found_again(shopify, admin):
    fo = fulfilment(shopify).add_order(ORDER, {LINE: 2})
    shopify.faults.next("timeout")
    shopify.hang_seconds = 3.0
    with pytest.raises(TransientError):
        admin.hold_fulfillment_order(fo.fo_id, handle="backorder-line-5", lines=None)
    assert len(shopify.calls_of("BackorderHoldFulfillmentOrder", outcome=None)) == 1
    [read] = admin.order_fulfilment(ORDER).fulfillment_orders
    assert [(h.handle, h.mine) for h in read.holds] == [("backorder-line-5", True)]
    # A second attempt with the same handle is Shopify's duplicate: nothing more happens.
    admin.hold_fulfillment_order(fo.fo_id, handle="backorder-line-5", lines=None)
    assert len(fo.holds) == 1


def test_splitting_a_held_fulfillment_order_is_refused(shopify, admin):
    fo = fulfilment(shopify).add_order(ORDER, {LINE: 3})
    fulfilment(shopify).add_foreign_hold(fo.fo_id)
    with pytest.raises(PermanentError, match="already on hold"):
        admin.hold_fulfillment_order(fo.fo_id, handle="backorder-line-5",
                                     lines=[(fo.lines[0].fo_line_id, 1)])


def test_only_the_named_hold_is_released_and_another_apps_is_refused(shopify, admin):
    fo = fulfilment(shopify).add_order(ORDER, {LINE: 2})
    merchant = fulfilment(shopify).add_foreign_hold(fo.fo_id)
    admin.hold_fulfillment_order(fo.fo_id, handle="backorder-line-5", lines=None)
    ours = next(h for h in fo.holds if h.mine)
    with pytest.raises(PermanentError, match="didn't place"):
        admin.release_fulfillment_holds(fo.fo_id, [merchant.hold_id])
    admin.release_fulfillment_holds(fo.fo_id, [ours.hold_id])
    assert fo.holds == [merchant] and fo.status == "ON_HOLD"


def test_tags_are_added_and_removed_without_touching_the_merchants(shopify, admin):
    fulfilment(shopify).add_order(ORDER, {LINE: 1}, tags=["vip"])
    admin.add_order_tags(ORDER, ["backorder"])
    assert fulfilment(shopify).tags[ORDER] == {"vip", "backorder"}
    admin.remove_order_tags(ORDER, ["backorder"])
    assert fulfilment(shopify).tags[ORDER] == {"vip"}
    with pytest.raises(PermanentError, match="tagsAdd"):
        admin.add_order_tags(404, ["backorder"])


def test_metafield_definitions_are_storefront_readable_and_created_once(shopify, admin):
    admin.create_metafield_definitions()
    admin.create_metafield_definitions()  # a second install: TAKEN is fine
    definitions = shopify.shop(SHOP).metafield_definitions
    assert set(definitions) == {("backorder", "status"), ("backorder", "eta")}
    assert {d["access"]["storefront"] for d in definitions.values()} == {"PUBLIC_READ"}
    assert {d["type"] for d in definitions.values()} == {"single_line_text_field", "date"}
    assert {d["ownerType"] for d in definitions.values()} == {"PRODUCTVARIANT"}
