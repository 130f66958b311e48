"""Shopify's webhook signature: base64 HMAC-SHA256 of the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign_webhook(body: bytes, secret: str) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify sends for this body (used by tests and the demo)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """True when the signature matches the body under any accepted secret (rotation)."""
    if not signature:
        return False
    given = signature.strip().encode()
    matched = False
    for secret in secrets:
        # Compare against every secret so timing does not reveal which one matched.
        matched |= hmac.compare_digest(sign_webhook(body, secret).encode(), given)
    return matched
