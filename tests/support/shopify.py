"""Signed Shopify webhook deliveries, as Shopify sends them."""

from __future__ import annotations

import itertools
import json

from integrations.shopify.webhooks import sign_webhook

SHOP = "backorder-demo.myshopify.com"
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


def body_of(payload) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def post_webhook(client, topic: str, payload, *, secret: str, **header_args):
    """POST a signed delivery through the Flask test client."""
    body = body_of(payload)
    return client.post("/webhooks/shopify", data=body,
                       headers=webhook_headers(body, topic, secret=secret, **header_args))
