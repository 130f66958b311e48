"""The hand-off of stored webhooks to the workers: their ids appended to a Redis list.

RQ's enqueue builds a job, pickles it and writes five keys, in the web process the
largest single cost of intake (bench/README.md). So the web process only appends event
ids to PENDING, from a thread of its own (`HandOff`), and a pump job on the worker side
(workers/intake.py) turns them into the jobs that apply them. One pump is queued at a
time: PUMP_WAITING says one is waiting, and the pump deletes it before it reads the list,
so an id appended while it runs queues the next pump.

Which function queues the pump is the caller's: it is passed in (`QueuePump`), so this
package names no worker.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress

from redis import Redis
from redis.exceptions import RedisError

from app.metrics import ENQUEUE_FAILURES

log = logging.getLogger(__name__)

PENDING = "backorder:intake:pending"    # event ids stored and handed off, not yet jobs
PUMP_WAITING = "backorder:intake:pump"  # set while a pump job waits in the queue
# A marker whose pump was never queued (the process died in between) holds the next
# pump back this long at most; a pump waiting longer behind a backlog just gets a twin.
PUMP_WAITING_TTL = 5
# How long the hand-off waits for more commits to join its Redis round trip: at most
# 1/LINGER round trips a second per process, whatever the rate of webhooks.
LINGER = 0.02

QueuePump = Callable[[Redis], None]  # puts one pump job on its queue; RedisError when it cannot


def hand_off(connection: Redis, event_ids: Sequence[int], queue_pump: QueuePump) -> bool:
    """Give stored events to the workers; False (logged) when Redis is unreachable."""
    try:
        pipe = connection.pipeline(transaction=False)
        pipe.rpush(PENDING, *event_ids)
        pipe.set(PUMP_WAITING, 1, nx=True, ex=PUMP_WAITING_TTL)
        _, pump_needed = pipe.execute()
        if pump_needed:
            start_pump(connection, queue_pump)
    except RedisError as exc:
        log.warning("could not hand off webhooks %s: %s (the sweeper will retry)",
                    ", ".join(map(str, event_ids)), exc)
        return False
    return True


def start_pump(connection: Redis, queue_pump: QueuePump) -> None:
    """Queue the pump whose PUMP_WAITING marker the caller has just set."""
    try:
        queue_pump(connection)
    except RedisError:
        with suppress(RedisError):  # a marker without its job would hold the next one back
            connection.delete(PUMP_WAITING)
        raise


class HandOff:
    """Gives committed event ids to the workers from a thread of its own.

    A Redis round trip costs the web process about as much CPU as the shared INSERT, and
    a request gains nothing from waiting for it: its row is committed, so an id that never
    reaches Redis (Redis down, the process killed) stays `received` and the inbox sweeper
    re-enqueues it. So the leader only appends ids here; the thread waits LINGER for more
    commits to join, then hands all of them off in one round trip. The thread starts with
    the first ids, and whatever is waiting is handed off when the process exits.
    """

    def __init__(self, redis: Redis, *, queue_pump: QueuePump, linger: float = LINGER):
        self._redis, self._queue_pump, self._linger = redis, queue_pump, linger
        self._changed = threading.Condition()
        self._ids: list[int] = []
        self._given = self._done = 0  # ids given to this object / handed off or failed
        self._closing = False
        self._closed = threading.Event()  # cuts a linger short: the process is leaving
        self._thread: threading.Thread | None = None

    def give(self, event_ids: list[int]) -> None:
        if not event_ids:
            return
        with self._changed:
            self._ids.extend(event_ids)
            self._given += len(event_ids)
            closed = self._closing
            if self._thread is None and not closed:
                self._start()
            self._changed.notify_all()
        if closed:  # the process is on its way out: no thread to wait for
            self._round()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every id given so far is handed off (or failed); False on timeout."""
        with self._changed:
            target = self._given
            return self._changed.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float = 5.0) -> None:
        with self._changed:
            self._closing = True
            self._closed.set()
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            atexit.unregister(self.close)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inbox-hand-off", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # gunicorn's workers leave through sys.exit

    def _run(self) -> None:
        while self._round():
            pass

    def _round(self) -> bool:
        """Hand off what is waiting, after the linger; False once closed and empty."""
        with self._changed:
            self._changed.wait_for(lambda: self._ids or self._closing)
            if not self._ids:
                return False
        # more commits join this round trip; a close() during the linger ends it at once
        self._closed.wait(self._linger)
        with self._changed:
            ids, self._ids = self._ids, []
        try:
            if not hand_off(self._redis, ids, self._queue_pump):
                ENQUEUE_FAILURES.inc(len(ids))
        except Exception:  # noqa: BLE001 - the rows are stored: the sweeper hands them off
            log.exception("hand-off of %d webhooks failed (the sweeper will retry)", len(ids))
            ENQUEUE_FAILURES.inc(len(ids))
        finally:
            with self._changed:
                self._done += len(ids)
                self._changed.notify_all()
        return True
