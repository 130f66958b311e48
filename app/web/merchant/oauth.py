"""Shopify OAuth and session tokens through ShopifyAPI.

ShopifyAPI builds the permission URL, checks the callback's HMAC and timestamp
(`Session.validate_params`) and decodes App Bridge session tokens. Grants are
traded at the token endpoint by integrations.shopify.tokens, against the same host
the Admin API client talks to (SHOPIFY_ADMIN_API_URL up to its `/admin/` part);
the permission URL is moved onto that host the same way, which leaves it unchanged
in production.
"""

from __future__ import annotations

from urllib.parse import urlparse

import shopify
from shopify import session_token

from app.config import Settings
from app.domain.shops.service import normalise_domain
from app.errors import InvalidInput
from integrations.shopify.tokens import shopify_origin

# Keep in step with shopify.app.toml: what the engine, pushes and receiving need.
SCOPES = ("read_products", "write_products", "read_inventory", "write_inventory", "write_orders",
          "write_order_edits", "write_discounts", "write_merchant_managed_fulfillment_orders",
          "write_third_party_fulfillment_orders")


def _session_class(api_key: str | None, secret: str | None) -> type[shopify.Session]:
    """A Session class holding this app's credentials.

    `shopify.Session.setup` sets class attributes, i.e. process-wide state; a
    subclass per call keeps apps with other settings (tests, a secret
    rotation) from seeing each other's credentials.
    """
    cls = type("AppSession", (shopify.Session,), {})
    cls.setup(api_key=api_key, secret=secret)
    return cls


def require_credentials(settings: Settings) -> None:
    if not (settings.shopify_api_key and settings.shopify_api_secret):
        raise InvalidInput("This service has no Shopify app credentials "
                           "(SHOPIFY_API_KEY and SHOPIFY_API_SECRET): install is not available.")


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url}/auth/callback"


def permission_url(settings: Settings, domain: str, state: str) -> str:
    """Where the merchant approves the app's scopes; Shopify comes back to /auth/callback."""
    session = _session_class(settings.shopify_api_key, settings.shopify_api_secret)(
        domain, settings.shopify_api_version)
    url = session.create_permission_url(scope=list(SCOPES), redirect_uri=redirect_uri(settings),
                                        state=state)
    return shopify_origin(settings, domain) + url.removeprefix(f"https://{session.url}")


def valid_callback(settings: Settings, params: dict[str, str]) -> bool:
    """HMAC by the current or previous secret, and a timestamp less than a day old."""
    return any(_session_class(settings.shopify_api_key, secret).validate_params(params)
               for secret in settings.webhook_secrets)


def shop_from_session_token(settings: Settings, token: str) -> str | None:
    """The shop domain an App Bridge session token (JWT) was issued for; None when invalid.

    `decode_from_header` checks the signature (current or previous secret), the
    audience (our API key), expiry and that issuer and destination agree.
    """
    if not settings.shopify_api_key:
        return None
    for secret in settings.webhook_secrets:
        try:
            payload = session_token.decode_from_header(f"Bearer {token}",
                                                       settings.shopify_api_key, secret)
        except session_token.SessionTokenError:
            continue
        try:
            return normalise_domain(urlparse(str(payload.get("dest", ""))).hostname or "")
        except InvalidInput:
            return None
    return None
