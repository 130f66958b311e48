"""Compliance topics: customers/redact and customers/data_request.

Each area that stores personal data registers a redactor and an exporter
here, so the compliance handlers reach all of it without knowing the areas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.customers.models import CustomerDataExport
from app.domain.intake.models import WebhookEvent
from app.domain.intake.service import HandlerContext
from app.errors import InvalidInput

REDACTED_PAYLOAD = '{"redacted": true}'


@dataclass(frozen=True)
class Subject:
    """Whose data a compliance request is about."""

    shop_id: int
    customer_id: int | None
    email: str | None
    phone: str | None
    order_ids: tuple[int, ...]


Redactor = Callable[[Session, Subject], None]
Exporter = Callable[[Session, Subject], dict]
REDACTORS: list[Redactor] = []
EXPORTERS: list[tuple[str, Exporter]] = []


def subject_from(ctx: HandlerContext, orders_key: str) -> Subject:
    """Whom the request names; InvalidInput when its shape is wrong, so nothing half-applies."""
    customer = ctx.payload.get("customer") or {}
    orders = ctx.payload.get(orders_key) or []
    if not isinstance(customer, dict):
        raise InvalidInput("customer must be an object")
    if not isinstance(orders, list):
        raise InvalidInput(f"{orders_key} must be a list")
    return Subject(shop_id=ctx.shop.id, customer_id=_int(customer.get("id")),
                   email=_text(customer, "email"), phone=_text(customer, "phone"),
                   order_ids=tuple(i for i in map(_int, orders) if i is not None))


def _text(customer: dict, key: str) -> str | None:
    value = customer.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"customer.{key} must be a string")
    if value and "\x00" in value:  # PostgreSQL text holds no NUL: no stored row can match
        raise InvalidInput(f"customer.{key} holds a NUL character")
    return value or None


def _int(value) -> int | None:
    # Ids beyond BIGINT name nothing we store.
    ok = isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63
    return value if ok else None


def handle_customers_redact(ctx: HandlerContext) -> None:
    """Erase the customer's personal data everywhere it is stored."""
    subject = subject_from(ctx, "orders_to_redact")
    for redactor in (_redact_inbox, *REDACTORS):
        redactor(ctx.session, subject)
    ctx.event.payload = REDACTED_PAYLOAD  # the request itself names the customer


def handle_customers_data_request(ctx: HandlerContext) -> None:
    """Collect what is stored about the customer into an export the merchant can download."""
    subject = subject_from(ctx, "orders_requested")
    content = {"customer_id": subject.customer_id, "email": subject.email,
               "orders_requested": list(subject.order_ids),
               "webhooks": _export_inbox(ctx.session, subject)}
    for name, exporter in EXPORTERS:
        content[name] = exporter(ctx.session, subject)
    ctx.session.add(CustomerDataExport(shop_id=subject.shop_id, customer_id=subject.customer_id,
                                       customer_email=subject.email,
                                       content=json.dumps(content, default=str)))


def _inbox_rows(subject: Subject):
    return (WebhookEvent.shop_id == subject.shop_id,
            WebhookEvent.resource_id.in_(subject.order_ids),
            WebhookEvent.topic.like("orders/%"))


def _redact_inbox(session: Session, subject: Subject) -> None:
    if subject.order_ids:
        session.execute(update(WebhookEvent).where(*_inbox_rows(subject))
                        .values(payload=REDACTED_PAYLOAD))


def _export_inbox(session: Session, subject: Subject) -> list[dict]:
    if not subject.order_ids:
        return []
    rows = session.execute(select(WebhookEvent.topic, WebhookEvent.received_at,
                                  WebhookEvent.payload).where(*_inbox_rows(subject)))
    return [{"topic": t, "received_at": r.isoformat(), "payload": json.loads(p)}
            for t, r, p in rows]
