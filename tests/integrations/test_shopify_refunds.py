"""The refund adapter reads an order's money as Shopify reports it and sends refundCreate
once: a lost answer is for the job's next run to settle, never for the client to resend."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses

from app.domain.ports import PaymentInfo, RefundInfo, RefundSpec, RefundTransaction
from app.errors import PermanentError, TransientError
from integrations.shopify.admin import GraphQLShopifyAdmin
from integrations.shopify.graphql import GraphQLClient

URL = "https://demo.myshopify.com/admin/api/2025-01/graphql.json"


def txn(number: int, kind: str, amount: str, *, status: str = "SUCCESS",
        parent: int | None = None, gateway: str = "shopify_payments") -> dict:
    return {"id": f"gid://shopify/OrderTransaction/{number}", "kind": kind, "status": status,
            "gateway": gateway, "amountSet": {"presentmentMoney": {"amount": amount}},
            "parentTransaction": None if parent is None else {
                "id": f"gid://shopify/OrderTransaction/{parent}"}}


def state_answer(transactions: list[dict], line: dict | None = None) -> dict:
    return {"data": {"order": {
        "id": "gid://shopify/Order/9", "presentmentCurrencyCode": "CAD", "taxesIncluded": True,
        "totalOutstandingSet": {"presentmentMoney": {"amount": "-20.0"}},
        "transactions": transactions,
        "refunds": [{"id": "gid://shopify/Refund/5", "note": None,
                     "totalRefundedSet": {"presentmentMoney": {"amount": "15.0"}},
                     "transactions": {"nodes": [{"status": "SUCCESS"}]}},
                    {"id": "gid://shopify/Refund/6", "note": "[backorder-cancel:5]",
                     "totalRefundedSet": {"presentmentMoney": {"amount": "5.0"}},
                     "transactions": {"nodes": [{"status": "PENDING"}]}}]},
        "lineItem": line}}


@pytest.fixture
def admin():
    client = GraphQLClient("demo.myshopify.com", "shpat_test", api_version="2025-01",
                           url_template="https://{shop}/admin/api/{version}/graphql.json",
                           timeout=5.0, sleep=lambda _s: None)
    with responses.RequestsMock() as rsps:
        yield GraphQLShopifyAdmin(client), rsps


def test_a_payment_holds_its_amount_less_the_refunds_that_took_or_will_take_from_it(admin):
    shop, rsps = admin
    rsps.add(responses.POST, URL, json=state_answer([
        txn(1, "AUTHORIZATION", "100.0"),
        txn(2, "CAPTURE", "100.0", parent=1),
        txn(3, "REFUND", "15.0", parent=2),
        txn(4, "REFUND", "5.0", parent=2, status="PENDING"),
        txn(5, "REFUND", "50.0", parent=2, status="FAILURE"),  # took nothing
        txn(6, "SALE", "30.0", status="FAILURE"),  # never paid
        txn(7, "SALE", "12.5", gateway="gift_card"),
    ]))

    state = shop.order_refund_state(9, 5)

    assert state.payments == (PaymentInfo(2, "shopify_payments", Decimal("80.0")),
                              PaymentInfo(7, "gift_card", Decimal("12.5")))
    assert (state.currency, state.taxes_included, state.outstanding) == (
        "CAD", True, Decimal("-20.0"))
    assert state.refunds == (RefundInfo(5, "", Decimal("15.0"), "success"),
                             RefundInfo(6, "[backorder-cancel:5]", Decimal("5.0"), "pending"))
    assert state.line is None  # the line item is gone


def test_a_missing_order_has_no_state(admin):
    shop, rsps = admin
    rsps.add(responses.POST, URL, json={"data": {"order": None, "lineItem": None}})
    assert shop.order_refund_state(9, 5) is None


SPEC = RefundSpec(order_id=9, currency="CAD", note="[backorder-cancel:5]",
                  transactions=(RefundTransaction(2, "shopify_payments", Decimal("20.00")),))


def test_refund_create_sends_money_only_and_returns_the_refund(admin):
    shop, rsps = admin
    rsps.add(responses.POST, URL, json={"data": {"refundCreate": {"userErrors": [], "refund": {
        "id": "gid://shopify/Refund/77", "note": "[backorder-cancel:5]",
        "totalRefundedSet": {"presentmentMoney": {"amount": "20.0"}},
        "transactions": {"nodes": [{"status": "FAILURE"}]}}}}})

    # Made, but the payment provider refused it: no money went back.
    assert shop.create_refund(SPEC) == RefundInfo(77, "[backorder-cancel:5]", Decimal("20.0"),
                                                  "failure")

    sent = json.loads(rsps.calls[0].request.body)["variables"]["input"]
    assert "refundLineItems" not in sent and sent["transactions"][0]["amount"] == "20.00"


def test_refund_create_user_errors_are_permanent(admin):
    shop, rsps = admin
    rsps.add(responses.POST, URL, json={"data": {"refundCreate": {"refund": None, "userErrors": [
        {"field": ["transactions", "0", "parentId"], "message": "Transaction not found"}]}}})

    with pytest.raises(PermanentError, match="transactions.0.parentId: Transaction not found"):
        shop.create_refund(SPEC)


def test_refund_create_is_not_resent_when_its_answer_is_lost(admin):
    shop, rsps = admin
    rsps.add(responses.POST, URL, status=502, json={"errors": "Bad Gateway"})

    with pytest.raises(TransientError):
        shop.create_refund(SPEC)

    assert len(rsps.calls) == 1
