"""How webhook intake stores deliveries: group commit among a process's request threads.

Stored one by one, every webhook paid for its own INSERT, its own commit (a WAL flush)
and its own Redis round trip, and those round trips cost the web process more CPU than
the rest of the request. Here the requests of one process queue their rows; the request
that finds nobody writing writes everything queued in one statement and one commit,
passes the lead on, gives the new ids to the hand-off thread, and wakes the requests it
wrote for. A lone request writes its own row with no thread hand-off; under load the
costs are shared. A process runs at most as many requests as it has threads, so a batch
never holds more rows than that. The hand-off thread (handoff.py) gives the workers the ids
of every commit of the last LINGER in one Redis round trip.

Nothing is acknowledged before its commit. The answer does not wait for Redis: an id
that misses it (Redis down, the process killed before its hand-off) stays `received`,
and the inbox sweeper re-enqueues it.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from app.domain.intake.service import Recorded
from app.intake.handoff import LINGER, HandOff, QueuePump
from app.intake.store import record_deliveries
from app.metrics import INBOX_BATCH_ROWS

log = logging.getLogger(__name__)

MAX_BATCH = 64  # a guard only: a batch is bounded by the requests a process runs at once
ANSWER_TIMEOUT = 20.0  # seconds a request waits for its commit, under gunicorn's 30
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


class InboxWriter:
    """Stores inbox rows for the request threads of one process, many per commit.

    No writer thread: the request that finds nobody writing writes the batch (its row
    first, then whatever else waits), answers the others, and passes the lead to the
    oldest request still waiting. A lone request so writes its own row with no thread
    hand-off, and under load one wake-up answers each request. Under load (the previous
    batch held more than one row) a new leader first waits `gather` for more rows. The ids
    go to `hand_off`, which queues the pump with `queue_pump`.
    """

    def __init__(self, engine: Engine, redis: Redis, *, queue_pump: QueuePump,
                 linger: float = LINGER, gather: float = GATHER):
        self._engine, self._gather = engine, gather
        self.hand_off = HandOff(redis, queue_pump=queue_pump, linger=linger)
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

