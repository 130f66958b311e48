"""The one table from webhook topic to handler (Saleor-style)."""

from __future__ import annotations

import app.domain.models  # noqa: F401  (every area registers its tables and compliance hooks)
from app.domain.customers.service import handle_customers_data_request, handle_customers_redact
from app.domain.intake.service import Handler
from app.domain.intake.topics import ORDER_TOPICS
from app.domain.inventory import handlers as inventory
from app.domain.shops.service import handle_app_uninstalled, handle_shop_redact


def build_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {
        "app/uninstalled": handle_app_uninstalled,
        "shop/redact": handle_shop_redact,
        "customers/redact": handle_customers_redact,
        "customers/data_request": handle_customers_data_request,
        "refunds/create": inventory.handle_refund,
        "inventory_levels/update": inventory.handle_inventory_level,
        "inventory_items/update": inventory.handle_inventory_item,
        "products/update": inventory.handle_product_update,
        "products/delete": inventory.handle_product_delete,
    }
    for topic in ORDER_TOPICS:
        handlers.setdefault(topic, inventory.handle_order)
    return handlers
