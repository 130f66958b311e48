"""Order editing and discount codes over the Admin GraphQL API (GraphQLShopifyAdmin's part).

Both are safe to repeat, which is what lets their jobs retry:
- the edit *sets* a quantity (never subtracts), and is skipped when the line already
  holds no more than that, so a retry after a commit whose answer was lost changes nothing;
- the discount's code is chosen (and stored) before the call, and Shopify keeps codes
  unique per shop, so a retry gets TAKEN instead of a second code.
"""

from __future__ import annotations

from collections.abc import Callable

from app.domain.ports import DiscountCodeSpec
from app.errors import PermanentError
from integrations.shopify import documents as docs
from integrations.shopify.graphql import GraphQLClient

LINES_PER_EDIT = 250  # Shopify's page maximum; an order with more lines is refused below

Gid = Callable[[str, int], str]


def set_line_item_quantity(client: GraphQLClient, gid: Gid, *, order_id: int,
                           line_item_id: int, quantity: int, staff_note: str) -> bool:
    """Begin an edit, set the line's quantity, commit; False when nothing needed changing."""
    begun = _payload(client.execute(docs.ORDER_EDIT_BEGIN, {
        "id": gid("Order", order_id), "lines": LINES_PER_EDIT}), "orderEditBegin")
    calculated = begun.get("calculatedOrder") or {}
    line = _calculated_line(calculated.get("lineItems") or {}, line_item_id)
    if line is None or line["quantity"] <= quantity:
        return False  # already removed (or edited further by staff): never add units back
    _payload(client.execute(docs.ORDER_EDIT_SET_QUANTITY, {
        "id": calculated["id"], "lineItemId": line["id"], "quantity": quantity}),
        "orderEditSetQuantity")
    # Not retried inside the client: a lost answer is settled by the job's next run,
    # which begins a fresh edit and finds the quantity already set.
    _payload(client.execute(docs.ORDER_EDIT_COMMIT, {
        "id": calculated["id"], "staffNote": staff_note}, idempotent=False), "orderEditCommit")
    return True


def _calculated_line(connection: dict, line_item_id: int) -> dict | None:
    """The calculated line of an existing line item: Shopify gives it the line's number."""
    for node in connection.get("nodes") or []:
        if node["id"].rsplit("/", 1)[-1] == str(line_item_id):
            return node
    if (connection.get("pageInfo") or {}).get("hasNextPage"):
        raise PermanentError(f"order has more than {LINES_PER_EDIT} lines: edit it in Shopify")
    return None  # a line removed entirely is no longer listed


def create_discount_code(client: GraphQLClient, gid: Gid, spec: DiscountCodeSpec) -> int | None:
    """discountCodeBasicCreate for one customer, once; None when the code exists already."""
    data = client.execute(docs.DISCOUNT_CODE_BASIC_CREATE, {"discount": discount_input(gid, spec)})
    payload = data.get("discountCodeBasicCreate") or {}
    errors = payload.get("userErrors") or []
    if errors and all(_code_taken(e) for e in errors):
        return None  # an earlier attempt created it and its answer was lost
    _raise(errors, "discountCodeBasicCreate")
    node = payload.get("codeDiscountNode") or {}
    return int(node["id"].rsplit("/", 1)[-1]) if node.get("id") else None


def discount_input(gid: Gid, spec: DiscountCodeSpec) -> dict:
    """The DiscountCodeBasicInput: whole order, used once, by this customer only when known."""
    value = ({"percentage": float(spec.percentage) / 100} if spec.percentage is not None
             else {"discountAmount": {"amount": str(spec.amount), "appliesOnEachItem": False}})
    customers = ({"customers": {"add": [gid("Customer", spec.customer_id)]}}
                 if spec.customer_id is not None else {"all": True})
    return {"title": spec.title, "code": spec.code, "startsAt": spec.starts_at.isoformat(),
            "usageLimit": 1, "appliesOncePerCustomer": True, "customerSelection": customers,
            "customerGets": {"value": value, "items": {"all": True}}}


def _code_taken(error: dict) -> bool:
    return error.get("code") == "TAKEN" and "code" in (error.get("field") or [])


def _payload(data: dict, root: str) -> dict:
    payload = data.get(root) or {}
    _raise(payload.get("userErrors") or [], root)
    return payload


def _raise(errors: list[dict], operation: str) -> None:
    if errors:
        listed = "; ".join(f"{'.'.join(map(str, e.get('field') or [])) or '-'}: {e['message']}"
                           for e in errors)
        raise PermanentError(f"{operation} rejected: {listed}")
