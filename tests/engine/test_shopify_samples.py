"""Shopify's own sample payloads go through the real handlers.

The samples carry rounded ids (parsed in JavaScript) and null variant ids, so
each test links the sample's line items to a variant the fake Shopify knows.
"""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import CustomerOrder, InventoryLevel, OrderLine, Variant
from tests.engine.conftest import VARIANT
from tests.support.shopify import sample_body

ORDER_SAMPLES = [("orders/create", "orders_create.2025-01.json"),
                 ("orders/create", "orders_create.2026-04.json"),
                 ("orders/updated", "orders_updated.2025-01.json"),
                 ("orders/cancelled", "orders_cancelled.2025-01.json")]


def sample(name: str) -> dict:
    return json.loads(sample_body(name))


def linked(order: dict) -> dict:
    order = copy.deepcopy(order)
    for item in order["line_items"]:
        item["variant_id"] = VARIANT
    return order


def event_statuses(rt) -> list:
    with rt.sessions() as session:
        return session.execute(select(WebhookEvent.topic, WebhookEvent.status,
                                      WebhookEvent.last_error)).all()


@pytest.mark.parametrize("topic, name", ORDER_SAMPLES)
def test_order_samples_are_stored_with_their_lines(storefront, topic, name):
    payload = linked(sample(name))
    storefront.send(topic, payload)
    storefront.settle()
    assert [s for _, s, _ in event_statuses(storefront.rt)] == [EventStatus.PROCESSED]
    with storefront.rt.sessions() as session:
        order = session.scalar(select(CustomerOrder))
        stored = session.scalars(select(OrderLine.line_item_id)).all()
    assert order.order_id == payload["id"] and order.cancelled_at is not None
    assert order.customer_first_name == payload["customer"]["first_name"] == "John"
    assert sorted(stored) == sorted(item["id"] for item in payload["line_items"])


def test_an_open_copy_of_the_sample_order_waits_in_the_queue(storefront):
    payload = linked(sample("orders_create.2026-04.json"))
    payload["cancelled_at"] = None
    storefront.send("orders/create", payload)
    storefront.settle()
    with storefront.rt.sessions() as session:
        open_units = session.scalars(select(OrderLine.open_quantity)).all()
    assert sum(open_units) == sum(i["fulfillable_quantity"] for i in payload["line_items"])


def test_the_sample_order_lines_without_variant_are_ignored(storefront):
    storefront.send("orders/create", sample("orders_create.2025-01.json"))
    storefront.settle()
    assert [s for _, s, _ in event_statuses(storefront.rt)] == [EventStatus.PROCESSED]
    with storefront.rt.sessions() as session:
        assert session.scalars(select(OrderLine)).all() == []


def test_the_refund_sample_applies_to_its_order(storefront):
    order = linked(sample("orders_create.2025-01.json"))
    order["cancelled_at"] = None
    storefront.send("orders/create", order)
    refund = sample("refunds_create.2025-01.json")
    for item in refund["refund_line_items"]:
        item["restock_type"] = "cancel"  # the sample's are no_restock: make it release units
    storefront.send("refunds/create", refund)
    storefront.settle()
    assert {s for _, s, _ in event_statuses(storefront.rt)} == {EventStatus.PROCESSED}
    with storefront.rt.sessions() as session:
        assert set(session.scalars(select(OrderLine.open_quantity))) == {0}


def test_a_refund_before_its_order_is_retried_not_lost(storefront):
    storefront.send("refunds/create", sample("refunds_create.2025-01.json") | {
        "refund_line_items": [{"id": 1, "line_item_id": 2, "quantity": 1,
                               "restock_type": "cancel"}]})
    storefront.settle()
    [(_, status, error)] = event_statuses(storefront.rt)
    assert status == EventStatus.RECEIVED and "not stored yet" in error


@pytest.mark.parametrize("name", ["products_update.2025-01.json", "products_update.2026-04.json"])
def test_product_samples_store_their_variants(storefront, name):
    payload = sample(name)
    storefront.send("products/update", payload)
    storefront.settle()
    with storefront.rt.sessions() as session:
        stored = session.scalars(select(Variant.variant_id)
                                 .where(Variant.product_id == payload["id"])).all()
    assert sorted(stored) == sorted(v["id"] for v in payload["variants"])


def test_the_inventory_sample_with_null_available_changes_nothing(storefront):
    storefront.send("inventory_levels/update", sample("inventory_levels_update.2024-10.json"))
    storefront.settle()
    assert [s for _, s, _ in event_statuses(storefront.rt)] == [EventStatus.PROCESSED]
    with storefront.rt.sessions() as session:
        items = session.scalars(select(InventoryLevel.inventory_item_id)).all()
    assert sample("inventory_levels_update.2024-10.json")["inventory_item_id"] not in items


def test_a_malformed_order_fails_its_event_with_a_clear_error(storefront):
    storefront.send("orders/create", {"id": 1, "line_items": "nope", "created_at": "2026-11-25T10:00:00Z"})
    storefront.settle()
    [(_, status, error)] = event_statuses(storefront.rt)
    assert status == EventStatus.FAILED and "line_items must be a list" in error
