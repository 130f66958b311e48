"""Quiet hours hold SMS (not email); a worker killed mid-send never causes a second send."""

from __future__ import annotations

import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from rq import Queue
from sqlalchemy import update

from app.db import unit_of_work
from app.domain.notifications.models import Notification
from app.domain.notifications.rules import shop_zone
from app.jobs import NOTIFY
from tests.notifications.conftest import ETA, MESSAGES_URL
from tests.notifications.test_twilio_webhooks import post
from workers import notifications as jobs


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def quiet_now(world) -> datetime:
    """Quiet hours around the shop's current local time; returns when they end (aware)."""
    now = datetime.now(shop_zone("America/New_York")).replace(second=0, microsecond=0)
    end = now + timedelta(hours=2)
    world.settings(quiet_hours={"start": hhmm(now - timedelta(hours=1)), "end": hhmm(end)})
    return end


def sms_row(world) -> Notification:
    return next(n for n in world.notifications() if n.channel == "sms")


def test_quiet_hours_hold_sms_until_they_end_but_email_goes_at_once(world, mrt, twilio,
                                                                    mailbox, run_jobs):
    end = quiet_now(world)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    jobs.dispatch_effects(world.shop_id)
    run_jobs()

    assert len(mailbox.messages) == 1 and twilio.sent == []
    row = sms_row(world)
    assert (row.status, row.send_after) == ("scheduled", end)
    registry = Queue(NOTIFY, connection=mrt.redis).scheduled_job_registry
    [job_id] = registry.get_job_ids()
    assert job_id == f"notify-{row.id}-at-{int(end.timestamp())}"
    assert registry.get_scheduled_time(job_id) == end.astimezone(UTC)


def test_a_held_sms_run_early_is_deferred_again_and_sent_once_due(world, mrt, twilio, run_jobs):
    quiet_now(world)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    row = sms_row(world)

    assert jobs.send_notification(row.id) == "deferred"  # e.g. re-enqueued by a sweep
    with unit_of_work(world.rt.sessions) as session:  # the morning comes
        session.execute(update(Notification).where(Notification.id == row.id)
                        .values(send_after=datetime.now(UTC) - timedelta(seconds=1)))
    assert jobs.send_notification(row.id) == "sent"

    assert len(twilio.sent) == 1


def test_the_sweeper_re_enqueues_messages_whose_job_was_lost(world, mrt, twilio, mailbox,
                                                             run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    mrt.redis.flushdb()  # Redis lost the jobs

    assert jobs.sweep_notifications(older_than_seconds=0) == 2
    run_jobs()

    assert len(twilio.sent) == 1 and len(mailbox.messages) == 1
    assert jobs.sweep_notifications(older_than_seconds=0) == 0


# --- the unavoidable window --------------------------------------------------------

def _send_then_die(settings, notification_id: int, proof: str) -> None:
    """Child process: Twilio accepts the message, then the worker is killed before recording."""
    from app.runtime import Runtime
    from workers import context
    context.install(Runtime(settings))

    def accept_then_die(request):
        Path(proof).write_text(request.body)
        os._exit(9)  # SIGKILL-like: no except, no finally, no commit

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, MESSAGES_URL, callback=accept_then_die)
        jobs.send_notification(notification_id)


def test_a_worker_killed_after_twilio_accepted_is_not_sent_again_and_a_callback_repairs_it(
        world, mrt, twilio, mapp, tmp_path):
    world.settings(email_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    row = sms_row(world)
    proof = tmp_path / "twilio-got-it.txt"

    child = multiprocessing.get_context("spawn").Process(
        target=_send_then_die, args=(mrt.settings, row.id, str(proof)))
    child.start()
    child.join(60)

    assert child.exitcode == 9 and "Linen+Shirt" in proof.read_text()
    assert sms_row(world).status == "sending"
    assert jobs.send_notification(row.id) == "skipped"  # RQ's retry of the dead job
    assert len(twilio.mock.calls) == 0  # never sent a second time
    row = sms_row(world)
    assert (row.status, row.error_code) == ("failed", "interrupted")
    # Twilio's status callback names the message in its URL: the record is repaired.
    sid = "SM" + "f" * 32
    post(mapp.test_client(), f"/webhooks/twilio/status?n={row.id}",
         {"MessageSid": sid, "MessageStatus": "delivered"})
    row = sms_row(world)
    assert (row.status, row.provider_id, row.delivery_status) == ("sent", sid, "delivered")


def test_a_lost_twilio_response_is_retried_and_the_retry_finds_the_sms_already_sent(
        world, mrt, twilio):
    world.settings(email_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    row = sms_row(world)
    bodies = []

    def accepted_but_connection_dropped(request):
        bodies.append(request.body)
        twilio.sent.append({k: v[0] for k, v in parse_qs(request.body).items()})  # queued
        raise requests.ConnectionError("connection reset while reading the response")

    twilio.mock.remove(responses.POST, MESSAGES_URL)
    twilio.mock.add_callback(responses.POST, MESSAGES_URL,
                             callback=accepted_but_connection_dropped)
    from app.errors import TransientError
    with pytest.raises(TransientError):  # RQ will retry it
        jobs.send_notification(row.id)

    assert len(bodies) == 1 and sms_row(world).status == "pending"  # will be sent again

    assert jobs.send_notification(row.id) == "sent"  # RQ's retry looks before it sends
    assert len(bodies) == 1 and [c.request.method for c in twilio.mock.calls] == ["POST", "GET"]
    assert sms_row(world).status == "sent"
