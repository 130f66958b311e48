"""The worker side of intake: the pump turns stored webhooks' ids into jobs.

The web process appends the ids of stored events to a Redis list and queues one pump
(app/intake/handoff.py). The pump turns the waiting ids into the jobs that apply them:
one coalesced `apply_events` job per shop (batches, DESIGN.md "Flash sales"), and a
`process_webhook` job for each event that runs alone (uninstall and compliance topics).

Nothing is lost on the way: the row is stored before the hand-off, so an id that
never reaches Redis (Redis down, the process died) or that a dying pump had taken
stays `received` in the inbox, and the sweeper re-enqueues it.
"""

from __future__ import annotations

from redis import Redis
from sqlalchemy.orm import Session, sessionmaker

from app import jobs
from app.db import unit_of_work
from app.domain.intake.batch import route_events
from app.domain.intents import ApplyEvents, ProcessWebhook
from app.intake.handoff import PENDING, PUMP_WAITING, PUMP_WAITING_TTL, start_pump
from workers.context import runtime
from workers.job import job

BATCH = 500
MAX_BATCHES = 20  # then the pump queues its successor, so one run stays short


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
        start_pump(connection, jobs.queue_pump)
    return moved


@job
def pump_webhooks() -> int:
    """The pump job: run by any worker on the webhooks queue."""
    rt = runtime()
    return pump(rt.redis, rt.sessions)
