"""How coalesced and exclusive jobs run, and what a job does after its commit.

Putting jobs on queues is app/jobs' part; this is the workers' side of it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import replace

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from app import jobs
from app.errors import IntegrationError
from app.jobs.enqueue import COALESCE_TTL, coalesce_key, rerun_key
from app.locks import one_run_at_a_time
from workers.context import runtime

log = logging.getLogger(__name__)


def run_coalesced(func: str, job_id: str, *args):
    """Run the job unless a run of it is running; then that run runs once more instead.

    A run reads all pending work, calls a vendor, then records what it sent. Two runs at
    once could land the older read last: Shopify would keep a stale decision while the
    database records the newer one as pushed. Hence one run at a time. A run that finds
    another running never waits for it (a worker waiting on a lock serves nobody, and a
    hot shop's work would queue on it): it leaves a "run again" flag and returns, and the
    running one, once done, runs again while the flag is set. The flag is set before the
    lock is tried and checked after the holder lets go, so no work is left behind.
    """
    connection = runtime().redis
    connection.delete(coalesce_key(job_id))  # first: work arriving from now queues another
    connection.set(rerun_key(job_id), 1, ex=COALESCE_TTL)
    result = None
    while connection.exists(rerun_key(job_id)):
        with one_run_at_a_time(connection, job_id) as running:
            if not running:
                return result  # the running one runs again for this work
            connection.delete(rerun_key(job_id))  # taken: what arrives from now sets it again
            module, name = func.rsplit(".", 1)
            result = getattr(importlib.import_module(module), name)(*args)
    return result


def after_commit(connection: Redis, intents: Iterable) -> int:
    """What a job does once its transaction committed: run the urgent intents now (the
    cap's DENY), put the rest on their queues. Returns how many could not be enqueued."""
    routes = [jobs.route(intent) for intent in intents]
    failed = sum(0 if jobs.enqueue_route(connection, r) else 1 for r in routes if not r.urgent)
    for job in (r for r in routes if r.urgent):
        try:
            run_coalesced(job.func, job.job_id, *job.args)
        except (IntegrationError, RedisError, OperationalError) as exc:
            # Its own job retries it with RQ's backoff (and the follow-up sweeper, when
            # Redis is what failed): the cap's DENY is late, never lost.
            log.warning("urgent %s%s failed (%s: %s): queued instead", job.func, job.args,
                        type(exc).__name__, exc)
            failed += 0 if jobs.enqueue_route(connection, replace(job, urgent=False)) else 1
    return failed
