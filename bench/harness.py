"""What every benchmark needs: real servers, the app under gunicorn, and wrk to load it.

PostgreSQL and Redis are the machine's own, isolated the way the test suite does it (a
private database, a claimed Redis db index), so a benchmark can run beside `make test`.
Everything started here is stopped and dropped on the way out, also on Ctrl-C.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from app.migrate import upgrade
from tests.support.processes import free_port, wait_for
from tests.support.servers import (
    claim_redis_db,
    create_database,
    drop_database,
    release_redis_db,
)

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).resolve().with_name("webhooks.lua")
DRAIN_SECONDS = 3  # after the active window: time for answers still in flight to arrive


class BenchError(Exception):
    """The benchmark could not run (a server did not start, wrk is missing, ...)."""


@contextmanager
def signals_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so cleanup runs as it does for Ctrl-C."""
    def _exit(signum, _frame):
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def private_services() -> Iterator[tuple[str, str]]:
    """A fresh, migrated PostgreSQL database and a claimed Redis db: (database_url, redis_url)."""
    name, database_url = create_database()
    try:
        upgrade(database_url)
        index, redis_url = claim_redis_db()
        try:
            yield database_url, redis_url
        finally:
            release_redis_db(index)
    finally:
        drop_database(name)


AUTOVACUUM_NAPTIME = 60.0  # seconds: PostgreSQL's default autovacuum_naptime


@contextmanager
def autovacuum_stand_in(database_url: str, every: float = AUTOVACUUM_NAPTIME, *,
                        enabled: bool = True) -> Iterator[bool]:
    """While the block runs, VACUUM (ANALYZE) the database every `every` seconds when the
    server's own autovacuum is off (and `enabled`); yields whether it stands in.

    This machine's PostgreSQL runs with autovacuum = off (quicker tests); production
    servers never do. Without it, dead row versions of the hot rows (the variant, its
    inbox events, notifications) pile up and every read walks them, so a long benchmark
    would measure the missing vacuum. It runs beside the benchmark, as autovacuum does,
    so its cost is in the timings.
    """
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        server_vacuums = connection.exec_driver_sql("SHOW autovacuum").scalar() == "on"
    stop = threading.Event()

    def vacuum() -> None:
        while not stop.wait(every):
            with engine.connect() as connection:
                connection.exec_driver_sql("VACUUM (ANALYZE)")

    thread = threading.Thread(target=vacuum, name="autovacuum-stand-in", daemon=True)
    stands_in = enabled and not server_vacuums
    if stands_in:
        thread.start()
    try:
        yield stands_in
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        engine.dispose()


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    workers: int


@contextmanager
def gunicorn(env: Mapping[str, str], *, log_dir: Path,
             wsgi_app: str = "app.wsgi:app") -> Iterator[Server]:
    """`gunicorn app.wsgi:app` (or another WSGI app, e.g. bench.bare:app) on a free loopback
    port, from the repo root (its gunicorn.conf.py) (WEB_CONCURRENCY, when set, changes it
    as it does in production); the app answers GET /readyz once it is ready."""
    port = free_port()
    log_path = log_dir / f"gunicorn-{wsgi_app.partition(':')[0]}.log"
    binary = Path(sys.executable).with_name("gunicorn")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(binary), wsgi_app, "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # our own group: a Ctrl-C reaches us, we stop it in order
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(proc, base_url, log_path)
        yield Server(base_url=base_url, pid=proc.pid, workers=len(child_pids(proc.pid)))
    finally:
        _stop(proc)


def _wait_ready(proc: subprocess.Popen, base_url: str, log_path: Path) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn exited with {proc.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False
    try:
        wait_for(ready, timeout=30, interval=0.2)
    except TimeoutError:
        raise BenchError(f"gunicorn was not ready in 30 s:\n{_tail(log_path)}") from None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when it is missing (we run as root here)."""
    found = shutil.which("wrk")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        raise BenchError("wrk is not installed: apt-get install -y wrk")
    print("installing wrk (Debian package) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet).returncode != 0:
        # A fresh machine may have no package lists yet.
        subprocess.run(["apt-get", "update", "-q"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("could not install wrk with apt-get")
    return found


@dataclass(frozen=True)
class Load:
    """One wrk run: where, how long, and at what rate (0: as fast as possible)."""

    url: str
    seconds: float
    rate: float = 0
    connections: int = 16
    threads: int = 1


@dataclass(frozen=True)
class LoadResult:
    sent: int
    answered: int
    ok: int
    client_errors: int
    server_errors: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    timeouts: int  # answers slower than wrk's --timeout
    # Connect/read/write errors, for information: wrk reconnects, and a request they cost shows
    # up as unanswered. Read errors are mostly idle keep-alive connections the server closed.
    socket_errors: int

    @property
    def requests_per_s(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def unanswered(self) -> int:
        return self.sent - self.answered

    @property
    def errors(self) -> int:
        return self.client_errors + self.server_errors + self.timeouts + self.unanswered


def run_wrk(wrk: str, load: Load, *, script_env: Mapping[str, str]) -> LoadResult:
    """Run wrk with bench/webhooks.lua; the script's BENCH_RESULT line becomes a LoadResult."""
    env = {**os.environ, **script_env, "BENCH_ACTIVE": str(load.seconds),
           "BENCH_RATE": str(load.rate / load.threads)}
    duration = math.ceil(load.seconds + DRAIN_SECONDS)
    threads = min(load.threads, load.connections)
    command = [wrk, f"-t{threads}", f"-c{load.connections}", f"-d{duration}s",
               f"--timeout={DRAIN_SECONDS}s", "-s", str(WRK_SCRIPT), load.url]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return _load_result(json.loads(line.removeprefix("BENCH_RESULT ")))
    raise BenchError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}{done.stderr}")


def _load_result(raw: dict) -> LoadResult:
    return LoadResult(
        sent=raw["sent"], answered=raw["answered"], ok=raw["ok"],
        client_errors=raw["client_errors"], server_errors=raw["server_errors"],
        elapsed_s=raw["elapsed_s"], p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000, timeouts=raw["socket_errors"]["timeout"],
        socket_errors=sum(raw["socket_errors"].values()) - raw["socket_errors"]["timeout"])


def combined_load(results: list[LoadResult]) -> LoadResult:
    """Several runs of one load as one: counts and active time added up (so requests/s is
    the total's), the median p50, the worst p99 and maximum."""
    def total(name: str):
        return sum(getattr(r, name) for r in results)
    return LoadResult(
        sent=total("sent"), answered=total("answered"), ok=total("ok"),
        client_errors=total("client_errors"), server_errors=total("server_errors"),
        elapsed_s=total("elapsed_s"), p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results), max_ms=max(r.max_ms for r in results),
        timeouts=total("timeouts"), socket_errors=total("socket_errors"))


def table(header: list[str], rows: list[list[str]]) -> str:
    """A plain, aligned text table: the first column left, the others right."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


@dataclass(frozen=True)
class CpuUse:
    """Cores in use, on average, during one measurement of `seconds`."""

    seconds: float
    app: float      # gunicorn master and workers
    servers: float  # Redis, PostgreSQL's own processes and its backends for our database
    wrk: float
    other: float    # everything else: other work on a shared machine makes the figures noisy

    def app_ms_per(self, requests: int) -> float:
        """The app's CPU time per request: steadier than requests/s on a busy machine."""
        return 1000 * self.app * self.seconds / requests if requests else 0.0


def combined_cpu(uses: list[CpuUse]) -> CpuUse:
    """Several measurements as one: cores averaged over their time."""
    seconds = sum(u.seconds for u in uses)
    def mean(name: str) -> float:
        return sum(getattr(u, name) * u.seconds for u in uses) / seconds if seconds else 0.0
    return CpuUse(seconds, mean("app"), mean("servers"), mean("wrk"), mean("other"))


class CpuMeter:
    """Where the machine's CPU went between start() and stop(), from /proc."""

    def __init__(self, app_pid: int, *, database: str):
        self._app_pids = [app_pid, *child_pids(app_pid)]
        self._database = database
        self._tick = os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._begin = self._sample()

    def stop(self) -> CpuUse:
        end = self._sample()
        wall, busy, app, servers, wrk = (b - a for a, b in zip(self._begin, end, strict=True))
        cores = [x / wall for x in (app, servers, wrk)]
        return CpuUse(wall, *cores, other=max(0.0, busy / wall - sum(cores)))

    def _sample(self) -> tuple[float, ...]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        return (time.monotonic(), _machine_busy() / self._tick,
                sum(_process_ticks(p) for p in self._app_pids) / self._tick,
                sum(_process_ticks(p) for p in self._server_pids()) / self._tick,
                children.ru_utime + children.ru_stime)


    def _server_pids(self) -> list[str]:
        """Redis, and PostgreSQL but for other databases' backends (other tests' work)."""
        found = []
        for pid, title in _processes():
            if title.startswith("redis-server") or (title.startswith("postgres") and (
                    "(" not in title or f" {self._database} " in title)):
                found.append(pid)
        return found


def _machine_busy() -> int:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait


def _process_ticks(pid: int | str) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def _processes() -> Iterator[tuple[str, str]]:
    """(pid, command line) of every process; a backend's title names its database."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        yield pid, title


def child_pids(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="backorder-bench-")
