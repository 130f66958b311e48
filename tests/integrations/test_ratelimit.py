"""SendRateLimiter against the real Redis, shared by real processes."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
import redis

from app.errors import TransientError
from integrations.ratelimit import SendRateLimiter


@pytest.fixture
def key(redis_url):
    """A key no other test uses; its Redis entries are deleted afterwards."""
    name = f"test-ratelimit-{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for stored in client.scan_iter(match=f"*{name}*"):
        client.delete(stored)
    client.close()


def _acquire_and_record(url: str, key: str, count: int, barrier, results) -> None:
    """Child process: take `count` slots, noting when each acquire returned."""
    limiter = SendRateLimiter(url, per_second=10, key=key)
    barrier.wait()  # both children start asking at the same moment
    started = time.time()
    stamps = []
    for _ in range(count):
        assert limiter.acquire(timeout=10)
        stamps.append(time.time())
    results.put((started, stamps))


def _run_two_processes(url: str, key: str,
                       counts: tuple[int, int]) -> tuple[float, list[float]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(counts)), ctx.Queue()
    workers = [ctx.Process(target=_acquire_and_record, args=(url, key, n, barrier, results))
               for n in counts]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    start = min(started for started, _ in outcomes)
    return start, sorted(stamp for _, stamps in outcomes for stamp in stamps)


@pytest.mark.slow
def test_two_processes_never_exceed_the_limit_in_any_one_second_window(redis_url, key):
    start, stamps = _run_two_processes(redis_url, key, (13, 12))

    assert len(stamps) == 25
    # Eleven acquisitions inside one second would put stamps[i + 10] within 1 s of stamps[i].
    closest = min(later - earlier for earlier, later in zip(stamps, stamps[10:], strict=False))
    assert closest >= 1.0, f"11 sends within {closest:.4f}s"
    # 25 at 10/s: a burst of 10, 10 more after 1 s, the last 5 after 2 s.
    elapsed = stamps[-1] - start
    assert 1.9 <= elapsed < 4.0, f"took {elapsed:.2f}s"


def test_try_acquire_refuses_when_the_window_is_full(redis_url, key):
    limiter = SendRateLimiter(redis_url, per_second=3, key=key)

    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_limiters_with_the_same_key_share_one_window(redis_url, key):
    first = SendRateLimiter(redis_url, per_second=2, key=key)
    second = SendRateLimiter(redis_url, per_second=2, key=key)

    assert first.try_acquire() and second.try_acquire()
    assert not first.try_acquire()
    assert not second.try_acquire()


def test_different_keys_do_not_share_a_window(redis_url, key):
    full = SendRateLimiter(redis_url, per_second=1, key=key)
    other = SendRateLimiter(redis_url, per_second=1, key=f"{key}-other")

    assert full.try_acquire()
    assert other.try_acquire()


def test_acquire_waits_for_the_oldest_slot_to_leave_the_window(redis_url, key):
    limiter = SendRateLimiter(redis_url, per_second=2, key=key)
    assert limiter.try_acquire() and limiter.try_acquire()
    began = time.monotonic()

    assert limiter.acquire(timeout=5)

    assert 0.9 <= time.monotonic() - began < 1.5


class _FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.naps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def test_acquire_gives_up_when_the_timeout_ends_before_a_slot_frees(redis_url, key):
    fake = _FakeTime()
    limiter = SendRateLimiter(redis_url, per_second=1, key=key,
                              clock=fake.clock, sleep=fake.sleep)
    assert limiter.try_acquire()

    assert limiter.acquire(timeout=0.5) is False

    # One nap capped by the timeout, not a busy loop of tiny ones.
    assert fake.naps == [pytest.approx(0.5)]


def test_an_unreachable_redis_is_a_transient_error(key):
    limiter = SendRateLimiter("redis://127.0.0.1:1/0", per_second=1, key=key)

    with pytest.raises(TransientError):
        limiter.try_acquire()
