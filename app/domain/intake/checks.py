"""What intake checks in a signed body beyond valid JSON, so that whatever it answers 200
for, the worker can process: nesting the worker's json.loads reads, timestamps PostgreSQL
can hand back, and a shop named in the payload that matches the header's."""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import accumulate

from app.domain.intake.topics import COMPLIANCE_TOPICS, ORDER_TOPICS
from app.errors import InvalidInput

# The worker reads payloads with json.loads, which recurses once a level and stops near
# the interpreter's recursion limit (1000 frames, some taken by the worker itself);
# simdjson and orjson take up to 1023 levels. Shopify's payloads nest fewer than ten.
MAX_DEPTH = 800
BOM = b"\xef\xbb\xbf"
# The timestamps the worker reads from each topic's payload (app/domain/inventory/payloads.py).
PAYLOAD_TIMES = {**dict.fromkeys(ORDER_TOPICS, ("created_at", "updated_at", "cancelled_at")),
                 "refunds/create": ("created_at",), "inventory_levels/update": ("updated_at",),
                 "products/update": ("updated_at",)}
# Where a topic's payload names its shop; an order only by a *.myshopify.com status URL.
SHOP_FIELDS = {**dict.fromkeys(COMPLIANCE_TOPICS, "shop_domain"),
               "app/uninstalled": "myshopify_domain",
               **{topic: "order_status_url" for topic in ORDER_TOPICS
                  if topic.startswith("orders/")}}
STATUS_URL_SHOP = re.compile(r"^https://([a-z0-9][a-z0-9-]*\.myshopify\.com)/", re.IGNORECASE)


def check_payload(body: bytes, payload: Mapping, *, topic: str, shop_domain: str) -> None:
    """InvalidInput when the worker could not process this body for this shop."""
    if _too_deep(body):
        raise InvalidInput(f"body nests deeper than {MAX_DEPTH} levels")
    if field_name := SHOP_FIELDS.get(topic):
        _check_shop(payload.get(field_name), shop_domain)
    for key in PAYLOAD_TIMES.get(topic, ()):
        if (raw := payload.get(key)) is not None:
            parse_time(raw, key)


def parse_time(raw, name: str) -> datetime:
    """An ISO 8601 timestamp that has a UTC equivalent within years 1 to 9999 (the only
    ones PostgreSQL hands back to Python); InvalidInput naming `name` otherwise."""
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo and value.year in (1, 9999):
            value.astimezone(UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"{name} is not an ISO 8601 timestamp within years 1 to 9999") \
            from exc
    return value


_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[{]}")


def _too_deep(body: bytes) -> bool:
    """Whether valid JSON nests deeper than MAX_DEPTH. A cheap bound first, as nesting n
    takes n openers (two scans of the body, against a walk of every bracket outside
    strings that only bodies with that many openers pay)."""
    if len(body) <= 2 * MAX_DEPTH or body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    steps = array("b", outside_strings.translate(_BRACKETS, _NOT_BRACKETS))
    return max(accumulate(steps), default=0) > MAX_DEPTH


def _check_shop(named, shop_domain: str) -> None:
    """A payload that names its shop was signed for that shop only: one captured body
    must not be replayed under another shop's header."""
    if isinstance(named, str) and named.startswith("https://"):
        # a status URL names the shop only on its *.myshopify.com host, not a custom domain
        named = match.group(1) if (match := STATUS_URL_SHOP.match(named)) else None
    if named is not None and str(named).strip().lower() != shop_domain:
        raise InvalidInput("the payload names another shop than X-Shopify-Shop-Domain")
