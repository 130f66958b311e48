"""Named Redis locks: one holder across every process, freed when the holder dies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis_lock
from redis import Redis
from redis.exceptions import RedisError

from app.errors import TransientError

# Renewed while held, so a holder killed with its process frees the lock within this.
RUN_LOCK_EXPIRE = 15
LOCK_WAIT = 60  # how long `exclusive` waits for a lock another process holds


@contextmanager
def exclusive(connection: Redis, name: str, *, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold a named Redis lock, waiting for it up to `wait` seconds; TransientError (RQ
    retries) when it stays taken. Renewed while held; freed within RUN_LOCK_EXPIRE when
    its holder dies."""
    lock = redis_lock.Lock(connection, f"backorder:run:{name}", expire=RUN_LOCK_EXPIRE,
                           auto_renewal=True)
    deadline = time.monotonic() + wait
    # Waits of one second: the connection's socket timeout (2 s) bounds a blocking pop.
    while not lock.acquire(timeout=1):
        if time.monotonic() > deadline:
            raise TransientError(f"{name} has been held for over {wait:.0f} s")
    try:
        yield
    finally:
        with suppress(redis_lock.NotAcquired, RedisError):  # expired: nothing left to free
            lock.release()


@contextmanager
def one_run_at_a_time(connection: Redis, job_id: str) -> Iterator[bool]:
    """Hold the job's run lock if it is free; yields whether this run holds it."""
    lock = redis_lock.Lock(connection, f"backorder:run:{job_id}", expire=RUN_LOCK_EXPIRE,
                           auto_renewal=True)
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        with suppress(redis_lock.NotAcquired, RedisError):  # expired: nothing left to free
            lock.release()
