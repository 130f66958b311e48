"""A permanent error fails a job once: no retry can help (issue 14, part 5)."""

from __future__ import annotations

from rq import Queue
from rq.registry import FailedJobRegistry

from app.domain.followups import FollowUp
from app.errors import PermanentError, TransientError
from workers import queues

RUNS: list[str] = []


def refuses_for_good() -> None:
    RUNS.append("permanent")
    raise PermanentError("the shop has no Admin API access")


def fails_for_now() -> None:
    RUNS.append("transient")
    raise TransientError("503")


def test_a_permanent_error_fails_the_job_once_while_a_transient_one_is_retried(rt, run_jobs):
    RUNS.clear()
    queues.enqueue(rt.redis, FollowUp(f"{__name__}.refuses_for_good", (), queues.MAINTENANCE,
                                      job_id="refuses"))
    queues.enqueue(rt.redis, FollowUp(f"{__name__}.fails_for_now", (), queues.MAINTENANCE,
                                      job_id="retries"))
    run_jobs()

    assert sorted(RUNS) == ["permanent", "transient"]
    failed = FailedJobRegistry(queues.MAINTENANCE, connection=rt.redis)
    assert failed.get_job_ids() == ["refuses"]  # kept for operators, never retried
    scheduled = Queue(queues.MAINTENANCE, connection=rt.redis).scheduled_job_registry
    assert "retries" in scheduled.get_job_ids() and "refuses" not in scheduled.get_job_ids()
