"""RQ jobs: ids in, one service call in one transaction, follow-ups after commit.

Failures are recorded on the row they concern. A transient error is re-raised
so RQ retries with backoff; anything else is recorded as final and re-raised so
it shows in RQ's failed registry for operators (a retry of a final failure is
a no-op because the service checks the row's status first).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from app.db import unit_of_work
from app.domain import outbox
from app.domain.base import utcnow
from app.domain.intake import service as intake
from app.domain.intake.batch import (
    BATCH_LIMIT,
    Applied,
    apply_waiting,
    route_events,
    waiting_events,
)
from app.domain.intake.models import EventStatus
from app.domain.intake.registry import build_handlers, build_recompute
from app.domain.inventory import batching
from app.errors import TransientError
from app.metrics import BATCH_EVENTS, PROCESSING_SECONDS
from workers import queues
from workers.context import runtime

log = logging.getLogger(__name__)
HANDLERS = build_handlers()
RECOMPUTE = build_recompute()
TRANSIENT = (TransientError, OperationalError, ConnectionError, TimeoutError)
# Errors of the database or its connection, not of one event: no event is to blame.
TRANSIENT_DATABASE = (OperationalError,)
# A run of a shop's batches yields to other shops' jobs after this long (it queues its
# successor), so one shop's flash sale never starves the others on the same queue.
RUN_SECONDS = 10.0


def process_webhook(event_id: int) -> None:
    """Apply one stored webhook; enqueue what it calls for once committed."""
    rt = runtime()
    started = time.perf_counter()
    try:
        with unit_of_work(rt.sessions) as session:
            followups = intake.process_event(session, event_id, HANDLERS, RECOMPUTE)
    except Exception as exc:
        with unit_of_work(rt.sessions) as session:
            intake.record_failure(session, event_id, f"{type(exc).__name__}: {exc}",
                                  final=not isinstance(exc, TRANSIENT))
        raise
    PROCESSING_SECONDS.observe(time.perf_counter() - started)
    queues.after_commit(rt.redis, followups)


def apply_events(shop_id: int) -> int:
    """Apply the shop's waiting events, a batch per transaction, until none wait; returns
    how many. Each batch's follow-ups (the cap's DENY first) go out after its commit.

    While a sale goes on, the events that arrived during one batch make the next: the
    run stays on the shop instead of handing each arrival through another job."""
    rt = runtime()
    applied, deadline = 0, time.monotonic() + RUN_SECONDS
    while True:
        batch = _apply_batch(rt, shop_id)
        applied += len(batch.event_ids)
        if not batch.event_ids:
            return applied
        if time.monotonic() > deadline:  # more may be waiting: let other shops go first
            queues.enqueue(rt.redis, queues.apply_events_job(shop_id))
            return applied


def _apply_batch(rt, shop_id: int) -> Applied:
    started = time.perf_counter()
    try:
        with unit_of_work(rt.sessions) as session:
            batch = apply_waiting(session, shop_id, HANDLERS, RECOMPUTE,
                                  batching.prepare)
    except TRANSIENT_DATABASE:
        raise  # the database itself: RQ retries the whole run
    except Exception as exc:
        log.warning("a batch of shop %s failed (%s: %s): applying its events one at a time",
                    shop_id, type(exc).__name__, exc)
        return _one_at_a_time(rt, shop_id)
    if batch.event_ids:
        BATCH_EVENTS.observe(len(batch.event_ids))
        PROCESSING_SECONDS.observe((time.perf_counter() - started) / len(batch.event_ids))
    queues.after_commit(rt.redis, batch.followups)
    return batch


def _one_at_a_time(rt, shop_id: int) -> Applied:
    """After a failed batch: each of its events alone, so only the bad one fails. One
    that fails for now retries on its own (its own job, RQ's backoff), outside batches."""
    with unit_of_work(rt.sessions) as session:
        event_ids = [e.id for e in waiting_events(session, shop_id, limit=BATCH_LIMIT)]
    for event_id in event_ids:
        try:
            process_webhook(event_id)
        except TRANSIENT_DATABASE:
            raise
        except Exception:  # noqa: BLE001 - recorded on the event by process_webhook
            if not _failed_for_good(rt, event_id):
                queues.enqueue(rt.redis, queues.process_webhook_job(event_id))
    return Applied(event_ids=event_ids)


def _failed_for_good(rt, event_id: int) -> bool:
    with unit_of_work(rt.sessions) as session:
        return intake.event_status(session, event_id) != EventStatus.RECEIVED


def sweep_inbox(older_than_seconds: int = 60) -> int:
    """Re-enqueue webhooks stored but not processed (Redis was down, a worker died)."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        ids = intake.pending_event_ids(session, older_than=timedelta(seconds=older_than_seconds))
        routes = route_events(session, ids)
    jobs = queues.event_jobs(routes)
    failed = queues.enqueue_all(rt.redis, jobs)
    if ids:
        log.info("sweeper re-enqueued %d stored webhooks in %d jobs (%d failed)", len(ids),
                 len(jobs), failed)
    return 0 if failed else len(ids)  # a job Redis refused: the next sweep tries them all


def sweep_followups(older_than_seconds: int = 120) -> int:
    """Re-ask for pushes and customer messages whose jobs were lost after their commit."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        owed = outbox.owed_followups(
            session, effects_before=utcnow() - timedelta(seconds=older_than_seconds))
    return len(owed) - queues.enqueue_all(rt.redis, owed)
