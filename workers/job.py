"""The one job wrapper: a unit of work, its intents after commit, failures classified once.

Every RQ entry point is a `@job`: it is timed, and a failure is counted as transient
(RQ retries it with backoff) or permanent (BackorderWorker fails it once) by its class
alone. A job that keeps its failures on a row says how (`record=`), and the wrapper
records each failure there once, before RQ sees it. Inside, `unit()` is the
transaction: the intents a service returns go out after its commit, never before, so a
worker never looks for a row that is not there yet.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db import unit_of_work
from app.errors import TransientError
from app.metrics import JOB_FAILURES, JOB_SECONDS
from workers.context import runtime
from workers.queues import after_commit

T = TypeVar("T")
# Worth retrying: a vendor that said so, or the database or network in between.
TRANSIENT = (TransientError, OperationalError, ConnectionError, TimeoutError)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


@dataclass
class Unit:
    """One transaction and the intents to enqueue once it commits."""

    session: Session
    intents: list = field(default_factory=list)

    def then(self, intents: Iterable) -> None:
        self.intents.extend(intents)


@contextmanager
def unit() -> Iterator[Unit]:
    """Open a unit of work; after its commit, run or enqueue the intents it collected."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        work = Unit(session)
        yield work
    after_commit(rt.redis, work.intents)


def call(service: Callable[..., T], *args, **kwargs) -> T:
    """Call one service in a unit of work of its own; returns what it returns."""
    with unit_of_work(runtime().sessions) as session:
        return service(session, *args, **kwargs)


def run(service: Callable[..., Iterable], *args, **kwargs) -> list:
    """Call one service in a unit of work; its returned intents go out after commit."""
    with unit() as work:
        intents = list(service(work.session, *args, **kwargs))
        work.then(intents)
    return intents


# record(session, *job_args, error=..., final=...)
Recorder = Callable[..., object]


def job(func: Callable | None = None, *, record: Recorder | None = None,
        of: tuple[type[BaseException], ...] = (Exception,)):
    """Make `func` a job: timed, its failures counted by kind and, with `record`, kept on
    their row once (only failures of the classes in `of`), then raised for RQ."""
    def wrap(body: Callable) -> Callable:
        name = body.__name__
        seconds = JOB_SECONDS.labels(job=name)  # once: jobs run on the hot path

        @functools.wraps(body)
        def run_job(*args, **kwargs):
            started = time.perf_counter()
            try:
                return body(*args, **kwargs)
            except Exception as exc:
                kind = "transient" if is_transient(exc) else "permanent"
                JOB_FAILURES.labels(job=name, kind=kind).inc()
                if record is not None and isinstance(exc, of):
                    _record(record, args, exc, final=kind == "permanent")
                raise
            finally:
                seconds.observe(time.perf_counter() - started)
        return run_job
    return wrap(func) if func is not None else wrap


def _record(record: Recorder, args: tuple, exc: Exception, *, final: bool) -> None:
    with unit_of_work(runtime().sessions) as session:
        record(session, *args, error=f"{type(exc).__name__}: {exc}", final=final)
