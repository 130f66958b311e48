"""A send rate limit shared by every worker process, kept in Redis.

The window algorithm is the `limits` library's moving window: Redis holds the
times of the last N acquisitions and a new one is granted only when the oldest
of them is more than a second old, so no one-second window ever holds more
than N, however many processes ask.

`limits` stamps entries with the caller's `time.time()`, so processes on
different hosts need synchronised clocks (NTP) for the guarantee to hold.
Waiters retry GUARD_SECONDS after a slot frees, so a saturated limiter runs at
about N per (1 + GUARD_SECONDS) seconds: 98% of N, never above it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.errors import TransientError

# How long after a slot frees a waiting process tries for it. A send happens a
# little after its acquisition; the margin keeps the sends, not only the
# acquisitions, under N per second when a slot passes from one process to another.
GUARD_SECONDS = 0.02
# A stamp from a host whose clock runs ahead could otherwise put a waiter to
# sleep for as long as the skew; a waiter never naps longer than one window.
MAX_WAIT_SECONDS = 1.0


class SendRateLimiter:
    """At most `per_second` acquisitions in any one-second window, across processes."""

    def __init__(self, redis_url_or_storage_uri: str, *, per_second: int, key: str,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        # wrap_exceptions: one StorageError to catch whatever the backend is.
        self._storage = storage_from_string(redis_url_or_storage_uri, wrap_exceptions=True)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._item = RateLimitItemPerSecond(per_second)
        self._key = key
        self._clock = clock  # only measures the caller's timeout
        self._sleep = sleep
        # Connect now: a first command pays ~10 ms of connection setup *after*
        # limits has stamped the entry, so that send would go out late against
        # its stamp and could crowd the next window. Failure surfaces on use.
        self._storage.check()

    def try_acquire(self) -> bool:
        """Take a slot if one is free now; never waits."""
        try:
            return self._limiter.hit(self._item, self._key)
        except StorageError as exc:
            raise TransientError(f"rate limiter storage unavailable: {exc.storage_error}") from exc

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait until a slot is free and take it; False if `timeout` seconds pass first."""
        deadline = None if timeout is None else self._clock() + timeout
        while not self.try_acquire():
            wait = self._wait_for_slot()
            if deadline is not None:
                left = deadline - self._clock()
                if left <= 0:
                    return False
                wait = min(wait, left)
            self._sleep(wait)
        return True

    def _wait_for_slot(self) -> float:
        """Seconds until the oldest acquisition in the window leaves it."""
        try:
            stats = self._limiter.get_window_stats(self._item, self._key)
        except StorageError as exc:
            raise TransientError(f"rate limiter storage unavailable: {exc.storage_error}") from exc
        if stats.remaining > 0:  # freed between our attempt and this look
            return 0.0
        # reset_time is on the clock limits stamps entries with, time.time().
        wait = stats.reset_time - time.time() + GUARD_SECONDS
        return min(max(wait, 0.0), MAX_WAIT_SECONDS)
