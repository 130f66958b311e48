"""Periodic jobs kept alive by the RQ scheduler: each run schedules the next.

A fixed job id per schedule means several workers starting at once still keep
one chain, and a chain broken by an outage is restarted by the next worker start.
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from workers.queues import MAINTENANCE

log = logging.getLogger(__name__)

SCHEDULES: dict[str, tuple[str, int]] = {
    "sweep-inbox": ("workers.jobs.sweep_inbox", 60),
    "reconcile-shops": ("workers.shopify.reconcile_all", 86400),
    "scan-overdue": ("workers.notifications.scan_overdue", 3600),
    "sweep-notifications": ("workers.notifications.sweep_notifications", 300),
    "sweep-order-edits": ("workers.customer_options.sweep_order_edits", 300),
}


def _job_id(name: str) -> str:
    return f"periodic-{name}"


def ensure_scheduled(connection: Redis) -> None:
    """Start every chain that is not already waiting in the scheduler or a queue."""
    for name, (_, interval) in SCHEDULES.items():
        try:
            status = Job.fetch(_job_id(name), connection=connection).get_status()
        except NoSuchJobError:
            status = None
        if status not in ("scheduled", "queued", "started"):
            _schedule(connection, name, interval)


def _schedule(connection: Redis, name: str, delay: int) -> None:
    Queue(MAINTENANCE, connection=connection).enqueue_in(
        timedelta(seconds=delay), run_periodic, name, job_id=_job_id(name), result_ttl=0)


def run_periodic(name: str) -> None:
    """Run one periodic job, then schedule its next run whatever happened."""
    from workers.context import runtime
    path, interval = SCHEDULES[name]
    module, func = path.rsplit(".", 1)
    try:
        getattr(importlib.import_module(module), func)()
    finally:
        _schedule(runtime().redis, name, interval)
