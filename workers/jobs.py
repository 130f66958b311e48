"""RQ jobs for stored webhooks: apply them one at a time or a shop's in batches, and sweep.

Failures are recorded on the event they concern (the job wrapper). A transient error
is raised again so RQ retries with backoff; anything else is recorded as final (a
retry of a final failure is a no-op: the service checks the event's status first).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from app import jobs as queueing
from app.db import unit_of_work
from app.domain import intents, outbox
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
from app.metrics import BATCH_EVENTS, PROCESSING_SECONDS
from workers.context import runtime
from workers.job import call, job, unit

log = logging.getLogger(__name__)
HANDLERS = build_handlers()
RECOMPUTE = build_recompute()
# A run of a shop's batches yields to other shops' jobs after this long (it queues its
# successor), so one shop's flash sale never starves the others on the same queue.
RUN_SECONDS = 10.0


def _record_event_failure(session, event_id: int, *, error: str, final: bool) -> None:
    intake.record_failure(session, event_id, error, final=final)


@job(record=_record_event_failure)
def process_webhook(event_id: int) -> None:
    """Apply one stored webhook; enqueue what it calls for once committed."""
    started = time.perf_counter()
    with unit() as work:
        work.then(intake.process_event(work.session, event_id, HANDLERS, RECOMPUTE))
    PROCESSING_SECONDS.observe(time.perf_counter() - started)


@job
def apply_events(shop_id: int) -> int:
    """Apply the shop's waiting events, a batch per transaction, until none wait; returns
    how many. Each batch's intents (the cap's DENY first) go out after its commit.

    While a sale goes on, the events that arrived during one batch make the next: the
    run stays on the shop instead of handing each arrival through another job."""
    applied, deadline = 0, time.monotonic() + RUN_SECONDS
    while True:
        batch = _apply_batch(shop_id)
        applied += len(batch.event_ids)
        if not batch.event_ids:
            return applied
        if time.monotonic() > deadline:  # more may be waiting: let other shops go first
            queueing.enqueue(runtime().redis, [intents.ApplyEvents(shop_id)])
            return applied


def _apply_batch(shop_id: int) -> Applied:
    started = time.perf_counter()
    try:
        with unit() as work:
            batch = apply_waiting(work.session, shop_id, HANDLERS, RECOMPUTE, batching.prepare)
            work.then(batch.intents)
    except OperationalError:
        raise  # the database itself, not one event: RQ retries the whole run
    except Exception as exc:
        log.warning("a batch of shop %s failed (%s: %s): applying its events one at a time",
                    shop_id, type(exc).__name__, exc)
        return _one_at_a_time(shop_id)
    if batch.event_ids:
        BATCH_EVENTS.observe(len(batch.event_ids))
        PROCESSING_SECONDS.observe((time.perf_counter() - started) / len(batch.event_ids))
    return batch


def _one_at_a_time(shop_id: int) -> Applied:
    """After a failed batch: each of its events alone, so only the bad one fails. One
    that fails for now retries on its own (its own job, RQ's backoff), outside batches."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        event_ids = [e.id for e in waiting_events(session, shop_id, limit=BATCH_LIMIT)]
    for event_id in event_ids:
        try:
            process_webhook(event_id)
        except OperationalError:
            raise
        except Exception:  # noqa: BLE001 - recorded on the event by process_webhook
            if not _failed_for_good(event_id):
                queueing.enqueue(rt.redis, [intents.ProcessWebhook(event_id)])
    return Applied(event_ids=event_ids)


def _failed_for_good(event_id: int) -> bool:
    return call(intake.event_status, event_id) != EventStatus.RECEIVED


def event_intents(routes) -> list:
    """The jobs that apply stored events: a batch job per shop, a job per single event."""
    return ([intents.ApplyEvents(shop_id) for shop_id in sorted(routes.batch_shops)]
            + [intents.ProcessWebhook(i) for i in routes.single_events])


@job
def sweep_inbox(older_than_seconds: int = 60) -> int:
    """Re-enqueue webhooks stored but not processed (Redis was down, a worker died)."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        ids = intake.pending_event_ids(session, older_than=timedelta(seconds=older_than_seconds))
        routes = route_events(session, ids)
    owed = event_intents(routes)
    failed = len(owed) - queueing.enqueue(rt.redis, owed)
    if ids:
        log.info("sweeper re-enqueued %d stored webhooks in %d jobs (%d failed)", len(ids),
                 len(owed), failed)
    return 0 if failed else len(ids)  # a job Redis refused: the next sweep tries them all


@job
def sweep_followups(older_than_seconds: int = 120) -> int:
    """Re-ask for pushes and customer messages whose jobs were lost after their commit."""
    owed = call(outbox.owed_followups,
                effects_before=utcnow() - timedelta(seconds=older_than_seconds))
    return queueing.enqueue(runtime().redis, owed)
