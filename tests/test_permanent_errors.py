"""A permanent error fails a job once: no retry can help (issue 14, part 5)."""

from __future__ import annotations

from rq import Queue
from rq.registry import FailedJobRegistry

from app.errors import PermanentError, TransientError
from app.jobs import JOB_OPTIONS, MAINTENANCE

RUNS: list[str] = []


def refuses_for_good() -> None:
    RUNS.append("permanent")
    raise PermanentError("the shop has no Admin API access")


def fails_for_now() -> None:
    RUNS.append("transient")
    raise TransientError("503")


def test_a_permanent_error_fails_the_job_once_while_a_transient_one_is_retried(rt, run_jobs):
    RUNS.clear()
    maintenance = Queue(MAINTENANCE, connection=rt.redis)
    maintenance.enqueue(refuses_for_good, job_id="refuses", **JOB_OPTIONS)
    maintenance.enqueue(fails_for_now, job_id="retries", **JOB_OPTIONS)
    run_jobs()

    assert sorted(RUNS) == ["permanent", "transient"]
    failed = FailedJobRegistry(MAINTENANCE, connection=rt.redis)
    assert failed.get_job_ids() == ["refuses"]  # kept for operators, never retried
    scheduled = Queue(MAINTENANCE, connection=rt.redis).scheduled_job_registry
    assert "retries" in scheduled.get_job_ids() and "refuses" not in scheduled.get_job_ids()
