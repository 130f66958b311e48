"""An order's money in memory, for FakeShopifyAdmin: prices, payments, refunds.

It behaves as Shopify does where the refund job depends on it:
- what is owed follows the lines: an edit that removes paid units leaves the order's
  outstanding amount negative (owed to the customer) by those units' price and tax;
- a refund takes money from a successful SALE or CAPTURE of the order, never more than
  that payment still holds, in the order's presentment currency; anything else is
  refused with userErrors, and nothing is recorded;
- refunds keep their note, and are listed with the order;
- a refund's transactions may stay pending with the payment provider, or fail there
  (`settle_next_as`, `settle`): made is not yet money back.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from app.domain.ports import (
    OrderRefundState,
    PaymentInfo,
    RefundInfo,
    RefundLineInfo,
    RefundSpec,
)

ZERO = Decimal("0")


@dataclass
class FakeRefund:
    refund_id: int
    note: str
    parts: list[tuple[int, Decimal]]  # (parent transaction id, amount)
    notify: bool
    settled: str = "success"  # or "pending", "failure": its transactions' state

    def info(self) -> RefundInfo:
        return RefundInfo(self.refund_id, self.note, self.amount, self.settled)

    @property
    def amount(self) -> Decimal:
        return sum((amount for _, amount in self.parts), ZERO)


@dataclass
class FakeOrderMoney:
    currency: str
    taxes_included: bool
    # line item id -> (units ordered, unit price after discounts, the line's tax)
    prices: dict[int, tuple[int, Decimal, Decimal]] = field(default_factory=dict)
    payments: list[tuple[int, str, Decimal]] = field(default_factory=list)  # (id, gateway, amount)
    refunds: list[FakeRefund] = field(default_factory=list)

    def held(self, payment_id: int) -> Decimal:
        paid = next((amount for pid, _, amount in self.payments if pid == payment_id), ZERO)
        return paid - sum((a for r in self.taking() for pid, a in r.parts if pid == payment_id),
                          ZERO)

    def taking(self) -> list[FakeRefund]:
        """Refunds that took (or will take) money: a failed one gave nothing back."""
        return [r for r in self.refunds if r.settled != "failure"]

    def value(self, current: Mapping[int, int]) -> Decimal:
        """What the order's lines cost now (removed units no longer count)."""
        total = ZERO
        for line_id, (ordered, price, tax) in self.prices.items():
            units = current.get(line_id, ordered)
            total += price * units + (ZERO if self.taxes_included or not ordered
                                      else tax * units / ordered)
        return total

    def net_paid(self) -> Decimal:
        return (sum((amount for _, _, amount in self.payments), ZERO)
                - sum((r.amount for r in self.taking()), ZERO))


def _error(message: str, *path: str) -> list[dict]:
    return [{"field": list(path) or None, "message": message}]


class FakeRefunds:
    """Money by order id; ids shared by payments and refunds, like Shopify's."""

    def __init__(self) -> None:
        self.orders: dict[int, FakeOrderMoney] = {}
        self.settle_next_as: list[str] = []  # how the next refunds' transactions end
        self._ids = itertools.count(9001)

    def add_line(self, order_id: int, line_item_id: int, *, ordered: int, unit_price: str,
                 tax: str = "0", currency: str = "EUR", taxes_included: bool = False) -> None:
        money = self.orders.setdefault(order_id, FakeOrderMoney(currency, taxes_included))
        money.prices[line_item_id] = (ordered, Decimal(unit_price), Decimal(tax))

    def pay(self, order_id: int, amount: str, *, gateway: str = "shopify_payments") -> int:
        """A successful SALE of `amount` on the order; its transaction id."""
        payment_id = next(self._ids)
        self.orders[order_id].payments.append((payment_id, gateway, Decimal(amount)))
        return payment_id

    def state(self, order_id: int, line_item_id: int,
              current: Mapping[int, int]) -> OrderRefundState | None:
        money = self.orders.get(order_id)
        if money is None:
            return None
        price = money.prices.get(line_item_id)
        line = None if price is None else RefundLineInfo(line_item_id, *price)
        return OrderRefundState(
            order_id=order_id, currency=money.currency, taxes_included=money.taxes_included,
            outstanding=money.value(current) - money.net_paid(),
            payments=tuple(PaymentInfo(pid, gateway, money.held(pid))
                           for pid, gateway, _ in money.payments),
            refunds=tuple(r.info() for r in money.refunds),
            line=line)

    def settle(self, order_id: int, refund_id: int, settled: str) -> None:
        """The payment provider finished a pending refund."""
        next(r for r in self.orders[order_id].refunds if r.refund_id == refund_id).settled = settled

    def create(self, spec: RefundSpec) -> tuple[RefundInfo | None, list[dict]]:
        """(the refund, no errors), or (None, userErrors) with nothing recorded."""
        money = self.orders.get(spec.order_id)
        if money is None:
            return None, _error("Order does not exist", "orderId")
        errors = self._refusals(money, spec)
        if errors:
            return None, errors
        refund = FakeRefund(next(self._ids), spec.note,
                            [(t.parent_id, t.amount) for t in spec.transactions], spec.notify,
                            self.settle_next_as.pop(0) if self.settle_next_as else "success")
        money.refunds.append(refund)
        return refund.info(), []

    @staticmethod
    def _refusals(money: FakeOrderMoney, spec: RefundSpec) -> list[dict]:
        if spec.currency != money.currency:
            return _error("Currency must be the order's presentment currency", "currency")
        for i, part in enumerate(spec.transactions):
            path = ("transactions", str(i))
            if all(pid != part.parent_id for pid, _, _ in money.payments):
                return _error("Parent transaction is not a successful sale or capture",
                              *path, "parentId")
            if part.amount <= ZERO:
                return _error("Amount must be greater than 0", *path, "amount")
            if part.amount > money.held(part.parent_id):
                return _error(f"Amount cannot exceed the refundable amount "
                              f"{money.held(part.parent_id)}", *path, "amount")
        return []
