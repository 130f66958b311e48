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

from dataclasses import replace

from redis import Redis
from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.domain.intake.batch import route_events
from app.intake.handoff import PENDING, PUMP_WAITING, PUMP_WAITING_TTL, start_pump
from app.intake.pump import queue_pump
from workers import queues
from workers.context import runtime

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
        queues.enqueue_many(connection, queues.event_jobs(replace(routes, batch_shops=())))
        for shop_id in sorted(routes.batch_shops):  # coalesced: one waiting run per shop
            queues.enqueue(connection, queues.apply_events_job(shop_id))
        moved += len(raw)
    if connection.set(PUMP_WAITING, 1, nx=True, ex=PUMP_WAITING_TTL):
        start_pump(connection, queue_pump)
    return moved


def pump_webhooks() -> int:
    """The pump job: run by any worker on the webhooks queue."""
    rt = runtime()
    return pump(rt.redis, rt.sessions)
