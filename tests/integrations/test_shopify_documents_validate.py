"""Every document the service sends validates against the Admin schema.

CONTRACT.md promises it; this test keeps the promise: each constant in
`documents.ALL_DOCUMENTS` validates, and a `responses`-driven run of every
ShopifyAdmin method shows that the adapter sends nothing else, with
variables the schema accepts (input field names and enum values live there).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import graphql
import pytest
import responses
from graphql.execution.values import get_variable_values

from app.domain.ports import (
    DiscountCodeSpec,
    RefundSpec,
    RefundTransaction,
    VariantMetafields,
    VariantPolicyChange,
)
from integrations.shopify import documents
from integrations.shopify.admin import GraphQLShopifyAdmin
from integrations.shopify.graphql import GraphQLClient

SCHEMA_FILE = (Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "shopify"
               / "admin-schema" / "admin_2025-01.graphql")
URL = "https://demo.myshopify.com/admin/api/2025-01/graphql.json"


@pytest.fixture(scope="module")
def schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SCHEMA_FILE.read_text(), assume_valid=True)


@pytest.mark.parametrize("name", sorted(documents.DOCUMENT_NAMES))
def test_document_validates_against_admin_schema(schema, name):
    errors = graphql.validate(schema, graphql.parse(documents.DOCUMENT_NAMES[name]))
    assert errors == []


def test_every_document_is_listed_in_all_documents():
    assert set(documents.DOCUMENT_NAMES.values()) == set(documents.ALL_DOCUMENTS)


def test_a_misspelt_field_is_caught(schema):
    broken = documents.METAFIELDS_SET.replace("userErrors", "userErrorz")
    assert graphql.validate(schema, graphql.parse(broken))


# --- what the adapter really sends --------------------------------------------

PAGE_MORE = {"hasNextPage": True, "endCursor": "c1"}
PAGE_END = {"hasNextPage": False, "endCursor": None}


def _levels(page):
    return {"nodes": [{"location": {"id": "gid://shopify/Location/1"},
                       "quantities": [{"name": "available", "quantity": 3}],
                       "updatedAt": "2025-01-02T03:04:05Z"}], "pageInfo": page}


def _variant():
    # The first page of levels overflows, so the follow-up query is sent too.
    return {"id": "gid://shopify/ProductVariant/11", "sku": "SKU", "title": "Red",
            "inventoryPolicy": "DENY", "product": {"id": "gid://shopify/Product/1", "title": "T"},
            "inventoryItem": {"id": "gid://shopify/InventoryItem/21", "tracked": True,
                              "inventoryLevels": _levels(PAGE_MORE)}}


def _lines(page):
    return {"nodes": [{"id": "gid://shopify/LineItem/5", "title": "T", "quantity": 1,
                       "currentQuantity": 1, "unfulfilledQuantity": 1,
                       "variant": {"id": "gid://shopify/ProductVariant/11"}}],
            "pageInfo": page}


def _order():
    return {"id": "gid://shopify/Order/9", "name": "#1001", "email": None, "phone": None,
            "createdAt": "2025-01-02T03:04:05Z", "updatedAt": "2025-01-02T03:04:05Z",
            "cancelledAt": None, "lineItems": _lines(PAGE_MORE)}


CANNED = {
    "BackorderSetInventoryPolicies": {"productVariantsBulkUpdate": {"userErrors": []}},
    "BackorderSetMetafields": {"metafieldsSet": {"userErrors": []}},
    "BackorderDeleteMetafields": {"metafieldsDelete": {"userErrors": []}},
    "BackorderSubscribeWebhook": {"webhookSubscriptionCreate": {"userErrors": []}},
    "BackorderAdjustInventory": {"inventoryAdjustQuantities": {"userErrors": []}},
    "BackorderVariant": {"productVariant": _variant()},
    "BackorderVariants": {"productVariants": {"nodes": [_variant()], "pageInfo": PAGE_END}},
    "BackorderInventoryLevels": {"inventoryItem": {"inventoryLevels": _levels(PAGE_END)}},
    "BackorderOpenOrders": {"orders": {"nodes": [_order()], "pageInfo": PAGE_END}},
    "BackorderOrderLineItems": {"order": {"lineItems": _lines(PAGE_END)}},
    "BackorderOrderEditBegin": {"orderEditBegin": {"userErrors": [], "calculatedOrder": {
        "id": "gid://shopify/CalculatedOrder/77", "lineItems": {
            "nodes": [{"id": "gid://shopify/CalculatedLineItem/5", "quantity": 2,
                       "variant": {"id": "gid://shopify/ProductVariant/11"}}],
            "pageInfo": {"hasNextPage": False}}}}},
    "BackorderOrderEditSetQuantity": {"orderEditSetQuantity": {"userErrors": []}},
    "BackorderOrderEditCommit": {"orderEditCommit": {"userErrors": [],
                                                     "order": {"id": "gid://shopify/Order/9"}}},
    "BackorderCreateDiscountCode": {"discountCodeBasicCreate": {
        "userErrors": [], "codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/3"}}},
    "BackorderOrderRefundState": {"order": {
        "id": "gid://shopify/Order/9", "presentmentCurrencyCode": "EUR", "taxesIncluded": False,
        "totalOutstandingSet": {"presentmentMoney": {"amount": "-12.1"}},
        "transactions": [{"id": "gid://shopify/OrderTransaction/61", "kind": "SALE",
                          "status": "SUCCESS", "gateway": "shopify_payments",
                          "amountSet": {"presentmentMoney": {"amount": "40.0"}},
                          "parentTransaction": None}],
        "refunds": []},
        "lineItem": {"id": "gid://shopify/LineItem/5", "quantity": 2,
                     "discountedUnitPriceAfterAllDiscountsSet": {
                         "presentmentMoney": {"amount": "10.0"}},
                     "taxLines": [{"priceSet": {"presentmentMoney": {"amount": "4.2"}}}]}},
    "BackorderRefundCreate": {"refundCreate": {"userErrors": [], "refund": {
        "id": "gid://shopify/Refund/71", "note": "Customer cancelled [backorder-cancel:5]",
        "totalRefundedSet": {"presentmentMoney": {"amount": "12.1"}},
        "transactions": {"nodes": [{"status": "SUCCESS"}]}}}},
    "BackorderOrderFulfilment": {"order": {
        "id": "gid://shopify/Order/9", "tags": ["vip"], "fulfillmentOrders": {
            "nodes": [{"id": "gid://shopify/FulfillmentOrder/31", "status": "ON_HOLD",
                       "fulfillmentHolds": [{"id": "gid://shopify/FulfillmentHold/41",
                                             "handle": "", "heldByRequestingApp": False}],
                       "lineItems": {"nodes": [{
                           "id": "gid://shopify/FulfillmentOrderLineItem/51",
                           "remainingQuantity": 2, "lineItem": {"id": "gid://shopify/LineItem/5"}}],
                           "pageInfo": {"hasNextPage": False}}}],
            "pageInfo": {"hasNextPage": False}}}},
    "BackorderHoldFulfillmentOrder": {"fulfillmentOrderHold": {"userErrors": []}},
    "BackorderReleaseFulfillmentHold": {"fulfillmentOrderReleaseHold": {"userErrors": []}},
    "BackorderTagsAdd": {"tagsAdd": {"userErrors": []}},
    "BackorderTagsRemove": {"tagsRemove": {"userErrors": []}},
    "BackorderCreateMetafieldDefinition": {"metafieldDefinitionCreate": {"userErrors": []}},
}

METHOD_RUNS = {
    "set_inventory_policies": lambda a: a.set_inventory_policies(
        1, [VariantPolicyChange(11, "CONTINUE")]),
    "set_variant_metafields": lambda a: a.set_variant_metafields(
        [VariantMetafields(11, "backorderable", date(2025, 3, 1)),
         VariantMetafields(12, "in_stock", None)]),
    "subscribe_webhooks": lambda a: a.subscribe_webhooks(
        "https://backorder.example/webhooks/shopify", ["orders/create", "app/uninstalled"]),
    "fetch_variant": lambda a: a.fetch_variant(11),
    "iter_variants": lambda a: list(a.iter_variants()),
    "iter_open_orders": lambda a: list(a.iter_open_orders()),
    "adjust_inventory": lambda a: a.adjust_inventory(
        inventory_item_id=21, location_id=1, delta=5, reference="PO-1001"),
    "set_line_item_quantity": lambda a: a.set_line_item_quantity(
        order_id=9, line_item_id=5, quantity=0, staff_note="Customer cancelled"),
    "create_discount_code (percentage)": lambda a: a.create_discount_code(DiscountCodeSpec(
        "WAIT-1001-ABCDEF", "Sorry for the wait", datetime(2030, 1, 2, tzinfo=UTC),
        percentage=Decimal("10"), customer_id=42)),
    "create_discount_code (amount)": lambda a: a.create_discount_code(DiscountCodeSpec(
        "WAIT-1002-ABCDEF", "Sorry for the wait", datetime(2030, 1, 2, tzinfo=UTC),
        amount=Decimal("5.00"))),
    "order_refund_state": lambda a: a.order_refund_state(9, 5),
    "create_refund": lambda a: a.create_refund(RefundSpec(
        order_id=9, currency="EUR", note="Customer cancelled [backorder-cancel:5]",
        transactions=(RefundTransaction(61, "shopify_payments", Decimal("12.10")),))),
    "order_fulfilment": lambda a: a.order_fulfilment(9),
    "hold_fulfillment_order (some units)": lambda a: a.hold_fulfillment_order(
        31, handle="backorder-line-5", lines=[(51, 2)]),
    "hold_fulfillment_order (all of it)": lambda a: a.hold_fulfillment_order(
        31, handle="backorder-line-5", lines=None),
    "release_fulfillment_holds": lambda a: a.release_fulfillment_holds(31, [41]),
    "add_order_tags": lambda a: a.add_order_tags(9, ["backorder"]),
    "remove_order_tags": lambda a: a.remove_order_tags(9, ["backorder"]),
    "create_metafield_definitions": lambda a: a.create_metafield_definitions(),
}


def _sent_requests(method: str) -> list[dict]:
    """Run one adapter method against canned answers; return the request bodies."""
    bodies: list[dict] = []

    def answer(request):
        body = json.loads(request.body)
        bodies.append(body)
        operation = re.search(r"(?:query|mutation) (\w+)", body["query"]).group(1)
        return 200, {}, json.dumps({"data": CANNED[operation]})

    client = GraphQLClient("demo.myshopify.com", "shpat_test", api_version="2025-01",
                           url_template="https://{shop}/admin/api/{version}/graphql.json",
                           timeout=5.0, sleep=lambda _s: None)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, URL, callback=answer)
        METHOD_RUNS[method](GraphQLShopifyAdmin(client))
    return bodies


@pytest.fixture(scope="module")
def sent() -> dict[str, list[dict]]:
    return {method: _sent_requests(method) for method in METHOD_RUNS}


@pytest.mark.parametrize("method", sorted(METHOD_RUNS))
def test_adapter_sends_only_listed_documents(sent, method):
    assert sent[method]
    for body in sent[method]:
        assert body["query"] in documents.ALL_DOCUMENTS


@pytest.mark.parametrize("method", sorted(METHOD_RUNS))
def test_adapter_variables_are_accepted_by_the_schema(schema, sent, method):
    for body in sent[method]:
        operation = graphql.parse(body["query"]).definitions[0]
        coerced = get_variable_values(schema, operation.variable_definitions, body["variables"])
        assert not isinstance(coerced, list), [str(e) for e in coerced]


def test_every_listed_document_is_sent_by_some_method(sent):
    used = {body["query"] for bodies in sent.values() for body in bodies}
    assert used == set(documents.ALL_DOCUMENTS)
