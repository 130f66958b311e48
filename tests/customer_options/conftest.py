"""Customer-option fixtures: Shopify's Admin GraphQL endpoint under `responses`, shop settings.

The notification fixtures (a real SMTP server, Twilio under `responses`, the World of rows)
are reused; Shopify's endpoint is added to the same `responses` mock as Twilio's.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.customer_options.models import LineCancellation, OrderDiscount
from app.domain.inventory.models import ShopSettings, Variant
from tests.notifications.conftest import (  # noqa: F401  (fixtures)
    mailbox,
    mapp,
    mrt,
    twilio,
    world,
)

ADMIN_URL = re.compile(r"https://[^/]+/admin/api/[^/]+/graphql\.json")


class ShopifyApi:
    """The Admin GraphQL endpoint: answers each operation from a script, records every body."""

    def __init__(self, mock):
        self.bodies: list[dict] = []
        self.script: dict[str, list] = defaultdict(list)  # operation -> next answers
        self.defaults: dict[str, dict] = {}  # operation -> `data` answered when unscripted
        mock.add_callback("POST", ADMIN_URL, callback=self._answer)

    def sent(self, operation: str) -> list[dict]:
        """The variables of every request of that operation, in order."""
        return [b["variables"] for b in self.bodies if _operation(b) == operation]

    def answer_next(self, operation: str, status: int, body: dict, headers=None) -> None:
        self.script[operation].append((status, body, headers or {}))

    def _answer(self, request):
        body = json.loads(request.body)
        self.bodies.append(body)
        operation = _operation(body)
        if self.script[operation]:
            status, answer, headers = self.script[operation].pop(0)
        else:
            status, answer, headers = 200, {"data": self.defaults[operation]}, {}
        return status, {"Content-Type": "application/json", **headers}, json.dumps(answer)


def _operation(body: dict) -> str:
    return re.search(r"(?:query|mutation) (\w+)", body["query"]).group(1)


def edit_answers(line_item_id: int, quantity: int) -> dict[str, dict]:
    """orderEditBegin finds the line with `quantity` units; set and commit succeed."""
    calculated = {"id": "gid://shopify/CalculatedOrder/777", "lineItems": {
        "nodes": [{"id": f"gid://shopify/CalculatedLineItem/{line_item_id}",
                   "quantity": quantity, "variant": {"id": "gid://shopify/ProductVariant/1"}}],
        "pageInfo": {"hasNextPage": False}}}
    return {"BackorderOrderEditBegin": {"orderEditBegin": {"calculatedOrder": calculated,
                                                           "userErrors": []}},
            "BackorderOrderEditSetQuantity": {"orderEditSetQuantity": {
                "calculatedLineItem": None, "userErrors": []}},
            "BackorderOrderEditCommit": {"orderEditCommit": {
                "order": {"id": "gid://shopify/Order/1001"}, "userErrors": []}},
            "BackorderCreateDiscountCode": {"discountCodeBasicCreate": {
                "codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/55"},
                "userErrors": []}}}


@pytest.fixture
def shopify(twilio):  # noqa: F811  (the imported fixture)
    api = ShopifyApi(twilio.mock)
    api.defaults.update(edit_answers(11, 2))
    return api


def set_options(w, **options) -> None:
    """Write shop_settings.extra["customer_options"] (other keys kept)."""
    with unit_of_work(w.rt.sessions) as session:
        row = session.get(ShopSettings, w.shop_id)
        row.extra = {**row.extra, "customer_options": options}


def add_variant(w, variant_id: int, *, product_id: int, title: str, status: str) -> None:
    with unit_of_work(w.rt.sessions) as session:
        session.add(Variant(shop_id=w.shop_id, variant_id=variant_id, product_id=product_id,
                            title=title, product_title="Linen Shirt", status=status))


def cancellation(w) -> LineCancellation | None:
    with w.rt.sessions() as session:
        return session.scalar(select(LineCancellation))


def discounts(w) -> list[OrderDiscount]:
    with w.rt.sessions() as session:
        return list(session.scalars(select(OrderDiscount).order_by(OrderDiscount.id)))
