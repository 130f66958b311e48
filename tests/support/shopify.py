"""Signed Shopify webhook deliveries, as Shopify sends them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from integrations.shopify.webhooks import sign_webhook

SHOP = "backorder-demo.myshopify.com"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
_ids = itertools.count(1)


def webhook_headers(body: bytes, topic: str, *, secret: str, shop: str = SHOP,
                    webhook_id: str | None = None, event_id: str | None = None,
                    triggered_at: str = "2026-11-25T10:00:00.000Z") -> dict[str, str]:
    n = next(_ids)
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_webhook(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or f"wh-{n}",
        "X-Shopify-Event-Id": event_id or f"ev-{n}",
        "X-Shopify-Triggered-At": triggered_at,
        "X-Shopify-API-Version": "2026-10",
    }


def sample_body(name: str, shop: str = SHOP) -> bytes:
    """One of Shopify's sample payloads as `shop` would receive it: the samples name
    "jsmith" or a "{shop}" placeholder, and intake refuses a body naming another shop."""
    raw = (FIXTURES / "shopify" / "webhooks" / name).read_bytes()
    for named in (b"jsmith.myshopify.com", b"{shop}.myshopify.com"):
        raw = raw.replace(named, shop.encode())
    return raw


def body_of(payload) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def handed_off(runtime) -> None:
    """Wait until the web side's hand-off thread has given every stored id to Redis (it
    lingers a few milliseconds; a real worker would simply find the ids a moment later)."""
    if "inbox" in runtime.__dict__:
        assert runtime.inbox.hand_off.flush(), "the inbox hand-off did not finish"


def post_webhook(client, topic: str, payload, *, secret: str, **header_args):
    """POST a signed delivery through the Flask test client; returns once the answer is
    in and the stored event is handed off to the workers."""
    body = body_of(payload)
    response = client.post("/webhooks/shopify", data=body,
                           headers=webhook_headers(body, topic, secret=secret, **header_args))
    handed_off(client.application.extensions["backorder"])
    return response


def order_payload(order_id: int, lines, *, created_at: str, updated_at: str | None = None,
                  cancelled_at: str | None = None, email: str = "customer@example.com",
                  phone: str | None = None, name: str | None = None) -> dict:
    """An orders/* payload in Shopify's REST shape. lines: (line id, variant id, qty[, fulfilled])."""
    items = []
    for line in lines:
        line_id, variant_id, qty, fulfilled = (*line, 0) if len(line) == 3 else line
        items.append({"id": line_id, "variant_id": variant_id, "quantity": qty,
                      "current_quantity": qty, "fulfillable_quantity": qty - fulfilled,
                      "title": f"Item {variant_id}", "sku": f"SKU-{variant_id}"})
    return {"id": order_id, "name": name or f"#{order_id}", "email": email, "phone": phone,
            "created_at": created_at, "updated_at": updated_at or created_at,
            "cancelled_at": cancelled_at, "customer_locale": "en", "line_items": items,
            "customer": {"id": 9000 + order_id, "email": email, "phone": phone}}


def level_payload(item_id: int, location_id: int, available: int, updated_at: str) -> dict:
    return {"inventory_item_id": item_id, "location_id": location_id, "available": available,
            "updated_at": updated_at}
