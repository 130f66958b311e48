"""Intake use cases: record a verified delivery, find pending ones, process one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import simdjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.base import utcnow
from app.domain.intake.checks import BOM, check_payload, parse_time
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.intake.topics import COMPLIANCE_TOPICS, HANDLED_TOPICS
from app.domain.shops.models import Shop
from app.errors import InvalidInput

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
# Header lengths the inbox columns hold (a longer value would fail the INSERT with a
# 500): a dedup key is the topic, "|event:" and an id, within its 255 characters.
# Shopify's own ids are UUIDs or digits, 36 characters at most.
MAX_DOMAIN, MAX_TOPIC, MAX_ID, MAX_API_VERSION = 255, 100, 100, 20


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as its headers describe it."""

    topic: str
    shop_domain: str
    webhook_id: str | None
    event_id: str | None
    triggered_at: datetime | None
    api_version: str | None

    @property
    def dedup_key(self) -> str:
        # Retries of one event share its event id; older deliveries only carry the webhook id.
        if self.event_id:
            return f"{self.topic}|event:{self.event_id}"
        return f"{self.topic}|webhook:{self.webhook_id}"


def delivery_from_headers(headers: Mapping[str, str]) -> Delivery:
    """Read the X-Shopify-* headers from a mapping that looks names up in any case, as a
    request's headers do (six lookups: walking every header cost more than the HMAC);
    InvalidInput names what is wrong."""
    def h(name: str) -> str | None:
        value = headers.get(name)
        return None if value is None else value.strip()

    topic = h("X-Shopify-Topic")
    domain = (h("X-Shopify-Shop-Domain") or "").lower()
    if not topic:
        raise InvalidInput("missing X-Shopify-Topic header")
    if len(domain) > MAX_DOMAIN or not SHOP_DOMAIN.match(domain):
        raise InvalidInput("missing or malformed X-Shopify-Shop-Domain header")
    webhook_id, event_id = h("X-Shopify-Webhook-Id"), h("X-Shopify-Event-Id")
    if not (webhook_id or event_id):
        raise InvalidInput("missing X-Shopify-Webhook-Id header")
    api_version = h("X-Shopify-API-Version") or None
    for name, value, limit in (("X-Shopify-Webhook-Id", webhook_id, MAX_ID),
                               ("X-Shopify-Event-Id", event_id, MAX_ID),
                               ("X-Shopify-API-Version", api_version, MAX_API_VERSION)):
        if value and len(value) > limit:
            raise InvalidInput(f"{name} header is too long")
    return Delivery(topic=topic[:MAX_TOPIC], shop_domain=domain, webhook_id=webhook_id,
                    event_id=event_id, triggered_at=_timestamp(h("X-Shopify-Triggered-At")),
                    api_version=api_version)


def _timestamp(raw: str | None) -> datetime | None:
    if not raw:
        return None
    value = parse_time(raw, "X-Shopify-Triggered-At")
    return value if value.tzinfo else None


def parse_payload(body: bytes, delivery: Delivery) -> Mapping:
    """The JSON object in the body, read-only, checked so that the worker can process it:
    InvalidInput when it is not one, or names another shop than the delivery's.

    simdjson validates a body for a fraction of orjson's CPU (validation is the largest
    piece of intake's own CPU after the INSERT; bench/README.md), and builds nothing until
    asked. A new parser each time: a parser reused while an earlier document lives
    raises. What simdjson refuses, orjson decides: it takes integers beyond 64 bits,
    which simdjson does not, so a body is refused only when both refuse it. Both are
    stricter than the worker's json.loads (no NaN, no lone surrogates, nesting within
    1024 levels). What they take and the worker's json.loads would not (a byte order
    mark, nesting beyond MAX_DEPTH) is refused here, as are timestamps it could not store.
    """
    if body.startswith(BOM):  # simdjson skips it; json.loads refuses it
        raise InvalidInput("body starts with a byte order mark")
    try:
        payload = simdjson.Parser().parse(body)
    except Exception:  # noqa: BLE001 - ValueError or RuntimeError, by simdjson's error code
        payload = _strict_json(body)
    if not isinstance(payload, simdjson.Object | dict):
        raise InvalidInput("body is not a JSON object")
    check_payload(body, payload, topic=delivery.topic, shop_domain=delivery.shop_domain)
    return payload


def _strict_json(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("body is not valid JSON") from exc


@dataclass(frozen=True)
class Recorded:
    """What became of one delivery given to the inbox to store."""

    event_id: int | None  # None: a duplicate of an event already stored
    pending: bool         # True: a worker should process it

    @property
    def duplicate(self) -> bool:
        return self.event_id is None


def inbox_row(delivery: Delivery, payload: Mapping, body: bytes) -> dict:
    """The values a delivery is stored with (built by the request, stored by the inbox)."""
    return dict(
        shop_domain=delivery.shop_domain, topic=delivery.topic, dedup_key=delivery.dedup_key,
        webhook_id=delivery.webhook_id, event_id=delivery.event_id,
        api_version=delivery.api_version, triggered_at=delivery.triggered_at,
        received_at=utcnow(), resource_id=_resource_id(payload),
        payload=body.decode("utf-8"), handled=delivery.topic in HANDLED_TOPICS,
        compliance=delivery.topic in COMPLIANCE_TOPICS)


def _resource_id(payload: Mapping) -> int | None:
    for key in ("id", "inventory_item_id", "order_id"):
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63:
            return value
    return None


def pending_event_ids(session: Session, *, older_than: timedelta = timedelta(0),
                      shop_domain: str | None = None, since: datetime | None = None,
                      limit: int = 1000) -> list[int]:
    """Events stored but not processed: what the sweeper and `backorder replay` re-enqueue."""
    query = (select(WebhookEvent.id)
             .where(WebhookEvent.status == EventStatus.RECEIVED,
                    WebhookEvent.received_at <= utcnow() - older_than)
             .order_by(WebhookEvent.id).limit(limit))
    if shop_domain:
        query = query.where(WebhookEvent.shop_domain == shop_domain)
    if since:
        query = query.where(WebhookEvent.received_at >= since)
    return list(session.scalars(query))


@dataclass
class HandlerContext:
    """What a topic handler gets: the open session, the shop, the work to enqueue after commit, and
    the variants whose state it changed (recomputed once the whole batch is stored)."""

    session: Session
    shop: Shop
    event: WebhookEvent
    payload: dict
    intents: list = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    plan: Any = None  # what the batch's events share (the area's `prepare`); None: alone


Handler = Callable[[HandlerContext], None]
# Recomputes a shop's variants in the open session; returns the intents it asks for.
Recompute = Callable[[Session, int, Iterable[int]], list]
# Reads what a batch's (topic, payload) pairs share, once: a plan whose `skip` names the
# positions that need no handler.
Prepare = Callable[[Session, int, Sequence[tuple[str, dict]]], Any]


def process_event(session: Session, event_id: int, handlers: Mapping[str, Handler],
                  recompute: Recompute) -> list:
    """Apply one stored event exactly once in effect; returns intents to enqueue after commit."""
    event = session.execute(select(WebhookEvent).where(WebhookEvent.id == event_id)
                            .with_for_update()).scalar_one_or_none()
    if event is None or event.status != EventStatus.RECEIVED:
        return []  # already processed, failed for good, ignored, or deleted by shop/redact
    shop = session.get(Shop, event.shop_id) if event.shop_id else None
    handler = handlers.get(event.topic)
    if shop is None or handler is None or not (shop.active or event.topic in COMPLIANCE_TOPICS):
        finish(event, EventStatus.IGNORED)
        return []
    ctx = HandlerContext(session=session, shop=shop, event=event, payload=json.loads(event.payload))
    event.attempts += 1
    handler(ctx)
    finish(event, EventStatus.PROCESSED)
    if ctx.touched:
        ctx.intents.extend(recompute(session, shop.id, ctx.touched))
    return ctx.intents


def finish(event: WebhookEvent, status: EventStatus) -> None:
    """Settle an event: processed, or ignored (unknown topic, shop gone or uninstalled)."""
    event.status = status
    event.processed_at = utcnow()


def event_status(session: Session, event_id: int) -> EventStatus | None:
    return session.scalar(select(WebhookEvent.status).where(WebhookEvent.id == event_id))


def record_failure(session: Session, event_id: int, error: str, *, final: bool) -> None:
    """Keep the error on the event; a final failure stops retries and shows to operators."""
    values = {"last_error": error[:4000],
              "attempts": WebhookEvent.attempts + 1}
    if final:
        values["status"] = EventStatus.FAILED
    session.execute(update(WebhookEvent)
                    .where(WebhookEvent.id == event_id, WebhookEvent.status == EventStatus.RECEIVED)
                    .values(**values))
