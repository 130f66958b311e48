"""The SMS rate limit holds across two real worker processes sharing one Redis."""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid

import pytest
import responses
from rq import Queue

from app.jobs import NOTIFY
from tests.conftest import burst_worker
from tests.notifications.conftest import MESSAGES_URL, twilio_fixture
from workers import notifications as jobs

LIMIT = 5
MESSAGES = 12
WARM_UP = "+15005550009"  # a send that only primes the process's HTTP path, not counted


def _worker(settings, barrier, results) -> None:
    """Child process: a real RQ SimpleWorker in burst mode, Twilio under `responses`."""
    from app.runtime import Runtime
    from workers import context
    runtime = Runtime(settings)
    context.install(runtime)
    stamps, granted = [], []

    def accept(request):
        if f"To={WARM_UP.replace('+', '%2B')}" not in request.body:
            stamps.append(time.time())  # the moment Twilio receives the send
        body = twilio_fixture("message_create_201_queued.json") | {"sid": "SM" + uuid.uuid4().hex}
        return 201, {"Content-Type": "application/json"}, json.dumps(body)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, MESSAGES_URL, callback=accept)
        # Prime imports, HTTP session and the limiter's connection, so the first counted
        # send is not slower than the rest.
        jobs.senders(settings)[0].send_sms(to=WARM_UP, body="warm-up")
        _record_grants(jobs.sms_limiter(settings), granted)
        barrier.wait()
        worker = burst_worker([Queue(NOTIFY, connection=runtime.redis)], runtime.redis)
        worker.work(burst=True, logging_level="WARNING")
    results.put((granted, stamps))


def _record_grants(limiter, granted: list) -> None:
    acquire = limiter.acquire

    def recorded(*args, **kwargs):
        ok = acquire(*args, **kwargs)
        granted.append(time.time())
        return ok
    limiter.acquire = recorded


def closest(stamps: list[float]) -> float:
    """The shortest span holding LIMIT + 1 stamps: under 1 s means a window held too many."""
    return min(b - a for a, b in zip(stamps, stamps[LIMIT:], strict=False))


@pytest.mark.slow
def test_two_worker_processes_never_send_more_than_the_limit_in_any_one_second_window(
        world, mrt, run_jobs):
    world.settings(email_enabled=False)
    for n in range(MESSAGES):
        world.order(1000 + n, (10 * n + 1, "Linen Shirt", 1, 1, None),
                    phone=f"+1415555{n:04d}")
        world.effect(1000 + n, 10 * n + 1, "line_backordered")
    assert jobs.dispatch_effects(world.shop_id) == MESSAGES
    settings = mrt.settings.with_overrides(sms_rate_per_second=LIMIT)

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(settings, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    per_worker = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
        assert worker.exitcode == 0

    granted = sorted(t for chunk, _ in per_worker for t in chunk)
    stamps = sorted(t for _, chunk in per_worker for t in chunk)
    assert len(stamps) == MESSAGES and all(chunk for _, chunk in per_worker)  # both sent
    assert {n.status for n in world.notifications()} == {"sent"}  # each exactly once
    # Slots: never more than LIMIT in any one-second window, across both processes.
    assert closest(granted) >= 1.0, f"{LIMIT + 1} slots granted within {closest(granted):.4f}s"
    # Sends follow their grant by a few varying milliseconds; every grant keeps a
    # guard of GUARD_SECONDS, so the sends too stay at LIMIT in any one second.
    assert closest(stamps) >= 1.0, f"{LIMIT + 1} sends within {closest(stamps):.4f}s"
    # Keeping up: 12 at 5/s is a burst of 5, 5 more after 1 s, the last 2 after 2 s.
    assert stamps[-1] - stamps[0] < 3.0
