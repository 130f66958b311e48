"""A shop's offline access token, kept fresh for the Admin API client.

An expiring token is refreshed a few minutes before its expiry, and again when
Shopify answers 401, at most one refresh per shop at a time (the caller's lock).
Shopify rotates the refresh token on every refresh and keeps the previous one
valid until the new one is first used: a refresh whose answer was lost (timeout,
crash before the commit) is recovered by refreshing again with the stored one.
Two refreshes racing would be the harm: the loser's stored refresh token is dead.
So the lock is held from reading the refresh token to committing its successor.

A refresh token that is expired or revoked marks the shop as needing to reconnect,
the state a 401 leaves today. Custom-app tokens never expire and are never refreshed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.ports import OfflineGrant, TokenEndpoint
from app.domain.shops.models import Shop
from app.domain.shops.rules import SealedRefresh, refresh_due
from app.errors import AuthRevoked
from app.security import TokenCipher

log = logging.getLogger(__name__)

Lock = Callable[[str], AbstractContextManager]


def lock_key(domain: str) -> str:
    """One lock per shop for every grant that replaces its token (refresh, exchange)."""
    return f"shop-token-{domain}"


def seal(grant: OfflineGrant, cipher: TokenCipher) -> tuple[str, SealedRefresh]:
    """The grant as stored: the access token encrypted, and its expiring parts."""
    refresh = None if grant.refresh_token is None else cipher.encrypt(grant.refresh_token)
    return cipher.encrypt(grant.token), SealedRefresh(grant.expires_at, refresh,
                                                      grant.refresh_expires_at)


@dataclass
class _Stored:
    token: str
    expires_at: datetime | None
    refresh_token: str | None
    refresh_expires_at: datetime | None


class ShopToken:
    """The AccessTokenSource of one shop: its current token, refreshed when due."""

    def __init__(self, sessions: sessionmaker[Session], shop_id: int, domain: str, *,
                 cipher: TokenCipher, endpoint: TokenEndpoint, lock: Lock,
                 clock: Callable[[], datetime] = utcnow):
        self.shop_id, self.domain = shop_id, domain
        self._sessions, self._cipher, self._endpoint = sessions, cipher, endpoint
        self._lock, self._clock = lock, clock
        self._stored: _Stored | None = None

    def __repr__(self) -> str:  # never shows the token
        return f"ShopToken({self.domain!r})"

    def load(self) -> bool:
        """Read the stored token; False when the shop cannot be called (uninstalled,
        needs to reconnect, or no token)."""
        self._stored = self._read()
        return self._stored is not None

    def current(self) -> str:
        stored = self._stored or self._require()
        if refresh_due(stored.expires_at, now=self._clock()):
            return self._refresh(rejected=None)
        return stored.token

    def renew(self, rejected: str) -> str:
        return self._refresh(rejected=rejected)

    # --- refreshing, under the shop's lock ---------------------------------------------

    def _refresh(self, *, rejected: str | None) -> str:
        with self._lock(lock_key(self.domain)):
            stored = self._require()  # what another worker may have refreshed meanwhile
            if stored.token != rejected and not refresh_due(stored.expires_at, now=self._clock()):
                return stored.token
            if stored.refresh_token is None:
                raise AuthRevoked("Shopify answered 401: the access token no longer works",
                                  code=401)
            if stored.refresh_expires_at and stored.refresh_expires_at <= self._clock():
                self._reconnect("the refresh token has expired")
            try:
                grant = self._endpoint.refresh(self.domain, stored.refresh_token)
            except AuthRevoked as exc:
                self._reconnect(str(exc))
            self._store(grant)
            log.info("shop %s: access token refreshed", self.domain)
            return grant.token

    def _require(self) -> _Stored:
        self._stored = self._read()
        if self._stored is None:
            raise AuthRevoked(f"shop {self.domain} is uninstalled or needs to reconnect")
        return self._stored

    def _read(self) -> _Stored | None:
        with unit_of_work(self._sessions) as session:
            shop = session.get(Shop, self.shop_id)
            if shop is None or not shop.active or shop.needs_reinstall or not shop.token_ciphertext:
                return None
            decrypt = self._cipher.decrypt
            return _Stored(decrypt(shop.token_ciphertext), shop.token_expires_at,
                           shop.refresh_token_ciphertext and decrypt(shop.refresh_token_ciphertext),
                           shop.refresh_token_expires_at)

    def _store(self, grant: OfflineGrant) -> None:
        """The new access token and the rotated refresh token, in one transaction."""
        ciphertext, refresh = seal(grant, self._cipher)
        with unit_of_work(self._sessions) as session:
            shop = session.get(Shop, self.shop_id, with_for_update=True)
            if shop is None:  # erased (shop/redact) while Shopify answered
                raise AuthRevoked(f"shop {self.domain} is gone")
            shop.token_ciphertext = ciphertext
            refresh.apply(shop)
        self._stored = _Stored(grant.token, grant.expires_at, grant.refresh_token,
                               grant.refresh_expires_at)

    def _reconnect(self, reason: str) -> NoReturn:
        mark_needs_reconnect(self._sessions, self.shop_id, reason)
        raise AuthRevoked(f"shop {self.domain} must reconnect the app: {reason}")


def mark_needs_reconnect(sessions: sessionmaker[Session], shop_id: int, reason: str) -> None:
    """Shopify no longer accepts this shop's credentials: stop calling it, tell the merchant."""
    log.warning("shop %s needs to reconnect the app: %s", shop_id, reason)
    with unit_of_work(sessions) as session:
        shop = session.get(Shop, shop_id)
        if shop is not None:
            shop.needs_reinstall = True
