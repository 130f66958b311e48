"""Webhook topics the service subscribes to and handles (CONTRACT.md)."""

ORDER_TOPICS = (
    "orders/create", "orders/updated", "orders/cancelled",
    "orders/fulfilled", "orders/partially_fulfilled", "refunds/create",
)
CATALOG_TOPICS = (
    "inventory_levels/update", "inventory_items/update", "products/update", "products/delete",
)
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
APP_TOPICS = ("app/uninstalled",)

HANDLED_TOPICS = frozenset(ORDER_TOPICS + CATALOG_TOPICS + COMPLIANCE_TOPICS + APP_TOPICS)
# Compliance topics are declared in shopify.app.toml, not subscribed through the API.
SUBSCRIBED_TOPICS = ORDER_TOPICS + CATALOG_TOPICS + APP_TOPICS
# Topics that only store snapshots of orders, stock and catalog: a shop's waiting events of
# these are applied together in one batch. The others (uninstall, compliance) change the
# shop itself and run one event at a time.
BATCHED_TOPICS = ORDER_TOPICS + CATALOG_TOPICS
