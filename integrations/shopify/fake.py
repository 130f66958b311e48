"""An in-memory ShopifyAdmin for development and tests.

It keeps the state the real adapter would change in Shopify and rejects what
Shopify would reject (unknown variants, a variant of another product, an item
not stocked at a location) with the same PermanentError, so code tested
against the twin behaves the same against the real thing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from app.domain.ports import (
    DiscountCodeSpec,
    InventoryLevelInfo,
    OrderFulfilment,
    OrderInfo,
    OrderLineInfo,
    OrderRefundState,
    RefundInfo,
    RefundSpec,
    VariantInfo,
    VariantMetafields,
    VariantPolicyChange,
)
from app.errors import PermanentError
from integrations.shopify.admin import COMPLIANCE_TOPICS
from integrations.shopify.fake_fulfilment import FakeFulfilment
from integrations.shopify.fake_refunds import FakeRefunds

POLICIES = ("DENY", "CONTINUE")


class FakeShopifyAdmin:
    """ShopifyAdmin twin: seeded with add_variant/add_order, every call in `calls`."""

    def __init__(self) -> None:
        self.variants: dict[int, VariantInfo] = {}
        self.orders: dict[int, OrderInfo] = {}
        self.closed_orders: set[int] = set()
        self.policies: dict[int, str] = {}
        self.metafields: dict[tuple[int, str], str] = {}  # (variant_id, key) -> value
        self.webhooks: dict[str, str] = {}  # topic -> callback URL
        self.adjustments: list[tuple[int, int, int, str]] = []
        self.calls: list[tuple[str, tuple]] = []
        self.order_edits: list[tuple[int, int, int, str]] = []  # committed edits
        self.discounts: dict[str, DiscountCodeSpec] = {}  # code -> what was created
        self.fulfilment = FakeFulfilment()  # fulfillment orders, holds, order tags
        self.metafield_definitions: set[tuple[str, str]] = set()  # (namespace, key)
        self.money = FakeRefunds()  # orders' prices, payments and refunds
        self._failures: list[BaseException] = []
        self._lost_answers: list[BaseException] = []

    # --- seeding and switches ------------------------------------------------

    def add_variant(self, variant_id: int, *, product_id: int = 1, sku: str | None = None,
                    title: str = "Default Title", inventory_item_id: int | None = None,
                    tracked: bool = True, inventory_policy: str = "DENY",
                    available: Mapping[int, int] | None = None,
                    product_title: str = "") -> VariantInfo:
        """Store a variant; `available` maps location id to units available."""
        levels = tuple(InventoryLevelInfo(location_id=loc, available=qty)
                       for loc, qty in (available or {}).items())
        variant = VariantInfo(
            variant_id=variant_id, product_id=product_id, sku=sku, title=title,
            inventory_item_id=variant_id if inventory_item_id is None else inventory_item_id,
            tracked=tracked, inventory_policy=inventory_policy, levels=levels,
            product_title=product_title)
        self.variants[variant_id] = variant
        self.policies[variant_id] = inventory_policy
        return variant

    def add_order(self, order_id: int, *, lines: Sequence[OrderLineInfo] = (),
                  name: str | None = None, email: str | None = None, phone: str | None = None,
                  created_at: datetime | None = None, cancelled_at: datetime | None = None,
                  closed: bool = False) -> OrderInfo:
        """Store an order; closed or cancelled ones are not listed as open."""
        created = created_at or datetime.now(UTC)
        order = OrderInfo(order_id=order_id, name=name or f"#{order_id}", created_at=created,
                          updated_at=cancelled_at or created, cancelled_at=cancelled_at,
                          email=email, phone=phone, lines=tuple(lines))
        self.orders[order_id] = order
        if closed:
            self.closed_orders.add(order_id)
        return order

    def fail_next(self, times: int, error: BaseException) -> None:
        """Make the next `times` calls, whatever the method, raise `error`."""
        self._failures.extend([error] * times)

    def lose_next_answer(self, error: BaseException) -> None:
        """The next refund is made, then its answer is lost: the call raises `error`."""
        self._lost_answers.append(error)

    def level(self, variant_id: int, location_id: int) -> int | None:
        """Units available for a variant at a location, None when not stocked there."""
        levels = self.variants[variant_id].levels
        return next((lv.available for lv in levels if lv.location_id == location_id), None)

    # --- ShopifyAdmin ----------------------------------------------------------

    def set_inventory_policies(self, product_id: int,
                               changes: Sequence[VariantPolicyChange]) -> None:
        self._record("set_inventory_policies", product_id, tuple(changes))
        for change in changes:
            variant = self._variant(change.variant_id)
            if variant.product_id != product_id or change.policy not in POLICIES:
                raise PermanentError(f"productVariantsBulkUpdate rejected: variant "
                                     f"{change.variant_id} {change.policy} on {product_id}")
        for change in changes:
            self.policies[change.variant_id] = change.policy
            self.variants[change.variant_id] = replace(
                self.variants[change.variant_id], inventory_policy=change.policy)

    def set_variant_metafields(self, values: Sequence[VariantMetafields]) -> None:
        self._record("set_variant_metafields", tuple(values))
        for value in values:
            self._variant(value.variant_id)
        for value in values:
            self.metafields[(value.variant_id, "status")] = value.status
            if value.eta is None:
                self.metafields.pop((value.variant_id, "eta"), None)
            else:
                self.metafields[(value.variant_id, "eta")] = value.eta.isoformat()

    def subscribe_webhooks(self, callback_url: str, topics: Sequence[str]) -> None:
        self._record("subscribe_webhooks", callback_url, tuple(topics))
        for topic in topics:
            if topic not in COMPLIANCE_TOPICS:
                self.webhooks[topic] = callback_url

    def fetch_variant(self, variant_id: int) -> VariantInfo | None:
        self._record("fetch_variant", variant_id)
        return self.variants.get(variant_id)

    def iter_variants(self) -> Iterator[VariantInfo]:
        # A generator, like the real one: nothing happens until iteration starts.
        self._record("iter_variants")
        yield from [self.variants[key] for key in sorted(self.variants)]

    def iter_open_orders(self) -> Iterator[OrderInfo]:
        self._record("iter_open_orders")
        yield from [order for key, order in sorted(self.orders.items())
                    if order.cancelled_at is None and key not in self.closed_orders]

    def adjust_inventory(self, *, inventory_item_id: int, location_id: int,
                         delta: int, reference: str) -> None:
        self._record("adjust_inventory", inventory_item_id, location_id, delta, reference)
        variant = next((v for v in self.variants.values()
                        if v.inventory_item_id == inventory_item_id), None)
        if variant is None or self.level(variant.variant_id, location_id) is None:
            raise PermanentError(f"inventoryAdjustQuantities rejected: item {inventory_item_id} "
                                 f"is not stocked at location {location_id}")
        levels = tuple(replace(lv, available=lv.available + delta)
                       if lv.location_id == location_id else lv for lv in variant.levels)
        self.variants[variant.variant_id] = replace(variant, levels=levels)
        self.adjustments.append((inventory_item_id, location_id, delta, reference))

    def set_line_item_quantity(self, *, order_id: int, line_item_id: int, quantity: int,
                               staff_note: str) -> bool:
        self._record("set_line_item_quantity", order_id, line_item_id, quantity, staff_note)
        order = self.orders.get(order_id)
        if order is None:
            raise PermanentError(f"orderEditBegin rejected: order {order_id} does not exist")
        line = next((x for x in order.lines if x.line_id == line_item_id), None)
        if line is None or line.quantity <= quantity:
            return False  # like the adapter: never adds units back
        if quantity < line.fulfilled_quantity:
            raise PermanentError("orderEditSetQuantity rejected: below the fulfilled quantity")
        lines = tuple(replace(x, quantity=quantity) if x is line else x for x in order.lines)
        self.orders[order_id] = replace(order, lines=lines)
        self.order_edits.append((order_id, line_item_id, quantity, staff_note))
        return True

    def create_discount_code(self, spec: DiscountCodeSpec) -> int | None:
        self._record("create_discount_code", spec)
        if spec.code in self.discounts:
            return None  # Shopify answers TAKEN; the adapter reports an existing code
        self.discounts[spec.code] = spec
        return len(self.discounts)

    def order_refund_state(self, order_id: int, line_item_id: int) -> OrderRefundState | None:
        self._record("order_refund_state", order_id, line_item_id)
        order = self.orders.get(order_id)
        current = {} if order is None else {x.line_id: x.quantity for x in order.lines}
        return self.money.state(order_id, line_item_id, current)

    def create_refund(self, spec: RefundSpec) -> RefundInfo:
        self._record("create_refund", spec)
        refund, errors = self.money.create(spec)
        _refuse("refundCreate", [{"code": ".".join(e["field"] or []) or "-", **e}
                                 for e in errors])
        if self._lost_answers:
            raise self._lost_answers.pop(0)
        return refund

    def create_metafield_definitions(self) -> None:
        self._record("create_metafield_definitions")
        self.metafield_definitions |= {("backorder", "status"), ("backorder", "eta")}

    def order_fulfilment(self, order_id: int) -> OrderFulfilment | None:
        self._record("order_fulfilment", order_id)
        return self.fulfilment.read(order_id)

    def hold_fulfillment_order(self, fo_id: int, *, handle: str,
                               lines: Sequence[tuple[int, int]] | None) -> None:
        self._record("hold_fulfillment_order", fo_id, handle, lines)
        _, errors = self.fulfilment.hold(fo_id, handle=handle, reason="INVENTORY_OUT_OF_STOCK",
                                         lines=lines)
        _refuse("fulfillmentOrderHold", [e for e in errors
                                         if e["code"] != "DUPLICATE_FULFILLMENT_HOLD_HANDLE"])

    def release_fulfillment_holds(self, fo_id: int, hold_ids: Sequence[int]) -> None:
        self._record("release_fulfillment_holds", fo_id, tuple(hold_ids))
        _refuse("fulfillmentOrderReleaseHold", self.fulfilment.release(fo_id, hold_ids))

    def add_order_tags(self, order_id: int, tags: Sequence[str]) -> None:
        self._record("add_order_tags", order_id, tuple(tags))
        _refuse("tagsAdd", self.fulfilment.change_tags(order_id, tags, add=True))

    def remove_order_tags(self, order_id: int, tags: Sequence[str]) -> None:
        self._record("remove_order_tags", order_id, tuple(tags))
        _refuse("tagsRemove", self.fulfilment.change_tags(order_id, tags, add=False))

    # --- helpers ---------------------------------------------------------------

    def _record(self, method: str, *args: object) -> None:
        # Recorded even when failing: upstream tests count attempts.
        self.calls.append((method, args))
        if self._failures:
            raise self._failures.pop(0)

    def _variant(self, variant_id: int) -> VariantInfo:
        try:
            return self.variants[variant_id]
        except KeyError:
            raise PermanentError(f"variant {variant_id} does not exist") from None


def _refuse(operation: str, errors: list[dict]) -> None:
    if errors:
        raise PermanentError(f"{operation} rejected: "
                             + "; ".join(f"{e['code']}: {e['message']}" for e in errors))
