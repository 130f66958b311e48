"""Periodic jobs kept alive by the RQ scheduler: each run schedules the next.

Each run has its own job id (the chain's name and its due second), and a Redis
key names the chain's current link. A run that finishes deletes only itself,
never its successor; a link that is no longer current (two workers raced to
start the chain) ends quietly; and every worker's maintenance re-checks the
chains, so one broken by an outage or a Redis that lost its data starts again
without a restart.
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from app import jobs
from workers.context import runtime

log = logging.getLogger(__name__)

SCHEDULES: dict[str, tuple[str, int]] = {
    "sweep-inbox": ("workers.jobs.sweep_inbox", 60),
    "sweep-followups": ("workers.jobs.sweep_followups", 60),
    "reconcile-shops": ("workers.shopify.reconcile_all", 86400),
    "scan-overdue": ("workers.notifications.scan_overdue", 3600),
    "sweep-notifications": ("workers.notifications.sweep_notifications", 300),
    "sweep-order-edits": ("workers.customer_options.sweep_order_edits", 300),
}
ALIVE = ("scheduled", "queued", "started", "deferred")


def _chain_key(name: str) -> str:
    return f"backorder:periodic:{name}"


def ensure_scheduled(connection: Redis) -> None:
    """Start every chain whose current link is not waiting, queued or running."""
    for name, (_, interval) in SCHEDULES.items():
        if _current_status(connection, name) not in ALIVE:
            _schedule(connection, name, interval)


def _current_status(connection: Redis, name: str) -> str | None:
    current = connection.get(_chain_key(name))
    if current is None:
        return None
    try:
        return Job.fetch(current.decode(), connection=connection).get_status()
    except NoSuchJobError:
        return None


def _schedule(connection: Redis, name: str, delay: int, *, after: str | None = None) -> None:
    due = datetime.now(UTC) + timedelta(seconds=delay)
    job_id = f"periodic-{name}-{int(due.timestamp())}"
    if job_id == after:  # a run started early (by hand) must not reuse its own id
        job_id += "-next"
    jobs.put(connection, jobs.periodic_route(name, job_id, due))
    connection.set(_chain_key(name), job_id)


def run_periodic(name: str) -> None:
    """Run one periodic job, then schedule its next run whatever happened."""
    path, interval = SCHEDULES[name]
    module, func = path.rsplit(".", 1)
    try:
        getattr(importlib.import_module(module), func)()
    finally:
        connection = runtime().redis
        me = get_current_job()
        current = connection.get(_chain_key(name))
        # A link another chain replaced (two workers raced at start) ends its own chain.
        if me is None or current is None or current.decode() == me.id:
            _schedule(connection, name, interval, after=me.id if me else None)
