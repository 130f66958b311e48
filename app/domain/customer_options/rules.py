"""Pure rules for the customer's options: settings, goodwill eligibility, codes, notes.

Plain data in, plain data out (stdlib only), so each rule is tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

KINDS = ("percentage", "fixed_amount")
# Letters and digits a customer cannot misread (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_SUFFIX_LENGTH = 6
VALUE_BOUNDS = {"percentage": (Decimal("1"), Decimal("100")),
                "fixed_amount": (Decimal("0.01"), Decimal("10000"))}


@dataclass(frozen=True)
class OptionSettings:
    """The shop's customer options, from ShopSettings.extra["customer_options"]."""

    edit_order_on_cancel: bool = False
    refund_on_cancel: bool = True  # refund the units an edit removed (only with the edit)
    goodwill_enabled: bool = False
    goodwill_after_days: int = 14
    goodwill_kind: str = "percentage"
    goodwill_value: Decimal = Decimal("10")

    @classmethod
    def from_extra(cls, extra: Mapping | None) -> OptionSettings:
        """Read the settings; a missing or malformed value falls back to its default."""
        raw = (extra or {}).get("customer_options") or {}
        if not isinstance(raw, Mapping):
            return cls()
        default = cls()
        kind = raw.get("goodwill_kind") if raw.get("goodwill_kind") in KINDS else default.goodwill_kind
        return cls(
            edit_order_on_cancel=_flag(raw.get("edit_order_on_cancel"),
                                       default.edit_order_on_cancel),
            refund_on_cancel=_flag(raw.get("refund_on_cancel"), default.refund_on_cancel),
            goodwill_enabled=_flag(raw.get("goodwill_enabled"), default.goodwill_enabled),
            goodwill_after_days=_days(raw.get("goodwill_after_days"), default.goodwill_after_days),
            goodwill_kind=kind,
            goodwill_value=parse_value(kind, raw.get("goodwill_value")) or default.goodwill_value)

    def as_extra(self) -> dict:
        return {"edit_order_on_cancel": self.edit_order_on_cancel,
                "refund_on_cancel": self.refund_on_cancel,
                "goodwill_enabled": self.goodwill_enabled,
                "goodwill_after_days": self.goodwill_after_days,
                "goodwill_kind": self.goodwill_kind, "goodwill_value": str(self.goodwill_value)}


def _flag(value, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _days(value, default: int) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else default


def parse_value(kind: str, raw) -> Decimal | None:
    """The discount's value when it is a number within the kind's bounds, else None."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    low, high = VALUE_BOUNDS[kind]
    if not value.is_finite() or not low <= value <= high or value.as_tuple().exponent < -2:
        return None
    return value


def wait_is_long(settings: OptionSettings, *, placed_on: date,
                 etas: Sequence[date | None]) -> bool:
    """True when goodwill is on and the customer's whole wait passes the shop's threshold.

    The wait runs from the order's day to the latest new date of the notice; an unknown
    date is an open-ended wait, so it counts as long.
    """
    if not settings.goodwill_enabled or not etas:
        return False
    if any(eta is None for eta in etas):
        return True
    return (max(etas) - placed_on).days > settings.goodwill_after_days


def discount_code(order_name: str, order_id: int, suffix: str) -> str:
    """`WAIT-1001-7KQ2XM`: recognisable by the order, unguessable by the suffix."""
    number = "".join(ch for ch in order_name if ch.isalnum()).upper()[:12] or str(order_id)
    return f"WAIT-{number}-{suffix}"


def discount_text(kind: str, value: Decimal) -> str:
    """How the message names the discount: "10% off" or "5.00 off"."""
    if kind == "percentage":
        return f"{value.normalize():f}% off"
    return f"{value.quantize(Decimal('0.01'))} off"


def staff_note(title: str, quantity: int) -> str:
    """The note Shopify keeps on the edit, so staff see why the order changed."""
    return (f"Customer cancelled {quantity} x {title or 'item'} (backordered) on the order "
            f"status page; removed by the backorder app.")[:255]
