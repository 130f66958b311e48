"""From the web request to the worker: hand off a stored webhook's id, pump ids into jobs.

RQ's enqueue builds a job, pickles it and writes five keys: in the web process, the
largest single cost of intake (bench/README.md). So the web process only appends
event ids to a Redis list (one round trip for all the commits of a few milliseconds, from
a thread of its own, see app/inbox.py), and a pump job on the worker side turns the
waiting ids into the jobs that apply them: one coalesced `apply_events` job per shop
(batches, DESIGN.md "Flash sales"), and a `process_webhook` job for each event that runs
alone (uninstall and compliance topics).
One pump is queued at a time: a marker says one is waiting, and the pump deletes it
before it reads the list, so an id appended while it runs queues the next pump.

Nothing is lost on the way: the row is stored before the hand-off, so an id that
never reaches Redis (Redis down, the process died) or that a dying pump had taken
stays `received` in the inbox, and the sweeper re-enqueues it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import suppress

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session, sessionmaker

from app import jobs
from app.db import unit_of_work
from app.domain.intake.batch import route_events
from app.domain.intents import ApplyEvents, ProcessWebhook

log = logging.getLogger(__name__)

PENDING = "backorder:intake:pending"    # event ids stored and handed off, not yet jobs
PUMP_WAITING = "backorder:intake:pump"  # set while a pump job waits in the queue
# A marker whose pump was never queued (the process died in between) holds the next
# pump back this long at most; a pump waiting longer behind a backlog just gets a twin.
PUMP_WAITING_TTL = 5
BATCH = 500
MAX_BATCHES = 20  # then the pump queues its successor, so one run stays short


def hand_off(connection: Redis, event_ids: Sequence[int]) -> bool:
    """Give stored events to the workers; False (logged) when Redis is unreachable."""
    try:
        pipe = connection.pipeline(transaction=False)
        pipe.rpush(PENDING, *event_ids)
        pipe.set(PUMP_WAITING, 1, nx=True, ex=PUMP_WAITING_TTL)
        _, pump_needed = pipe.execute()
        if pump_needed:
            _queue_pump(connection)
    except RedisError as exc:
        log.warning("could not hand off webhooks %s: %s (the sweeper will retry)",
                    ", ".join(map(str, event_ids)), exc)
        return False
    return True


def _queue_pump(connection: Redis) -> None:
    try:
        jobs.put(connection, jobs.pump_route())
    except RedisError:
        with suppress(RedisError):  # a marker without its job would hold the next one back
            connection.delete(PUMP_WAITING)
        raise


def pump(connection: Redis, sessions: sessionmaker[Session]) -> int:
    """Turn every waiting event id into the job that applies it; returns how many ids."""
    connection.delete(PUMP_WAITING)  # first: ids appended from now on queue another pump
    moved = 0
    for _ in range(MAX_BATCHES):
        raw = connection.lpop(PENDING, BATCH)
        if not raw:
            return moved
        with unit_of_work(sessions) as session:
            routes = route_events(session, [int(i) for i in raw])
        jobs.put_many(connection, [ProcessWebhook(i) for i in routes.single_events])
        # coalesced: one waiting run per shop
        jobs.enqueue(connection, [ApplyEvents(i) for i in sorted(routes.batch_shops)])
        moved += len(raw)
    if connection.set(PUMP_WAITING, 1, nx=True, ex=PUMP_WAITING_TTL):
        _queue_pump(connection)
    return moved


def pump_webhooks() -> int:
    """The pump job: run by any worker on the webhooks queue."""
    from workers.context import runtime
    rt = runtime()
    return pump(rt.redis, rt.sessions)
