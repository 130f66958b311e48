"""Webhook intake under load: POST /webhooks/shopify against a bare app under the same gunicorn.

Signed orders/create deliveries of the real ~12 KB sample go from wrk on loopback to
gunicorn (default worker count) with PostgreSQL and Redis behind it. The baseline,
/bench/bare, is bench/bare.py served by a second gunicorn with the same gunicorn.conf.py.
Three measurements:

  (a) throughput at full speed, intake and /bench/bare, and their ratio (target >= 0.50),
      the two routes taking turns for --rounds rounds so that a slow spell of the shared
      host falls on both (the ratio comes from the totals; each round's ratio is printed);
  (b) latency at a fixed 300 requests/s against the intake (target p99 < 50 ms);
  (c) nothing lost: rows stored equal the 2xx answers wrk counted, and equal the jobs the
      workers' pump makes of the ids the requests handed off (the bench runs the pump itself
      after each phase, outside the measured window, and prints its CPU per event).

    .venv/bin/python -m bench.intake --seconds 30
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import func, select

from app.db import make_engine, make_session_factory, unit_of_work
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.shops.service import register_shop
from app.security import TokenCipher
from bench.bare import ROUTE as BARE_ROUTE
from bench.harness import (
    BenchError,
    CpuMeter,
    CpuUse,
    Load,
    LoadResult,
    Server,
    combined_cpu,
    combined_load,
    ensure_wrk,
    gunicorn,
    private_services,
    run_wrk,
    scratch_dir,
    signals_as_exit,
    table,
)
from integrations.shopify.webhooks import sign_webhook
from workers.intake import pump

SAMPLE = (Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "shopify" / "webhooks"
          / "orders_create.2025-01.json")
TOPIC = "orders/create"
# the shop the samples' order_status_url names: intake refuses a body naming another
SHOP = "jsmith.myshopify.com"
INTAKE_ROUTE = "/webhooks/shopify"
THROUGHPUT_TARGET = 0.50
P99_TARGET_MS = 50.0
NOISE_CORES = 0.25


@dataclass(frozen=True)
class Phase:
    name: str
    route: str
    rate: float  # 0: as fast as possible
    connections: int
    counted: bool  # compare stored rows with 2xx answers


@dataclass(frozen=True)
class Outcome:
    phase: Phase
    load: LoadResult
    cpu: CpuUse
    stored: int | None = None
    queued: int | None = None
    pump_ms: float | None = None  # the workers' pump: CPU per event it turned into a job

    @classmethod
    def total(cls, rounds: list[Outcome]) -> Outcome:
        """The rounds of one phase as one: counts and times added up."""
        if len(rounds) == 1:
            return rounds[0]
        events = sum(o.queued or 0 for o in rounds)
        return cls(rounds[0].phase, combined_load([o.load for o in rounds]),
                   combined_cpu([o.cpu for o in rounds]),
                   stored=_sum_or_none([o.stored for o in rounds]),
                   queued=_sum_or_none([o.queued for o in rounds]),
                   pump_ms=(sum((o.pump_ms or 0) * (o.queued or 0) for o in rounds) / events
                            if events else None))

    @property
    def nothing_lost(self) -> bool:
        return (not self.phase.counted
                or (self.load.unanswered == 0 and self.stored == self.load.ok == self.queued))


def _sum_or_none(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(values)


def main(argv: list[str] | None = None) -> int:
    """Run the three measurements and print the table and the targets; 1 when events were lost."""
    options = _parse(argv)
    try:
        with signals_as_exit():
            outcomes = _run(options)
    except BenchError as exc:
        print(f"intake benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("intake benchmark interrupted (servers stopped, database dropped)", file=sys.stderr)
        return 130
    return _report(outcomes, options)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("BENCH_SECONDS", "10")),
                        help="length of each measured phase (default: $BENCH_SECONDS or 10)")
    parser.add_argument("--rate", type=float, default=300, help="fixed rate of phase (b)")
    parser.add_argument("--rounds", type=_positive, default=3,
                        help="full-speed turns of each route, alternating (default 3)")
    parser.add_argument("--connections", type=int, default=16,
                        help="wrk connections for the full-speed phases")
    parser.add_argument("--rate-connections", type=int, default=64,
                        help="wrk connections for the fixed-rate phase (enough to stay open-loop)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per route")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    return parser.parse_known_args(argv)[0]  # `python -m bench` passes every module all flags


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a whole number of at least 1")
    return int(value)


def _measure(runner: _Runner, options: argparse.Namespace) -> list[list[Outcome]]:
    """[bare rounds, intake rounds, [fixed rate]]: the full-speed phases take turns."""
    full = options.connections
    bare = Phase("bare, full speed", BARE_ROUTE, 0, full, counted=False)
    intake = Phase("intake, full speed", INTAKE_ROUTE, 0, full, counted=True)
    rounds: list[tuple[Outcome, Outcome]] = [
        (runner.run(bare, options.seconds, f"b{n}"), runner.run(intake, options.seconds, f"i{n}"))
        for n in range(1, options.rounds + 1)]
    fixed = Phase(f"intake, {options.rate:g} rps", INTAKE_ROUTE, options.rate,
                  options.rate_connections, counted=True)
    return [[b for b, _ in rounds], [i for _, i in rounds],
            [runner.run(fixed, options.seconds, "r")]]


def _run(options: argparse.Namespace) -> list[list[Outcome]]:
    wrk = ensure_wrk()
    body = SAMPLE.read_bytes()
    api_secret, secret_key = secrets.token_hex(16), secrets.token_urlsafe(32)
    with scratch_dir() as scratch, private_services() as (database_url, redis_url):
        _register_shop(database_url, secret_key)
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "SHOPIFY_API_SECRET": api_secret, "SECRET_KEY": secret_key}
        script_env = {"BENCH_BODY_FILE": str(SAMPLE), "BENCH_TOPIC": TOPIC, "BENCH_SHOP": SHOP,
                      "BENCH_HMAC": sign_webhook(body, api_secret)}
        with gunicorn(env, log_dir=Path(scratch)) as server, \
                gunicorn({}, log_dir=Path(scratch), wsgi_app="bench.bare:app") as bare:
            print(f"intake benchmark: gunicorn with {server.workers} worker(s) (bare app: "
                  f"{bare.workers}), {options.seconds:g} s per phase, {len(body)}-byte "
                  f"orders/create sample, {os.cpu_count()} cores", flush=True)
            servers = {INTAKE_ROUTE: server, BARE_ROUTE: bare}
            with _Runner(wrk, servers, options, script_env, database_url, redis_url) as runner:
                for route in (BARE_ROUTE, INTAKE_ROUTE):
                    runner.run(Phase("warm-up", route, 0, options.connections, False),
                               options.warmup, "warm")
                return _measure(runner, options)


def _register_shop(database_url: str, secret_key: str) -> None:
    """An installed, active shop, so deliveries are stored as pending and enqueued."""
    engine = make_engine(database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            register_shop(session, domain=SHOP,
                          token_ciphertext=TokenCipher(secret_key).encrypt("shpat_bench"))
    finally:
        engine.dispose()


class _Runner:
    """Runs phases against the server of their route; counts what each stored and queued,
    and the CPU used."""

    def __init__(self, wrk: str, servers: dict[str, Server], options: argparse.Namespace,
                 script_env: dict[str, str], database_url: str, redis_url: str):
        self._wrk, self._servers, self._options = wrk, servers, options
        self._script_env = script_env
        self._database = database_url.rsplit("/", 1)[1]
        self._engine = make_engine(database_url)
        self._redis = redis.Redis.from_url(redis_url)
        self._sessions = make_session_factory(self._engine)

    def run(self, phase: Phase, seconds: float, prefix: str) -> Outcome:
        server = self._servers[phase.route]
        load = Load(url=server.base_url + phase.route, seconds=seconds, rate=phase.rate,
                    connections=phase.connections, threads=self._options.threads)
        meter = CpuMeter(server.pid, database=self._database)
        meter.start()
        result = run_wrk(self._wrk, load, script_env={**self._script_env,
                                                      "BENCH_ID_PREFIX": prefix})
        cpu = meter.stop()
        queued, pump_ms = self._pump()  # also after a warm-up: its ids are not the phase's
        if not phase.counted:
            return Outcome(phase, result, cpu)
        return Outcome(phase, result, cpu, stored=self._stored(prefix), queued=queued,
                       pump_ms=pump_ms)

    def _pump(self) -> tuple[int, float]:
        """Do the workers' pump's job on what the requests handed off, as a worker would:
        (event ids it handed to jobs, its CPU ms per event)."""
        started, pumped = time.process_time(), 0
        while moved := pump(self._redis, self._sessions):
            pumped += moved
        cpu_ms = 1000 * (time.process_time() - started)
        return pumped, cpu_ms / pumped if pumped else 0.0

    def _stored(self, prefix: str) -> int:
        """Pending rows whose event id carries this phase's prefix."""
        query = (select(func.count()).select_from(WebhookEvent)
                 .where(WebhookEvent.event_id.like(f"{prefix}-%"),
                        WebhookEvent.status == EventStatus.RECEIVED))
        with self._engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, *exc) -> None:
        self._engine.dispose()
        self._redis.close()


def _report(phases: list[list[Outcome]], options: argparse.Namespace) -> int:
    """Print the table and one line per target; the exit status main() returns."""
    outcomes = [Outcome.total(rounds) for rounds in phases]
    bare, full, fixed = outcomes
    _print_table(outcomes, rounds=len(phases[0]))
    ratio = _ratio(full, bare)
    reached = fixed.load.requests_per_s >= 0.95 * options.rate
    checks = {
        "ratio": ratio >= THROUGHPUT_TARGET,
        "p99": reached and fixed.load.p99_ms < P99_TARGET_MS and fixed.load.errors == 0,
    }
    print(f"intake/bare throughput ratio: {ratio:.2f} (target >= {THROUGHPUT_TARGET:.2f})"
          f"  {_verdict(checks['ratio'])}")
    if len(phases[0]) > 1:
        print("  round by round: " + ", ".join(
            f"{_ratio(i, b):.2f}" for b, i in zip(phases[0], phases[1], strict=True)))
    note = "" if reached else f", only {fixed.load.requests_per_s:.0f} rps reached"
    print(f"p99 at {options.rate:g} rps: {fixed.load.p99_ms:.1f} ms "
          f"(target < {P99_TARGET_MS:g} ms{note}, {fixed.load.errors} errors)"
          f"  {_verdict(checks['p99'])}")
    lost = [o for o in outcomes if not o.nothing_lost]
    print("nothing lost: " + "; ".join(
        f"{o.phase.name}: {o.stored} stored, {o.queued} queued, {o.load.ok} answered 2xx"
        for o in outcomes if o.phase.counted) + ("  LOST" if lost else "  ok"))
    print("workers' pump (ids handed off -> process_webhook jobs, not in the figures above): "
          + "; ".join(f"{o.pump_ms:.3f} ms CPU per event" for o in outcomes if o.phase.counted))
    if lost:
        return 1
    return 2 if options.strict and not all(checks.values()) else 0


def _ratio(intake: Outcome, bare: Outcome) -> float:
    return (intake.load.requests_per_s / bare.load.requests_per_s
            if bare.load.requests_per_s else 0.0)


def _print_table(outcomes: list[Outcome], *, rounds: int) -> None:
    rows = [[o.phase.name + (f" x{rounds}" if rounds > 1 and not o.phase.rate else ""),
             f"{o.load.requests_per_s:.1f}", f"{o.load.p50_ms:.1f}",
             f"{o.load.p99_ms:.1f}", o.load.ok, o.load.errors,
             "-" if o.stored is None else o.stored, "-" if o.queued is None else o.queued,
             f"{o.cpu.app_ms_per(o.load.answered):.2f}",
             f"{o.cpu.app:.2f} {o.cpu.servers:.2f} {o.cpu.wrk:.2f} {o.cpu.other:.2f}"]
            for o in outcomes]
    print(table(["phase", "req/s", "p50 ms", "p99 ms", "2xx", "errors", "stored", "queued",
                 "app cpu ms/req", "cores: app db+redis wrk other"], rows))
    busiest = max(o.cpu.other for o in outcomes)
    if busiest > NOISE_CORES:
        print(f"warning: other processes used up to {busiest:.2f} cores during the run; "
              "the figures are noisy, run again on a quiet machine")


def _verdict(passed: bool) -> str:
    return "ok" if passed else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
