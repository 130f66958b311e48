"""`backorder demo`: a newcomer's first five minutes, against the service `make run` started.

The demo writes its shop straight into the service's database through the app's
own services: registered by `onboard_shop` with the in-memory Shopify twin as
its Admin API, variants stored the way a sync stores them, a supplier catalog
imported by `import_catalog`. Then it plays a flash sale the way Shopify would
deliver it: signed `orders/create` and `inventory_levels/update` webhooks over
HTTP to the running service. The workers do the rest (allocation, ETAs, a draft
purchase order, customer messages on the console) while the demo waits, then it
prints what happened and a one-time login link to the merchant pages.

The demo shop has no Admin API token, so nothing ever calls Shopify: the
workers skip the pushes, and units received on a purchase order stay local.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from sqlalchemy import func, select

from app.config import Settings, local_environment
from app.db import unit_of_work
from app.domain.intake.models import WebhookEvent
from app.domain.inventory import sync
from app.domain.inventory.models import ShopSettings, Variant
from app.domain.inventory.service import all_variant_ids, recompute_variants
from app.domain.notifications.models import Notification
from app.domain.shops.models import Shop
from app.domain.shops.onboarding import onboard_shop
from app.domain.suppliers.models import PurchaseOrder, Supplier
from app.domain.suppliers.service import import_catalog
from app.domain.suppliers.shopify_receipts import RECEIPTS
from app.domain.suppliers.supply import PLAN
from app.errors import BackorderError
from app.runtime import Runtime
from app.web.merchant.identity import login_link
from integrations.shopify.fake import FakeShopifyAdmin
from integrations.shopify.webhooks import sign_webhook

DEMO_SHOP = "backorder-demo.myshopify.com"
LOCATION = 1


@dataclass(frozen=True)
class Product:
    variant_id: int
    product_id: int
    product_title: str
    title: str
    sku: str
    stock: int
    weight: int  # how popular it is in the flash sale


PRODUCTS = (
    Product(41001, 4100, "Merino Beanie", "Charcoal", "BEANIE-CHAR", 4, 5),
    Product(41002, 4100, "Merino Beanie", "Rust", "BEANIE-RUST", 2, 3),
    Product(42001, 4200, "Enamel Trail Mug", "Default Title", "MUG-TRAIL", 6, 3),
    Product(43001, 4300, "Canvas Tote", "Default Title", "TOTE-CANVAS", 3, 2),
)
# The tote has no supplier: once it sells out it is out of stock, not backorderable.
CATALOG = b"""supplier,supplier_email,sku,supplier_sku,unit_cost,currency,lead_time_days,moq,pack_size,priority
Highland Knits,orders@highland-knits.example,BEANIE-CHAR,HK-220-CH,6.80,USD,10,12,6,1
Highland Knits,orders@highland-knits.example,BEANIE-RUST,HK-220-RU,6.80,USD,10,12,6,1
Campfire Goods,sales@campfire-goods.example,MUG-TRAIL,CG-MUG-01,3.10,USD,5,24,12,1
"""
DEMO_SETTINGS = {
    "po_auto_send": False,  # the draft waits for the merchant: approving it is part of the tour
    # Each order has one line, so there is nothing to group: messages leave at once, day
    # or night (production keeps the default window and quiet hours).
    "notifications": {"email_enabled": True, "sms_enabled": True, "quiet_hours": False,
                      "group_window_seconds": 0},
}


class DemoError(BackorderError):
    """The demo cannot run (the service is not up); the message says what to do."""


def dev_settings(public_url: str | None = None) -> Settings:
    """The settings `make run` gives its processes: the same secret key and webhook secret."""
    return Settings.from_env(local_environment(public_url=public_url))


def run_demo(base_url: str, *, orders: int = 40, wait_seconds: float = 60,
             say: Callable[[str], None] = print) -> int:
    """Seed the demo shop, play the flash sale, wait for the workers; returns the shop id."""
    base_url = base_url.rstrip("/")
    _check_service(base_url)
    rt = Runtime(dev_settings(base_url))
    try:
        shop_id, domain = seed(rt)
        say(f"Demo shop {domain} created: {len(PRODUCTS)} products in stock, "
            "2 suppliers in its catalog.")
        sold = play_flash_sale(base_url, rt.settings.shopify_api_secret, domain, orders=orders)
        say(f"Flash sale: {orders} orders ({sold} units) sent as signed webhooks to "
            f"{base_url}/webhooks/shopify; waiting for the workers...")
        _wait(rt, shop_id, orders, wait_seconds)
        say(summary(rt, shop_id, base_url))
        return shop_id
    finally:
        rt.close()


def _check_service(base_url: str) -> None:
    try:
        requests.get(f"{base_url}/healthz", timeout=3).raise_for_status()
    except requests.RequestException as exc:
        raise DemoError(f"the service does not answer at {base_url} ({type(exc).__name__}): "
                        "start it with `make run` in another terminal, then run the demo "
                        "again") from exc


# --- The shop ------------------------------------------------------------------------


def seed(rt: Runtime) -> tuple[int, str]:
    """A new demo shop with its products, stock, settings and supplier catalog."""
    with unit_of_work(rt.sessions) as session:
        domain = _fresh_domain(session)
    shopify = _shopify_twin()
    # No token: the workers never call Shopify for this shop (the twin answers the install).
    shop_id = onboard_shop(rt.sessions, domain=domain, token_ciphertext="", admin=shopify,
                           callback_url=f"{rt.settings.public_url}/webhooks/shopify")
    with unit_of_work(rt.sessions) as session:
        _stock_the_shop(session, shop_id, shopify)
    return shop_id, domain


def _fresh_domain(session) -> str:
    """backorder-demo, then backorder-demo-2, ...: earlier demo shops are only deactivated.

    Deleting their rows would let SQLite hand the ids out again, and job ids built from
    them (`notify-<id>`) would collide with finished jobs Redis still remembers.
    """
    earlier = session.scalars(select(Shop).where(Shop.domain.like("backorder-demo%"))).all()
    for shop in earlier:
        shop.active = False
    return DEMO_SHOP if not earlier else DEMO_SHOP.replace(".", f"-{len(earlier) + 1}.", 1)


def _shopify_twin() -> FakeShopifyAdmin:
    shopify = FakeShopifyAdmin()
    for p in PRODUCTS:
        shopify.add_variant(p.variant_id, product_id=p.product_id, sku=p.sku, title=p.title,
                            product_title=p.product_title, available={LOCATION: p.stock})
    return shopify


def _stock_the_shop(session, shop_id: int, shopify: FakeShopifyAdmin) -> None:
    session.get(Shop, shop_id).name = "Backorder Demo Shop"
    session.add(ShopSettings(shop_id=shop_id, mode="auto", buffer=20, handling_days=1,
                             extra=json.loads(json.dumps(DEMO_SETTINGS))))
    sync.store_variants(session, shop_id, shopify.iter_variants(), receipts=RECEIPTS)
    session.flush()
    import_catalog(session, shop_id, CATALOG)
    # Follow-ups are not enqueued: with no orders yet there is nothing to push or plan.
    recompute_variants(session, shop_id, all_variant_ids(session, shop_id), plan=PLAN)


# --- The flash sale --------------------------------------------------------------------


def play_flash_sale(base_url: str, secret: str, domain: str, *, orders: int,
                    seed_value: int = 7) -> int:
    """Post `orders` orders/create webhooks, a few per second; returns the units sold.

    Shopify would also send inventory_levels/update (available = stock - sold). The
    engine needs only one of the two: a stock snapshot taken before an order does not
    count it as sold, so the orders alone drive the same allocation.
    """
    rng = random.Random(seed_value)
    ids = itertools.count(int(time.time()) * 1000)
    units = 0
    with requests.Session() as http:
        for n in range(orders):
            product = rng.choices(PRODUCTS, weights=[p.weight for p in PRODUCTS])[0]
            quantity = 1 if rng.random() < 0.8 else 2
            _post(http, base_url, secret, domain, "orders/create", order_payload(
                next(ids), next(ids), n, product, quantity, datetime.now(UTC)))
            units += quantity
            time.sleep(0.02)  # orders a few milliseconds apart, like a busy storefront
    return units


def order_payload(order_id: int, line_id: int, n: int, product: Product, quantity: int,
                  at: datetime) -> dict:
    """An orders/create payload in Shopify's REST shape."""
    email, phone = f"customer{n + 1}@example.com", f"+1555010{n + 1:04d}"
    line = {"id": line_id, "variant_id": product.variant_id, "quantity": quantity,
            "current_quantity": quantity, "fulfillable_quantity": quantity, "sku": product.sku,
            "title": product.product_title,
            # as Shopify sends it: null for a product's only variant
            "variant_title": None if product.title == "Default Title" else product.title}
    return {"id": order_id, "name": f"#{1001 + n}", "email": email, "phone": phone,
            "created_at": _iso(at), "updated_at": _iso(at), "cancelled_at": None,
            "customer_locale": "en", "line_items": [line],
            "customer": {"id": 70000 + n, "email": email, "phone": phone}}


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _post(http: requests.Session, base_url: str, secret: str, domain: str, topic: str,
          payload: dict) -> None:
    body = json.dumps(payload).encode()
    event = uuid.uuid4().hex
    response = http.post(f"{base_url}/webhooks/shopify", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_webhook(body, secret), "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Webhook-Id": f"demo-{event}", "X-Shopify-Event-Id": f"demo-{event}",
        "X-Shopify-Triggered-At": _iso(datetime.now(UTC)), "X-Shopify-API-Version": "2026-10"})
    if response.status_code != 200:
        raise DemoError(f"the service refused a {topic} webhook: HTTP {response.status_code} "
                        f"{response.text.strip()[:200]} (is SHOPIFY_API_SECRET the same as the "
                        "service's?)")


# --- Waiting and telling -----------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    processed: int  # webhooks the workers have applied
    purchase_orders: int
    sent: int  # customer messages sent
    queued: int  # customer messages waiting (grouping window, SMS rate limit)


def _progress(rt: Runtime, shop_id: int) -> Progress:
    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    with unit_of_work(rt.sessions) as session:
        return Progress(
            count(WebhookEvent, WebhookEvent.shop_id == shop_id,
                  WebhookEvent.processed_at.is_not(None)),
            count(PurchaseOrder, PurchaseOrder.shop_id == shop_id),
            count(Notification, Notification.shop_id == shop_id, Notification.status == "sent"),
            count(Notification, Notification.shop_id == shop_id,
                  Notification.status.in_(("pending", "scheduled", "sending"))))


def _wait(rt: Runtime, shop_id: int, webhooks: int, seconds: float) -> Progress:
    """Until every webhook is applied, POs are drafted and messages go out (or the timeout).

    SMS leave at one per second per sender, so the demo does not wait for all of them.
    """
    deadline = time.monotonic() + seconds
    while True:
        progress = _progress(rt, shop_id)
        done = progress.processed >= webhooks and progress.purchase_orders and progress.sent
        if done or time.monotonic() > deadline:
            return progress
        time.sleep(0.5)


def summary(rt: Runtime, shop_id: int, base_url: str) -> str:
    """What happened, and where to look."""
    with unit_of_work(rt.sessions) as session:
        rows = _variant_lines(session, shop_id)
        drafted = _drafted(session, shop_id)
        shop = session.get(Shop, shop_id)
        link, domain = login_link(rt.settings, shop), shop.domain
    progress = _progress(rt, shop_id)
    still = (f", {progress.queued} more on their way (SMS leave one per second)"
             if progress.queued else "")
    return f"""
Done: {progress.processed} webhooks applied; {progress.sent} customer messages sent{still}
(the worker's console shows each SMS and email). Purchase orders drafted: {drafted}.
{rows}

Log in with this link (it works once, for 15 minutes; `backorder shops login-link {domain}`
makes another):
    {link}
Then look at:
    {base_url}/app/backorders/?waiting=1   who waits for what, in which order, each line's ETA
    {base_url}/app/purchase-orders/        the drafts wait for your approval: approve, then receive
    {base_url}/app/settings/               switch backorders off or cap them: every variant is recomputed
    {base_url}/app/                        the dashboard: backorders over time, waits, messages
"""


def _variant_lines(session, shop_id: int) -> str:
    variants = session.scalars(select(Variant).where(Variant.shop_id == shop_id)
                               .order_by(Variant.variant_id)).all()
    return "\n".join(f"    {v.sku:<12} {v.status or 'pending':<14} {v.backordered_units:>3} "
                     f"backordered  a new order ships {v.next_eta or 'at no known date'}"
                     for v in variants)


def _drafted(session, shop_id: int) -> str:
    pos = session.execute(select(PurchaseOrder.number, Supplier.name)
                          .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
                          .where(PurchaseOrder.shop_id == shop_id)
                          .order_by(PurchaseOrder.id)).all()
    return ", ".join(f"{number} to {name}" for number, name in pos) or "none yet"
