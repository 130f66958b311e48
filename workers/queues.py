"""Queue names and the only place jobs are put on them.

Jobs take ids, never objects. Every enqueue here happens after the
transaction that wrote the rows has committed.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace

import redis_lock
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job
from sqlalchemy.exc import OperationalError

from app.domain.followups import FollowUp
from app.errors import IntegrationError, TransientError

log = logging.getLogger(__name__)

WEBHOOKS, SHOPIFY, EFFECTS, NOTIFY, SUPPLIERS, MAINTENANCE = (
    "webhooks", "shopify", "effects", "notify", "suppliers", "maintenance")
# A worker takes jobs from the first queue that has one. Turning effects into messages
# comes before sending them: a flash sale queues thousands of sends, and each customer's
# message must still be created within seconds of their order.
ALL_QUEUES = (WEBHOOKS, SHOPIFY, EFFECTS, NOTIFY, SUPPLIERS, MAINTENANCE)

# Backoff for transient failures: about 10 minutes in all, then the sweeper takes over.
DEFAULT_RETRY = Retry(max=6, interval=[2, 5, 15, 30, 120, 300])
# What every job put on a queue here gets: the retries, and how long RQ keeps it after.
JOB_OPTIONS = dict(retry=DEFAULT_RETRY, failure_ttl=7 * 86400, result_ttl=600)


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection)


COALESCE_TTL = 600  # a lost marker (crashed worker) stops coalescing after this long
# One run of a coalesced job at a time. The lock is renewed while its run lasts, so a
# run killed with its worker frees it within RUN_LOCK_EXPIRE.
RUN_LOCK_EXPIRE = 15
LOCK_WAIT = 60  # how long `exclusive` waits for a lock another process holds


def _coalesce_key(job_id: str) -> str:
    return f"backorder:coalesce:{job_id}"


def _rerun_key(job_id: str) -> str:
    return f"backorder:rerun:{job_id}"


def enqueue(connection: Redis, followup: FollowUp) -> bool:
    """Put one job on its queue (or schedule it); False (logged) when Redis is unreachable."""
    func, args = followup.func, followup.args
    marked = False
    try:
        if followup.coalesce:
            if _already_waiting(connection, followup.job_id):
                return True  # it will see this work too
            marked = True
            func, args = "workers.queues.run_coalesced", (followup.func, followup.job_id, *args)
        target = queue(followup.queue, connection)
        if followup.at is not None:
            target.enqueue_at(followup.at, func, *args, job_id=followup.job_id,
                              **JOB_OPTIONS, **followup.kwargs)
        else:
            target.enqueue(func, *args, job_id=followup.job_id, **JOB_OPTIONS,
                           **followup.kwargs)
    except RedisError as exc:
        log.warning("could not enqueue %s%s: %s (the sweeper will retry)",
                    followup.func, followup.args, exc)
        if marked:  # a marker without its job would hold back the shop's work
            with suppress(RedisError):
                connection.delete(_coalesce_key(followup.job_id))
        return False
    return True


def enqueue_many(connection: Redis, followups: list[FollowUp]) -> None:
    """Put many plain (not coalesced) jobs on their queues, one pipeline per queue; raises
    RedisError: a caller batching jobs keeps its own way to recover them."""
    for name in dict.fromkeys(f.queue for f in followups):
        queue(name, connection).enqueue_many([Queue.prepare_data(
            f.func, f.args, f.kwargs, job_id=f.job_id, **JOB_OPTIONS)
            for f in followups if f.queue == name])


def _already_waiting(connection: Redis, job_id: str) -> bool:
    """Set the marker, or find it set with its job still waiting; a stale one is taken over."""
    key = _coalesce_key(job_id)
    if connection.set(key, 1, nx=True, ex=COALESCE_TTL):
        return False
    # A started run clears the marker before it reads anything: while it is still set,
    # that run will see this work too.
    if connection.hget(Job.key_for(job_id), "status") in (
            b"queued", b"scheduled", b"deferred", b"started"):
        return True
    connection.set(key, 1, ex=COALESCE_TTL)  # its job is gone, done or failed
    return False


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
    from workers.context import runtime
    connection = runtime().redis
    connection.delete(_coalesce_key(job_id))  # first: work arriving from now queues another
    connection.set(_rerun_key(job_id), 1, ex=COALESCE_TTL)
    result = None
    while connection.exists(_rerun_key(job_id)):
        with one_run_at_a_time(connection, job_id) as running:
            if not running:
                return result  # the running one runs again for this work
            connection.delete(_rerun_key(job_id))  # taken: what arrives from now sets it again
            module, name = func.rsplit(".", 1)
            result = getattr(importlib.import_module(module), name)(*args)
    return result


@contextmanager
def exclusive(connection: Redis, name: str, *, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold a named Redis lock, waiting for it up to `wait` seconds; TransientError (RQ
    retries) when it stays taken. Renewed while held; freed within RUN_LOCK_EXPIRE when
    its holder dies."""
    lock = redis_lock.Lock(connection, f"backorder:run:{name}", expire=RUN_LOCK_EXPIRE,
                           auto_renewal=True)
    deadline = time.monotonic() + wait
    # Waits of one second: the connection's socket timeout (2 s) bounds a blocking pop.
    while not lock.acquire(timeout=1):
        if time.monotonic() > deadline:
            raise TransientError(f"{name} has been held for over {wait:.0f} s")
    try:
        yield
    finally:
        with suppress(redis_lock.NotAcquired, RedisError):  # expired: nothing left to free
            lock.release()


@contextmanager
def one_run_at_a_time(connection: Redis, job_id: str) -> Iterator[bool]:
    """Hold the job's run lock if it is free; yields whether this run holds it."""
    lock = redis_lock.Lock(connection, f"backorder:run:{job_id}", expire=RUN_LOCK_EXPIRE,
                           auto_renewal=True)
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        with suppress(redis_lock.NotAcquired, RedisError):  # expired: nothing left to free
            lock.release()


def after_commit(connection: Redis, followups) -> int:
    """What a job does once its transaction committed: run the urgent follow-ups now (the
    cap's DENY), put the rest on their queues. Returns how many could not be enqueued."""
    urgent = [f for f in followups if f.urgent]
    failed = enqueue_all(connection, [f for f in followups if not f.urgent])
    for followup in urgent:
        try:
            run_coalesced(followup.func, followup.job_id, *followup.args)
        except (IntegrationError, RedisError, OperationalError) as exc:
            # Its own job retries it with RQ's backoff (and the follow-up sweeper, when
            # Redis is what failed): the cap's DENY is late, never lost.
            log.warning("urgent %s%s failed (%s: %s): queued instead", followup.func,
                        followup.args, type(exc).__name__, exc)
            failed += 0 if enqueue(connection, replace(followup, urgent=False)) else 1
    return failed


def enqueue_all(connection: Redis, followups) -> int:
    """Enqueue every follow-up; returns how many could not be enqueued."""
    return sum(0 if enqueue(connection, f) else 1 for f in followups)


def process_webhook_job(event_id: int) -> FollowUp:
    return FollowUp("workers.jobs.process_webhook", (event_id,), WEBHOOKS,
                    job_id=f"webhook-{event_id}")


def apply_events_job(shop_id: int) -> FollowUp:
    """Apply the shop's waiting events in batches: one run at a time, work arriving
    meanwhile joins the next batch."""
    return FollowUp("workers.jobs.apply_events", (shop_id,), WEBHOOKS,
                    job_id=f"apply-events-{shop_id}", coalesce=True)


def event_jobs(routes) -> list[FollowUp]:
    """The jobs that apply stored events: a batch job per shop, a job per single event."""
    return ([apply_events_job(shop_id) for shop_id in sorted(routes.batch_shops)]
            + [process_webhook_job(i) for i in routes.single_events])
