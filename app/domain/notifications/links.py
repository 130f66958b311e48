"""Signed, expiring links to a customer's status page: `{public_url}/status/<token>`."""

from __future__ import annotations

from app.errors import NotFound
from app.security import LinkSigner

# Backorders can run for months; each new message carries a fresh link anyway.
STATUS_LINK_MAX_AGE = 180 * 86400


class StatusLinks:
    """Makes and reads status-page tokens (LinkSigner purpose "status", payload {shop, order})."""

    def __init__(self, secret_key: str, public_url: str):
        self._signer = LinkSigner(secret_key, "status")
        self._base = public_url.rstrip("/")

    def token(self, shop_id: int, order_id: int) -> str:
        return self._signer.sign({"shop": shop_id, "order": order_id})

    def url(self, shop_id: int, order_id: int) -> str:
        return f"{self._base}/status/{self.token(shop_id, order_id)}"

    def read(self, token: str) -> tuple[int, int]:
        """(shop id, Shopify order id); NotFound for a tampered, expired or malformed token."""
        payload = self._signer.load(token, max_age_seconds=STATUS_LINK_MAX_AGE)
        shop, order = (payload.get("shop"), payload.get("order")) if isinstance(
            payload, dict) else (None, None)
        if not (isinstance(shop, int) and isinstance(order, int)):
            raise NotFound("This link is not valid.")
        return shop, order
