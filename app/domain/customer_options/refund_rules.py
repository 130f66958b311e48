"""How much to refund for units a customer cancelled, and against which payments.

Plain data in, plain data out (the port's dataclasses, Babel's currency data): the rule
is tested without a database or Shopify. customer_options.refunds says why this rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

from app.domain.ports import (
    OrderRefundState,
    PaymentInfo,
    RefundInfo,
    RefundLineInfo,
    RefundTransaction,
)

ZERO = Decimal("0")


@dataclass(frozen=True)
class RefundPlan:
    """What to refund; `refused` says why nothing may be (for the merchant), else None."""

    amount: Decimal = ZERO
    transactions: tuple[RefundTransaction, ...] = ()
    refused: str | None = None


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency: 0.01 for EUR, 1 for JPY, 0.001 for KWD (ISO
    4217, as Babel's CLDR data has it)."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def money_text(amount: Decimal, currency: str) -> str:
    """"12.00 EUR", "1200 JPY": the amount in the currency's own minor unit."""
    return f"{amount.quantize(minor_unit(currency), ROUND_HALF_UP)} {currency}"


def units_value(line: RefundLineInfo, units: int, *, taxes_included: bool,
                currency: str) -> Decimal:
    """What `units` of the line cost the customer: the unit price after every discount,
    plus their share of the line's tax unless prices include it. Rounded once, at the end."""
    value = line.unit_price * units
    if not taxes_included and line.quantity > 0:
        value += line.tax * units / line.quantity
    return max(value, ZERO).quantize(minor_unit(currency), ROUND_HALF_UP)


def plan_refund(state: OrderRefundState, *, units: int) -> RefundPlan:
    """Refund the cancelled units' value, never more than Shopify says is owed to the
    customer nor more than the payments still hold; refused when either is nothing."""
    if state.line is None:
        return RefundPlan(refused="the cancelled line is no longer on the Shopify order")
    value = units_value(state.line, units, taxes_included=state.taxes_included,
                        currency=state.currency)
    if value == ZERO:
        return RefundPlan()  # free units (a 100 % discount): nothing to give back
    held = sum((p.refundable for p in state.payments), ZERO)
    if held <= ZERO:
        return RefundPlan(refused="nothing paid on this order can be refunded (payment "
                                  "pending, or refunded already): refund it in Shopify")
    owed = -state.outstanding
    if owed <= ZERO:
        return RefundPlan(refused="Shopify shows nothing owed to the customer (refunded "
                                  "already?): check the order's refunds in Shopify")
    amount = min(value, owed, held)
    return RefundPlan(amount, split(amount, state.payments))


def split(amount: Decimal, payments: Sequence[PaymentInfo]) -> tuple[RefundTransaction, ...]:
    """Spread the amount over the payments in Shopify's order, each up to what it holds."""
    parts, left = [], amount
    for payment in payments:
        part = min(left, payment.refundable)
        if part > ZERO:
            parts.append(RefundTransaction(payment.transaction_id, payment.gateway, part))
            left -= part
    return tuple(parts)


def refund_marker(line_item_id: int) -> str:
    """What the refund's note carries so a retry recognises it: a line is cancelled once,
    and Shopify's line item ids are unique, so this names the cancellation for good."""
    return f"[backorder-cancel:{line_item_id}]"


def refund_note(title: str, units: int, line_item_id: int) -> str:
    """The note Shopify keeps on the refund, for staff (and for the retry's search)."""
    return (f"Customer cancelled {units} x {(title or 'item')[:120]} (backordered) on the "
            f"order status page; refunded by the backorder app {refund_marker(line_item_id)}")


def earlier_refund(state: OrderRefundState, line_item_id: int) -> RefundInfo | None:
    """The refund an earlier attempt made for this line, if any."""
    marker = refund_marker(line_item_id)
    return next((r for r in state.refunds if marker in (r.note or "")), None)
