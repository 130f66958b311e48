"""A send rate limit shared by every worker process, kept in Redis.

A sliding window of the last N grants per key: a new grant is made only when the
N-th newest is older than the window, so no window of that length ever holds
more than N, however many processes ask. The window is one second plus a guard:
a send reaches the provider a few milliseconds after its grant, and that delay
varies, so the guard keeps the *sends*, not only the grants, at N per second
(a saturated limiter runs at N / (1 + GUARD) per second, about 97.5% of N).

Why not the `limits` library (used before): its moving window is whole seconds
(it passes the length to EXPIRE), so no guard could be added to every slot, and
the benchmark saw 12 sends in one second against a limit of 10. Grants are
stamped with Redis's own clock (TIME), so hosts need no synchronised clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from app.errors import TransientError

GUARD_SECONDS = 0.025  # above the spread of grant-to-send delays measured by bench.notify

# KEYS[1]: the grant list (newest first). ARGV: limit, window in ms.
# Returns 0 when granted, else the milliseconds until a slot frees.
_GRANT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('LLEN', KEYS[1]) >= limit then
  local oldest = tonumber(redis.call('LINDEX', KEYS[1], limit - 1))
  if now - oldest < window then return window - (now - oldest) end
end
redis.call('LPUSH', KEYS[1], now)
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class SendRateLimiter:
    """At most `per_second` grants in any window of 1 s + guard, across processes."""

    def __init__(self, redis_url: str, *, per_second: int, key: str,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._grant = self._redis.register_script(_GRANT)
        self._key = f"backorder:ratelimit:{key}"
        self._args = (per_second, int(round((1 + GUARD_SECONDS) * 1000)))
        self._clock = clock  # only measures the caller's timeout
        self._sleep = sleep

    def _ask(self) -> float:
        """Seconds to wait before a slot frees; 0.0 means the slot was granted."""
        try:
            return int(self._grant(keys=[self._key], args=self._args)) / 1000
        except redis.RedisError as exc:
            raise TransientError(f"rate limiter storage unavailable: {exc}") from exc

    def try_acquire(self) -> bool:
        """Take a slot if one is free now; never waits."""
        return self._ask() == 0

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait until a slot is free and take it; False if `timeout` seconds pass first."""
        deadline = None if timeout is None else self._clock() + timeout
        while (wait := self._ask()) > 0:
            if deadline is not None:
                left = deadline - self._clock()
                if left <= 0:
                    return False
                wait = min(wait, left)
            self._sleep(wait)
        return True
