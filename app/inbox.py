"""How webhook intake stores deliveries: group commit among a process's request threads.

Stored one by one, every webhook paid for its own INSERT, its own commit (a WAL flush)
and its own Redis round trip, and those round trips cost the web process more CPU than
the rest of the request. Here the requests of one process queue their rows; the request
that finds nobody writing writes everything queued in one statement and one commit,
passes the lead on, gives the new ids to the hand-off thread, and wakes the requests it
wrote for. A lone request writes its own row with no thread hand-off; under load the
costs are shared. A process runs at most as many requests as it has threads, so a batch
never holds more rows than that. The hand-off thread gives the workers the ids of every
commit of the last LINGER in one Redis round trip.

Nothing is acknowledged before its commit. The answer does not wait for Redis: an id
that misses it (Redis down, the process killed before its hand-off) stays `received`,
and the inbox sweeper re-enqueues it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

from redis import Redis
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from app.domain.intake.service import Recorded, record_deliveries
from app.metrics import ENQUEUE_FAILURES, INBOX_BATCH_ROWS
from workers.intake import hand_off

log = logging.getLogger(__name__)

MAX_BATCH = 64  # a guard only: a batch is bounded by the requests a process runs at once
ANSWER_TIMEOUT = 20.0  # seconds a request waits for its commit, under gunicorn's 30
# How long the hand-off waits for more commits to join its Redis round trip: at most
# 1/LINGER round trips a second per process, whatever the rate of webhooks.
LINGER = 0.02
# Under load, how long a new leader lets the rows of requests on their way join its batch
# before it writes (as PostgreSQL's commit_delay does for WAL flushes): a statement, a
# commit and a round trip cost far more than the rows they carry (bench/README.md, stop 12).
GATHER = 0.001


class _Waiting:
    """One request's row, and what became of it."""

    __slots__ = ("row", "lead", "result", "error", "_signal")

    def __init__(self, row: dict):
        self.row = row
        self.lead = False  # set when this request is to write the next batch itself
        self.result: Recorded | None = None
        self.error: BaseException | None = None
        self._signal = threading.Lock()
        self._signal.acquire()  # released once: by wake()

    def wait(self, timeout: float) -> bool:
        return self._signal.acquire(timeout=timeout)

    def wake(self) -> None:
        self._signal.release()

    def outcome(self) -> Recorded:
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise TimeoutError("the inbox did not store this webhook in time")
        return self.result


class HandOff:
    """Gives committed event ids to the workers from a thread of its own.

    A Redis round trip costs the web process about as much CPU as the shared INSERT, and
    a request gains nothing from waiting for it: its row is committed, so an id that never
    reaches Redis (Redis down, the process killed) stays `received` and the inbox sweeper
    re-enqueues it. So the leader only appends ids here; the thread waits LINGER for more
    commits to join, then hands all of them off in one round trip. The thread starts with
    the first ids, and whatever is waiting is handed off when the process exits.
    """

    def __init__(self, redis: Redis, *, linger: float = LINGER):
        self._redis, self._linger = redis, linger
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
            if not hand_off(self._redis, ids):
                ENQUEUE_FAILURES.inc(len(ids))
        except Exception:  # noqa: BLE001 - the rows are stored: the sweeper hands them off
            log.exception("hand-off of %d webhooks failed (the sweeper will retry)", len(ids))
            ENQUEUE_FAILURES.inc(len(ids))
        finally:
            with self._changed:
                self._done += len(ids)
                self._changed.notify_all()
        return True


class InboxWriter:
    """Stores inbox rows for the request threads of one process, many per commit.

    No writer thread: the request that finds nobody writing writes the batch (its row
    first, then whatever else waits), answers the others, and passes the lead to the
    oldest request still waiting. A lone request so writes its own row with no thread
    hand-off, and under load one wake-up answers each request. Under load (the previous
    batch held more than one row) a new leader first waits `gather` for more rows. The ids
    go to `hand_off`.
    """

    def __init__(self, engine: Engine, redis: Redis, *, linger: float = LINGER,
                 gather: float = GATHER):
        self._engine, self._gather = engine, gather
        self.hand_off = HandOff(redis, linger=linger)
        self._last_batch = 0  # rows in the previous batch; only the leader touches it
        self._mutex = threading.Lock()
        self._queue: list[_Waiting] = []
        self._leading = False
        self._connection: Connection | None = None

    def record(self, row: dict) -> Recorded:
        """Store one delivery (see `inbox_row`); returns once it is committed."""
        me = _Waiting(row)
        with self._mutex:
            self._queue.append(me)
            lead, self._leading = not self._leading, True
        if lead or self._follow(me):
            self._lead()
        return me.outcome()

    def close(self) -> None:
        self.hand_off.close()
        self._disconnect()

    def _follow(self, me: _Waiting) -> bool:
        """Wait for a leader to store this row; True when this request is to lead."""
        if not me.wait(ANSWER_TIMEOUT):
            with self._mutex:
                if not me.lead and me in self._queue:  # never taken: give up
                    self._queue.remove(me)
                    return False
            me.wait(ANSWER_TIMEOUT)  # taken or just promoted: its wake-up is coming
        return me.lead

    def _lead(self) -> None:
        if self._last_batch > 1:  # others are writing too: gather; a lone request never waits
            time.sleep(self._gather)
        with self._mutex:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        self._last_batch = len(batch)
        INBOX_BATCH_ROWS.observe(len(batch))
        try:
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001 - raised again in each request it failed
                log.exception("inbox writer failed a batch of %d", len(batch))
                for waiting in batch:
                    if waiting.result is None and waiting.error is None:
                        waiting.error = exc
            finally:
                self._pass_lead()
            self.hand_off.give([w.result.event_id for w in batch
                                if w.result and w.result.pending])
        finally:
            for waiting in batch[1:]:  # batch[0] is the leader itself
                waiting.wake()

    def _pass_lead(self) -> None:
        with self._mutex:
            if not self._queue:
                self._leading = False
                return
            successor = self._queue[0]
            successor.lead = True
        successor.wake()

    def _write(self, batch: list[_Waiting]) -> None:
        try:
            recorded = self._store([waiting.row for waiting in batch])
        except Exception as exc:  # noqa: BLE001 - raised again in the waiting request
            self._disconnect()
            if len(batch) == 1:
                batch[0].error = exc
                return
            for waiting in batch:  # one bad row must not fail the others: each alone
                self._write([waiting])
            return
        for waiting, result in zip(batch, recorded, strict=True):
            waiting.result = result

    def _store(self, rows: list[dict]) -> list[Recorded]:
        """One autocommit statement; a dropped connection is replaced and the statement
        tried once more (a row that had committed before the drop then reads as a
        duplicate, and the sweeper hands it off)."""
        try:
            return record_deliveries(self._connect(), rows)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._disconnect()
        return record_deliveries(self._connect(), rows)

    def _connect(self) -> Connection:
        # Held for the writer's life: no pool checkout or pre-ping round trip per batch.
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT")
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

