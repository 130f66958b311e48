"""The whole service as real processes, wired to local fakes, with switches to break it.

`Stack` starts what production runs (CONTRACT.md, Procfile): gunicorn serving
`app.wsgi:app`, `backorder worker` processes (RQ with the scheduler and the periodic
sweeper), the `backorder` CLI, against a private PostgreSQL database, a private
redis-server it can stop, and the fake Shopify, Twilio and SMTP servers. Everything is
configured only through the environment, as CONTRACT.md promises.

A small supervisor restarts a worker process that exits on its own, as a process
manager (systemd, a PaaS) would; the test kills workers on purpose with `kill_worker`.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from rq import Queue, Worker
from rq.executions import Execution
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from app.db import make_engine, make_session_factory
from app.domain.base import utcnow
from app.domain.fulfilment.models import FulfilmentSync
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import Effect, Variant
from app.domain.notifications.models import Notification
from app.domain.notifications.models import Status as NoteStatus
from app.jobs import ALL_QUEUES, MAINTENANCE
from app.migrate import upgrade
from tests.support.fake_servers import FakeShopify, FakeSmtp, FakeTwilio
from tests.support.processes import PrivateRedis, free_port, wait_for
from tests.support.servers import ADMIN_DSN, create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHOP = "fault-shop.myshopify.com"
TOKEN = "shpat_" + "f" * 32


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without anything the service reads, plus `extra`."""
    own = ("SHOPIFY_", "TWILIO_", "SMTP_", "MAIL_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY",
           "PUBLIC_URL", "PORT", "WEB_CONCURRENCY", "SMS_RATE", "BACKORDER_", "PROMETHEUS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(extra)
    return env


@dataclass
class WorkerProcess:
    """One `backorder worker`, in its own process group (with its scheduler child)."""

    name: str
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    unexpected_exits: list[int] = field(default_factory=list)
    wanted: bool = True
    orphans: list[int] = field(default_factory=list)  # groups of killed workers' schedulers


class Stack:
    """Real processes and fakes; use as a context manager, then `register_shop()`."""

    def __init__(self, workdir: Path, *, workers: int = 2, web_workers: int = 2,
                 twilio_callbacks: bool = True, extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        self.shopify = FakeShopify()
        self.twilio = FakeTwilio(callbacks=twilio_callbacks)
        self.smtp = FakeSmtp()
        self.redis_server = PrivateRedis()
        self.web_port = free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.webhook_secret = secrets.token_hex(16)
        self.secret_key = secrets.token_urlsafe(32)
        self._web_workers = web_workers
        self._extra_env = extra_env or {}
        self.workers = [WorkerProcess(f"worker-{i + 1}", workdir / f"worker-{i + 1}.log")
                        for i in range(workers)]
        self.web: subprocess.Popen | None = None
        self.db_name = self.database_url = ""
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._lock = threading.Lock()
        self.events: list[tuple[float, str]] = []  # what was done to the stack, when
        self.drain_trace: list[tuple[float, dict]] = []  # what was left, while draining

    # --- lifecycle -------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        self.started_at = time.monotonic()
        self.db_name, self.database_url = create_database()
        upgrade(self.database_url)
        self.engine = make_engine(self.database_url, pool_size=2, max_overflow=2)
        self.sessions = make_session_factory(self.engine)
        self.redis_server.start()
        self.redis = redis.Redis.from_url(self.redis_server.url, socket_timeout=5)
        self.shopify.start()
        self.shopify.add_shop(SHOP, TOKEN)
        self.twilio.start()
        self.smtp.start()
        self.env = child_env({
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_server.url,
            "SECRET_KEY": self.secret_key, "SHOPIFY_API_KEY": "fault-api-key",
            "SHOPIFY_API_SECRET": self.webhook_secret, "PUBLIC_URL": self.web_url,
            # One SMS a second per sender is Twilio's long-code limit; the fake has none.
            "SMS_RATE_PER_SECOND": "50",
            "PYTHONUNBUFFERED": "1",  # a SIGKILLed worker's last log lines are kept
            **self.shopify.env(), **self.twilio.env(), **self.smtp.env(), **self._extra_env})
        self._start_web()
        for worker in self.workers:
            self._spawn(worker)
        self._supervisor.start()

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        for worker in self.workers:
            worker.wanted = False
            self._kill_group(worker.proc, signal.SIGKILL)
            for group in worker.orphans:
                with suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
        if self.web is not None and self.web.poll() is None:
            self.web.send_signal(signal.SIGINT)
            try:
                self.web.wait(10)
            except subprocess.TimeoutExpired:
                self._kill_group(self.web, signal.SIGKILL)
        for closer in (self.shopify.stop, self.twilio.stop, self.smtp.stop):
            with suppress(Exception):  # best effort on the way out
                closer()
        self.redis_server.__exit__(None, None, None)
        if getattr(self, "engine", None) is not None:
            self.engine.dispose()
        if self.db_name and not os.environ.get("FAULTS_KEEP_DATABASE"):
            drop_database(self.db_name)
        elif self.db_name:
            print(f"kept database {self.db_name} (FAULTS_KEEP_DATABASE)")

    def note(self, what: str) -> None:
        with self._lock:
            self.events.append((time.monotonic() - self.started_at, what))

    # --- web ---------------------------------------------------------------------

    def _start_web(self) -> None:
        log = open(self.workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
        self.web = subprocess.Popen(
            [str(BIN / "gunicorn"), "app.wsgi:app", "--bind", f"127.0.0.1:{self.web_port}",
             "--workers", str(self._web_workers), "--graceful-timeout", "5",
             *_control_socket(self.workdir)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for(self._web_answers, timeout=30, interval=0.1)

    def _web_answers(self) -> bool:
        if self.web.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + self.tail("gunicorn.log"))
        try:
            with urllib.request.urlopen(f"{self.web_url}/healthz", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    # --- workers -------------------------------------------------------------------

    def _spawn(self, worker: WorkerProcess) -> None:
        log = open(worker.log_path, "ab")  # noqa: SIM115 - closed with the process
        log.write(f"--- start {worker.starts + 1} at {time.monotonic() - self.started_at:.1f}s\n"
                  .encode())
        log.flush()
        worker.proc = subprocess.Popen([str(BIN / "backorder"), "worker"], cwd=ROOT,
                                       env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        worker.starts += 1

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for worker in self.workers:
                with self._lock:
                    if worker.wanted and worker.proc is not None and worker.proc.poll() is not None:
                        worker.unexpected_exits.append(worker.proc.returncode)
                        self.events.append((time.monotonic() - self.started_at,
                                            f"{worker.name} exited {worker.proc.returncode}; "
                                            "restarted by the supervisor"))
                        self._kill_group(worker.proc, signal.SIGKILL)  # its scheduler child
                        self._spawn(worker)

    def kill_worker(self, index: int = 0, *, restart_after: float | None = 1.0,
                    with_scheduler: bool = False) -> None:
        """SIGKILL a worker process, as the OOM killer would; restart it `restart_after` later.

        The worker's RQ scheduler runs in a child process, which survives its parent unless
        `with_scheduler` (the whole container or dyno dies: the process group is killed).
        """
        worker = self.workers[index]
        with self._lock:
            worker.wanted = False
            if with_scheduler:
                self._kill_group(worker.proc, signal.SIGKILL)
            else:
                worker.proc.kill()
                worker.proc.wait(10)
                worker.orphans.append(worker.proc.pid)  # its group, for the cleanup
            self.events.append((time.monotonic() - self.started_at,
                                f"SIGKILL {worker.name}" + (" and its scheduler"
                                                            if with_scheduler else "")))
        if restart_after is not None:
            time.sleep(restart_after)
            self.restart_worker(index)

    def restart_worker(self, index: int = 0) -> None:
        worker = self.workers[index]
        with self._lock:
            self._spawn(worker)
            worker.wanted = True
            self.events.append((time.monotonic() - self.started_at, f"restart {worker.name}"))

    @staticmethod
    def _kill_group(proc: subprocess.Popen | None, sig: int) -> None:
        if proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # the group this stack created for the process
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)

    # --- faults ----------------------------------------------------------------------

    def stop_redis(self) -> None:
        self.redis_server.stop()
        self.note("redis stopped")

    def start_redis(self) -> None:
        self.redis_server.start()
        self.redis.connection_pool.disconnect()
        self.note("redis started")

    def terminate_db_connections(self) -> int:
        """pg_terminate_backend for every connection to the service's database."""
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (self.db_name,)).fetchone()[0]
        self.note(f"terminated {killed} database connections")
        return killed

    # --- the command line ------------------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([str(BIN / "backorder"), *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"backorder {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    # --- observing -------------------------------------------------------------------

    def queue_state(self) -> dict[str, int]:
        """Jobs waiting, running (in live workers) and scheduled across the service's queues."""
        state = {"queued": 0, "running": 0, "abandoned": 0, "scheduled": 0}
        live = self._live_worker_names()
        for name in ALL_QUEUES:
            state["queued"] += Queue(name, connection=self.redis).count
            for worker_name, _ in self._started(name):
                state["running" if worker_name in live else "abandoned"] += 1
            registry = ScheduledJobRegistry(name, connection=self.redis)
            # The periodic chains are always scheduled; count only work waiting for a retry.
            state["scheduled"] += sum(1 for job_id in registry.get_job_ids()
                                      if not job_id.startswith("periodic-"))
        return state

    def _started(self, queue: str) -> list[tuple[str, float]]:
        """(worker name, expiry) of each execution in the queue's StartedJobRegistry."""
        registry = StartedJobRegistry(queue, connection=self.redis)
        out = []
        for entry, score in self.redis.zrange(registry.key, 0, -1, withscores=True):
            job_id, _, execution_id = entry.decode().rpartition(":")
            try:
                worker_name = Execution.fetch(execution_id, job_id, self.redis).worker_name
            except Exception:  # noqa: BLE001 - an execution whose hash expired
                worker_name = ""
            out.append((worker_name, score))
        return out

    def _live_worker_names(self) -> set[str]:
        pids = {w.proc.pid for w in self.workers if w.proc is not None and w.proc.poll() is None}
        return {w.name for w in Worker.all(connection=self.redis) if w.pid in pids}

    def db_pending(self) -> dict[str, int]:
        with self.sessions() as session:
            received = session.scalar(select(func.count()).select_from(WebhookEvent)
                                      .where(WebhookEvent.status == EventStatus.RECEIVED))
            unsent = session.scalar(select(func.count()).select_from(Notification).where(
                Notification.status.in_([NoteStatus.PENDING, NoteStatus.SCHEDULED,
                                         NoteStatus.SENDING])))
            # Customer news the engine found that no message has taken up yet.
            untold = session.scalar(select(func.count()).select_from(Effect).where(
                Effect.dispatched_at.is_(None), Effect.line_item_id.is_not(None)))
            # What Shopify should show and does not yet: a push still owed.
            unpushed = session.scalar(select(func.count()).select_from(Variant)
                                      .where(Variant.push_pending.is_(True)))
            # Holds and tags owed now (one waiting behind another hold is due later).
            unheld = session.scalar(select(func.count()).select_from(FulfilmentSync)
                                    .where(FulfilmentSync.due_at <= utcnow()))
        return {"received_webhooks": received, "unsent_notifications": unsent,
                "undispatched_effects": untold, "unpushed_variants": unpushed,
                "unsynced_fulfilment": unheld}

    def wait_drained(self, *, timeout: float, settle: float = 3.0,
                     fast_forward: bool = True) -> float:
        """Until no webhook waits, no message waits, and nothing is queued, running or
        waiting for a retry, for `settle` seconds; returns the seconds it took.

        The inbox sweeper (every 60 s) is waited for. Two slower clocks are fast-forwarded
        once the service is otherwise idle, doing exactly what they would do later:
        RQ's clean-up of jobs abandoned by a killed worker (240 s after the job started,
        then at a worker's next maintenance, up to 10 minutes later), the follow-up sweep
        (`sweep_followups`, every minute, for pushes and messages whose job was lost after
        its commit) and the 5-minute notification sweep (`sweep_notifications`).
        """
        started = time.monotonic()
        quiet_since = idle_since = None
        last: dict = {}
        while time.monotonic() - started < timeout:
            try:
                last = {**self.db_pending(), **self.queue_state()}
            except redis.RedisError as exc:
                last = {"redis": str(exc)}
            busy = {k: v for k, v in last.items() if v}
            now = time.monotonic()
            if not self.drain_trace or self.drain_trace[-1][1] != busy:
                self.drain_trace.append((round(now - started, 1), busy))
            quiet_since = (quiet_since or now) if not busy else None
            if quiet_since and now - quiet_since >= settle:
                return now - started
            service_idle = not any(last.get(k) for k in ("queued", "running", "scheduled",
                                                          "received_webhooks", "redis"))
            idle_since = (idle_since or now) if service_idle and busy else None
            if fast_forward and idle_since and now - idle_since >= settle:
                self._fast_forward(last)
                idle_since = None
            time.sleep(0.5)
        raise AssertionError(f"not drained after {timeout:.0f} s: {last}\n{self.diagnostics()}")

    def _fast_forward(self, state: dict) -> None:
        if state.get("abandoned"):
            for name in ALL_QUEUES:
                expiries = [score for _, score in self._started(name)]
                if expiries:  # every execution left belongs to a dead worker (service idle)
                    StartedJobRegistry(name, connection=self.redis).cleanup(max(expiries))
            self.note(f"fast-forward: RQ cleaned {state['abandoned']} abandoned job(s)")
        elif (state.get("unpushed_variants") or state.get("undispatched_effects")
              or state.get("unsynced_fulfilment")):
            Queue(MAINTENANCE, connection=self.redis).enqueue("workers.jobs.sweep_followups", 0)
            self.note("fast-forward: follow-up sweep")
        elif state.get("unsent_notifications"):
            Queue(MAINTENANCE, connection=self.redis).enqueue(
                "workers.notifications.sweep_notifications", 0)
            self.note("fast-forward: notification sweep")

    def failed_jobs(self) -> list[tuple[str, str, str]]:
        """(queue, job id, last line of the error) of every job in a failed registry."""
        out = []
        for name in ALL_QUEUES:
            registry = FailedJobRegistry(name, connection=self.redis)
            for job_id in registry.get_job_ids():
                job = registry.job_class.fetch(job_id, connection=self.redis)
                error = (job.latest_result().exc_string if job.latest_result() else "") or ""
                lines = [line for line in error.strip().splitlines() if line.strip()]
                out.append((name, job_id, lines[-1] if lines else ""))
        return out

    def tail(self, name: str, lines: int = 40) -> str:
        try:
            text = (self.workdir / name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stuck(self) -> dict:
        """What is left undone: webhooks, messages, and RQ jobs running or waiting."""
        out: dict = {}
        with self.sessions() as session:
            out["webhooks"] = [tuple(r) for r in session.execute(
                select(WebhookEvent.id, WebhookEvent.topic, WebhookEvent.attempts,
                       WebhookEvent.received_at, WebhookEvent.last_error)
                .where(WebhookEvent.status == EventStatus.RECEIVED))]
            out["notifications"] = [tuple(r) for r in session.execute(
                select(Notification.id, Notification.channel, Notification.status,
                       Notification.attempts, Notification.updated_at, Notification.last_error)
                .where(Notification.status.in_([NoteStatus.PENDING, NoteStatus.SCHEDULED,
                                                NoteStatus.SENDING])))]
        with suppress(redis.RedisError):
            for name in ALL_QUEUES:
                for label, registry in (("started", StartedJobRegistry), ("scheduled",
                                                                          ScheduledJobRegistry)):
                    ids = registry(name, connection=self.redis).get_job_ids(cleanup=False)
                    if ids:
                        out[f"{name}:{label}"] = ids
            out["live workers"] = sorted(self._live_worker_names())
            # A coalescing marker says "a job for this is waiting": is one?
            waiting = {job_id for name in ALL_QUEUES
                       for job_id in Queue(name, connection=self.redis).get_job_ids()}
            out["coalesce markers"] = {
                key.decode(): (self.redis.ttl(key), key.decode().rsplit(":", 1)[1] in waiting)
                for key in self.redis.scan_iter("backorder:coalesce:*")}
        return out

    def diagnostics(self) -> str:
        parts = [f"events: {self.events}"]
        with suppress(Exception):
            parts.append(f"left undone: {self.stuck()}")
        for worker in self.workers:
            parts.append(f"--- {worker.name} (starts {worker.starts}, "
                         f"unexpected exits {worker.unexpected_exits})\n"
                         + self.tail(worker.log_path.name))
        parts.append("--- gunicorn\n" + self.tail("gunicorn.log", 15))
        return "\n".join(parts)


def _control_socket(workdir: Path) -> list[str]:
    """gunicorn 27 opens a control socket at one fixed path: give each server its own."""
    import gunicorn
    return ["--control-socket", str(workdir / "gunicorn.ctl")] if gunicorn.version_info >= (27,) else []


@contextmanager
def running_stack(tmp_path: Path, **options) -> Iterator[Stack]:
    with Stack(tmp_path, **options) as stack:
        try:
            yield stack
        except BaseException:
            print(stack.diagnostics())
            raise
