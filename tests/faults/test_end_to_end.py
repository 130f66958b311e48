"""The service keeps every event and every promise while everything around it fails.

Real processes (gunicorn, two `backorder worker`s with the RQ scheduler and the
periodic sweeper, the `backorder` CLI), a private PostgreSQL database, a private
redis-server, and fake Shopify, Twilio and SMTP servers on loopback. A simulated
storefront's webhooks flow in, each delivered twice and some hours late and out of
order, while the script below breaks one thing after another. Once everything has
drained, the state is compared with the truth and with what the fakes received.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

import pytest

from app.domain.base import utcnow
from tests.faults import checks
from tests.faults.stack import SHOP, Stack, running_stack
from tests.faults.storefront import (
    Deliverer,
    Simulator,
    delivery_plan,
    open_storefront,
    seed_fulfilment,
)

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults"
RATE = 7.0  # deliveries per second: the stream lasts about 37 s
DRAIN_TIMEOUT = 180  # the sweeper runs every 60 s and re-enqueues webhooks older than 60 s


class FaultScript(threading.Thread):
    """Runs (seconds after start, action) steps in order, in the background."""

    def __init__(self, stack: Stack, steps):
        super().__init__(daemon=True, name="fault-script")
        self.stack, self.steps = stack, steps
        self.error: BaseException | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            for at, action in self.steps:
                time.sleep(max(0.0, started + at - time.monotonic()))
                action()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def faults(stack: Stack) -> list:
    """Every failure the issue names, overlapping while webhooks flow in."""
    shopify, twilio, smtp = stack.shopify.faults, stack.twilio.faults, stack.smtp.faults

    def note(what, action):
        def step():
            stack.note(what)
            action()
        return step

    return [
        (2, stack.stop_redis),
        (12, stack.start_redis),
        (14, note("shopify: every call THROTTLED, 429 or 500 for 8 s",
                  lambda: shopify.window("throttled", "429", "500", seconds=8))),
        (14, note("twilio: every call 429 or 500 for 8 s",
                  lambda: twilio.window("429", "500", seconds=8))),
        (14, note("smtp: 451 for 8 s", lambda: smtp.window("451", seconds=8))),
        (16, lambda: stack.kill_worker(0, restart_after=1.0)),
        (19, stack.terminate_db_connections),
        (22, note("shopify and twilio: one answer each slower than the client waits",
                  lambda: (shopify.next("timeout"), twilio.next("timeout")))),
        (22, stack.terminate_db_connections),
        (25, stack.terminate_db_connections),
        (28, lambda: stack.kill_worker(1, restart_after=1.0)),
    ]


def test_every_event_and_promise_survives_outages_crashes_and_vendor_failures(tmp_path):
    stream_start = datetime.now(UTC) - timedelta(hours=6)
    sim = Simulator(seed=20261125, start=stream_start).run(orders=40)
    plan = delivery_plan(sim.webhooks, seed=7)
    with running_stack(tmp_path) as stack:
        shop_id = open_storefront(stack, as_of=stream_start - timedelta(hours=1))
        foreign_holds = seed_fulfilment(stack.shopify, SHOP, sim)
        stack.wait_drained(timeout=60, settle=1)
        stack.note("stream starts")
        deliverer = Deliverer(stack.web_url + "/webhooks/shopify", stack.webhook_secret, SHOP,
                              plan, rate=RATE)
        script = FaultScript(stack, faults(stack))
        deliverer.start()
        script.start()
        deliverer.join(timeout=300)
        script.join(timeout=60)
        stack.note("stream ends")
        assert script.error is None, script.error
        drain_seconds = stack.wait_drained(timeout=DRAIN_TIMEOUT)
        stack.note("drained")

        with stack.sessions() as session:
            problems = checks.intake(session, deliverer)
            engine_problems, expected = checks.engine(session, shop_id, sim,
                                                      today=utcnow().date())
            problems += engine_problems
            problems += checks.shopify(session, shop_id, stack.shopify, SHOP, expected)
            problems += checks.fulfilment(session, shop_id, stack.shopify, SHOP, sim, expected,
                                          foreign_holds)
            message_problems, outcomes = checks.messages(session, stack.twilio, stack.smtp)
            problems += message_problems
            problems += checks.promises(session, shop_id, sim, expected)
        failed = stack.failed_jobs()
        problems += checks.jobs(failed)
        problems += [f"fake server error: {e}" for e in
                     stack.shopify.errors + stack.twilio.errors]

        summary = _summary(stack, deliverer, drain_seconds, outcomes, failed)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "end_to_end.json").write_text(json.dumps(summary, indent=2, default=str))
        print(json.dumps(summary, indent=2, default=str))
        assert not problems, "\n".join(problems)


def _summary(stack: Stack, deliverer: Deliverer, drain_seconds: float, outcomes, failed) -> dict:
    statuses = [str(s) for o in deliverer.outcomes for s in o.statuses]
    latencies = sorted(ms for o in deliverer.outcomes for ms in o.latencies_ms)
    return {
        "deliveries": len(deliverer.outcomes),
        "distinct_events": len({o.webhook.event_id for o in deliverer.outcomes}),
        "attempts": len(statuses),
        "answers": {k: statuses.count(k) for k in sorted(set(statuses))},
        "latency_ms": {"p50": round(median(latencies), 1),
                       "p99": round(latencies[int(len(latencies) * 0.99) - 1], 1)},
        "faults_injected": {"shopify": stack.shopify.faults.counts(),
                            "twilio": stack.twilio.faults.counts(),
                            "smtp": stack.smtp.faults.counts()},
        "shopify_calls": len(stack.shopify.calls),
        "shopify_operations": dict(Counter(c.operation for c in stack.shopify.calls)),
        "sms_sent": len(stack.twilio.messages), "emails_sent": len(stack.smtp.messages),
        "notifications": dict(outcomes),
        "worker_starts": {w.name: w.starts for w in stack.workers},
        "worker_unexpected_exits": {w.name: w.unexpected_exits for w in stack.workers},
        "failed_jobs": failed,
        "drain_seconds_after_stream": round(drain_seconds, 1),
        "timeline": [(round(t, 1), what) for t, what in stack.events],
        "drain_trace": stack.drain_trace,
    }
