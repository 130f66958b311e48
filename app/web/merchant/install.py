"""Installing a shop from a grant: OAuth's callback and token exchange both end here.

Managed installation (CONTRACT.md): Shopify installs the app with the scopes in
shopify.app.toml, then opens it embedded with a session token. A session token
for a shop without a usable offline token (new, reinstalled, needing to
reconnect, or granted fewer scopes than the app now asks for) is exchanged at
the token endpoint for an expiring offline token. One exchange per shop at a
time (the same lock as refreshes); a failed one stores nothing.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import select

from app import jobs
from app.db import unit_of_work
from app.domain.intents import SyncShop
from app.domain.ports import OfflineGrant
from app.domain.shops import credentials
from app.domain.shops.models import Shop
from app.domain.shops.onboarding import onboard_shop
from app.domain.shops.rules import scopes_missing
from app.errors import IntegrationError
from app.locks import exclusive
from app.runtime import Runtime
from app.security import TokenCipher
from app.web.merchant.oauth import SCOPES

log = logging.getLogger(__name__)


class ExchangeFailed(Exception):
    """The session token checked out but Shopify did not hand over the shop's token."""


def needs_exchange(shop: Shop | None) -> bool:
    """No usable offline token, a non-expiring one from an earlier install (Shopify rejects
    those from 2027), or one granted fewer scopes than the app asks for now.

    A custom app's token (`backorder shops add`) records no scopes: its scopes are
    the merchant's choice, and it never expires; it is never exchanged.
    """
    if shop is None or not shop.active or shop.needs_reinstall or not shop.token_ciphertext:
        return True
    if not shop.scopes:
        return False
    return shop.refresh_token_ciphertext is None or bool(scopes_missing(shop.scopes, SCOPES))


def install(rt: Runtime, domain: str, grant: OfflineGrant) -> Shop:
    """Subscribe webhooks, store the token encrypted, queue the first sync; idempotent."""
    ciphertext, refresh = credentials.seal(grant, TokenCipher(rt.settings.secret_key))
    shop_id = onboard_shop(
        rt.sessions, domain=domain, token_ciphertext=ciphertext, refresh=refresh,
        admin=rt.shopify_admin(domain, grant.token), scopes=grant.scopes,
        callback_url=f"{rt.settings.public_url}/webhooks/shopify")
    jobs.enqueue(rt.redis, [SyncShop(shop_id)])
    with unit_of_work(rt.sessions) as db:
        return db.get(Shop, shop_id)


def exchange(rt: Runtime, domain: str, session_token: str) -> Shop:
    """The shop installed from its session token; ExchangeFailed when Shopify says no."""
    try:
        with exclusive(rt.redis, credentials.lock_key(domain)):
            shop = _shop(rt, domain)
            if not needs_exchange(shop):
                return shop  # another request exchanged while this one waited
            grant = rt.shopify_tokens().exchange_session_token(domain, session_token)
            shop = install(rt, domain, grant)
    except (IntegrationError, RedisError) as exc:
        log.warning("token exchange for %s failed: %s", domain, exc)
        raise ExchangeFailed(str(exc)) from exc
    if missing := scopes_missing(shop.scopes, SCOPES):
        log.warning("shop %s granted fewer scopes than asked: %s missing", domain,
                    ", ".join(sorted(missing)))
    log.info("shop %s installed by token exchange (scopes %s)", domain, grant.scopes)
    return shop


def _shop(rt: Runtime, domain: str) -> Shop | None:
    with unit_of_work(rt.sessions) as db:
        return db.scalar(select(Shop).where(Shop.domain == domain))

