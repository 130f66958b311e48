"""The one table from webhook topic to handler (Saleor-style)."""

from __future__ import annotations

from app.domain.customers.service import handle_customers_data_request, handle_customers_redact
from app.domain.intake.service import Handler
from app.domain.shops.service import handle_app_uninstalled, handle_shop_redact


def build_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {
        "app/uninstalled": handle_app_uninstalled,
        "shop/redact": handle_shop_redact,
        "customers/redact": handle_customers_redact,
        "customers/data_request": handle_customers_data_request,
    }
    return handlers
