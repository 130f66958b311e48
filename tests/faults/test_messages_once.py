"""Each customer message goes out once, whatever happens around the provider call.

Against the fake Twilio (a real HTTP server, answering as Twilio does) and the real
send job: a worker killed while it waits for an SMS send slot, and a Twilio answer that
comes too late after Twilio has already queued the message.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.notifications.models import Notification
from app.errors import TransientError
from integrations.ratelimit import SendRateLimiter
from tests.faults.stack import ROOT, child_env
from tests.support.factories import make_shop
from tests.support.fake_servers import FakeTwilio
from workers import context
from workers import notifications as jobs

pytestmark = pytest.mark.slow
PHONE = "+15550104242"


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        fake.hang_seconds = 2.0
        yield fake


@pytest.fixture
def sms_rt(rt, twilio):
    """The test runtime, sending SMS through the fake Twilio, with a 1 s HTTP timeout."""
    from app.runtime import Runtime
    env = twilio.env()
    settings = rt.settings.with_overrides(
        twilio_account_sid=env["TWILIO_ACCOUNT_SID"], twilio_auth_token=env["TWILIO_AUTH_TOKEN"],
        twilio_from_number=env["TWILIO_FROM_NUMBER"], twilio_api_url=env["TWILIO_API_URL"],
        http_timeout=1.0, sms_rate_per_second=1)
    runtime = Runtime(settings)
    context.install(runtime)
    yield runtime
    context.install(rt)
    runtime.close()


def pending_sms(runtime) -> int:
    shop = make_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        row = Notification(shop_id=shop.id, order_id=1001, dedup_key="sms:1001:test",
                           channel="sms", kind="backordered", recipient=PHONE,
                           subject="", body="Your Linen Shirt ships on Dec 4.", lines=[],
                           status="pending", attempts=0)
        session.add(row)
        session.flush()
        return row.id


def status_of(runtime, notification_id: int) -> tuple[str, str | None]:
    with runtime.sessions() as session:
        row = session.scalar(select(Notification).where(Notification.id == notification_id))
        return row.status, row.error_code


def test_a_lost_twilio_answer_does_not_send_the_sms_twice(sms_rt, twilio):
    notification_id = pending_sms(sms_rt)
    twilio.faults.next("timeout-accepted")  # Twilio queues it; its answer comes too late
    with pytest.raises(TransientError):
        jobs.send_notification(notification_id)
    time.sleep(1.1)  # the next send slot
    jobs.send_notification(notification_id)  # RQ's retry of the job
    sent = twilio.by_notification().get(notification_id, [])
    assert len(sent) == 1, (f"{PHONE} got the same SMS {len(sent)} times; the row is "
                            f"{status_of(sms_rt, notification_id)}")


def test_a_worker_killed_while_waiting_for_a_send_slot_still_sends_the_sms(sms_rt, twilio):
    """SMS go out at most N a second per sender, so a send job may wait up to a minute for a
    slot. A worker that dies then has not called Twilio: the message was surely not sent."""
    notification_id = pending_sms(sms_rt)
    limiter = SendRateLimiter(sms_rt.settings.redis_url, per_second=1,
                              key=f"sms-send:{twilio.from_number}")
    busy = threading.Event()

    def other_senders():  # other workers keep taking the one slot a second
        while not busy.is_set():
            limiter.try_acquire()
    hog = threading.Thread(target=other_senders, daemon=True)
    hog.start()
    env = child_env({"DATABASE_URL": sms_rt.settings.database_url,
                     "REDIS_URL": sms_rt.settings.redis_url,
                     "SECRET_KEY": sms_rt.settings.secret_key, **twilio.env(),
                     "SMS_RATE_PER_SECOND": "1"})
    code = f"from workers.notifications import send_notification; send_notification({notification_id})"
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        time.sleep(4)  # started (about a second of imports), then waiting for a slot
        assert worker.poll() is None and twilio.messages == []
        worker.kill()  # the OOM killer, or a platform's SIGKILL after its shutdown grace
        worker.wait(10)
    finally:
        busy.set()
        hog.join(5)
        if worker.poll() is None:
            worker.kill()
    time.sleep(1.1)
    jobs.send_notification(notification_id)  # RQ's retry of the abandoned job
    sent = twilio.by_notification().get(notification_id, [])
    assert len(sent) == 1, (f"the SMS was sent {len(sent)} times; the row is "
                            f"{status_of(sms_rt, notification_id)}")
