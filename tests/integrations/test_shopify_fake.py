"""The in-memory twin honours the ShopifyAdmin contract the real adapter does."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.domain.ports import (
    OrderLineInfo,
    PaymentInfo,
    RefundInfo,
    RefundLineInfo,
    RefundSpec,
    RefundTransaction,
    ShopifyAdmin,
    VariantMetafields,
    VariantPolicyChange,
)
from app.errors import PermanentError, TransientError
from integrations.shopify.fake import FakeShopifyAdmin


@pytest.fixture
def shop() -> FakeShopifyAdmin:
    fake = FakeShopifyAdmin()
    fake.add_variant(11, product_id=7, sku="TEE-RED", inventory_item_id=1011, available={1: 4})
    fake.add_variant(12, product_id=7, sku="TEE-BLUE", inventory_item_id=1012, available={1: 0})
    return fake


def test_fake_satisfies_the_protocol(shop):
    admin: ShopifyAdmin = shop  # a type checker verifies this line
    assert all(callable(getattr(admin, name)) for name in (
        "set_inventory_policies", "set_variant_metafields", "subscribe_webhooks",
        "fetch_variant", "iter_variants", "iter_open_orders", "adjust_inventory",
        "order_refund_state", "create_refund"))


def test_set_policies_is_seen_by_later_fetches(shop):
    shop.set_inventory_policies(7, [VariantPolicyChange(12, "CONTINUE")])
    assert shop.policies[12] == "CONTINUE"
    assert shop.fetch_variant(12).inventory_policy == "CONTINUE"


def test_policy_for_a_variant_of_another_product_is_rejected_and_nothing_changes(shop):
    with pytest.raises(PermanentError):
        shop.set_inventory_policies(8, [VariantPolicyChange(11, "CONTINUE")])
    assert shop.policies[11] == "DENY"


def test_metafields_store_status_and_eta_and_drop_an_unknown_eta(shop):
    shop.set_variant_metafields([VariantMetafields(11, "backorderable", date(2025, 3, 1))])
    assert shop.metafields[(11, "eta")] == "2025-03-01"
    shop.set_variant_metafields([VariantMetafields(11, "in_stock", None)])
    assert shop.metafields == {(11, "status"): "in_stock"}


def test_metafields_for_an_unknown_variant_are_rejected(shop):
    with pytest.raises(PermanentError):
        shop.set_variant_metafields([VariantMetafields(99, "in_stock", None)])


def test_fetch_variant_returns_none_for_an_unknown_variant(shop):
    assert shop.fetch_variant(99) is None


def test_iter_variants_lists_every_seeded_variant(shop):
    assert [v.sku for v in shop.iter_variants()] == ["TEE-RED", "TEE-BLUE"]


def test_iter_open_orders_skips_cancelled_and_closed_orders(shop):
    line = OrderLineInfo(line_id=5, variant_id=12, quantity=2)
    shop.add_order(1, lines=[line])
    shop.add_order(2, cancelled_at=datetime(2025, 1, 2, tzinfo=UTC))
    shop.add_order(3, closed=True)
    assert [(o.order_id, o.lines) for o in shop.iter_open_orders()] == [(1, (line,))]


def test_adjust_inventory_changes_the_stored_level(shop):
    shop.adjust_inventory(inventory_item_id=1012, location_id=1, delta=6, reference="PO-1")
    assert shop.level(12, 1) == 6
    assert shop.fetch_variant(12).levels[0].available == 6
    assert shop.adjustments == [(1012, 1, 6, "PO-1")]


def test_adjust_inventory_at_a_location_without_stock_is_rejected(shop):
    with pytest.raises(PermanentError):
        shop.adjust_inventory(inventory_item_id=1012, location_id=2, delta=1, reference="PO-1")


def test_webhooks_are_recorded_except_compliance_topics(shop):
    shop.subscribe_webhooks("https://svc.example/webhooks/shopify",
                            ["orders/create", "shop/redact"])
    assert shop.webhooks == {"orders/create": "https://svc.example/webhooks/shopify"}


def test_every_call_is_recorded_with_its_arguments(shop):
    shop.fetch_variant(11)
    list(shop.iter_variants())
    assert shop.calls == [("fetch_variant", (11,)), ("iter_variants", ())]


def test_fail_next_raises_for_that_many_calls_then_recovers(shop):
    shop.fail_next(2, TransientError("throttled", code="THROTTLED"))
    for _ in range(2):
        with pytest.raises(TransientError):
            shop.fetch_variant(11)
    assert shop.fetch_variant(11).variant_id == 11
    assert len(shop.calls) == 3


# --- an order's money: edits owe, refunds give back, never more than was paid -------

@pytest.fixture
def paid_order(shop) -> int:
    """Order 1007: Merino Beanie x 2 at 25.00 with 9.50 tax, paid 59.50; its sale's id."""
    shop.add_order(1007, lines=[OrderLineInfo(11, 511, 2)])
    shop.money.add_line(1007, 11, ordered=2, unit_price="25.00", tax="9.50")
    return shop.money.pay(1007, "59.50")


def _refund(sale: int, amount: str, *, currency: str = "EUR") -> RefundSpec:
    return RefundSpec(order_id=1007, currency=currency, note="test [backorder-cancel:11]",
                      transactions=(RefundTransaction(sale, "shopify_payments",
                                                      Decimal(amount)),))


def test_an_edit_that_removes_paid_units_leaves_their_price_owed(shop, paid_order):
    assert shop.order_refund_state(1007, 11).outstanding == Decimal("0")

    shop.set_line_item_quantity(order_id=1007, line_item_id=11, quantity=1, staff_note="")

    state = shop.order_refund_state(1007, 11)
    assert state.outstanding == Decimal("-29.75")
    assert state.line == RefundLineInfo(11, 2, Decimal("25.00"), Decimal("9.50"))
    assert state.payments == (PaymentInfo(paid_order, "shopify_payments", Decimal("59.50")),)


def test_a_refund_is_listed_with_its_note_and_takes_from_its_payment(shop, paid_order):
    shop.set_line_item_quantity(order_id=1007, line_item_id=11, quantity=1, staff_note="")

    refund = shop.create_refund(_refund(paid_order, "29.75"))

    state = shop.order_refund_state(1007, 11)
    assert state.refunds == (RefundInfo(refund.refund_id, "test [backorder-cancel:11]",
                                        Decimal("29.75"), "success"),)
    assert state.outstanding == Decimal("0")
    assert state.payments[0].refundable == Decimal("29.75")


def test_a_refund_beyond_what_the_payment_holds_is_refused_and_nothing_recorded(
        shop, paid_order):
    with pytest.raises(PermanentError, match="cannot exceed the refundable amount 59.50"):
        shop.create_refund(_refund(paid_order, "59.51"))
    with pytest.raises(PermanentError, match="presentment currency"):
        shop.create_refund(_refund(paid_order, "1.00", currency="USD"))
    with pytest.raises(PermanentError, match="Parent transaction"):
        shop.create_refund(_refund(paid_order + 1, "1.00"))

    assert shop.order_refund_state(1007, 11).refunds == ()


def test_a_lost_refund_answer_still_leaves_the_refund_made(shop, paid_order):
    shop.lose_next_answer(TransientError("read timeout"))

    with pytest.raises(TransientError):
        shop.create_refund(_refund(paid_order, "10.00"))

    assert [r.amount for r in shop.order_refund_state(1007, 11).refunds] == [Decimal("10.00")]


def test_a_refund_the_payment_provider_fails_gives_nothing_back(shop, paid_order):
    shop.set_line_item_quantity(order_id=1007, line_item_id=11, quantity=1, staff_note="")
    shop.money.settle_next_as.append("pending")
    refund = shop.create_refund(_refund(paid_order, "29.75"))
    assert refund.settled == "pending"

    shop.money.settle(1007, refund.refund_id, "failure")

    state = shop.order_refund_state(1007, 11)
    assert state.refunds[0].settled == "failure"
    assert state.outstanding == Decimal("-29.75")  # still owed
    assert state.payments[0].refundable == Decimal("59.50")


def test_an_order_without_money_has_no_refund_state(shop):
    assert shop.order_refund_state(4242, 11) is None
