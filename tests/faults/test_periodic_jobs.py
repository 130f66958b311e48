"""The periodic jobs and RQ's scheduler keep running through restarts, kills and outages.

The inbox sweeper is what makes "nothing accepted is ever lost" true when Redis was
down or a worker died, and the RQ scheduler is what runs it (and every retry with
backoff). These tests check that both come back by themselves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.registry import FinishedJobRegistry, ScheduledJobRegistry

from app.jobs import MAINTENANCE
from tests.faults.stack import ROOT, child_env
from tests.support.processes import PrivateRedis, wait_for
from workers.periodic import SCHEDULES, ensure_scheduled

pytestmark = pytest.mark.slow
BACKORDER = str(Path(sys.executable).parent / "backorder")


def _run_due_periodic_jobs(connection) -> None:
    """What RQ's scheduler does when the periodic runs are due: move them to their queue."""
    queue = Queue(MAINTENANCE, connection=connection)
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        queue.enqueue_job(Job.fetch(job_id, connection=connection))
        registry.remove(job_id)


def test_each_periodic_run_leaves_its_next_run_scheduled(rt, run_jobs):
    """A run schedules its successor; the successor must still exist once the run ends."""
    ensure_scheduled(rt.redis)
    _run_due_periodic_jobs(rt.redis)
    run_jobs()  # the first run of each chain: sweep, reconcile, scan, sweep
    registry = ScheduledJobRegistry(MAINTENANCE, connection=rt.redis)
    for name in SCHEDULES:
        following = [job_id for job_id in registry.get_job_ids() if name in job_id]
        assert following, f"{name}: no next run in the scheduler"
        for job_id in following:
            assert Job.exists(job_id, connection=rt.redis), (
                f"{name}: the next run {job_id!r} is in the scheduler but its job is gone "
                "(deleted when the run that scheduled it finished), so the chain stops")


def _worker(env, log) -> subprocess.Popen:
    return subprocess.Popen([BACKORDER, "worker"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(proc: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its scheduler process
    proc.wait(10)


@pytest.fixture
def private_worker_env(rt, tmp_path):
    """A private redis-server and the environment a `backorder worker` needs."""
    with PrivateRedis() as server:
        env = child_env({"DATABASE_URL": rt.settings.database_url, "REDIS_URL": server.url,
                         "SECRET_KEY": rt.settings.secret_key,
                         "SHOPIFY_API_SECRET": "fault-secret"})
        connection = redis.Redis.from_url(server.url)
        yield server, env, connection, tmp_path / "worker.log"
        connection.close()


def _runs_scheduled_work(connection, *, within: float) -> bool:
    """Schedule a harmless job one second ahead; True if a scheduler moves it and it runs."""
    job = Queue(MAINTENANCE, connection=connection).enqueue_in(
        timedelta(seconds=1), "workers.jobs.sweep_inbox", result_ttl=600)
    finished = FinishedJobRegistry(MAINTENANCE, connection=connection)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if job.id in finished.get_job_ids():
            return True
        time.sleep(0.5)
    return False


def test_scheduled_work_resumes_after_a_worker_dies_with_its_scheduler(private_worker_env):
    """A container or dyno killed outright takes the worker and its scheduler process.

    RQ's scheduler lock lives 61 s after its holder's last heartbeat. The restarted
    worker may not take it over at start, so it must try again once the lock has
    expired: retries with backoff, quiet-hours messages and the inbox sweeper all wait
    on a scheduler. RQ's default is to try again at the worker's maintenance, every
    10 minutes.
    """
    _, env, connection, log_path = private_worker_env
    with open(log_path, "ab") as log:
        worker = _worker(env, log)
        try:
            assert _runs_scheduled_work(connection, within=20), "no scheduler at start"
            _kill_group(worker)
            worker = _worker(env, log)
            assert _runs_scheduled_work(connection, within=100), (
                "no scheduled job ran for 100 s after the worker holding the scheduler lock "
                "died (the lock expires after 61 s)")
        finally:
            _kill_group(worker)


def test_a_worker_and_its_scheduler_ride_out_a_short_redis_outage(private_worker_env):
    """Redis restarting (a failover, a deploy) while a job runs must not stop the worker,
    nor leave it without a scheduler once Redis is back.

    Under `honcho start` (the Procfile locally) one exiting process stops all of them, and
    a PaaS restarts a crashing process with growing delays; while Redis is down a
    restarted worker cannot even start.
    """
    server, env, connection, log_path = private_worker_env
    with open(log_path, "ab") as log:
        worker = _worker(env, log)
        try:
            wait_for(lambda: b"Listening on" in log_path.read_bytes(), timeout=20)
            # A job that is still running when Redis goes away, and ends while it is away.
            Queue(MAINTENANCE, connection=connection).enqueue("time.sleep", 2)
            wait_for(lambda: b"time.sleep" in log_path.read_bytes(), timeout=10)
            server.stop()
            time.sleep(5)
            server.start()
            connection.connection_pool.disconnect()
            time.sleep(3)
            assert worker.poll() is None, (
                f"the worker exited with {worker.returncode} during a 5 s Redis outage:\n"
                + log_path.read_text(errors="replace")[-1500:])
            assert _runs_scheduled_work(connection, within=45), (
                "no scheduled job ran within 45 s after Redis returned: the worker's "
                "scheduler process died with the outage and was not restarted")
        finally:
            _kill_group(worker)
