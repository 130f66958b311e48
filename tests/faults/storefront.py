"""A small Shopify storefront simulator and a Shopify-like webhook deliverer.

`Simulator` plays a few hours of a shop's life (orders for a few variants, cancellations
with restock, fulfilments, restocks) and keeps the truth: each order's lines and each
item's `available`. It emits the webhooks Shopify would send, each a full snapshot
stamped with the time it was true. `delivery_plan` turns those into what actually
arrives: every webhook twice (Shopify's at-least-once retries), a fraction held back
and delivered at the very end (hours after their timestamps, out of order).

`Deliverer` posts a plan to the running service like Shopify does: signed, and
retried on anything but a 2xx (Shopify retries for hours); it records every answer.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import requests

from app.domain.inventory.rules import DemandLine, Policy, Supply, VariantAllocation, allocate
from integrations.shopify.webhooks import sign_webhook
from tests.support.fake_servers import FakeShopify, ShopifyVariant

LOCATION = 54001
STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class Item:
    variant_id: int
    product_id: int
    item_id: int
    sku: str
    initial: int
    supplier: bool  # a supplier sells it: backorderable on the supplier's lead time


CATALOG = (
    Item(51001, 52001, 53001, "TEE-S", 3, True),
    Item(51002, 52001, 53002, "TEE-M", 2, True),
    Item(51003, 52002, 53003, "MUG", 4, True),
    Item(51004, 52002, 53004, "MUG-XL", 1, False),
)
SUPPLIER_CSV = (
    "supplier,supplier_email,sku,supplier_sku,unit_cost,currency,lead_time_days,moq,"
    "pack_size,priority\n"
    + "".join(f"Acme,po@acme.test,{item.sku},A-{item.sku},4.50,USD,10,1,1,1\n"
              for item in CATALOG if item.supplier))


def seed_catalog(fake: FakeShopify, shop: str, *, as_of: datetime) -> None:
    """The shop's variants and stock as Shopify holds them before the stream starts."""
    state = fake.shop(shop)
    for item in CATALOG:
        state.variants[item.variant_id] = ShopifyVariant(
            variant_id=item.variant_id, product_id=item.product_id,
            inventory_item_id=item.item_id, sku=item.sku, title=item.sku,
            product_title=f"Product {item.product_id}", levels={LOCATION: (item.initial, as_of)})


def seed_fulfilment(fake: FakeShopify, shop: str, sim: Simulator) -> list:
    """Each order's fulfillment order as Shopify holds it once the stream is over, and
    holds the app must never touch: the merchant's on every 7th order, and on every 11th
    another app's that even uses the app's handle. Returns those holds."""
    state, foreign = fake.shop(shop).fulfilment, []
    for order in sim.orders.values():
        open_units = {line.line_id: order.open_quantity(line) for line in order.lines}
        done = order.cancelled is not None or not any(open_units.values())
        fo = state.add_order(order.order_id, open_units, status="CLOSED" if done else "OPEN",
                             tags=["wholesale"] if order.order_id % 5 == 0 else ())
        if not done and order.order_id % 7 == 0:
            foreign.append(state.add_foreign_hold(fo.fo_id))
        elif not done and order.order_id % 11 == 0:
            foreign.append(state.add_foreign_hold(
                fo.fo_id, handle=f"backorder-line-{order.lines[0].line_id}"))
    return foreign


@dataclass
class Line:
    line_id: int
    variant_id: int
    quantity: int
    fulfilled: int = 0


@dataclass
class Order:
    order_id: int
    placed: datetime
    lines: list[Line]
    email: str
    phone: str
    updated: datetime
    cancelled: datetime | None = None

    def open_quantity(self, line: Line) -> int:
        return 0 if self.cancelled else line.quantity - line.fulfilled


@dataclass(frozen=True)
class Webhook:
    topic: str
    payload: dict
    at: datetime  # when it was true (X-Shopify-Triggered-At)
    event_id: str

    @property
    def body(self) -> bytes:
        return json.dumps(self.payload).encode()


class Simulator:
    """The truth of a storefront, and the webhooks it causes."""

    def __init__(self, *, seed: int, start: datetime):
        self.rng = random.Random(seed)
        self.now = start
        self.available = {item.item_id: item.initial for item in CATALOG}
        self.orders: dict[int, Order] = {}
        self.webhooks: list[Webhook] = []

    def run(self, *, orders: int) -> Simulator:
        while len(self.orders) < orders:
            self.now += STEP
            roll = self.rng.random()
            if roll < 0.6 or not self._open():
                self._place()
            elif roll < 0.72:
                self._cancel(self.rng.choice(self._open()))
            elif roll < 0.86:
                self._fulfil(self.rng.choice(self._open()))
            else:
                self._restock(self.rng.choice(CATALOG), self.rng.randint(1, 3))
        return self

    # --- actions ---------------------------------------------------------------

    def _place(self) -> None:
        n = len(self.orders) + 1
        items = self.rng.sample(CATALOG, self.rng.choice((1, 1, 2)))
        lines = [Line(n * 100 + i, item.variant_id, self.rng.choice((1, 1, 2)))
                 for i, item in enumerate(items)]
        order = Order(70000 + n, self.now, lines, f"customer{n}@example.com",
                      f"+1555010{n:04d}", self.now)
        self.orders[order.order_id] = order
        self._emit("orders/create", self._order_payload(order))
        for line in lines:  # Shopify lowers `available` as the order is placed
            self._level(_item_of(line.variant_id), -line.quantity)

    def _cancel(self, order: Order) -> None:
        released = {line.variant_id: order.open_quantity(line) for line in order.lines}
        order.cancelled = order.updated = self.now
        self._emit("orders/cancelled", self._order_payload(order))
        for variant_id, quantity in released.items():  # cancelled with restock
            if quantity:
                self._level(_item_of(variant_id), quantity)

    def _fulfil(self, order: Order) -> None:
        for line in order.lines:
            line.fulfilled = line.quantity
        order.updated = self.now
        self._emit("orders/fulfilled", self._order_payload(order))

    def _restock(self, item: Item, quantity: int) -> None:
        self._level(item, quantity)

    def _level(self, item: Item, delta: int) -> None:
        self.available[item.item_id] += delta
        self._emit("inventory_levels/update", {
            "inventory_item_id": item.item_id, "location_id": LOCATION,
            "available": self.available[item.item_id], "updated_at": _iso(self.now)})

    def _open(self) -> list[Order]:
        return [o for o in self.orders.values()
                if o.cancelled is None and any(o.open_quantity(x) for x in o.lines)]

    def _emit(self, topic: str, payload: dict) -> None:
        self.webhooks.append(Webhook(topic, payload, self.now, f"ev-{len(self.webhooks) + 1}"))

    @staticmethod
    def _order_payload(order: Order) -> dict:
        items = [{"id": x.line_id, "variant_id": x.variant_id, "quantity": x.quantity,
                  "current_quantity": x.quantity,
                  "fulfillable_quantity": 0 if order.cancelled else x.quantity - x.fulfilled,
                  "fulfillment_status": "fulfilled" if x.fulfilled == x.quantity else None,
                  "title": f"Item {x.variant_id}", "sku": _item_of(x.variant_id).sku}
                 for x in order.lines]
        return {"id": order.order_id, "name": f"#{order.order_id}", "email": order.email,
                "phone": order.phone, "created_at": _iso(order.placed),
                "updated_at": _iso(order.updated),
                "cancelled_at": _iso(order.cancelled) if order.cancelled else None,
                "customer_locale": "en", "line_items": items,
                "customer": {"id": 900000 + order.order_id, "email": order.email,
                             "phone": order.phone}}

    # --- the truth -------------------------------------------------------------------

    def open_lines(self) -> dict[int, int]:
        """Line item id -> units still waiting to ship."""
        return {line.line_id: order.open_quantity(line)
                for order in self.orders.values() for line in order.lines}

    def expected_allocation(self, item: Item, *, supply: list[Supply], policy: Policy,
                            today: date) -> VariantAllocation:
        """What the engine must conclude for the item, computed once from the truth."""
        demand = [DemandLine(line.line_id, order.placed, order.open_quantity(line))
                  for order in self.orders.values() for line in order.lines
                  if line.variant_id == item.variant_id]
        return allocate(lines=demand, available=self.available[item.item_id], supply=supply,
                        policy=policy, today=today)


def _item_of(variant_id: int) -> Item:
    return next(item for item in CATALOG if item.variant_id == variant_id)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def delivery_plan(webhooks: list[Webhook], *, seed: int, late_fraction: float = 0.15,
                  duplicate_gap: float = 8.0) -> list[Webhook]:
    """Every webhook twice; a fraction (both copies) held back until after all others."""
    rng = random.Random(seed)
    keyed: list[tuple[float, Webhook]] = []
    end = float(len(webhooks))
    for n, hook in enumerate(webhooks):
        if rng.random() < late_fraction:
            keyed += [(end + rng.random() * end, hook), (end + rng.random() * end, hook)]
        else:
            # The retry lands a little later, among newer deliveries.
            keyed += [(float(n), hook), (n + rng.uniform(0.5, duplicate_gap), hook)]
    keyed.sort(key=lambda pair: pair[0])
    return [hook for _, hook in keyed]


# --- delivering -----------------------------------------------------------------------------


@dataclass
class Outcome:
    webhook: Webhook
    statuses: list[int | str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 200


class Deliverer(threading.Thread):
    """Posts the plan at `rate` per second; retries each delivery until a 2xx, as Shopify does."""

    def __init__(self, url: str, secret: str, shop: str, plan: list[Webhook], *,
                 rate: float, retry_wait: float = 0.5, give_up_after: float = 60.0):
        super().__init__(daemon=True, name="shopify-deliverer")
        self.url, self.secret, self.shop, self.plan = url, secret, shop, plan
        self.interval = 1 / rate
        self.retry_wait, self.give_up_after = retry_wait, give_up_after
        self.outcomes: list[Outcome] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with requests.Session() as http:
                started = time.monotonic()
                for n, hook in enumerate(self.plan):
                    delay = started + n * self.interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    self.outcomes.append(self._deliver(http, hook))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def _deliver(self, http: requests.Session, hook: Webhook) -> Outcome:
        outcome = Outcome(hook)
        body = hook.body
        headers = {"Content-Type": "application/json", "X-Shopify-Topic": hook.topic,
                   "X-Shopify-Hmac-Sha256": sign_webhook(body, self.secret),
                   "X-Shopify-Shop-Domain": self.shop, "X-Shopify-API-Version": "2026-10",
                   "X-Shopify-Webhook-Id": "wh-" + hook.event_id,
                   "X-Shopify-Event-Id": hook.event_id,
                   "X-Shopify-Triggered-At": _iso(hook.at)}
        deadline = time.monotonic() + self.give_up_after
        while True:
            sent = time.monotonic()
            try:
                status: int | str = http.post(self.url, data=body, headers=headers,
                                              timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            outcome.statuses.append(status)
            outcome.latencies_ms.append((time.monotonic() - sent) * 1000)
            if status == 200 or time.monotonic() > deadline:
                return outcome
            time.sleep(self.retry_wait)


def open_storefront(stack, *, as_of: datetime, group_window_seconds: int = 1) -> int:
    """Register the shop the way an operator does, with the CLI, and set it up to notify.

    `backorder shops add` subscribes the webhooks and syncs the catalog through the real
    GraphQL adapter (from the fake Shopify), `backorder catalog import` loads the supplier
    CSV, the merchant turns SMS on and quiet hours off, and `backorder sync` recomputes.
    Returns the shop's id.
    """
    from app.db import unit_of_work
    from app.domain.inventory.models import ShopSettings
    from app.domain.merchant.settings import current_settings, save_settings
    from app.domain.shops.service import get_shop
    from tests.faults.stack import SHOP, TOKEN

    seed_catalog(stack.shopify, SHOP, as_of=as_of)
    stack.cli("shops", "add", SHOP, "--token", TOKEN)
    catalog = stack.workdir / "catalog.csv"
    catalog.write_text(SUPPLIER_CSV)
    stack.cli("catalog", "import", str(catalog), "--shop", SHOP)
    with unit_of_work(stack.sessions) as session:
        shop_id = get_shop(session, SHOP).id
        values = current_settings(session, shop_id)
        save_settings(session, shop_id, replace(values, sms_enabled=True, quiet_hours=None))
        row = session.get(ShopSettings, shop_id)
        # Group a burst of changes to one order for a second, not the default minute.
        row.extra = {**row.extra, "notifications": {
            **row.extra["notifications"], "group_window_seconds": group_window_seconds,
            "max_group_wait_seconds": 10 * group_window_seconds}}
    stack.cli("sync", "--shop", SHOP)
    return shop_id
