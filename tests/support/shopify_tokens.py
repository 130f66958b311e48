"""Shopify's token endpoint as a fake: expiring offline tokens, refresh with rotation,
token exchange, revocation, and planned failures.

Both fake Shopifys (the GraphQL one in fake_servers, the OAuth one in
tests/merchant) answer `/{shop}/admin/oauth/access_token` with a `TokenAuthority`
and ask it whether an access token is good. What it models, from Shopify's
documentation of expiring offline tokens:

- `expiring=1` gets an access token that lasts `access_ttl` seconds and a refresh
  token that lasts `refresh_ttl`; without it, a token that never expires;
- a refresh (`grant_type=refresh_token`) rotates the refresh token; the previous
  one stays valid until the new one is first used, then only the newest works;
- token exchange (`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`)
  takes an App Bridge session token (HS256 by the app's secret, audience the
  app's key, `dest` the shop), checked here with PyJWT independently of the app;
- `revoke(shop)` (the merchant uninstalled, Shopify revoked): every token of the
  shop stops working, and a refresh answers 400 `invalid_grant`.

Time is `time.time()` plus `advance()`d seconds, so a test makes tokens expire
without waiting. Failure kinds for `faults`: "500" (nothing issued), "lost"
(issued, then the answer never arrives: the client times out).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field

import jwt

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
SCOPES = ("read_products,write_products,read_inventory,write_inventory,write_orders,"
          "write_order_edits,write_discounts,write_merchant_managed_fulfillment_orders,"
          "write_third_party_fulfillment_orders")


@dataclass
class _Chain:
    """One shop's refresh tokens: the newest, and the one before it while the newest is unused."""

    current: str
    previous: str | None = None
    expires_at: float = 0.0


@dataclass
class TokenAuthority:
    api_key: str
    secret: str
    access_ttl: float = 3600.0
    refresh_ttl: float = 90 * 86400.0
    scopes: str = SCOPES
    offset: float = 0.0
    faults: list[str] = field(default_factory=list)  # the next requests' failures, in order
    lost_answer_seconds: float = 3.0
    answer_delay: float = 0.0  # every answer takes this long (overlapping requests)
    requests: list[dict] = field(default_factory=list)  # every body received, secrets and all
    _access: dict[str, tuple[str, float | None]] = field(default_factory=dict)  # token -> shop, expiry
    _chains: dict[str, _Chain] = field(default_factory=dict)
    _serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- what tests use ------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds

    def issue(self, shop: str, *, expiring: bool = True) -> dict:
        """A grant as the token endpoint answers it (what an install would have received)."""
        with self._lock:
            n = next(self._serial)
            token = f"shpat_{'exp' if expiring else 'fix'}_{n:04d}_{secrets.token_hex(4)}"
            if not expiring:
                self._access[token] = (shop, None)
                return {"access_token": token, "scope": self.scopes}
            self._access[token] = (shop, self.now() + self.access_ttl)
            refresh = f"shprt_{n:04d}_{secrets.token_hex(4)}"
            chain = self._chains.get(shop)
            if chain is None:
                self._chains[shop] = _Chain(refresh, None, self.now() + self.refresh_ttl)
            else:  # a rotation: the old one stays until this one is used
                chain.current, chain.expires_at = refresh, self.now() + self.refresh_ttl
            return {"access_token": token, "scope": self.scopes, "expires_in": int(self.access_ttl),
                    "refresh_token": refresh, "refresh_token_expires_in": int(self.refresh_ttl)}

    def accepts(self, shop: str, token: str | None) -> bool:
        """Is this access token good for the shop right now?"""
        with self._lock:
            owner, expires_at = self._access.get(token or "", (None, None))
            return owner == shop and (expires_at is None or self.now() < expires_at)

    def revoke(self, shop: str) -> None:
        with self._lock:
            self._chains.pop(shop, None)
            for token, (owner, _) in list(self._access.items()):
                if owner == shop:
                    del self._access[token]

    def grants_of(self, kind: str) -> list[dict]:
        """The requests of one grant type ("refresh_token", TOKEN_EXCHANGE, "code")."""
        return [r for r in self.requests if r.get("grant_type", "code") == kind]

    # --- the endpoint ----------------------------------------------------------------

    def answer(self, shop: str, body: dict, *, code_valid=lambda code: False) -> tuple[int, dict]:
        """Answer one POST to `/{shop}/admin/oauth/access_token`: (status, JSON body)."""
        with self._lock:
            self.requests.append(dict(body))
            fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            return 500, {"errors": "Internal Server Error"}
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.secret:
            return 401, {"error": "invalid_client"}
        time.sleep(self.answer_delay)
        status, payload = self._grant(shop, body, code_valid)
        if fault == "lost":
            time.sleep(self.lost_answer_seconds)  # issued, but the client gave up waiting
        return status, payload

    def _grant(self, shop: str, body: dict, code_valid) -> tuple[int, dict]:
        expiring = str(body.get("expiring")) == "1"
        kind = body.get("grant_type")
        if kind == "refresh_token":
            return self._refresh(shop, str(body.get("refresh_token")))
        if kind == TOKEN_EXCHANGE:
            if (body.get("subject_token_type") != ID_TOKEN
                    or body.get("requested_token_type") != OFFLINE_TOKEN
                    or not self._session_token_ok(shop, str(body.get("subject_token")))):
                return 400, {"error": "invalid_subject_token"}
            return 200, self.issue(shop, expiring=expiring)
        if kind is None and code_valid(body.get("code")):
            return 200, self.issue(shop, expiring=expiring)
        return 400, {"error": "invalid_request"}

    def _refresh(self, shop: str, refresh: str) -> tuple[int, dict]:
        with self._lock:
            chain = self._chains.get(shop)
            if chain is None or self.now() >= chain.expires_at:
                return 400, {"error": "invalid_grant"}
            if refresh == chain.current:  # its first use: the one before it is gone now
                chain.previous = refresh
            elif refresh != chain.previous:
                return 400, {"error": "invalid_grant"}
            return 200, self.issue(shop, expiring=True)

    def _session_token_ok(self, shop: str, token: str) -> bool:
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], audience=self.api_key,
                                leeway=5)
        except jwt.PyJWTError:
            return False
        return claims.get("dest") == f"https://{shop}"
