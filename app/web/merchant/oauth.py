"""Shopify OAuth through ShopifyAPI, with the code exchange pointed at a configurable host.

ShopifyAPI builds the permission URL and checks the callback's HMAC and
timestamp (`Session.validate_params`). Its `request_token` would also trade
the code for a token, but it posts with urllib to a hard-coded
`https://{shop}/admin/oauth/access_token`, which nothing short of replacing
urllib's process-wide opener can point at a local fake Shopify. So the
exchange is done here with `requests`, against the same host the Admin API
client talks to (taken from SHOPIFY_ADMIN_API_URL): `https://{shop}` in
production, a fake Shopify on 127.0.0.1 in tests. The permission URL is moved
onto that host the same way, which leaves it unchanged in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import requests
import shopify
from shopify import session_token

from app.config import Settings
from app.domain.shops.service import normalise_domain
from app.errors import InvalidInput, PermanentError, TransientError

# Keep in step with shopify.app.toml: what the engine, pushes and receiving need.
SCOPES = ("read_products", "write_products", "read_inventory", "write_inventory", "write_orders",
          "write_order_edits", "write_discounts", "write_merchant_managed_fulfillment_orders",
          "write_third_party_fulfillment_orders")


@dataclass(frozen=True)
class Grant:
    """What Shopify hands back for the code: the offline token and the scopes granted."""

    token: str = ""
    scopes: str = ""

    def __repr__(self) -> str:  # never shows the token
        return f"Grant(scopes={self.scopes!r})"


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


def shopify_origin(settings: Settings, domain: str) -> str:
    """Where the shop's Shopify answers: SHOPIFY_ADMIN_API_URL up to its `/admin/` part."""
    url = settings.shopify_admin_api_url.format(shop=domain, version=settings.shopify_api_version)
    head, found, _ = url.partition("/admin/")
    return head if found else f"https://{domain}"


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


def exchange_code(settings: Settings, domain: str, code: str) -> Grant:
    """Trade the one-time code for the shop's offline access token."""
    if not code:
        raise InvalidInput("Shopify sent no authorisation code.")
    url = shopify_origin(settings, domain) + "/admin/oauth/access_token"
    body = {"client_id": settings.shopify_api_key, "client_secret": settings.shopify_api_secret,
            "code": code}
    try:
        response = requests.post(url, json=body, timeout=settings.http_timeout,
                                 allow_redirects=False, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise TransientError(f"Shopify did not answer the token request ({reason})") from exc
    if response.status_code != 200:
        # The body may echo what was sent; only the status is worth keeping.
        raise PermanentError(f"Shopify refused the token request (HTTP {response.status_code})",
                             code=response.status_code)
    return _grant(response)


def _grant(response: requests.Response) -> Grant:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise PermanentError("Shopify's token answer carried no access token")
    return Grant(token, str(payload.get("scope") or ""))


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
