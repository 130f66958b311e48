"""The ShopifyAdmin port over the Admin GraphQL API.

The service speaks numeric ids; Shopify speaks GIDs. This module converts at
the edge, sends only documents from `documents.py`, and turns non-empty
`userErrors` into PermanentError (the transport cannot see them: they arrive
in a successful response).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from app.config import Settings
from app.domain.inventory.payloads import line_title
from app.domain.ports import (
    AccessTokenSource,
    DiscountCodeSpec,
    InventoryLevelInfo,
    OrderFulfilment,
    OrderInfo,
    OrderLineInfo,
    OrderRefundState,
    RefundInfo,
    RefundSpec,
    VariantInfo,
    VariantMetafields,
    VariantPolicyChange,
)
from integrations.shopify import customer_options, fulfilment, refunds
from integrations.shopify import documents as docs
from integrations.shopify.common import gid, numeric_id, raise_user_errors
from integrations.shopify.graphql import GraphQLClient

log = logging.getLogger(__name__)

NAMESPACE = "backorder"
METAFIELDS_PER_CALL = 25  # metafieldsSet's documented maximum
VARIANTS_PER_BULK_UPDATE = 250  # Shopify's maximum for any input array
# Mandatory compliance webhooks are declared in the app's configuration;
# the Admin API has no WebhookSubscriptionTopic for them.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


def webhook_topic(topic: str) -> str:
    """`orders/partially_fulfilled` -> the enum value `ORDERS_PARTIALLY_FULFILLED`."""
    return topic.upper().replace("/", "_")


class GraphQLShopifyAdmin:
    """ShopifyAdmin for one shop, over a GraphQLClient."""

    # Page sizes keep each query's requested cost under Shopify's 1,000-point
    # ceiling (connection cost = 2 + first x node cost); overflowing nested
    # connections are followed with their own paginated query.
    variants_per_page = 25
    levels_per_item = 10
    orders_per_page = 15
    lines_per_order = 25
    follow_up_page = 100

    def __init__(self, client: GraphQLClient):
        self._client = client

    # --- writes --------------------------------------------------------------

    def set_inventory_policies(self, product_id: int,
                               changes: Sequence[VariantPolicyChange]) -> None:
        """Set inventoryPolicy on variants of one product, one call per 250."""
        for chunk in _chunks(changes, VARIANTS_PER_BULK_UPDATE):
            variants = [{"id": gid("ProductVariant", c.variant_id), "inventoryPolicy": c.policy}
                        for c in chunk]
            self._mutate(docs.PRODUCT_VARIANTS_BULK_UPDATE, "productVariantsBulkUpdate",
                         {"productId": gid("Product", product_id), "variants": variants})

    def set_variant_metafields(self, values: Sequence[VariantMetafields]) -> None:
        """Write status and eta, 25 metafields a call; delete an eta no longer known."""
        to_set = [field for value in values for field in _metafield_inputs(value)]
        for chunk in _chunks(to_set, METAFIELDS_PER_CALL):
            self._mutate(docs.METAFIELDS_SET, "metafieldsSet", {"metafields": chunk})
        to_delete = [{"ownerId": gid("ProductVariant", v.variant_id), "namespace": NAMESPACE,
                      "key": "eta"} for v in values if v.eta is None]
        for chunk in _chunks(to_delete, METAFIELDS_PER_CALL):
            self._mutate(docs.METAFIELDS_DELETE, "metafieldsDelete", {"metafields": chunk})

    def subscribe_webhooks(self, callback_url: str, topics: Sequence[str]) -> None:
        """Subscribe each topic to the callback; an existing subscription is fine."""
        for topic in topics:
            if topic in COMPLIANCE_TOPICS:
                log.info("skipping %s: compliance webhooks live in the app config", topic)
                continue
            variables = {"topic": webhook_topic(topic), "callbackUrl": callback_url}
            data = self._client.execute(docs.WEBHOOK_SUBSCRIPTION_CREATE, variables)
            errors = data["webhookSubscriptionCreate"]["userErrors"]
            # Re-running `shops add` must not fail on subscriptions it already made.
            raise_user_errors("webhookSubscriptionCreate",
                               [e for e in errors if "already been taken" not in e["message"]])

    def adjust_inventory(self, *, inventory_item_id: int, location_id: int,
                         delta: int, reference: str) -> None:
        """Add received stock to `available`; the reference shows in Shopify's history."""
        change = {"delta": delta, "inventoryItemId": gid("InventoryItem", inventory_item_id),
                  "locationId": gid("Location", location_id)}
        # A delta applied twice is wrong stock, so the client must not retry
        # an attempt that Shopify may already have run.
        self._mutate(docs.INVENTORY_ADJUST_QUANTITIES, "inventoryAdjustQuantities",
                     {"changes": [change], "reference": _reference_uri(reference)},
                     idempotent=False)

    def set_line_item_quantity(self, *, order_id: int, line_item_id: int, quantity: int,
                               staff_note: str) -> bool:
        """Order editing: the line keeps `quantity` units (see customer_options.py)."""
        return customer_options.set_line_item_quantity(
            self._client, gid, order_id=order_id, line_item_id=line_item_id, quantity=quantity,
            staff_note=staff_note)

    def create_discount_code(self, spec: DiscountCodeSpec) -> int | None:
        """A single-use goodwill code (see customer_options.py)."""
        return customer_options.create_discount_code(self._client, gid, spec)

    def order_refund_state(self, order_id: int, line_item_id: int) -> OrderRefundState | None:
        return refunds.order_refund_state(self._client, order_id, line_item_id)

    def create_refund(self, spec: RefundSpec) -> RefundInfo:
        """A money-only refund, sent once (see refunds.py)."""
        return refunds.create_refund(self._client, spec)

    def create_metafield_definitions(self) -> None:
        fulfilment.create_metafield_definitions(self._client)

    def order_fulfilment(self, order_id: int) -> OrderFulfilment | None:
        return fulfilment.order_fulfilment(self._client, order_id)

    def hold_fulfillment_order(self, fo_id: int, *, handle: str,
                               lines: Sequence[tuple[int, int]] | None) -> None:
        fulfilment.hold(self._client, fo_id, handle=handle, lines=lines)

    def release_fulfillment_holds(self, fo_id: int, hold_ids: Sequence[int]) -> None:
        fulfilment.release(self._client, fo_id, hold_ids)

    def add_order_tags(self, order_id: int, tags: Sequence[str]) -> None:
        fulfilment.set_tags(self._client, order_id, tags, add=True)

    def remove_order_tags(self, order_id: int, tags: Sequence[str]) -> None:
        fulfilment.set_tags(self._client, order_id, tags, add=False)

    def _mutate(self, document: str, root: str, variables: dict, *,
                idempotent: bool = True) -> dict:
        data = self._client.execute(document, variables, idempotent=idempotent)
        payload = data.get(root) or {}
        raise_user_errors(root, payload.get("userErrors") or [])
        return payload

    # --- reads ---------------------------------------------------------------

    def fetch_variant(self, variant_id: int) -> VariantInfo | None:
        """One variant with its inventory levels, or None if Shopify has no such variant."""
        data = self._client.execute(docs.VARIANT_QUERY, {
            "id": gid("ProductVariant", variant_id), "levels": self.follow_up_page})
        node = data.get("productVariant")
        return None if node is None else self._variant(node)

    def iter_variants(self) -> Iterator[VariantInfo]:
        """Every variant of the shop, page by page."""
        variables = {"first": self.variants_per_page, "levels": self.levels_per_item}
        for node in self._paginate(docs.VARIANTS_PAGE_QUERY, variables, "productVariants"):
            yield self._variant(node)

    def iter_open_orders(self) -> Iterator[OrderInfo]:
        """Every open order with all its lines, page by page."""
        variables = {"first": self.orders_per_page, "lines": self.lines_per_order}
        for node in self._paginate(docs.OPEN_ORDERS_QUERY, variables, "orders"):
            yield self._order(node)

    def _paginate(self, document: str, variables: dict, *path: str,
                  after: str | None = None) -> Iterator[dict]:
        while True:
            connection = _dig(self._client.execute(document, {**variables, "after": after}), path)
            if connection is None:  # the parent vanished between pages
                return
            yield from connection["nodes"]
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]

    def _rest_of(self, connection: dict, document: str, owner_id: str,
                 *path: str) -> Iterator[dict]:
        """The nodes of a nested connection, following it past its first page."""
        yield from connection["nodes"]
        page = connection["pageInfo"]
        if page["hasNextPage"]:
            variables = {"id": owner_id, "first": self.follow_up_page}
            yield from self._paginate(document, variables, *path, after=page["endCursor"])

    # --- parsing -------------------------------------------------------------

    def _variant(self, node: dict) -> VariantInfo:
        item = node.get("inventoryItem")
        levels = () if item is None else tuple(_level(level) for level in self._rest_of(
            item["inventoryLevels"], docs.INVENTORY_LEVELS_QUERY, item["id"],
            "inventoryItem", "inventoryLevels"))
        return VariantInfo(
            variant_id=numeric_id(node["id"]), product_id=numeric_id(node["product"]["id"]),
            sku=node.get("sku") or None, title=node["title"],
            inventory_item_id=None if item is None else numeric_id(item["id"]),
            tracked=bool(item and item["tracked"]), inventory_policy=node["inventoryPolicy"],
            levels=levels, product_title=node["product"]["title"])

    def _order(self, node: dict) -> OrderInfo:
        lines = self._rest_of(node["lineItems"], docs.ORDER_LINE_ITEMS_QUERY, node["id"],
                              "order", "lineItems")
        return OrderInfo(
            order_id=numeric_id(node["id"]), name=node["name"],
            created_at=_datetime(node["createdAt"]), updated_at=_datetime(node["updatedAt"]),
            cancelled_at=_datetime(node.get("cancelledAt")), email=node.get("email"),
            phone=node.get("phone"), lines=tuple(_line(line) for line in lines))


def build_admin(settings: Settings, shop_domain: str,
                access_token: str | AccessTokenSource) -> GraphQLShopifyAdmin:
    """The real adapter for one shop, configured from the settings."""
    client = GraphQLClient(shop_domain, access_token, url_template=settings.shopify_admin_api_url,
                           api_version=settings.shopify_api_version,
                           timeout=settings.http_timeout)
    return GraphQLShopifyAdmin(client)


def _metafield_inputs(value: VariantMetafields) -> list[dict]:
    owner = gid("ProductVariant", value.variant_id)
    fields = [{"ownerId": owner, "namespace": NAMESPACE, "key": "status",
               "type": "single_line_text_field", "value": value.status}]
    if value.eta is not None:
        fields.append({"ownerId": owner, "namespace": NAMESPACE, "key": "eta",
                       "type": "date", "value": value.eta.isoformat()})
    return fields


def _level(node: dict) -> InventoryLevelInfo:
    available = next((q["quantity"] for q in node["quantities"] if q["name"] == "available"), 0)
    return InventoryLevelInfo(location_id=numeric_id(node["location"]["id"]),
                              available=available, updated_at=_datetime(node.get("updatedAt")))


def _line(node: dict) -> OrderLineInfo:
    # currentQuantity excludes units removed by edits and refunds; what is
    # neither removed nor still unfulfilled has been fulfilled.
    current = node["currentQuantity"]
    variant = node.get("variant")
    return OrderLineInfo(
        line_id=numeric_id(node["id"]),
        variant_id=None if variant is None else numeric_id(variant["id"]),
        quantity=current, fulfilled_quantity=max(0, current - node["unfulfilledQuantity"]),
        title=line_title(node.get("title"), node.get("variantTitle")))


def _reference_uri(reference: str) -> str:
    # Shopify wants a URI here; a bare reference such as a PO number gets a scheme.
    return reference if ":" in reference else f"backorder://reference/{quote(reference)}"


def _datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _dig(data: dict, path: Sequence[str]) -> Any:
    for key in path:
        data = (data or {}).get(key)
    return data


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
