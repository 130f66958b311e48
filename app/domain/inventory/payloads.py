"""Shopify webhook payloads (REST shape) and Admin API answers as plain snapshots.

Parsing is defensive: anything malformed raises InvalidInput naming the field,
so a bad payload fails its event with a clear error instead of half-applying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.ports import OrderInfo, VariantInfo
from app.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class LineSnapshot:
    line_item_id: int
    variant_id: int | None  # None: a custom item, ignored by the engine
    title: str
    ordered_quantity: int
    quantity: int  # current quantity after edits, removals and refunds
    fulfilled_quantity: int


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    order_id: int
    name: str
    email: str | None
    phone: str | None
    customer_id: int | None
    locale: str | None
    placed_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    lines: tuple[LineSnapshot, ...]
    customer_first_name: str | None = None  # for message templates (customer.first_name)

    @property
    def variant_ids(self) -> set[int]:
        return {line.variant_id for line in self.lines if line.variant_id is not None}


@dataclass(frozen=True, slots=True)
class LevelSnapshot:
    inventory_item_id: int
    location_id: int
    available: int | None  # None: not tracked at this location
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CancelRefund:
    refund_line_item_id: int
    line_item_id: int
    quantity: int


ID_RANGE = range(-2**63, 2**63)  # BIGINT columns
COUNT_RANGE = range(0, 2**31)    # INTEGER quantity columns
LEVEL_RANGE = range(-2**31, 2**31)


def _int(payload: dict, key: str, *, required: bool = True,
         bounds: range = ID_RANGE) -> int | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer")
    if value not in bounds:
        raise InvalidInput(f"{key} is out of range")
    return value


def _count(payload: dict, key: str, *, required: bool = True) -> int | None:
    return _int(payload, key, required=required, bounds=COUNT_RANGE)


def _time(payload: dict, key: str, *, required: bool = True) -> datetime | None:
    raw = payload.get(key)
    if raw is None and not required:
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{key} is not an ISO 8601 timestamp") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def require_int(payload: dict, key: str) -> int:
    """The integer at `key`; InvalidInput naming the key otherwise."""
    return _int(payload, key)


def _text(payload: dict, key: str, limit: int = 255) -> str | None:
    value = payload.get(key)
    if value in (None, ""):
        return None
    return str(value).replace("\x00", "")[:limit] or None  # PostgreSQL text holds no NUL


def parse_item(payload: dict) -> tuple[int, bool, str | None]:
    """An inventory_items/update payload: item id, whether Shopify tracks it, its SKU."""
    return require_int(payload, "id"), bool(payload.get("tracked", True)), _text(payload, "sku")


def parse_order(payload: dict) -> OrderSnapshot:
    """An orders/* webhook payload as a snapshot."""
    lines = payload.get("line_items")
    if not isinstance(lines, list):
        raise InvalidInput("line_items must be a list")
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    billing = payload.get("billing_address")
    billing = billing if isinstance(billing, dict) else {}
    created = _time(payload, "created_at")
    return OrderSnapshot(
        order_id=_int(payload, "id"), name=_text(payload, "name", 64) or "",
        email=_text(payload, "email", 320) or _text(customer, "email", 320),
        phone=_text(payload, "phone", 32) or _text(customer, "phone", 32),
        customer_id=_int(customer, "id", required=False) if customer else None,
        locale=_text(payload, "customer_locale", 16), placed_at=created,
        updated_at=_time(payload, "updated_at", required=False) or created,
        cancelled_at=_time(payload, "cancelled_at", required=False),
        lines=tuple(_parse_line(line) for line in lines),
        customer_first_name=_text(customer, "first_name") or _text(billing, "first_name"))


def line_title(product: str | None, variant: str | None) -> str:
    """How customers see a line: "Merino Beanie - Charcoal / M", the product alone for a
    product without variants (Shopify calls its one variant "Default Title")."""
    product = (product or "").strip()
    variant = (variant or "").strip()
    if not variant or variant == "Default Title" or not product:
        return (product or variant)[:255]
    return f"{product} - {variant}"[:255]


def _parse_line(line) -> LineSnapshot:
    if not isinstance(line, dict):
        raise InvalidInput("each line item must be an object")
    ordered = _count(line, "quantity")
    current = _count(line, "current_quantity", required=False)
    current = ordered if current is None else current
    fulfillable = _count(line, "fulfillable_quantity", required=False)
    fulfilled = max(0, current - fulfillable) if fulfillable is not None else (
        current if line.get("fulfillment_status") == "fulfilled" else 0)
    return LineSnapshot(line_item_id=_int(line, "id"),
                        variant_id=_int(line, "variant_id", required=False),
                        title=line_title(_text(line, "title"), _text(line, "variant_title"))
                        or _text(line, "name") or "",
                        ordered_quantity=ordered, quantity=current, fulfilled_quantity=fulfilled)


def parse_refund_cancels(payload: dict) -> tuple[int, datetime, list[CancelRefund]]:
    """A refunds/create payload: order id, refund time, and refunded units never shipped."""
    items = payload.get("refund_line_items") or []
    if not isinstance(items, list):
        raise InvalidInput("refund_line_items must be a list")
    cancels = [CancelRefund(_int(i, "id"), _int(i, "line_item_id"), _count(i, "quantity"))
               for i in items if isinstance(i, dict) and i.get("restock_type") == "cancel"]
    return _int(payload, "order_id"), _time(payload, "created_at"), cancels


def parse_level(payload: dict) -> LevelSnapshot:
    """An inventory_levels/update payload."""
    available = _int(payload, "available", required=False, bounds=LEVEL_RANGE)
    return LevelSnapshot(inventory_item_id=_int(payload, "inventory_item_id"),
                         location_id=_int(payload, "location_id"), available=available,
                         updated_at=_time(payload, "updated_at"))


def parse_product_variants(payload: dict) -> tuple[int, datetime, list[VariantInfo]]:
    """A products/update payload: product id, its updated_at, and its variants."""
    product_id, updated = _int(payload, "id"), _time(payload, "updated_at")
    variants = payload.get("variants")
    if not isinstance(variants, list):
        raise InvalidInput("variants must be a list")
    title = _text(payload, "title") or ""
    return product_id, updated, [_variant(v, product_id, title) for v in variants
                                 if isinstance(v, dict)]


def _variant(v: dict, product_id: int, product_title: str) -> VariantInfo:
    management = v.get("inventory_management")
    return VariantInfo(
        variant_id=_int(v, "id"), product_id=product_id, sku=_text(v, "sku"),
        title=_text(v, "title") or "", inventory_item_id=_int(v, "inventory_item_id",
                                                             required=False),
        # Newer payloads drop inventory_management; the item's `tracked` arrives via
        # inventory_items/update, so only an explicit null-management says untracked.
        tracked=management is not None if "inventory_management" in v else True,
        inventory_policy=_policy(v.get("inventory_policy")),
        product_title=product_title)


def _policy(raw) -> str:
    policy = str(raw or "deny").upper()
    if policy not in ("DENY", "CONTINUE"):
        raise InvalidInput("inventory_policy must be \"deny\" or \"continue\"")
    return policy


def order_from_admin(info: OrderInfo) -> OrderSnapshot:
    """An order read through the Admin API (sync) as the same snapshot webhooks give."""
    return OrderSnapshot(
        order_id=info.order_id, name=info.name, email=info.email, phone=info.phone,
        customer_id=None, locale=None, placed_at=info.created_at, updated_at=info.updated_at,
        cancelled_at=info.cancelled_at,
        lines=tuple(LineSnapshot(line_item_id=line.line_id, variant_id=line.variant_id,
                                 title=line.title, ordered_quantity=line.quantity,
                                 quantity=line.quantity,
                                 fulfilled_quantity=line.fulfilled_quantity)
                    for line in info.lines))
