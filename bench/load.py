"""Sustained load: signed webhooks of mixed topics at a fixed rate, with the workers running.

wrk on loopback posts deliveries of six topics (the real Shopify samples, ~0.2-12 KB; orders
dominate, as in a shop) at `--rate` per second for `--seconds` to gunicorn with its default
worker count, while `--workers` `backorder worker` processes (RQ, scheduler, sweeper) apply
them against PostgreSQL and Redis; their Admin API calls go to a local fake Shopify. It reports
what the web tier accepted (2xx per second, p50/p99, errors), then how long the workers took
to drain the queue once the load stopped, and checks that nothing was lost: every 2xx is a
stored row, and every stored row ends processed.

    .venv/bin/python -m bench.load                 # 1,000/s for 60 s, two workers
    .venv/bin/python -m bench.load --seconds 10    # a shorter run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import redis
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from app.db import make_engine, make_session_factory, unit_of_work
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.shops.service import register_shop
from app.jobs import ALL_QUEUES
from app.security import TokenCipher
from bench.harness import (
    DRAIN_SECONDS,
    ROOT,
    BenchError,
    CpuMeter,
    Load,
    LoadResult,
    _load_result,
    _process_ticks,
    ensure_wrk,
    gunicorn,
    private_services,
    scratch_dir,
    signals_as_exit,
    table,
)
from integrations.shopify.webhooks import sign_webhook
from tests.support.fake_servers import FakeShopify

SAMPLES = ROOT.parent / "shared" / "fixtures" / "shopify" / "webhooks"
SCRIPT = Path(__file__).resolve().with_name("load.lua")
# the shop the samples' order_status_url names: intake refuses a body naming another
SHOP, TOKEN = "jsmith.myshopify.com", "shpat_load"
# (weight, topic, sample): roughly what a busy shop sends.
MIX = ((40, "orders/create", "orders_create.2025-01.json"),
       (25, "inventory_levels/update", "inventory_levels_update.2024-10.json"),
       (15, "orders/updated", "orders_updated.2025-01.json"),
       (10, "products/update", "products_update.2025-01.json"),
       (5, "orders/cancelled", "orders_cancelled.2025-01.json"),
       (5, "refunds/create", "refunds_create.2025-01.json"))
PREFIX = "load"


@dataclass(frozen=True)
class Figures:
    target_rate: float
    seconds: float
    web_workers: int
    rq_workers: int
    sent: int
    answered: int
    accepted: int
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    client_errors: int
    server_errors: int
    timeouts: int
    socket_errors: int
    stored: int
    processed: int
    failed: int
    backlog_at_end: int
    drain_s: float | None
    cores_web: float
    cores_workers: float
    cores_db_redis: float
    cores_wrk: float

    @property
    def nothing_lost(self) -> bool:
        return (self.sent == self.answered and self.stored == self.accepted
                and self.processed + self.failed == self.stored and self.drain_s is not None)


def main(argv: list[str] | None = None) -> int:
    """Run the load, print the figures; 1 when an event was lost or the queue did not drain."""
    options = _parse(argv)
    try:
        with signals_as_exit():
            figures = _run(options)
    except BenchError as exc:
        print(f"load benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("load benchmark interrupted (servers stopped, database dropped)", file=sys.stderr)
        return 130
    return _report(figures, options)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("BENCH_LOAD_SECONDS", "60")),
                        help="length of the load (default: $BENCH_LOAD_SECONDS or 60)")
    parser.add_argument("--rate", type=float, default=1000, help="deliveries per second")
    parser.add_argument("--workers", type=int, default=2, help="`backorder worker` processes")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--drain-timeout", type=float, default=900,
                        help="seconds to wait for the queue to drain after the load")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--strict", action="store_true",
                        help="exit 2 when the accepted rate is under 95%% of --rate")
    return parser.parse_known_args(argv)[0]


def _run(options: argparse.Namespace) -> Figures:
    wrk = ensure_wrk()
    secret, secret_key = secrets.token_hex(16), secrets.token_urlsafe(32)
    with scratch_dir() as scratch, private_services() as (database_url, redis_url), \
            FakeShopify() as shopify:
        shopify.add_shop(SHOP, TOKEN)
        _register_shop(database_url, secret_key)
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": secret_key,
               "SHOPIFY_API_SECRET": secret, **shopify.env()}
        manifest = _manifest(Path(scratch), secret)
        with gunicorn(env, log_dir=Path(scratch)) as server, \
                _workers(env, options.workers, Path(scratch)) as worker_pids:
            print(f"load benchmark: {options.rate:g} webhooks/s of {len(MIX)} topics for "
                  f"{options.seconds:g} s; gunicorn with {server.workers} worker(s), "
                  f"{options.workers} RQ worker(s), {os.cpu_count()} cores", flush=True)
            with _Counter(database_url, redis_url) as counter:
                url = server.base_url + "/webhooks/shopify"
                _wrk(wrk, Load(url, 2, rate=min(options.rate, 200), connections=16,
                               threads=1), manifest, "warm")
                counter.wait_drained(timeout=60)
                meter = CpuMeter(server.pid, database=database_url.rsplit("/", 1)[1])
                worker_ticks = sum(_process_ticks(p) for p in worker_pids)
                meter.start()
                result = _wrk(wrk, Load(url, options.seconds, rate=options.rate,
                                        connections=options.connections,
                                        threads=options.threads), manifest, PREFIX)
                cpu = meter.stop()
                worker_cores = ((sum(_process_ticks(p) for p in worker_pids) - worker_ticks)
                                / os.sysconf("SC_CLK_TCK") / cpu.seconds)
                backlog = counter.pending()
                drain = counter.wait_drained(timeout=options.drain_timeout)
                stored, processed, failed = counter.outcome(PREFIX)
    return Figures(
        target_rate=options.rate, seconds=options.seconds, web_workers=server.workers,
        rq_workers=options.workers, sent=result.sent, answered=result.answered,
        accepted=result.ok, accepted_per_s=round(result.ok / result.elapsed_s, 1)
        if result.elapsed_s else 0.0, p50_ms=result.p50_ms, p99_ms=result.p99_ms,
        max_ms=result.max_ms, errors=result.errors, client_errors=result.client_errors,
        server_errors=result.server_errors, timeouts=result.timeouts,
        socket_errors=result.socket_errors, stored=stored, processed=processed, failed=failed,
        backlog_at_end=backlog, drain_s=None if drain is None else round(drain, 1),
        cores_web=round(cpu.app, 2), cores_workers=round(worker_cores, 2),
        cores_db_redis=round(cpu.servers, 2), cores_wrk=round(cpu.wrk, 2))


def _register_shop(database_url: str, secret_key: str) -> None:
    engine = make_engine(database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            register_shop(session, domain=SHOP,
                          token_ciphertext=TokenCipher(secret_key).encrypt(TOKEN))
    finally:
        engine.dispose()


def _manifest(scratch: Path, secret: str) -> Path:
    """One line per delivery kind: weight, topic, the body's HMAC, the body's file."""
    lines = []
    for weight, topic, sample in MIX:
        path = SAMPLES / sample
        lines.append(f"{weight}\t{topic}\t{sign_webhook(path.read_bytes(), secret)}\t{path}")
    manifest = scratch / "load.manifest"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _wrk(wrk: str, load: Load, manifest: Path, prefix: str) -> LoadResult:
    """wrk with bench/load.lua (harness.run_wrk's protocol, another script)."""
    env = {**os.environ, "BENCH_MANIFEST": str(manifest), "BENCH_SHOP": SHOP,
           "BENCH_ID_PREFIX": prefix, "BENCH_ACTIVE": str(load.seconds),
           "BENCH_RATE": str(load.rate / load.threads)}
    duration = math.ceil(load.seconds + DRAIN_SECONDS)
    command = [wrk, f"-t{min(load.threads, load.connections)}", f"-c{load.connections}",
               f"-d{duration}s", f"--timeout={DRAIN_SECONDS}s", "-s", str(SCRIPT), load.url]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return _load_result(json.loads(line.removeprefix("BENCH_RESULT ")))
    raise BenchError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}{done.stderr}")


@contextmanager
def _workers(env: dict[str, str], count: int, log_dir: Path) -> Iterator[list[int]]:
    """`backorder worker` processes, each in its own process group (with its scheduler)."""
    binary = Path(sys.executable).with_name("backorder")
    procs = []
    try:
        for n in range(count):
            log = open(log_dir / f"worker-{n + 1}.log", "wb")  # noqa: SIM115 - closed below
            procs.append((subprocess.Popen([str(binary), "worker"], cwd=ROOT,
                                           env={**os.environ, **env}, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True),
                          log))
        yield [p.pid for p, _ in procs]
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown: the job in hand finishes
        for proc, log in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            log.close()


class _Counter:
    """What the database and the queues hold."""

    def __init__(self, database_url: str, redis_url: str):
        self._engine = make_engine(database_url, pool_size=1, max_overflow=0)
        self._redis = redis.Redis.from_url(redis_url)

    def pending(self) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(WebhookEvent).where(
                WebhookEvent.status == EventStatus.RECEIVED)).scalar_one()

    def busy(self) -> int:
        return sum(Queue(n, connection=self._redis).count
                   + StartedJobRegistry(n, connection=self._redis).get_job_count(cleanup=False)
                   for n in ALL_QUEUES)

    def wait_drained(self, *, timeout: float) -> float | None:
        """Seconds until no webhook waits and no job is queued or running; None on timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.pending() == 0 and self.busy() == 0:
                return time.monotonic() - started
            time.sleep(0.25)
        return None

    def outcome(self, prefix: str) -> tuple[int, int, int]:
        """(stored, processed, failed) rows whose event id carries the prefix."""
        mine = WebhookEvent.event_id.like(f"{prefix}-%")
        with self._engine.connect() as conn:
            rows = dict(conn.execute(select(WebhookEvent.status, func.count())
                                     .where(mine).group_by(WebhookEvent.status)).all())
        return (sum(rows.values()), rows.get(EventStatus.PROCESSED, 0),
                rows.get(EventStatus.FAILED, 0))

    def __enter__(self) -> _Counter:
        return self

    def __exit__(self, *exc) -> None:
        self._engine.dispose()
        self._redis.close()


def _report(f: Figures, options: argparse.Namespace) -> int:
    print(table(["measure", "value"], [
        ["target", f"{f.target_rate:g}/s for {f.seconds:g} s"],
        ["sent / answered", f"{f.sent} / {f.answered}"],
        ["accepted (2xx)", f"{f.accepted} ({f.accepted_per_s:.1f}/s)"],
        ["latency p50 / p99 / max", f"{f.p50_ms:.1f} / {f.p99_ms:.1f} / {f.max_ms:.1f} ms"],
        ["errors (4xx, 5xx, timeouts, unanswered)",
         f"{f.errors} ({f.client_errors}, {f.server_errors}, {f.timeouts}, "
         f"{f.sent - f.answered}); socket errors {f.socket_errors}"],
        ["stored / processed / failed", f"{f.stored} / {f.processed} / {f.failed}"],
        ["backlog when the load stopped", f"{f.backlog_at_end} webhooks"],
        ["queue drained after the load", "not in time" if f.drain_s is None
         else f"{f.drain_s:.1f} s"],
        ["cores: web, workers, db+redis, wrk",
         f"{f.cores_web:.2f}, {f.cores_workers:.2f}, {f.cores_db_redis:.2f}, {f.cores_wrk:.2f}"],
    ]))
    if options.json:
        options.json.write_text(json.dumps(asdict(f), indent=2))
    reached = f.accepted_per_s >= 0.95 * f.target_rate
    print(f"accepted rate: {f.accepted_per_s:.0f}/s of {f.target_rate:g}/s "
          f"{'ok' if reached else 'MISSED'}; nothing lost: "
          f"{f.stored} stored = {f.accepted} accepted, {f.processed} processed + {f.failed} "
          f"failed  {'ok' if f.nothing_lost else 'LOST'}")
    if not f.nothing_lost:
        return 1
    return 2 if options.strict and not reached else 0


if __name__ == "__main__":
    sys.exit(main())
