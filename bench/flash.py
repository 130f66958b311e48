"""Flash sale benchmark (issue 13): does the cap hold at storefront speed?

The released service as real processes (`tests.faults.stack.Stack`: gunicorn serving
`app.wsgi:app`, two `backorder worker` processes, a private database and redis-server) and
a local fake Shopify that *sells*: a storefront simulator places one-unit orders at a
fixed rate, and each succeeds only while Shopify would let it (stock above zero, or the
variant's inventory policy CONTINUE as the service last set it with
productVariantsBulkUpdate). Each sale sends its `orders/create` and
`inventory_levels/update`, signed, to the service, as Shopify does. The variant has a
supplier, zero stock and a fixed cap of 300 set in the merchant's settings.

For each rate (50 and 200 orders/s) it prints:
- units sold past the cap, or how far under the cap selling stopped;
- the time from the cap-filling order (the last sale, if it stopped under the cap) to
  the DENY at Shopify that ended the sale;
- the time from each order to its customer's message being created: p50, p99, the last;
- whether, once the sale settled, a variant with capacity left was open again.

Then the hot variant's throughput: a backlog of orders for one variant stored while the
workers are stopped, applied by the workers once started, in orders/s next to one
worker's no-op RQ jobs/s measured in the same run, as a ratio.

Run: `.venv/bin/python -m bench.flash [--seconds 20] [--rates 50,200] [--backlog 2000]`.
Exit status 2 when a target is missed.
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import requests
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from app.db import unit_of_work
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import ShopSettings
from app.domain.merchant.settings import current_settings, save_settings
from app.domain.notifications.models import Notification
from app.domain.shops.models import Shop
from app.domain.shops.service import get_shop
from bench.harness import scratch_dir, signals_as_exit
from integrations.shopify.webhooks import sign_webhook
from tests.faults.stack import SHOP, TOKEN, Stack
from tests.support.fake_servers import FakeShopify, ShopifyVariant

VARIANT, PRODUCT, ITEM, LOCATION, SKU = 61001, 62001, 63001, 64001, "FLASH-TEE"
CAP = 300
# The merchant's "group changes to one order for" setting (60 s by default): a customer
# hears once a burst of changes to their order has been quiet this long.
GROUP_WINDOW_SECONDS = 2
TARGET_PAST_CAP = {50: 0.02, 200: 0.05}  # of the cap
TARGET_MESSAGE_SECONDS = 10.0  # at 50 orders/s
TARGET_THROUGHPUT_RATIO = 1.0
REOPEN_WITHIN = 240  # seconds after the sale settled (the peak rate fades over a minute)
CATALOG = ("supplier,supplier_email,sku,supplier_sku,unit_cost,currency,lead_time_days,moq,"
           f"pack_size,priority\nAcme,po@acme.test,{SKU},A-{SKU},4.50,USD,10,1,1,1\n")


class SellingShopify(FakeShopify):
    """The fake Admin API, also keeping when each policy write landed (monotonic time)."""

    def __init__(self) -> None:
        super().__init__()
        self.policy_log: list[tuple[float, int, str]] = []

    def _op_BackorderSetInventoryPolicies(self, shop, v):  # noqa: N802 (the fake's naming)
        data = super()._op_BackorderSetInventoryPolicies(shop, v)
        if not data["productVariantsBulkUpdate"]["userErrors"]:
            now = time.monotonic()
            self.policy_log.extend((now, int(str(item["id"]).rsplit("/", 1)[-1]),
                                    item["inventoryPolicy"]) for item in v["variants"])
        return data

    def checkout(self, variant_id: int) -> int | None:
        """Sell one unit if Shopify would; returns `available` after the sale, or None."""
        with self._lock:
            variant = self.shop(SHOP).variants[variant_id]
            available, _ = variant.levels[LOCATION]
            if available <= 0 and variant.policy != "CONTINUE":
                return None
            variant.levels[LOCATION] = (available - 1, datetime.now(UTC))
            return available - 1

    def policy(self, variant_id: int) -> str:
        with self._lock:
            return self.shop(SHOP).variants[variant_id].policy


@dataclass(frozen=True)
class Sale:
    order_id: int
    at: float  # monotonic
    placed: datetime
    available: int


class Storefront:
    """Shoppers buying one unit each at `rate` a second for `seconds`, through the fake."""

    def __init__(self, stack: Stack, shopify: SellingShopify, *, variant_id: int,
                 first_order: int):
        self.stack, self.shopify, self.variant_id = stack, shopify, variant_id
        self.next_order = first_order
        self.sales: list[Sale] = []
        self.refused = 0
        self._senders = ThreadPoolExecutor(max_workers=16)
        self._http = threading.local()
        self.failed_posts = 0

    def run(self, *, rate: float, seconds: float) -> None:
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            available = self.shopify.checkout(self.variant_id)
            if available is None:
                self.refused += 1
                continue
            sale = Sale(self.next_order, time.monotonic(), datetime.now(UTC), available)
            self.next_order += 1
            self.sales.append(sale)
            self._senders.submit(self._send, sale)

    def close(self) -> None:
        self._senders.shutdown(wait=True)

    def _send(self, sale: Sale) -> None:
        placed = sale.placed.isoformat()
        order = {"id": sale.order_id, "name": f"#{sale.order_id}",
                 "email": f"c{sale.order_id}@example.com", "phone": None,
                 "created_at": placed, "updated_at": placed, "cancelled_at": None,
                 "customer_locale": "en",
                 "line_items": [{"id": sale.order_id * 10, "variant_id": self.variant_id,
                                 "quantity": 1, "current_quantity": 1,
                                 "fulfillable_quantity": 1, "title": "Flash tee",
                                 "sku": SKU}],
                 "customer": {"id": 700000 + sale.order_id,
                              "email": f"c{sale.order_id}@example.com"}}
        level = {"inventory_item_id": ITEM + (self.variant_id - VARIANT),
                 "location_id": LOCATION, "available": sale.available, "updated_at": placed}
        self._post("orders/create", order, f"order-{sale.order_id}")
        self._post("inventory_levels/update", level, f"level-{sale.order_id}")

    def _post(self, topic: str, payload: dict, event_id: str) -> None:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
                   "X-Shopify-Hmac-Sha256": sign_webhook(body, self.stack.webhook_secret),
                   "X-Shopify-Shop-Domain": SHOP, "X-Shopify-Webhook-Id": event_id,
                   "X-Shopify-Event-Id": event_id, "X-Shopify-API-Version": "2026-10",
                   "X-Shopify-Triggered-At": datetime.now(UTC).isoformat()}
        http = getattr(self._http, "session", None) or requests.Session()
        self._http.session = http
        for _ in range(20):  # Shopify retries anything but a 2xx
            try:
                if http.post(self.stack.web_url + "/webhooks/shopify", data=body,
                             headers=headers, timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.failed_posts += 1


# --- set-up --------------------------------------------------------------------------

def open_shop(stack: Stack, shopify: SellingShopify, variants: list[int]) -> int:
    """The merchant's set-up: the shop added with the CLI, the supplier catalog imported,
    a fixed cap of 300 saved in the settings, email on; then a sync."""
    state = shopify.shop(SHOP)
    for n, variant_id in enumerate(variants):
        state.variants[variant_id] = ShopifyVariant(
            variant_id=variant_id, product_id=PRODUCT + n, inventory_item_id=ITEM + n,
            sku=SKU if n == 0 else f"{SKU}-{n}", title="M", product_title="Flash tee",
            levels={LOCATION: (0, datetime.now(UTC))})
    stack.cli("shops", "add", SHOP, "--token", TOKEN)
    catalog = stack.workdir / "catalog.csv"
    catalog.write_text(CATALOG + "".join(
        f"Acme,po@acme.test,{SKU}-{n},A-{SKU}-{n},4.50,USD,10,1,1,1\n"
        for n in range(1, len(variants))))
    stack.cli("catalog", "import", str(catalog), "--shop", SHOP)
    with unit_of_work(stack.sessions) as session:
        shop_id = get_shop(session, SHOP).id
        values = current_settings(session, shop_id)
        save_settings(session, shop_id, replace(values, fixed_cap=CAP, quiet_hours=None))
        row = session.get(ShopSettings, shop_id)
        row.extra = {**row.extra, "notifications": {
            **row.extra["notifications"], "group_window_seconds": GROUP_WINDOW_SECONDS,
            "max_group_wait_seconds": 10 * GROUP_WINDOW_SECONDS}}
    stack.cli("sync", "--shop", SHOP)
    return shop_id


def wait_until(predicate, *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def events_waiting(stack: Stack) -> int:
    with stack.sessions() as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent)
                              .where(WebhookEvent.status == EventStatus.RECEIVED))


# --- one sale ----------------------------------------------------------------------

@dataclass
class SaleResult:
    rate: int
    sold: int
    refused: int
    deny_after_cap_s: float | None
    message_s: list[float]
    missing_messages: int
    open_again: bool | None  # None: no capacity left, nothing to open
    failed_posts: int
    applied_s: list[float]  # each webhook, from stored to applied
    order_to_deny_s: float | None  # what the service measured, and closes early by
    timeline: list[tuple[float, str, int]]  # each policy write: seconds in, policy, sold by then

    @property
    def past_cap(self) -> int:
        return max(0, self.sold - CAP)

    @property
    def under_cap(self) -> int:
        return max(0, CAP - self.sold)


def flash_sale(rate: int, seconds: float) -> SaleResult:
    with scratch_dir() as tmp, _stack(Path(tmp)) as (stack, shopify):
        open_shop(stack, shopify, [VARIANT])
        if not wait_until(lambda: shopify.policy(VARIANT) == "CONTINUE", timeout=60):
            raise RuntimeError("the variant never became backorderable (CONTINUE)")
        store = Storefront(stack, shopify, variant_id=VARIANT, first_order=1001)
        store.run(rate=rate, seconds=seconds)
        store.close()
        settled = wait_until(lambda: events_waiting(stack) == 0, timeout=120)
        deny_s = _deny_after_cap(shopify, store.sales)
        open_again = None
        if len(store.sales) < CAP:  # closed early and capacity is left: it must reopen
            open_again = wait_until(lambda: shopify.policy(VARIANT) == "CONTINUE",
                                    timeout=REOPEN_WITHIN)
        time.sleep(2 * GROUP_WINDOW_SECONDS + 3)  # the last orders' messages: window, dispatch
        waits, missing = _message_delays(stack, store.sales)
        if not settled:
            print(f"    !! {events_waiting(stack)} webhooks still waiting after 120 s")
        return SaleResult(rate, len(store.sales), store.refused, deny_s, waits, missing,
                          open_again, store.failed_posts, _applied_after(stack),
                          _order_to_deny(stack), _timeline(shopify, store))


def _deny_after_cap(shopify: SellingShopify, sales: list[Sale]) -> float | None:
    """From the cap-filling sale (or the last sale, if selling stopped under the cap) to
    the DENY that ended the sale."""
    if not sales:
        return None
    last = sales[-1].at
    denies = [at for at, variant, policy in shopify.policy_log
              if variant == VARIANT and policy == "DENY" and at >= last]
    if not denies:
        return None
    filling = sales[CAP - 1].at if len(sales) >= CAP else last
    return denies[0] - filling


def _timeline(shopify: SellingShopify, store: Storefront) -> list[tuple[float, str, int]]:
    """Each policy write to the variant during the sale: when, what, and units sold by then."""
    if not store.sales:
        return []
    start = store.sales[0].at
    sold_at = [sale.at for sale in store.sales]
    return [(at - start, policy, bisect.bisect_right(sold_at, at))
            for at, variant, policy in shopify.policy_log if variant == VARIANT and at >= start]


def _applied_after(stack: Stack) -> list[float]:
    with stack.sessions() as session:
        rows = session.execute(select(WebhookEvent.received_at, WebhookEvent.processed_at)
                               .where(WebhookEvent.processed_at.is_not(None))).all()
    return [(done - received).total_seconds() for received, done in rows]


def _order_to_deny(stack: Stack) -> float | None:
    with stack.sessions() as session:
        return session.scalar(select(Shop.order_to_deny_seconds).where(Shop.domain == SHOP))


def _message_delays(stack: Stack, sales: list[Sale]) -> tuple[list[float], int]:
    """Seconds from each order to its customer's first message being created."""
    with stack.sessions() as session:
        first = dict(session.execute(
            select(Notification.order_id, func.min(Notification.created_at))
            .group_by(Notification.order_id)).all())
    delays = [(first[s.order_id] - s.placed).total_seconds() for s in sales
              if s.order_id in first]
    return delays, sum(1 for s in sales if s.order_id not in first)


# --- throughput ----------------------------------------------------------------------

def hot_variant_throughput(backlog: int) -> tuple[float, float]:
    """(orders applied a second from a stored backlog of one variant's orders, by the two
    real workers; one worker's no-op jobs a second, in-process, same Redis)."""
    with scratch_dir() as tmp, _stack(Path(tmp)) as (stack, shopify):
        open_shop(stack, shopify, [VARIANT])
        wait_until(lambda: events_waiting(stack) == 0, timeout=60)
        with stack.sessions() as session:
            backlog_after = session.scalar(select(func.coalesce(func.max(WebhookEvent.id), 0)))
        for index in range(len(stack.workers)):
            stack.kill_worker(index, restart_after=None, with_scheduler=True)
        store = Storefront(stack, shopify, variant_id=VARIANT, first_order=1001)
        # Shopify sells every one of them (no worker is there to say DENY): past the cap,
        # every order is still a backordered line with its customer message.
        wait_until(lambda: shopify.policy(VARIANT) == "CONTINUE", timeout=60)
        store.run(rate=10_000, seconds=backlog / 10_000)
        store.close()
        waiting = events_waiting(stack)
        for index in range(len(stack.workers)):
            stack.restart_worker(index)
        wait_until(lambda: events_waiting(stack) == 0, timeout=600, interval=0.05)
        with stack.sessions() as session:  # from the first webhook applied to the last
            first, last = session.execute(select(func.min(WebhookEvent.processed_at),
                                                 func.max(WebhookEvent.processed_at))
                                          .where(WebhookEvent.id > backlog_after)).one()
        applied_per_s = (waiting / 2) / (last - first).total_seconds()  # two webhooks an order
        noop_per_s = _noop_jobs_per_s(stack, jobs=2000)
    return applied_per_s, noop_per_s


def noop() -> None:
    """The no-op job: a worker's own floor."""


def _noop_jobs_per_s(stack: Stack, *, jobs: int) -> float:
    queue = Queue("bench-noop", connection=stack.redis)
    for _ in range(jobs):
        queue.enqueue("bench.flash.noop")
    started = time.monotonic()
    SimpleWorker([queue], connection=stack.redis).work(burst=True, logging_level="WARNING")
    return jobs / (time.monotonic() - started)


class _stack:  # noqa: N801 - used as a context manager, like the stack itself
    def __init__(self, workdir: Path):
        self.stack = Stack(workdir, workers=2, web_workers=2)
        self.stack.shopify = self.shopify = SellingShopify()

    def __enter__(self) -> tuple[Stack, SellingShopify]:
        self.stack.__enter__()
        return self.stack, self.shopify

    def __exit__(self, *exc) -> None:
        self.stack.__exit__(*exc)


# --- report ----------------------------------------------------------------------

def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(result: SaleResult) -> bool:
    limit = TARGET_PAST_CAP.get(result.rate, 0.05) * CAP
    print(f"  {result.rate} orders/s: {result.sold} sold, {result.refused} refused by Shopify")
    print(f"    past the cap: {result.past_cap} ({100 * result.past_cap / CAP:.1f}% of {CAP}; "
          f"target <= {limit:.0f})   under the cap: {result.under_cap}")
    deny = "-" if result.deny_after_cap_s is None else f"{result.deny_after_cap_s:.2f} s"
    print(f"    cap-filling (or last) order to DENY at Shopify: {deny}; the service's "
          f"measured order-to-DENY: {result.order_to_deny_s or 0:.2f} s")
    print("    policy writes (s into the sale, units sold by then): " + ", ".join(
        f"{policy} {at:.2f} ({sold})" for at, policy, sold in result.timeline))
    if result.applied_s:
        print(f"    webhook stored to applied: p50 {statistics.median(result.applied_s):.2f} s, "
              f"p99 {_quantile(result.applied_s, 0.99):.2f} s")
    ok = result.past_cap <= limit and result.failed_posts == 0
    if result.message_s:
        last = max(result.message_s)
        print(f"    order to message created: p50 {statistics.median(result.message_s):.2f} s, "
              f"p99 {_quantile(result.message_s, 0.99):.2f} s, last {last:.2f} s"
              f" ({result.missing_messages} orders without a message)")
        if result.rate == 50:
            ok &= last <= TARGET_MESSAGE_SECONDS and result.missing_messages == 0
    else:
        print(f"    no messages created ({result.missing_messages} orders)")
        ok = False
    if result.open_again is not None:
        print(f"    capacity left after the sale: open again (CONTINUE) "
              f"{'yes' if result.open_again else 'NO'}")
        ok &= result.open_again
    if result.failed_posts:
        print(f"    !! {result.failed_posts} webhooks never accepted")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.flash")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rates", default="50,200")
    parser.add_argument("--backlog", type=int, default=2000)
    args, _ = parser.parse_known_args(argv)
    ok = True
    with signals_as_exit():
        print(f"flash sale: one variant, zero stock, a supplier, fixed cap {CAP}; "
              f"the storefront tries for {args.seconds:.0f} s")
        for rate in (int(r) for r in args.rates.split(",")):
            ok &= report(flash_sale(rate, args.seconds))
        applied, noop_rate = hot_variant_throughput(args.backlog)
        ratio = applied / noop_rate
        print(f"  hot variant: {applied:.0f} orders/s applied from a backlog of {args.backlog} "
              f"vs one worker's {noop_rate:.0f} no-op jobs/s: ratio {ratio:.2f} "
              f"(target >= {TARGET_THROUGHPUT_RATIO:.1f})")
        ok &= ratio >= TARGET_THROUGHPUT_RATIO
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())
