"""Start an RQ worker for every queue, with the scheduler, in this process."""

from __future__ import annotations

import logging
import signal
import time

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from app.errors import PermanentError
from app.jobs import ALL_QUEUES
from app.runtime import Runtime
from workers import context
from workers.periodic import ensure_scheduled

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

    def handle_exception(self, job, *exc_info):
        """A permanent error fails once: no retry can help, and the job recorded it where
        the merchant looks; one log line instead of a traceback per retry."""
        if not isinstance(exc_info[1], PermanentError):
            return super().handle_exception(job, *exc_info)
        job.retries_left = 0
        self.log.error("job %s (%s) failed for good: %s: %s", job.id, job.func_name,
                       exc_info[0].__name__, exc_info[1])
        return None


def run_worker(rt: Runtime, *, burst: bool = False) -> None:
    """Work until stopped; a Redis outage restarts the worker loop instead of ending it."""
    context.install(rt)
    backoff = 1
    while True:
        _exit_on_signals()
        worker = None
        try:
            ensure_scheduled(rt.redis)
            worker = _new_worker(rt)
            worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
        except RedisError as exc:
            if worker is not None and _stopping(worker):
                return  # told to stop: Redis going away too (`make run`) is no reason to stay
            log.warning("worker lost Redis (%s); starting again in %d s", exc, backoff)
            _pause(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        if burst or _stopping(worker):
            return
        backoff = 1  # RQ left its loop for an error it logged; start afresh
        _pause(backoff)


def _new_worker(rt: Runtime) -> SimpleWorker:
    queues = [Queue(name, connection=rt.redis) for name in ALL_QUEUES]
    return BackorderWorker(queues, connection=rt.redis, worker_ttl=WORKER_TTL,
                           maintenance_interval=MAINTENANCE_SECONDS)


def _stopping(worker: SimpleWorker) -> bool:
    return worker._stop_requested or worker._shutdown_requested_date is not None


def _pause(seconds: float) -> None:
    _exit_on_signals()
    time.sleep(seconds)


def _exit_on_signals() -> None:
    """Between RQ runs a stop signal ends the process. RQ installs its own handlers inside
    `work()` and leaves them behind, and those raise mid-sleep or are lost once it is gone."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit)


def _exit(signum, _frame) -> None:
    raise SystemExit(0)
