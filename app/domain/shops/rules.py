"""When a shop's access token needs refreshing, and how its expiring parts are kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Refresh this long before Shopify's expiry, so a call started just before it still lands.
REFRESH_MARGIN = timedelta(minutes=5)


def refresh_due(expires_at: datetime | None, *, now: datetime) -> bool:
    """True once an expiring token is within the margin of its expiry; never for one that
    does not expire."""
    return expires_at is not None and now >= expires_at - REFRESH_MARGIN


def scopes_missing(granted: str, wanted: tuple[str, ...]) -> set[str]:
    """Scopes the app asks for that the stored grant lacks (Shopify lists `write_x` and
    implies `read_x`)."""
    have = {s.strip() for s in granted.split(",") if s.strip()}
    have |= {"read_" + s.removeprefix("write_") for s in have if s.startswith("write_")}
    return set(wanted) - have


@dataclass(frozen=True)
class SealedRefresh:
    """The expiring parts of an offline grant, the refresh token already encrypted.

    They change with the access token, in one transaction, so a rotated refresh token
    is never stored beside another grant's access token. The empty value is a token
    that does not expire.
    """

    token_expires_at: datetime | None = None
    refresh_token_ciphertext: str | None = field(default=None, repr=False)
    refresh_token_expires_at: datetime | None = None

    def apply(self, shop) -> None:
        shop.token_expires_at = self.token_expires_at
        shop.refresh_token_ciphertext = self.refresh_token_ciphertext
        shop.refresh_token_expires_at = self.refresh_token_expires_at
