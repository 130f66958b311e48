"""Shopify's fulfillment orders, holds and order tags, in memory, for the fake twins.

Both fakes (the in-memory FakeShopifyAdmin and the loopback FakeShopify of the test
suite) keep their orders' fulfilment here, so they behave alike and like Shopify:
- a hold on some units of a fulfillment order splits it: the held units stay on it,
  the rest moves to a new fulfillment order;
- a fulfillment order that is already held cannot be split (FULFILLMENT_ORDER_NOT_SPLITTABLE);
- an app's hold handle is unique per fulfillment order (DUPLICATE_FULFILLMENT_HOLD_HANDLE);
- releasing a hold another app placed is refused (INVALID_ACCESS);
- a fulfillment order with no hold left is OPEN again.
Every refusal is a list of userErrors ({"field", "message", "code"}), as Shopify answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.ports import (
    FulfilmentHoldInfo,
    FulfilmentLineInfo,
    FulfilmentOrderInfo,
    OrderFulfilment,
)

HOLDABLE = frozenset({"OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"})
MAX_HOLDS_PER_APP = 10


@dataclass
class FakeHold:
    hold_id: int
    handle: str
    mine: bool  # placed by the app under test
    reason: str = "OTHER"


@dataclass
class FakeFoLine:
    fo_line_id: int
    line_item_id: int
    remaining: int


@dataclass
class FakeFulfillmentOrder:
    fo_id: int
    order_id: int
    status: str = "OPEN"
    lines: list[FakeFoLine] = field(default_factory=list)
    holds: list[FakeHold] = field(default_factory=list)


def _error(code: str | None, message: str, *path: str) -> list[dict]:
    return [{"field": list(path) or None, "message": message, "code": code}]


class FakeFulfilment:
    """Fulfillment orders by order id, and each order's tags."""

    def __init__(self) -> None:
        self.fulfillment_orders: dict[int, FakeFulfillmentOrder] = {}
        self.tags: dict[int, set[str]] = {}
        self._ids = itertools.count(1)

    # --- seeding ---------------------------------------------------------------

    def add_order(self, order_id: int, lines: Mapping[int, int], *, status: str = "OPEN",
                  tags: Sequence[str] = ()) -> FakeFulfillmentOrder:
        """One fulfillment order holding `lines` (line item id -> units left to ship)."""
        self.tags.setdefault(order_id, set()).update(tags)
        fo = FakeFulfillmentOrder(next(self._ids), order_id, status, [
            FakeFoLine(next(self._ids), line_id, qty) for line_id, qty in lines.items()])
        self.fulfillment_orders[fo.fo_id] = fo
        return fo

    def add_foreign_hold(self, fo_id: int, *, handle: str = "") -> FakeHold:
        """A hold the merchant (or another app) placed on the whole fulfillment order."""
        fo = self.fulfillment_orders[fo_id]
        hold = FakeHold(next(self._ids), handle, mine=False)
        fo.holds.append(hold)
        fo.status = "ON_HOLD"
        return hold

    # --- what tests look at --------------------------------------------------------

    def of_order(self, order_id: int) -> list[FakeFulfillmentOrder]:
        return [fo for fo in self.fulfillment_orders.values() if fo.order_id == order_id]

    def held_by_app(self, line_item_id: int, handle: str) -> int:
        """Units of the line on open fulfillment orders the app holds under `handle`."""
        return sum(x.remaining for fo in self.fulfillment_orders.values()
                   if fo.status in HOLDABLE and any(h.mine and h.handle == handle
                                                    for h in fo.holds)
                   for x in fo.lines if x.line_item_id == line_item_id)

    def foreign_holds(self) -> list[tuple[int, FakeHold]]:
        return [(fo.fo_id, h) for fo in self.fulfillment_orders.values()
                for h in fo.holds if not h.mine]

    # --- the Admin API ---------------------------------------------------------------

    def read(self, order_id: int) -> OrderFulfilment | None:
        if order_id not in self.tags:
            return None
        return OrderFulfilment(order_id=order_id, tags=tuple(sorted(self.tags[order_id])),
                               fulfillment_orders=tuple(_info(fo) for fo in
                                                        self.of_order(order_id)))

    def hold(self, fo_id: int, *, handle: str, reason: str,
             lines: Sequence[tuple[int, int]] | None) -> tuple[FakeHold | None, list[dict]]:
        fo = self.fulfillment_orders.get(fo_id)
        if fo is None:
            return None, _error("FULFILLMENT_ORDER_NOT_FOUND", "Fulfillment order not found", "id")
        mine = [h for h in fo.holds if h.mine]
        problem = (_error(None, f"Fulfillment order status {fo.status} can't be held", "id")
                   if fo.status not in HOLDABLE else
                   _error("DUPLICATE_FULFILLMENT_HOLD_HANDLE", "Handle already in use",
                          "fulfillmentHold", "handle") if any(h.handle == handle for h in mine)
                   else _error("FULFILLMENT_ORDER_HOLD_LIMIT_REACHED", "Too many holds")
                   if len(mine) >= MAX_HOLDS_PER_APP
                   else self._check_split(fo, lines) if lines else [])
        if problem:
            return None, problem
        if lines:
            self._split(fo, dict(lines))
        hold = FakeHold(next(self._ids), handle, mine=True, reason=reason)
        fo.holds.append(hold)
        fo.status = "ON_HOLD"
        return hold, []

    def release(self, fo_id: int, hold_ids: Sequence[int]) -> list[dict]:
        fo = self.fulfillment_orders.get(fo_id)
        if fo is None:
            return _error("FULFILLMENT_ORDER_NOT_FOUND", "Fulfillment order not found", "id")
        if any(h.hold_id in hold_ids and not h.mine for h in fo.holds):
            return _error("INVALID_ACCESS", "The app can't release a hold it didn't place",
                          "holdIds")
        fo.holds = [h for h in fo.holds if h.hold_id not in hold_ids]
        if not fo.holds and fo.status == "ON_HOLD":
            fo.status = "OPEN"
        return []

    def change_tags(self, order_id: int, tags: Sequence[str], *, add: bool) -> list[dict]:
        if order_id not in self.tags:
            return _error(None, "Order does not exist", "id")
        current = self.tags[order_id]
        if add:
            current.update(tags)
        else:
            current.difference_update(tags)
        return []

    # --- splitting -----------------------------------------------------------------------

    def _check_split(self, fo: FakeFulfillmentOrder, lines: Sequence[tuple[int, int]]) -> list:
        if fo.holds:
            return _error("FULFILLMENT_ORDER_NOT_SPLITTABLE",
                          "The fulfillment order is already on hold and can't be split",
                          "fulfillmentHold", "fulfillmentOrderLineItems")
        remaining = {x.fo_line_id: x.remaining for x in fo.lines}
        for line_id, quantity in lines:
            if quantity <= 0:
                return _error("GREATER_THAN_ZERO", "Quantity must be greater than 0")
            if line_id not in remaining or quantity > remaining[line_id]:
                return _error("INVALID_LINE_ITEM_QUANTITY", "Invalid line item quantity",
                              "fulfillmentHold", "fulfillmentOrderLineItems")
        return []

    def _split(self, fo: FakeFulfillmentOrder, held: dict[int, int]) -> None:
        kept, moved = [], []
        for line in fo.lines:
            keep = held.get(line.fo_line_id, 0)
            if keep:
                kept.append(FakeFoLine(line.fo_line_id, line.line_item_id, keep))
            if line.remaining - keep:
                moved.append(FakeFoLine(next(self._ids), line.line_item_id,
                                        line.remaining - keep))
        fo.lines = kept
        if moved:
            rest = FakeFulfillmentOrder(next(self._ids), fo.order_id, fo.status, moved)
            self.fulfillment_orders[rest.fo_id] = rest


def _info(fo: FakeFulfillmentOrder) -> FulfilmentOrderInfo:
    return FulfilmentOrderInfo(
        fo_id=fo.fo_id, status=fo.status,
        lines=tuple(FulfilmentLineInfo(x.fo_line_id, x.line_item_id, x.remaining)
                    for x in fo.lines),
        holds=tuple(FulfilmentHoldInfo(h.hold_id, h.handle, h.mine) for h in fo.holds))
