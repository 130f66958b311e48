"""SMS sending rate (issue 6): worker processes against the per-sender limit.

A local fake of Twilio's Messages API answers every POST after --latency-ms (100 ms) and
records when each request arrived. --messages (1,000) pending SMS rows of one shop are
enqueued with the project's own helper (`notify-<id>` jobs) and sent by --workers (2)
`backorder worker --burst` processes through the real send job, with
SMS_RATE_PER_SECOND=--rate (10) shared through Redis. From the arrival times:

  achieved rate: (arrivals - 1) / (last arrival - first), target >= 95% of the limit;
  busiest one-second window: arrivals in [t, t + 1 s) for every arrival t, target <= limit;
  nothing lost or doubled: every row "sent", exactly one request per row.

Exit status: 0 targets met, 2 a rate target missed, 1 the run failed or a message was
lost or sent twice. It takes about messages / rate seconds (~100 s by default):

    .venv/bin/python -m bench.notify [--messages 1000] [--rate 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from sqlalchemy import func, insert, select

from app.config import Settings
from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.inventory.models import ShopSettings
from app.domain.notifications.models import Channel, Kind, Notification, Status
from app.domain.notifications.service import Queued
from app.domain.shops.models import Shop
from app.runtime import Runtime
from bench.harness import ROOT, BenchError, private_services, scratch_dir, signals_as_exit
from workers.notifications import enqueue_sends

FIXTURE = ROOT.parent / "shared" / "fixtures" / "twilio" / "message_create_201_queued.json"
ACCOUNT_SID = "AC" + "b" * 32
FROM_NUMBER = "+15005550006"
MESSAGES_PATH = re.compile(r"/2010-04-01/Accounts/(?P<account>\w+)/Messages\.json")
RATE_TARGET = 0.95
WINDOW_S = 1.0


@dataclass(frozen=True)
class Arrival:
    at: float  # time.time(), the clock the limiter stamps its slots with
    notification_id: int | None  # from the status callback URL (?n=<id>)
    sid: str


class FakeTwilio:
    """POST /2010-04-01/Accounts/<sid>/Messages.json: 201 queued after `latency` seconds."""

    def __init__(self, latency: float):
        self.latency = latency
        self.arrivals: list[Arrival] = []
        self.rejected = 0  # requests to any other path or account
        self._lock = threading.Lock()
        self._template = json.loads(FIXTURE.read_text(encoding="utf-8"))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def accept(self, arrived: float, path: str, form: Mapping[str, list[str]]) -> dict | None:
        """Record one create; the 201 body to answer (None: 404)."""
        match = MESSAGES_PATH.fullmatch(urlparse(path).path)
        if not match or match["account"] != ACCOUNT_SID:
            with self._lock:
                self.rejected += 1
            return None
        sid = "SM" + uuid.uuid4().hex
        callback = parse_qs(urlparse(form.get("StatusCallback", [""])[0]).query)
        ids = callback.get("n", [])
        with self._lock:
            self.arrivals.append(Arrival(arrived, int(ids[0]) if ids else None, sid))
        return self._template | {"sid": sid, "to": form.get("To", [""])[0],
                                 "body": form.get("Body", [""])[0], "from": FROM_NUMBER}

    def __enter__(self) -> FakeTwilio:
        threading.Thread(target=self._server.serve_forever, name="fake-twilio",
                         daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twilio.com: no connect cost per send

    def do_POST(self) -> None:
        arrived = time.time()  # the headers are in: the moment Twilio would count the send
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        body = self.server.fake.accept(arrived, self.path, form)
        if body is None:
            return self._answer(404, {"code": 20404, "message": "not found", "status": 404})
        time.sleep(self.server.fake.latency)
        self._answer(201, body)

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # one line per request would drown the report
        pass


def _seed(rt: Runtime, messages: int) -> list[int]:
    """A shop with SMS on and quiet hours off, and `messages` pending SMS rows."""
    now = utcnow()
    with unit_of_work(rt.sessions) as session:
        shop = Shop(domain="bench-notify.myshopify.com", token_ciphertext=None, name="Bench")
        session.add(shop)
        session.flush()
        session.add(ShopSettings(shop_id=shop.id, extra={
            "notifications": {"sms_enabled": True, "quiet_hours": None}}))
        rows = [{"shop_id": shop.id, "order_id": n, "dedup_key": f"bench-notify-{n}",
                 "channel": Channel.SMS, "kind": Kind.BACKORDERED,
                 "recipient": f"+1415{n:07d}", "subject": "", "html": None, "lines": [],
                 "body": f"Bench: order #{n}, 1 x Linen Shirt is backordered, "
                         f"expected 14 Mar 2030.", "status": Status.PENDING, "attempts": 0,
                 "created_at": now, "updated_at": now} for n in range(1, messages + 1)]
        return list(session.scalars(insert(Notification).returning(Notification.id), rows))


def _worker_env(database_url: str, redis_url: str, twilio_url: str, rate: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SHOPIFY_", "TWILIO_", "SMTP_", "SMS_", "MAIL_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url,
               SECRET_KEY=secrets.token_urlsafe(32), TWILIO_ACCOUNT_SID=ACCOUNT_SID,
               TWILIO_AUTH_TOKEN=secrets.token_hex(16), TWILIO_FROM_NUMBER=FROM_NUMBER,
               TWILIO_API_URL=twilio_url, SMS_RATE_PER_SECOND=str(rate))
    return env


@contextmanager
def _workers(count: int, env: Mapping[str, str], log_path: Path) -> Iterator[list]:
    """`backorder worker --burst` processes; whatever still runs is stopped on the way out."""
    binary = str(Path(sys.executable).with_name("backorder"))
    procs = []
    with open(log_path, "wb") as log:
        try:
            for _ in range(count):
                procs.append(subprocess.Popen(
                    [binary, "worker", "--burst"], cwd=ROOT, env=dict(env), stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True))  # our own group: a Ctrl-C reaches us, we stop them
            yield procs
        finally:
            _stop(procs)


def _stop(procs: list[subprocess.Popen]) -> None:
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)  # RQ's warm shutdown: the current job finishes
    for proc in running:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _wait(procs: list[subprocess.Popen], timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise BenchError(f"workers still running after {timeout:.0f} s:\n"
                             f"{_tail(log_path)}") from None
        if proc.returncode != 0:
            raise BenchError(f"a worker exited with {proc.returncode}:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Pace:
    """How the arrivals at the fake kept to the limit."""

    limit: int
    arrivals: int
    span_s: float      # first arrival to last
    per_second: float  # (arrivals - 1) / span: the steady rate, start-up excluded
    busiest: int       # most arrivals in any [t, t + 1 s), t an arrival
    tightest_s: float  # shortest span holding limit + 1 arrivals (< 1 s: one window held too many)
    crowded: tuple[float, ...]  # starts of the windows over the limit, s after the first arrival

    @property
    def share(self) -> float:
        return self.per_second / self.limit

    @property
    def met(self) -> bool:
        return self.share >= RATE_TARGET and self.busiest <= self.limit


def pace(times: list[float], limit: int) -> Pace:
    """Achieved rate and the busiest one-second window of sorted arrival times."""
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    counts = [bisect.bisect_left(times, t + WINDOW_S) - i for i, t in enumerate(times)]
    spans = [b - a for a, b in zip(times, times[limit:], strict=False)]
    crowded = tuple(t - times[0] for t, n in zip(times, counts, strict=True) if n > limit)
    return Pace(limit, len(times), span, (len(times) - 1) / span if span else 0.0,
                max(counts, default=0), min(spans, default=float("inf")), crowded)


def _problems(rt: Runtime, fake: FakeTwilio, ids: list[int]) -> list[str]:
    """What went wrong besides the rate: rows not sent, requests missing or doubled."""
    found = []
    with rt.sessions() as session:
        statuses = dict(session.execute(select(Notification.status, func.count())
                                        .group_by(Notification.status)).all())
        recorded = set(session.scalars(select(Notification.provider_id)
                                       .where(Notification.provider_id.is_not(None))))
    if statuses != {Status.SENT: len(ids)}:
        found.append(f"rows by status {statuses}, expected all {len(ids)} sent")
    per_row = Counter(a.notification_id for a in fake.arrivals)
    doubled = sorted(i for i, n in per_row.items() if n > 1)
    missing = sorted(set(ids) - set(per_row))
    if len(fake.arrivals) != len(ids) or doubled or missing:
        found.append(f"{len(fake.arrivals)} requests for {len(ids)} rows: "
                     f"{len(doubled)} rows sent more than once {doubled[:5]}, "
                     f"{len(missing)} never sent {missing[:5]}")
    if fake.rejected:
        found.append(f"{fake.rejected} requests to an unexpected path or account")
    if recorded != {a.sid for a in fake.arrivals}:
        found.append("the rows' provider ids differ from the SIDs the fake issued")
    return found


def _run(options: argparse.Namespace) -> tuple[Pace, list[str]]:
    with scratch_dir() as scratch, private_services() as (database_url, redis_url), \
            FakeTwilio(options.latency_ms / 1000) as fake:
        rt = Runtime(Settings(database_url=database_url, redis_url=redis_url,
                              secret_key="bench"))
        try:
            ids = _seed(rt, options.messages)
            if enqueue_sends(rt.redis, [Queued(i) for i in ids]) != len(ids):
                raise BenchError("could not enqueue every send job")
            env = _worker_env(database_url, redis_url, fake.url, options.rate)
            log_path = Path(scratch) / "workers.log"
            with _workers(options.workers, env, log_path) as procs:
                _wait(procs, 3 * options.messages / options.rate + 120, log_path)
            times = sorted(a.at for a in fake.arrivals)
            return pace(times, options.rate), _problems(rt, fake, ids)
        finally:
            rt.close()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000, help="SMS rows to send")
    parser.add_argument("--rate", type=int, default=10, help="SMS_RATE_PER_SECOND, the limit")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--latency-ms", type=float, default=100,
                        help="how long the fake Twilio takes to answer")
    options = parser.parse_known_args(argv)[0]  # `python -m bench` passes every module all flags
    if options.messages < 2 or options.rate < 1 or options.workers < 1:
        parser.error("--messages must be at least 2, --rate and --workers at least 1")
    return options


def _report(result: Pace, problems: list[str], options: argparse.Namespace) -> int:
    print(f"    {result.arrivals:,} requests at the fake Twilio over {result.span_s:.1f} s "
          f"(first to last arrival)")
    print(f"    achieved {result.per_second:.2f} msg/s against a limit of {result.limit} "
          f"({result.share:.1%}, target >= {RATE_TARGET:.0%}); max in any 1 s window: "
          f"{result.busiest} (limit {result.limit})")
    print(f"    tightest {result.limit + 1} consecutive arrivals span {result.tightest_s:.4f} s "
          f"(under 1 s puts {result.limit + 1} in one window)")
    if result.crowded:
        starts = ", ".join(f"+{t:.2f}" for t in result.crowded[:10])
        print(f"    {len(result.crowded)} window(s) over the limit, starting at (s after the "
              f"first arrival): {starts}{' ...' if len(result.crowded) > 10 else ''}")
    for problem in problems:
        print(f"    PROBLEM: {problem}")
    if not problems:
        print(f"    all {options.messages:,} rows sent, one request each")
    return 1 if problems else 0 if result.met else 2


def main(argv: list[str] | None = None) -> int:
    """Send the messages, print the rate against the limit; 0 met, 2 missed, 1 failed."""
    options = _parse(argv)
    print(f"notify benchmark: {options.messages:,} SMS, {options.workers} worker process(es), "
          f"limit {options.rate}/s per sender, fake Twilio answering after "
          f"{options.latency_ms:g} ms (about {options.messages / options.rate:.0f} s)",
          flush=True)
    try:
        with signals_as_exit():
            result, problems = _run(options)
    except BenchError as exc:
        print(f"notify benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("notify benchmark interrupted (workers stopped, database dropped)",
              file=sys.stderr)
        return 130
    return _report(result, problems, options)


if __name__ == "__main__":
    raise SystemExit(main())
