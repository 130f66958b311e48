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
from app.domain.intake.registry import build_handlers
from app.errors import TransientError
from app.metrics import PROCESSING_SECONDS
from workers import queues
from workers.context import runtime

log = logging.getLogger(__name__)
HANDLERS = build_handlers()
TRANSIENT = (TransientError, OperationalError, ConnectionError, TimeoutError)


def process_webhook(event_id: int) -> None:
    """Apply one stored webhook; enqueue what it calls for once committed."""
    rt = runtime()
    started = time.perf_counter()
    try:
        with unit_of_work(rt.sessions) as session:
            followups = intake.process_event(session, event_id, HANDLERS)
    except Exception as exc:
        with unit_of_work(rt.sessions) as session:
            intake.record_failure(session, event_id, f"{type(exc).__name__}: {exc}",
                                  final=not isinstance(exc, TRANSIENT))
        raise
    PROCESSING_SECONDS.observe(time.perf_counter() - started)
    queues.enqueue_all(rt.redis, followups)


def sweep_inbox(older_than_seconds: int = 60) -> int:
    """Re-enqueue webhooks stored but not processed (Redis was down, a worker died)."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        ids = intake.pending_event_ids(session, older_than=timedelta(seconds=older_than_seconds))
    failed = queues.enqueue_all(rt.redis, [queues.process_webhook_job(i) for i in ids])
    if ids:
        log.info("sweeper re-enqueued %d stored webhooks (%d failed)", len(ids) - failed, failed)
    return len(ids) - failed


def sweep_followups(older_than_seconds: int = 120) -> int:
    """Re-ask for pushes and customer messages whose jobs were lost after their commit."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        owed = outbox.owed_followups(
            session, effects_before=utcnow() - timedelta(seconds=older_than_seconds))
    return len(owed) - queues.enqueue_all(rt.redis, owed)
