"""The refund of a customer's cancelled units: exactly what those units cost, never more
than Shopify says is owed or the payments still hold, recognisable by its note."""

from __future__ import annotations

from decimal import Decimal

from app.domain.customer_options.refund_rules import (
    earlier_refund,
    minor_unit,
    money_text,
    plan_refund,
    refund_note,
    split,
    units_value,
)
from app.domain.ports import (
    OrderRefundState,
    PaymentInfo,
    RefundInfo,
    RefundLineInfo,
    RefundTransaction,
)

D = Decimal
# Merino Beanie x 2 at 25.00 after discounts, 19 % tax on both units (9.50).
BEANIE = RefundLineInfo(line_item_id=11, quantity=2, unit_price=D("25.00"), tax=D("9.50"))
PAID = (PaymentInfo(61, "shopify_payments", D("64.50")),)


def state(*, outstanding="-29.75", payments=PAID, refunds=(), line=BEANIE,
          taxes_included=False, currency="EUR") -> OrderRefundState:
    return OrderRefundState(order_id=1007, currency=currency, taxes_included=taxes_included,
                            outstanding=D(outstanding), payments=payments, refunds=refunds,
                            line=line)


def test_one_unit_of_two_refunds_its_discounted_price_and_its_share_of_the_tax():
    assert units_value(BEANIE, 1, taxes_included=False, currency="EUR") == D("29.75")
    assert units_value(BEANIE, 2, taxes_included=False, currency="EUR") == D("59.50")


def test_prices_that_include_tax_are_not_taxed_again():
    assert units_value(BEANIE, 1, taxes_included=True, currency="EUR") == D("25.00")


def test_the_tax_share_is_rounded_once_to_the_currency_minor_unit():
    line = RefundLineInfo(11, 3, D("9.99"), D("5.70"))  # 1.90 tax a unit
    assert units_value(line, 2, taxes_included=False, currency="EUR") == D("23.78")
    yen = RefundLineInfo(11, 3, D("1000"), D("301"))
    assert units_value(yen, 1, taxes_included=False, currency="JPY") == D("1100")
    assert (minor_unit("JPY"), minor_unit("KWD"), minor_unit("EUR")) == (
        D("1"), D("0.001"), D("0.01"))
    assert money_text(D("1100.000"), "JPY") == "1100 JPY"


def test_the_plan_refunds_the_units_against_the_sale():
    plan = plan_refund(state(), units=1)

    assert plan.refused is None
    assert plan.amount == D("29.75")
    assert plan.transactions == (RefundTransaction(61, "shopify_payments", D("29.75")),)


def test_never_more_than_shopify_says_is_owed():
    # Shopify rounded the edit's tax differently, or shipping was recalculated: its
    # figure of what the customer is owed wins when it is lower.
    assert plan_refund(state(outstanding="-29.70"), units=1).amount == D("29.70")


def test_nothing_owed_is_refused_for_the_merchant_to_check():
    # The merchant refunded it by hand already, or the edit did not take units off.
    plan = plan_refund(state(outstanding="0.00"), units=1)
    assert plan.refused and "nothing owed" in plan.refused and plan.transactions == ()


def test_nothing_paid_is_refused():
    plan = plan_refund(state(payments=()), units=1)
    assert plan.refused and "nothing paid" in plan.refused

    refunded_already = (PaymentInfo(61, "shopify_payments", D("0")),)
    assert plan_refund(state(payments=refunded_already), units=1).refused


def test_never_more_than_the_payments_still_hold_and_spread_over_them():
    gift_card_and_card = (PaymentInfo(61, "gift_card", D("10.00")),
                          PaymentInfo(62, "shopify_payments", D("5.00")))
    plan = plan_refund(state(payments=gift_card_and_card), units=1)

    assert plan.amount == D("15.00")
    assert plan.transactions == (RefundTransaction(61, "gift_card", D("10.00")),
                                 RefundTransaction(62, "shopify_payments", D("5.00")))


def test_split_skips_payments_with_nothing_left():
    payments = (PaymentInfo(61, "manual", D("0")), PaymentInfo(62, "shopify_payments", D("50")))
    assert split(D("29.75"), payments) == (RefundTransaction(62, "shopify_payments",
                                                             D("29.75")),)


def test_free_units_need_no_refund():
    free = RefundLineInfo(11, 2, D("0.00"), D("0.00"))
    plan = plan_refund(state(line=free), units=1)
    assert (plan.amount, plan.transactions, plan.refused) == (D("0.00"), (), None)


def test_a_line_no_longer_on_the_order_is_refused():
    assert plan_refund(state(line=None), units=1).refused


def test_an_earlier_refund_is_recognised_by_the_marker_in_its_note():
    note = refund_note("Merino Beanie - Charcoal / M", 1, 11)
    assert "[backorder-cancel:11]" in note and "Customer cancelled 1 x Merino Beanie" in note

    ours = RefundInfo(71, note, D("29.75"), "pending")
    mine = state(refunds=(RefundInfo(70, "Goodwill", D("5.00")), ours))
    assert earlier_refund(mine, 11) == ours
    # Line 1 is not line 11: the marker is closed, so ids never match by prefix.
    other = RefundInfo(72, refund_note("Cap", 1, 1), D("3"))
    assert earlier_refund(state(refunds=(other,)), 11) is None
