"""Shopify's token endpoint, `/admin/oauth/access_token`: every grant this app uses.

- the OAuth code exchange (custom installs through /auth/install);
- token exchange: an App Bridge session token for the shop's offline token
  (managed installation, embedded in the admin);
- refresh: an expiring offline token's refresh token for the next pair.

Every grant asks for an expiring offline token (`expiring=1`): from January 2027
Shopify rejects public apps' non-expiring ones. Posts go with `requests` and a
timeout to the host the Admin API client talks to (SHOPIFY_ADMIN_API_URL up to its
`/admin/` part): `https://{shop}` in production, a fake Shopify in tests.
ShopifyAPI's own `request_token` posts with urllib to a hard-coded host, so it is
not used for this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import requests

from app.config import Settings
from app.domain.base import utcnow
from app.domain.ports import OfflineGrant
from app.errors import AuthRevoked, InvalidInput, PermanentError, TransientError

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"


def shopify_origin(settings: Settings, domain: str) -> str:
    """Where the shop's Shopify answers: SHOPIFY_ADMIN_API_URL up to its `/admin/` part."""
    url = settings.shopify_admin_api_url.format(shop=domain, version=settings.shopify_api_version)
    head, found, _ = url.partition("/admin/")
    return head if found else f"https://{domain}"


class ShopifyTokenEndpoint:
    """The TokenEndpoint port over HTTP."""

    def __init__(self, settings: Settings, *, session: requests.Session | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self._settings = settings
        self._session = session or requests.Session()
        self._clock = clock

    def exchange_code(self, domain: str, code: str) -> OfflineGrant:
        """Trade OAuth's one-time code for the shop's offline token."""
        if not code:
            raise InvalidInput("Shopify sent no authorisation code.")
        return self._grant(domain, {"code": code}, "token request")

    def exchange_session_token(self, domain: str, session_token: str) -> OfflineGrant:
        """Trade an App Bridge session token for the shop's offline token."""
        return self._grant(domain, {"grant_type": TOKEN_EXCHANGE, "subject_token": session_token,
                                    "subject_token_type": ID_TOKEN,
                                    "requested_token_type": OFFLINE_TOKEN}, "token exchange")

    def refresh(self, domain: str, refresh_token: str) -> OfflineGrant:
        """The next access and refresh token; AuthRevoked when Shopify refuses the refresh
        token (expired, revoked, or already replaced)."""
        try:
            return self._grant(domain, {"grant_type": "refresh_token",
                                        "refresh_token": refresh_token}, "token refresh")
        except PermanentError as exc:
            if exc.code in (400, 401):
                raise AuthRevoked(str(exc), code=exc.code) from exc
            raise

    # --- one post --------------------------------------------------------------------

    def _grant(self, domain: str, fields: dict, what: str) -> OfflineGrant:
        settings = self._settings
        body = {"client_id": settings.shopify_api_key,
                "client_secret": settings.shopify_api_secret, "expiring": "1", **fields}
        url = shopify_origin(settings, domain) + "/admin/oauth/access_token"
        asked_at = self._clock()
        try:
            response = self._session.post(url, json=body, timeout=settings.http_timeout,
                                          allow_redirects=False,
                                          headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise TransientError(f"Shopify did not answer the {what} ({type(exc).__name__})",
                                 code="timeout") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientError(f"Shopify could not answer the {what} (HTTP {status})",
                                 code=status)
        if status != 200:
            # The body may echo what was sent; only the status and error code are kept.
            raise PermanentError(f"Shopify refused the {what} (HTTP {status}"
                                 f"{_error_code(response)})", code=status)
        return _parse(response, asked_at)


def _payload(response: requests.Response) -> dict:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _error_code(response: requests.Response) -> str:
    error = _payload(response).get("error")
    return f", {error}" if isinstance(error, str) and error.isidentifier() else ""


def _parse(response: requests.Response, asked_at: datetime) -> OfflineGrant:
    """Expiries count from when the request left, so they are never later than Shopify's."""
    payload = _payload(response)
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError("Shopify's token answer carried no access token")
    refresh = payload.get("refresh_token")
    return OfflineGrant(token, str(payload.get("scope") or ""),
                        _after(asked_at, payload.get("expires_in")),
                        refresh if isinstance(refresh, str) and refresh else None,
                        _after(asked_at, payload.get("refresh_token_expires_in")))


def _after(start: datetime, seconds) -> datetime | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        return None
    return start + timedelta(seconds=seconds)
