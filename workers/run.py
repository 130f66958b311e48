"""Start an RQ worker for every queue, with the scheduler, in this process."""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from app.runtime import Runtime
from workers import context
from workers.periodic import ensure_scheduled
from workers.queues import ALL_QUEUES

log = logging.getLogger(__name__)

# RQ retries a scheduler lock left by a dead worker (it expires after 61 s) only at its
# maintenance, every 10 minutes by default, and maintenance waits for an idle dequeue
# to time out (worker TTL - 15 s). Shorter intervals bring a scheduler back in ~1.5 min.
MAINTENANCE_SECONDS = 15
WORKER_TTL = 30
MAX_BACKOFF = 30


class BackorderWorker(SimpleWorker):
    """SimpleWorker runs jobs in-process: no fork per job, one database pool."""

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        ensure_scheduled(self.connection)  # chains lost with Redis's data come back


def run_worker(rt: Runtime, *, burst: bool = False) -> None:
    """Work until stopped; a Redis outage restarts the worker loop instead of ending it."""
    context.install(rt)
    backoff = 1
    while True:
        try:
            worker = _work_once(rt, burst=burst)
        except RedisError as exc:
            log.warning("worker lost Redis (%s); starting again in %d s", exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        if burst or worker._stop_requested:
            return
        backoff = 1  # RQ left its loop for an error it logged; start afresh
        time.sleep(backoff)


def _work_once(rt: Runtime, *, burst: bool) -> SimpleWorker:
    ensure_scheduled(rt.redis)
    queues = [Queue(name, connection=rt.redis) for name in ALL_QUEUES]
    worker = BackorderWorker(queues, connection=rt.redis, worker_ttl=WORKER_TTL,
                             maintenance_interval=MAINTENANCE_SECONDS)
    worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
    return worker
