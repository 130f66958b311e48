"""What every part of the Admin API adapter shares: ids at the edge, and userErrors."""

from __future__ import annotations

from app.errors import PermanentError


def gid(kind: str, numeric_id: int) -> str:
    """`gid("ProductVariant", 123)` -> `gid://shopify/ProductVariant/123`."""
    return f"gid://shopify/{kind}/{numeric_id}"


def numeric_id(global_id: str) -> int:
    """The trailing number of a GID (query parameters, if any, dropped)."""
    return int(global_id.rsplit("/", 1)[-1].split("?", 1)[0])


def raise_user_errors(operation: str, errors: list[dict]) -> None:
    """userErrors arrive in a successful response: a refusal the transport cannot see."""
    if errors:
        listed = "; ".join(f"{'.'.join(map(str, e.get('field') or [])) or '-'}: {e['message']}"
                           for e in errors)
        raise PermanentError(f"{operation} rejected: {listed}")
