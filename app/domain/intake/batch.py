"""Applying a shop's waiting events in one pass (DESIGN.md, "Flash sales").

One batch: load the shop's waiting events, store each one's snapshot (stale ones are
dropped by timestamp, as always), recompute every touched variant once, diff once,
commit once. A hot variant then pays one recompute and one commit per batch instead of
per order, and the batch grows while the worker is busy, so a flash sale gets cheaper
per order as it gets faster.

Nothing about an event's meaning changes: the handlers are the ones a single event
runs, every snapshot still wins only if it is newer, and the recompute reads whole
state. So a batch ends in the state its events give applied one at a time, in any
order (tests/engine/test_batch_equivalence.py).

An event that fails fails alone: the caller rolls the batch back and applies its
events one at a time (`process_event`), where a bad payload is recorded as failed and
a transient error is retried on its own. Events that failed once are left to those
single-event retries (`attempts > 0`), so one bad event never keeps a batch failing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.intake.service import Handler, HandlerContext, Prepare, Recompute, finish
from app.domain.intake.topics import BATCHED_TOPICS
from app.domain.shops.models import Shop

# Events one pass takes at most: a transaction stays short enough that the cap's DENY
# (pushed after the commit) never waits long behind it.
BATCH_LIMIT = 500


@dataclass
class Applied:
    """What one batch did: the events it applied, and what to enqueue after commit."""

    event_ids: list[int] = field(default_factory=list)
    intents: list = field(default_factory=list)


def waiting_events(session: Session, shop_id: int, *, limit: int) -> list[WebhookEvent]:
    """The shop's events that a batch may take, oldest first, row-locked; events another
    transaction holds are skipped (a single-event job has them)."""
    return list(session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.shop_id == shop_id, WebhookEvent.status == EventStatus.RECEIVED,
               WebhookEvent.attempts == 0, WebhookEvent.topic.in_(BATCHED_TOPICS))
        .order_by(WebhookEvent.id).limit(limit).with_for_update(skip_locked=True)))


def apply_waiting(session: Session, shop_id: int, handlers: Mapping[str, Handler],
                  recompute: Recompute, prepare: Prepare, *,
                  limit: int = BATCH_LIMIT) -> Applied:
    """Apply the shop's waiting events in one transaction; raises what any of them raises."""
    events = waiting_events(session, shop_id, limit=limit)
    applied = Applied(event_ids=[e.id for e in events])
    if not events:
        return applied
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.active:
        for event in events:
            finish(event, EventStatus.IGNORED)
        return applied
    payloads = [json.loads(event.payload) for event in events]
    plan = prepare(session, shop_id, [(e.topic, p) for e, p in zip(events, payloads,
                                                                    strict=True)])
    touched: set[int] = set()
    for position, (event, payload) in enumerate(zip(events, payloads, strict=True)):
        handler = handlers.get(event.topic)
        if handler is None:
            finish(event, EventStatus.IGNORED)
            continue
        event.attempts += 1
        if position not in plan.skip:
            handler(HandlerContext(session=session, shop=shop, event=event, payload=payload,
                                   intents=applied.intents, touched=touched, plan=plan))
        finish(event, EventStatus.PROCESSED)
    if touched:
        applied.intents.extend(recompute(session, shop_id, touched))
    return applied


@dataclass(frozen=True)
class Routes:
    """How stored events reach the workers: their shop's batch, or a job of their own."""

    batch_shops: frozenset[int]
    single_events: tuple[int, ...]


def route_events(session: Session, event_ids: Sequence[int]) -> Routes:
    """Which of these events a shop's batch takes, and which run alone (uninstall and
    compliance topics, and events that failed once and retry on their own); events
    already settled need nothing."""
    shops, single = set(), []
    for start in range(0, len(event_ids), 1000):
        rows = session.execute(
            select(WebhookEvent.id, WebhookEvent.shop_id, WebhookEvent.topic,
                   WebhookEvent.attempts)
            .where(WebhookEvent.id.in_(event_ids[start:start + 1000]),
                   WebhookEvent.status == EventStatus.RECEIVED))
        for event_id, shop_id, topic, attempts in rows:
            if topic in BATCHED_TOPICS and attempts == 0 and shop_id is not None:
                shops.add(shop_id)
            else:
                single.append(event_id)
    return Routes(batch_shops=frozenset(shops), single_events=tuple(sorted(single)))
