"""Who is asking: the shop a merchant request acts for.

Three ways in, one answer (`Merchant`):

- standalone: a signed cookie session set after OAuth or a one-time login
  link (HttpOnly, SameSite=Lax, Secure when PUBLIC_URL is https). It holds the
  shop id and the shop's `installed_at`, so an uninstall or a reinstall ends
  every session opened before it;
- embedded in Shopify admin: an App Bridge session token per request, in the
  `Authorization: Bearer` header (fetches), or as `id_token` in the query
  (Shopify's document loads) or the form (static/embedded.js adds it). A valid
  token for a shop without a usable offline token is exchanged for one first
  (managed installation, merchant.install);
- custom-app shops (`backorder shops add`, no OAuth): `backorder shops
  login-link DOMAIN` prints a signed link that works once, within 15 minutes.

A cookie also holds the shop's session version: logging out bumps it, which ends every
cookie session of the shop, replayed copies included.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC

from flask import g, request, session
from redis.exceptions import RedisError
from sqlalchemy import select

from app.config import Settings
from app.db import unit_of_work
from app.domain.shops.models import Shop
from app.domain.shops.service import end_sessions
from app.errors import NotFound, Unauthorized
from app.runtime import Runtime
from app.security import LinkSigner
from app.web.merchant import install, oauth

LINK_PURPOSE = "merchant-login"
LINK_MAX_AGE = 15 * 60


@dataclass(frozen=True)
class Merchant:
    shop_id: int
    domain: str
    name: str
    embedded: bool  # authenticated by a Shopify session token, not by our cookie
    needs_reinstall: bool = False
    admin_access: bool = True  # an Admin API token is stored: Shopify can be updated


def _merchant(shop: Shop, *, embedded: bool) -> Merchant:
    return Merchant(shop.id, shop.domain, shop.name or shop.domain, embedded,
                    shop.needs_reinstall, bool(shop.token_ciphertext))


def installed_stamp(shop: Shop) -> str:
    """When the shop was (re)installed, in one spelling whatever the database's time zone."""
    return shop.installed_at.astimezone(UTC).isoformat(timespec="microseconds")


def login(shop: Shop) -> None:
    """Start a fresh cookie session for the shop; whatever the old one held is dropped."""
    session.clear()
    session.permanent = True
    session["shop_id"] = shop.id
    session["installed_at"] = installed_stamp(shop)
    session["version"] = shop.session_version or 0


def logout(rt: Runtime) -> None:
    """End this session and every other cookie session of the shop (a replayed cookie
    included: the cookie itself cannot be taken back from whoever copied it)."""
    shop_id = session.get("shop_id")
    if isinstance(shop_id, int):
        with unit_of_work(rt.sessions) as db:
            end_sessions(db, shop_id)
    session.clear()


def session_token() -> str | None:
    """The App Bridge session token of this request, if it carries one."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.values.get("id_token") or None


def current_merchant(rt: Runtime) -> Merchant | None:
    """The shop this request acts for; Unauthorized for a session token that does not check out."""
    token = session_token()
    if token is not None:
        domain = oauth.shop_from_session_token(rt.settings, token)
        if domain is None:
            raise Unauthorized("The Shopify session token is not valid.")
        g.embedding_shop = domain  # its admin may frame this answer, error pages included
        with unit_of_work(rt.sessions) as db:
            shop = db.scalar(select(Shop).where(Shop.domain == domain))
        if install.needs_exchange(shop):
            shop = install.exchange(rt, domain, token)
        return _merchant(shop, embedded=True)
    shop_id = session.get("shop_id")
    if not isinstance(shop_id, int):
        return None
    shop = _active_shop(rt, Shop.id == shop_id)
    if (shop is None or installed_stamp(shop) != session.get("installed_at")
            or session.get("version", 0) != (shop.session_version or 0)):
        session.clear()  # uninstalled, reinstalled or logged out since: this session is over
        return None
    return _merchant(shop, embedded=False)


def _active_shop(rt: Runtime, condition) -> Shop | None:
    with unit_of_work(rt.sessions) as db:
        return db.scalar(select(Shop).where(condition, Shop.active.is_(True)))


# --- One-time login links for custom-app shops ---------------------------------------


def _signer(settings: Settings) -> LinkSigner:
    return LinkSigner(settings.secret_key, LINK_PURPOSE)


def login_link(settings: Settings, shop: Shop) -> str:
    """A link that logs the merchant in once, within 15 minutes."""
    token = _signer(settings).sign({"shop": shop.id, "nonce": secrets.token_urlsafe(16)})
    return f"{settings.public_url}/auth/link/{token}"


def check_login_link(settings: Settings, token: str) -> int:
    """The shop id a link is for (without using it up); NotFound when bad or expired."""
    payload = _signer(settings).load(token, max_age_seconds=LINK_MAX_AGE)
    if not isinstance(payload.get("shop"), int) or not isinstance(payload.get("nonce"), str):
        raise NotFound("This link is not valid.")
    return payload["shop"]


def redeem_login_link(rt: Runtime, token: str) -> Shop:
    """Use the link up and return its shop; NotFound when used, bad, expired or uninstalled."""
    shop_id = check_login_link(rt.settings, token)
    nonce = _signer(rt.settings).load(token, max_age_seconds=LINK_MAX_AGE)["nonce"]
    try:
        # Remembered as long as the link could be valid: a second use finds the key.
        fresh = rt.redis.set(f"backorder:login-link:{nonce}", 1, nx=True, ex=LINK_MAX_AGE + 60)
    except RedisError as exc:
        raise Unauthorized("Login links cannot be checked right now; try again shortly.") from exc
    shop = _active_shop(rt, Shop.id == shop_id)
    if not fresh or shop is None:
        raise NotFound("This link was already used or is no longer valid.")
    return shop
