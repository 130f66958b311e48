"""Refunds over the Admin GraphQL API (GraphQLShopifyAdmin's part): read an order's money,
create a money-only refund.

Amounts are presentment-currency Decimals, never floats. A payment's refundable amount
is its amount minus the refunds made against it (successful or still pending: a pending
refund will take its money). `refundCreate` is sent once, never retried by the client:
a lost answer is settled by the job's next run, which finds the refund by its note.
"""

from __future__ import annotations

from decimal import Decimal

from app.domain.ports import (
    OrderRefundState,
    PaymentInfo,
    RefundInfo,
    RefundLineInfo,
    RefundSpec,
)
from integrations.shopify import documents as docs
from integrations.shopify.common import gid, numeric_id, raise_user_errors
from integrations.shopify.graphql import GraphQLClient

# Lists, not connections: limits an order never reaches (a refund beyond them would be
# invisible to the retry's search). The refunds' transactions are a connection: kept
# small so the query's requested cost stays far under Shopify's 1,000 points.
TRANSACTIONS, REFUNDS, REFUND_TRANSACTIONS, TAX_LINES = 100, 50, 5, 20
PAID_KINDS = ("SALE", "CAPTURE")
TAKING_STATUSES = ("SUCCESS", "PENDING")
FAILED_STATUSES = ("FAILURE", "ERROR")


def order_refund_state(client: GraphQLClient, order_id: int,
                       line_item_id: int) -> OrderRefundState | None:
    """The order's payments, refunds and the line's prices; None when the order is gone."""
    data = client.execute(docs.ORDER_REFUND_STATE_QUERY, {
        "id": gid("Order", order_id), "lineItemId": gid("LineItem", line_item_id),
        "transactions": TRANSACTIONS, "refunds": REFUNDS,
        "refundTransactions": REFUND_TRANSACTIONS, "taxLines": TAX_LINES})
    order = data.get("order")
    if order is None:
        return None
    return OrderRefundState(
        order_id=order_id, currency=order["presentmentCurrencyCode"],
        taxes_included=order["taxesIncluded"],
        outstanding=_money(order["totalOutstandingSet"]),
        payments=payments(order["transactions"]),
        refunds=tuple(refund_info(r) for r in order["refunds"]),
        line=_line(data.get("lineItem")))


def payments(transactions: list[dict]) -> tuple[PaymentInfo, ...]:
    """Successful sales and captures, each with what its refunds have not yet taken."""
    taken: dict[str, Decimal] = {}
    for t in transactions:
        if t["kind"] == "REFUND" and t["status"] in TAKING_STATUSES and t.get("parentTransaction"):
            parent = t["parentTransaction"]["id"]
            taken[parent] = taken.get(parent, Decimal("0")) + _money(t["amountSet"])
    return tuple(PaymentInfo(numeric_id(t["id"]), t.get("gateway") or "",
                             max(_money(t["amountSet"]) - taken.get(t["id"], Decimal("0")),
                                 Decimal("0")))
                 for t in transactions if t["kind"] in PAID_KINDS and t["status"] == "SUCCESS")


def refund_info(node: dict) -> RefundInfo:
    """A refund, settled as its transactions are: any failed, any still pending, or all done."""
    statuses = {t["status"] for t in (node.get("transactions") or {}).get("nodes") or []}
    settled = ("failure" if statuses & set(FAILED_STATUSES)
               else "success" if statuses <= {"SUCCESS"} else "pending")
    return RefundInfo(numeric_id(node["id"]), node.get("note") or "",
                      _money(node["totalRefundedSet"]), settled)


def create_refund(client: GraphQLClient, spec: RefundSpec) -> RefundInfo:
    """refundCreate with transactions only: the new refund, as its transactions stand."""
    order = gid("Order", spec.order_id)
    data = client.execute(docs.REFUND_CREATE, {"input": {
        "orderId": order, "currency": spec.currency, "note": spec.note, "notify": spec.notify,
        "transactions": [{"orderId": order, "parentId": gid("OrderTransaction", t.parent_id),
                          "gateway": t.gateway, "kind": "REFUND", "amount": str(t.amount)}
                         for t in spec.transactions]},
        "refundTransactions": REFUND_TRANSACTIONS}, idempotent=False)
    payload = data.get("refundCreate") or {}
    raise_user_errors("refundCreate", payload.get("userErrors") or [])
    return refund_info(payload["refund"])


def _line(node: dict | None) -> RefundLineInfo | None:
    if not node or "quantity" not in node:  # gone, or not a line item
        return None
    return RefundLineInfo(
        line_item_id=numeric_id(node["id"]), quantity=node["quantity"],
        unit_price=_money(node["discountedUnitPriceAfterAllDiscountsSet"]),
        tax=sum((_money(t["priceSet"]) for t in node["taxLines"]), Decimal("0")))


def _money(bag: dict) -> Decimal:
    return Decimal(str(bag["presentmentMoney"]["amount"]))
