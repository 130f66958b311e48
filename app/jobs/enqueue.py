"""Putting jobs on queues: the only place it happens.

Callers hand over intents once the transaction that wrote their rows has committed;
jobs take ids, never objects. When Redis is unreachable the rows still say what is
owed, and the sweepers ask again (workers/jobs.py, workers/notifications.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import suppress

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job

from app.jobs.routes import Route, pump_route, route

log = logging.getLogger(__name__)

COALESCE_TTL = 600  # a lost marker (crashed worker) stops coalescing after this long
LIVE_JOB_STATES = (b"queued", b"scheduled", b"deferred", b"started")
RUN_COALESCED = "workers.queues.run_coalesced"


def coalesce_key(job_id: str) -> str:
    """Set while a coalesced job waits: asking again adds nothing."""
    return f"backorder:coalesce:{job_id}"


def rerun_key(job_id: str) -> str:
    """Set when a coalesced job's work arrived while a run of it was running."""
    return f"backorder:rerun:{job_id}"


def enqueue(connection: Redis, intents: Iterable) -> int:
    """Put each intent's job on its queue (or schedule it); returns how many jobs now
    wait for this work. Redis refusing one is logged and counted out, never raised."""
    return sum(1 for intent in intents if enqueue_route(connection, route(intent)))


def enqueue_route(connection: Redis, job: Route) -> bool:
    """One job; False when Redis is unreachable or a unique job of that id exists."""
    marked = False
    try:
        if job.coalesce:
            if _already_waiting(connection, job.job_id):
                return True  # it will see this work too
            marked = True
        put(connection, job)
    except DuplicateJobError:
        return False  # already queued, scheduled or running: its row's status guards the rest
    except RedisError as exc:
        log.warning("could not enqueue %s%s: %s (the sweeper will retry)", job.func, job.args,
                    exc)
        if marked:  # a marker without its job would hold back the shop's work
            with suppress(RedisError):
                connection.delete(coalesce_key(job.job_id))
        return False
    return True


def put(connection: Redis, job: Route) -> None:
    """Put one job on its queue or in the scheduler; raises RedisError and
    DuplicateJobError (a unique job of that id exists)."""
    func, args = job.func, job.args
    if job.coalesce:
        func, args = RUN_COALESCED, (job.func, job.job_id, *job.args)
    queue = Queue(job.queue, connection=connection)
    if job.replace_dead:
        _drop_if_dead(connection, job.job_id)
    if job.unique and job.at is not None:
        queue.schedule_job(queue.create_job(func, args=args, job_id=job.job_id, **job.options),
                           job.at, unique=True)
    elif job.unique:
        queue.enqueue(func, *args, job_id=job.job_id, unique=True, **job.options)
    elif job.at is not None:
        queue.enqueue_at(job.at, func, *args, job_id=job.job_id, **job.options)
    else:
        queue.enqueue(func, *args, job_id=job.job_id, **job.options)


def queue_pump(connection: Redis) -> None:
    """Put one pump job on the webhooks queue (the intake hand-off calls this); raises
    RedisError."""
    put(connection, pump_route())


def put_many(connection: Redis, intents: Iterable) -> None:
    """Put many plain (not coalesced, not scheduled) jobs on their queues, one pipeline
    per queue; raises RedisError: a caller batching jobs keeps its own way to recover."""
    jobs = [route(intent) for intent in intents]
    for name in dict.fromkeys(job.queue for job in jobs):
        Queue(name, connection=connection).enqueue_many([
            Queue.prepare_data(job.func, job.args, job_id=job.job_id, **job.options)
            for job in jobs if job.queue == name])


def _already_waiting(connection: Redis, job_id: str) -> bool:
    """Set the marker, or find it set with its job still waiting; a stale one is taken over."""
    key = coalesce_key(job_id)
    if connection.set(key, 1, nx=True, ex=COALESCE_TTL):
        return False
    # A started run clears the marker before it reads anything: while it is still set,
    # that run will see this work too.
    if _status(connection, job_id) in LIVE_JOB_STATES:
        return True
    connection.set(key, 1, ex=COALESCE_TTL)  # its job is gone, done or failed
    return False


def _status(connection: Redis, job_id: str) -> bytes | None:
    return connection.hget(Job.key_for(job_id), "status")


def _drop_if_dead(connection: Redis, job_id: str) -> None:
    """A finished or failed job of this id makes room for a fresh one."""
    status = _status(connection, job_id)
    if status is None or status in LIVE_JOB_STATES:
        return
    with suppress(NoSuchJobError):  # expired meanwhile: nothing to drop
        Job.fetch(job_id, connection=connection).delete()
