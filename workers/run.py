"""Start an RQ worker for every queue, with the scheduler, in this process."""

from __future__ import annotations

from rq import Queue, SimpleWorker

from app.runtime import Runtime
from workers import context
from workers.periodic import ensure_scheduled
from workers.queues import ALL_QUEUES


def run_worker(rt: Runtime, *, burst: bool = False) -> None:
    """Work until stopped. SimpleWorker runs jobs in-process: no fork per job, one DB pool."""
    context.install(rt)
    ensure_scheduled(rt.redis)
    queues = [Queue(name, connection=rt.redis) for name in ALL_QUEUES]
    SimpleWorker(queues, connection=rt.redis).work(with_scheduler=True, burst=burst,
                                                   logging_level="INFO")
