"""The one table from webhook topic to handler (Saleor-style).

The engine's handlers get the suppliers area's side of their ports here, so the
engine itself never imports purchase orders (inventory/ports.py).
"""

from __future__ import annotations

from functools import partial

import app.domain.models  # noqa: F401  (every area registers its tables and compliance hooks)
from app.domain.customers.service import handle_customers_data_request, handle_customers_redact
from app.domain.intake.service import Handler, Recompute
from app.domain.intake.topics import ORDER_TOPICS
from app.domain.inventory import handlers as inventory
from app.domain.inventory.service import recompute_variants
from app.domain.shops.service import handle_app_uninstalled, handle_shop_redact
from app.domain.suppliers.shopify_receipts import RECEIPTS
from app.domain.suppliers.supply import PLAN


def build_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {
        "app/uninstalled": handle_app_uninstalled,
        "shop/redact": handle_shop_redact,
        "customers/redact": handle_customers_redact,
        "customers/data_request": handle_customers_data_request,
        "refunds/create": inventory.handle_refund,
        "inventory_levels/update": partial(inventory.handle_inventory_level, receipts=RECEIPTS),
        "inventory_items/update": inventory.handle_inventory_item,
        "products/update": inventory.handle_product_update,
        "products/delete": inventory.handle_product_delete,
    }
    for topic in ORDER_TOPICS:
        handlers.setdefault(topic, inventory.handle_order)
    return handlers


def build_recompute() -> Recompute:
    """The engine's recompute, with the suppliers' side of its supply port."""
    return partial(recompute_variants, plan=PLAN)
