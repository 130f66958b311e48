"""Every GraphQL document the service sends to the Shopify Admin API.

They live here, as constants, so one test validates all of them against the
Admin schema in `../shared/fixtures/shopify/admin-schema/` (CONTRACT.md).
The adapter must never build a document anywhere else.

Page sizes are variables, not literals, because Shopify rejects any single
query whose requested cost exceeds 1,000 points, and a connection costs
2 + first x (cost of a node): 100 variants x 50 inventory levels would ask
for about 15,000. The adapter picks sizes that stay under the limit and
follows the nested `pageInfo` when a variant or an order overflows them.

Schema choices (2025-01):
- `metafieldsDelete` exists, so an `eta` that becomes unknown is deleted
  rather than left stale on the storefront.
- `inventoryAdjustQuantities` has no `@idempotent` directive in 2025-01 (no
  directive but `@accessRestricted` exists), so the adjustment carries a
  `referenceDocumentUri` for traceability instead of an idempotency key.
"""

from __future__ import annotations

_VARIANT_FIELDS = """
fragment BackorderVariantFields on ProductVariant {
  id
  sku
  title
  inventoryPolicy
  product { id title }
  inventoryItem {
    id
    tracked
    inventoryLevels(first: $levels) {
      nodes { ...BackorderLevelFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

_LEVEL_FIELDS = """
fragment BackorderLevelFields on InventoryLevel {
  location { id }
  quantities(names: ["available"]) { name quantity }
  updatedAt
}
"""

_LINE_ITEM_FIELDS = """
fragment BackorderLineItemFields on LineItem {
  id
  title
  variantTitle
  quantity
  currentQuantity
  unfulfilledQuantity
  variant { id }
}
"""

PRODUCT_VARIANTS_BULK_UPDATE = """
mutation BackorderSetInventoryPolicies($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id inventoryPolicy }
    userErrors { field message }
  }
}
"""

METAFIELDS_SET = """
mutation BackorderSetMetafields($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id key namespace }
    userErrors { field message code }
  }
}
"""

METAFIELDS_DELETE = """
mutation BackorderDeleteMetafields($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { key namespace ownerId }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation BackorderSubscribeWebhook($topic: WebhookSubscriptionTopic!, $callbackUrl: URL!) {
  webhookSubscriptionCreate(
    topic: $topic
    webhookSubscription: {callbackUrl: $callbackUrl, format: JSON}
  ) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"""

INVENTORY_ADJUST_QUANTITIES = """
mutation BackorderAdjustInventory($changes: [InventoryChangeInput!]!, $reference: String) {
  inventoryAdjustQuantities(
    input: {reason: "received", name: "available", referenceDocumentUri: $reference,
            changes: $changes}
  ) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""

VARIANT_QUERY = """
query BackorderVariant($id: ID!, $levels: Int!) {
  productVariant(id: $id) { ...BackorderVariantFields }
}
""" + _VARIANT_FIELDS + _LEVEL_FIELDS

VARIANTS_PAGE_QUERY = """
query BackorderVariants($first: Int!, $after: String, $levels: Int!) {
  productVariants(first: $first, after: $after) {
    nodes { ...BackorderVariantFields }
    pageInfo { hasNextPage endCursor }
  }
}
""" + _VARIANT_FIELDS + _LEVEL_FIELDS

# A follow-up for the rare item stocked at more locations than a page holds.
INVENTORY_LEVELS_QUERY = """
query BackorderInventoryLevels($id: ID!, $first: Int!, $after: String) {
  inventoryItem(id: $id) {
    inventoryLevels(first: $first, after: $after) {
      nodes { ...BackorderLevelFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""" + _LEVEL_FIELDS

OPEN_ORDERS_QUERY = """
query BackorderOpenOrders($first: Int!, $after: String, $lines: Int!) {
  orders(first: $first, after: $after, query: "status:open") {
    nodes {
      id
      name
      email
      phone
      createdAt
      updatedAt
      cancelledAt
      lineItems(first: $lines) {
        nodes { ...BackorderLineItemFields }
        pageInfo { hasNextPage endCursor }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""" + _LINE_ITEM_FIELDS

# A follow-up for orders with more lines than one page of the orders query holds.
ORDER_LINE_ITEMS_QUERY = """
query BackorderOrderLineItems($id: ID!, $first: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $first, after: $after) {
      nodes { ...BackorderLineItemFields }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""" + _LINE_ITEM_FIELDS

# Order editing: begin (the calculated order and its line items), set one line's
# quantity (restocking what is removed: Shopify committed those units at checkout),
# commit without notifying the customer (our own message tells them).
ORDER_EDIT_BEGIN = """
mutation BackorderOrderEditBegin($id: ID!, $lines: Int!) {
  orderEditBegin(id: $id) {
    calculatedOrder {
      id
      lineItems(first: $lines) {
        nodes { id quantity variant { id } }
        pageInfo { hasNextPage }
      }
    }
    userErrors { field message }
  }
}
"""

ORDER_EDIT_SET_QUANTITY = """
mutation BackorderOrderEditSetQuantity($id: ID!, $lineItemId: ID!, $quantity: Int!) {
  orderEditSetQuantity(id: $id, lineItemId: $lineItemId, quantity: $quantity, restock: true) {
    calculatedLineItem { id quantity }
    userErrors { field message }
  }
}
"""

ORDER_EDIT_COMMIT = """
mutation BackorderOrderEditCommit($id: ID!, $staffNote: String) {
  orderEditCommit(id: $id, notifyCustomer: false, staffNote: $staffNote) {
    order { id }
    userErrors { field message }
  }
}
"""

DISCOUNT_CODE_BASIC_CREATE = """
mutation BackorderCreateDiscountCode($discount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $discount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

# Refunding a customer's cancelled units after the edit removed them: the order's money
# (what is owed, its payments and their refunds, earlier refunds' notes) and the cancelled
# line's prices, all in the presentment currency (RefundInput wants it). `transactions`
# and `refunds` are plain lists: $transactions and $refunds truncate them. A refund is
# money back only once its own transactions succeeded: their statuses come along.
ORDER_REFUND_STATE_QUERY = """
query BackorderOrderRefundState($id: ID!, $lineItemId: ID!, $transactions: Int!,
                                $refunds: Int!, $refundTransactions: Int!, $taxLines: Int!) {
  order(id: $id) {
    id
    presentmentCurrencyCode
    taxesIncluded
    totalOutstandingSet { presentmentMoney { amount } }
    transactions(first: $transactions) {
      id
      kind
      status
      gateway
      amountSet { presentmentMoney { amount } }
      parentTransaction { id }
    }
    refunds(first: $refunds) {
      id
      note
      totalRefundedSet { presentmentMoney { amount } }
      transactions(first: $refundTransactions) { nodes { status } }
    }
  }
  lineItem: node(id: $lineItemId) {
    ... on LineItem {
      id
      quantity
      discountedUnitPriceAfterAllDiscountsSet { presentmentMoney { amount } }
      taxLines(first: $taxLines) { priceSet { presentmentMoney { amount } } }
    }
  }
}
"""

# Money only, no refundLineItems: the edit already took the units off the order.
REFUND_CREATE = """
mutation BackorderRefundCreate($input: RefundInput!, $refundTransactions: Int!) {
  refundCreate(input: $input) {
    refund {
      id
      note
      totalRefundedSet { presentmentMoney { amount } }
      transactions(first: $refundTransactions) { nodes { status } }
    }
    userErrors { field message }
  }
}
"""

# Fulfilment: the order's fulfillment orders with their line items and holds (to find the
# app's own holds by handle, never anyone else's), and its tags.
ORDER_FULFILMENT_QUERY = """
query BackorderOrderFulfilment($id: ID!, $orders: Int!, $lines: Int!) {
  order(id: $id) {
    id
    tags
    fulfillmentOrders(first: $orders) {
      nodes {
        id
        status
        fulfillmentHolds { id handle heldByRequestingApp }
        lineItems(first: $lines) {
          nodes { id remainingQuantity lineItem { id } }
          pageInfo { hasNextPage }
        }
      }
      pageInfo { hasNextPage }
    }
  }
}
"""

FULFILLMENT_ORDER_HOLD = """
mutation BackorderHoldFulfillmentOrder($id: ID!, $hold: FulfillmentOrderHoldInput!) {
  fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
    fulfillmentHold { id handle }
    remainingFulfillmentOrder { id }
    userErrors { field message code }
  }
}
"""

FULFILLMENT_ORDER_RELEASE_HOLD = """
mutation BackorderReleaseFulfillmentHold($id: ID!, $holdIds: [ID!]!) {
  fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) {
    fulfillmentOrder { id status }
    userErrors { field message code }
  }
}
"""

TAGS_ADD = """
mutation BackorderTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

TAGS_REMOVE = """
mutation BackorderTagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

# The storefront block reads backorder.status and backorder.eta: themes see a
# metafield only when its definition grants storefront read access.
METAFIELD_DEFINITION_CREATE = """
mutation BackorderCreateMetafieldDefinition($definition: MetafieldDefinitionInput!) {
  metafieldDefinitionCreate(definition: $definition) {
    createdDefinition { id namespace key }
    userErrors { field message code }
  }
}
"""

ALL_DOCUMENTS: tuple[str, ...] = (
    PRODUCT_VARIANTS_BULK_UPDATE,
    METAFIELDS_SET,
    METAFIELDS_DELETE,
    WEBHOOK_SUBSCRIPTION_CREATE,
    INVENTORY_ADJUST_QUANTITIES,
    VARIANT_QUERY,
    VARIANTS_PAGE_QUERY,
    INVENTORY_LEVELS_QUERY,
    OPEN_ORDERS_QUERY,
    ORDER_LINE_ITEMS_QUERY,
    ORDER_EDIT_BEGIN,
    ORDER_EDIT_SET_QUANTITY,
    ORDER_EDIT_COMMIT,
    DISCOUNT_CODE_BASIC_CREATE,
    ORDER_REFUND_STATE_QUERY,
    REFUND_CREATE,
    ORDER_FULFILMENT_QUERY,
    FULFILLMENT_ORDER_HOLD,
    FULFILLMENT_ORDER_RELEASE_HOLD,
    TAGS_ADD,
    TAGS_REMOVE,
    METAFIELD_DEFINITION_CREATE,
)

DOCUMENT_NAMES: dict[str, str] = {
    name: value for name, value in globals().items()
    if name.isupper() and isinstance(value, str) and value in ALL_DOCUMENTS
}
