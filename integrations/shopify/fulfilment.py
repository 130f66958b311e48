"""Fulfilment holds, order tags and metafield definitions over the Admin GraphQL API
(GraphQLShopifyAdmin's part).

Holds are placed without the client's automatic retry: a hold whose answer was lost
is found on the next read by its handle, and a blind retry would split the
fulfillment order again. Releases and tags are safe to repeat.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.ports import (
    FulfilmentHoldInfo,
    FulfilmentLineInfo,
    FulfilmentOrderInfo,
    OrderFulfilment,
)
from app.errors import PermanentError
from integrations.shopify import documents as docs
from integrations.shopify.common import gid, numeric_id, raise_user_errors
from integrations.shopify.graphql import GraphQLClient

FULFILLMENT_ORDERS_PER_ORDER = 50
LINES_PER_FULFILLMENT_ORDER = 100
# An earlier attempt's hold is already there (its answer was lost): the caller reads again.
ALREADY_HELD = "DUPLICATE_FULFILLMENT_HOLD_HANDLE"
DEFINITION_EXISTS = "TAKEN"

METAFIELD_DEFINITIONS = (
    {"namespace": "backorder", "key": "status", "name": "Backorder status",
     "description": "in_stock, backorderable or out_of_stock, kept by the Backorder app",
     "type": "single_line_text_field", "ownerType": "PRODUCTVARIANT",
     "access": {"storefront": "PUBLIC_READ"}},
    {"namespace": "backorder", "key": "eta", "name": "Backorder ships by",
     "description": "The date a new order of this variant would ship, kept by the Backorder app",
     "type": "date", "ownerType": "PRODUCTVARIANT", "access": {"storefront": "PUBLIC_READ"}},
)


def order_fulfilment(client: GraphQLClient, order_id: int) -> OrderFulfilment | None:
    """The order's tags and fulfillment orders with their lines and holds."""
    data = client.execute(docs.ORDER_FULFILMENT_QUERY, {
        "id": gid("Order", order_id), "orders": FULFILLMENT_ORDERS_PER_ORDER,
        "lines": LINES_PER_FULFILLMENT_ORDER})
    node = data.get("order")
    if node is None:
        return None
    connection = node["fulfillmentOrders"]
    if connection["pageInfo"]["hasNextPage"] or any(
            fo["lineItems"]["pageInfo"]["hasNextPage"] for fo in connection["nodes"]):
        raise PermanentError(f"order {order_id} has more fulfillment orders or lines than "
                             f"one read holds: hold it in Shopify")
    return OrderFulfilment(order_id=order_id, tags=tuple(node.get("tags") or ()),
                           fulfillment_orders=tuple(_fulfillment_order(fo)
                                                    for fo in connection["nodes"]))


def hold(client: GraphQLClient, fo_id: int, *, handle: str,
         lines: Sequence[tuple[int, int]] | None) -> None:
    """fulfillmentOrderHold for out-of-stock units (all of the order when `lines` is None)."""
    spec = {"reason": "INVENTORY_OUT_OF_STOCK", "handle": handle, "notifyMerchant": False,
            "reasonNotes": "Backordered: held until stock covers these units"}
    if lines is not None:
        spec["fulfillmentOrderLineItems"] = [
            {"id": gid("FulfillmentOrderLineItem", line_id), "quantity": quantity}
            for line_id, quantity in lines]
    data = client.execute(docs.FULFILLMENT_ORDER_HOLD,
                          {"id": gid("FulfillmentOrder", fo_id), "hold": spec}, idempotent=False)
    errors = (data.get("fulfillmentOrderHold") or {}).get("userErrors") or []
    raise_user_errors("fulfillmentOrderHold", [e for e in errors if e.get("code") != ALREADY_HELD])


def release(client: GraphQLClient, fo_id: int, hold_ids: Sequence[int]) -> None:
    """Release exactly these holds (the app's own): never the fulfillment order's others."""
    data = client.execute(docs.FULFILLMENT_ORDER_RELEASE_HOLD, {
        "id": gid("FulfillmentOrder", fo_id),
        "holdIds": [gid("FulfillmentHold", h) for h in hold_ids]})
    raise_user_errors("fulfillmentOrderReleaseHold",
                      (data.get("fulfillmentOrderReleaseHold") or {}).get("userErrors") or [])


def set_tags(client: GraphQLClient, order_id: int, tags: Sequence[str], *,
             add: bool) -> None:
    document, root = (docs.TAGS_ADD, "tagsAdd") if add else (docs.TAGS_REMOVE, "tagsRemove")
    data = client.execute(document, {"id": gid("Order", order_id), "tags": list(tags)})
    raise_user_errors(root, (data.get(root) or {}).get("userErrors") or [])


def create_metafield_definitions(client: GraphQLClient) -> None:
    """Both definitions, storefront-readable; one that exists already is fine."""
    for definition in METAFIELD_DEFINITIONS:
        data = client.execute(docs.METAFIELD_DEFINITION_CREATE, {"definition": definition})
        errors = (data.get("metafieldDefinitionCreate") or {}).get("userErrors") or []
        raise_user_errors("metafieldDefinitionCreate",
                          [e for e in errors if e.get("code") != DEFINITION_EXISTS])


def _fulfillment_order(node: dict) -> FulfilmentOrderInfo:
    lines = tuple(FulfilmentLineInfo(fo_line_id=numeric_id(x["id"]),
                                     line_item_id=numeric_id(x["lineItem"]["id"]),
                                     remaining=x["remainingQuantity"])
                  for x in node["lineItems"]["nodes"])
    holds = tuple(FulfilmentHoldInfo(hold_id=numeric_id(h["id"]), handle=h.get("handle") or "",
                                     mine=bool(h["heldByRequestingApp"]))
                  for h in node["fulfillmentHolds"])
    return FulfilmentOrderInfo(fo_id=numeric_id(node["id"]), status=node["status"], lines=lines,
                               holds=holds)
