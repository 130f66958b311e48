"""Effects in, messages out: each kind sent once, with the right date, to the right channels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.inventory.models import Effect, OrderLine, Variant
from app.domain.notifications.links import StatusLinks
from app.domain.notifications.models import SmsConsent
from app.jobs import EFFECTS
from tests.notifications.conftest import ETA, PHONE, twilio_fixture
from workers import notifications as jobs

LATER = date(2030, 3, 21)


def dispatch_and_send(world, run_jobs) -> None:
    jobs.dispatch_effects(world.shop_id)
    run_jobs()


def sms_bodies(twilio) -> list[str]:
    return [form["Body"] for form in twilio.sent]


def status_link(world, order_id: int) -> str:
    links = StatusLinks(world.rt.settings.secret_key, world.rt.settings.public_url)
    return links.url(world.shop_id, order_id)


def test_a_backordered_line_is_announced_once_by_email_and_sms_with_its_date_and_link(
        world, mrt, twilio, mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 2, 2, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    [mail] = mailbox.messages
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "Order #1001: some items are backordered"
    text = mail.get_body(("plain",)).get_content()
    assert "2 x Linen Shirt: expected to ship March 14, 2030" in text
    assert status_link(world, 1001).rsplit("/", 1)[0] + "/" in text
    assert "Linen Shirt" in mail.get_body(("html",)).get_content()
    [sms] = twilio.sent
    assert sms["To"] == PHONE and sms["From"] == "+15005550006"
    assert "order #1001" in sms["Body"] and "2x Linen Shirt expected to ship Mar 14, 2030" in sms[
        "Body"]
    assert "/status/" in sms["Body"]
    assert sms["StatusCallback"].startswith("https://backorder.test/webhooks/twilio/status?n=")
    assert {(n.channel, n.kind, n.status) for n in world.notifications()} == {
        ("email", "backordered", "sent"), ("sms", "backordered", "sent")}


def test_the_first_date_told_becomes_the_lines_promised_date(world, mrt, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    with world.rt.sessions() as session:
        assert session.scalar(select(OrderLine.promised_eta)) == ETA


def test_the_status_link_opens_the_customers_own_order(world, mrt, mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    text = mailbox.messages[0].get_body(("plain",)).get_content()
    token = text.split("/status/")[1].split()[0]
    links = StatusLinks(world.rt.settings.secret_key, world.rt.settings.public_url)
    assert links.read(token) == (world.shop_id, 1001)


def test_a_date_moved_by_at_least_the_threshold_is_announced_with_old_and_new_date(
        world, mrt, twilio, mailbox, run_jobs):
    world.settings(eta_change_threshold_days=3)
    world.order(1001, (11, "Linen Shirt", 1, 1, LATER))
    world.effect(1001, 11, "line_eta_changed", old=ETA, new=LATER)

    dispatch_and_send(world, run_jobs)

    [mail] = mailbox.messages
    assert mail["Subject"] == "Order #1001: a new expected ship date"
    assert "now expected to ship March 21, 2030 (was March 14, 2030)" in mail.get_body(
        ("plain",)).get_content()
    assert "now expected to ship Mar 21, 2030 (was Mar 14, 2030)" in sms_bodies(twilio)[0]


def test_a_date_moved_by_less_than_the_threshold_is_not_announced(world, mrt, twilio, mailbox,
                                                                 run_jobs):
    world.settings(eta_change_threshold_days=3)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA + timedelta(days=2)))
    world.effect(1001, 11, "line_eta_changed", old=ETA, new=ETA + timedelta(days=2))

    dispatch_and_send(world, run_jobs)

    assert mailbox.messages == [] and twilio.sent == []
    with world.rt.sessions() as session:
        assert session.scalar(select(Effect.dispatched_at)) is not None  # consumed all the same


def test_small_moves_add_up_against_the_date_last_told(world, mrt, mailbox, run_jobs):
    world.settings(eta_change_threshold_days=3)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    dispatch_and_send(world, run_jobs)
    for day in (2, 4):  # two moves of two days: the second is four days from what was told
        world.effect(1001, 11, "line_eta_changed", old=ETA + timedelta(days=day - 2),
                     new=ETA + timedelta(days=day))
        dispatch_and_send(world, run_jobs)

    subjects = [m["Subject"] for m in mailbox.messages]
    assert subjects == ["Order #1001: some items are backordered",
                        "Order #1001: a new expected ship date"]
    assert "(was March 14, 2030)" in mailbox.messages[1].get_body(("plain",)).get_content()


def test_ready_to_ship_is_announced_once_a_told_backorder_is_covered(world, mrt, twilio,
                                                                     mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    dispatch_and_send(world, run_jobs)
    world.line(11, backordered=0, eta=None)
    world.effect(1001, 11, "line_ready_to_ship", old=ETA)

    dispatch_and_send(world, run_jobs)

    assert mailbox.messages[-1]["Subject"] == (
        "Order #1001: your backordered items are ready to ship")
    assert "1x Linen Shirt ready to ship" in sms_bodies(twilio)[-1]
    assert len(mailbox.messages) == 2 and len(twilio.sent) == 2


def test_a_cancelled_backorder_is_announced(world, mrt, twilio, mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backorder_cancelled", old=ETA, new="cancelled")

    dispatch_and_send(world, run_jobs)

    [mail] = mailbox.messages
    assert mail["Subject"] == "Order #1001: backorder cancelled"
    assert "backorder cancelled (was expected March 14, 2030)" in mail.get_body(
        ("plain",)).get_content()
    assert len(twilio.sent) == 1


def test_effects_of_one_order_within_the_window_become_one_message(world, mrt, twilio,
                                                                  mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 2, 2, ETA), (12, "Wool Socks", 1, 1, LATER))
    world.effect(1001, 11, "line_backordered", new=ETA)
    world.effect(1001, 12, "line_backordered", new=date(2030, 3, 15))
    world.effect(1001, 12, "line_eta_changed", old=date(2030, 3, 15), new=LATER)

    dispatch_and_send(world, run_jobs)

    [mail] = mailbox.messages
    text = mail.get_body(("plain",)).get_content()
    assert "2 x Linen Shirt: expected to ship March 14, 2030" in text
    assert "1 x Wool Socks: expected to ship March 21, 2030" in text
    assert len(twilio.sent) == 1


def test_effects_still_arriving_wait_for_the_window_and_a_later_dispatch_is_scheduled(
        world, mrt, mailbox, run_jobs):
    world.settings(group_window_seconds=120)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA, age=timedelta(seconds=5))

    assert jobs.dispatch_effects(world.shop_id) == 0

    scheduled = Queue(EFFECTS, connection=mrt.redis).scheduled_job_registry.get_job_ids()
    assert [j for j in scheduled if j.startswith(f"dispatch-effects-{world.shop_id}-at-")]
    assert world.notifications() == []


def test_effects_that_cancel_out_within_the_window_say_nothing(world, mrt, twilio, mailbox,
                                                              run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 0, None))
    world.effect(1001, 11, "line_backordered", new=ETA)
    world.effect(1001, 11, "line_ready_to_ship", old=ETA)

    dispatch_and_send(world, run_jobs)

    assert mailbox.messages == [] and twilio.sent == []


def test_redelivered_dispatches_and_duplicate_send_jobs_send_each_message_once(
        world, mrt, twilio, mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    for _ in range(3):
        jobs.dispatch_effects(world.shop_id)
    ids = [n.id for n in world.notifications()]
    for notification_id in ids:  # a retried job, and a second worker given the same id
        jobs.enqueue_sends(mrt.redis, [jobs.Queued(notification_id)], replace_dead=True)
    run_jobs()
    for notification_id in ids:
        assert jobs.send_notification(notification_id) == "skipped"

    assert len(mailbox.messages) == 1 and len(twilio.sent) == 1
    assert [n.attempts for n in world.notifications()] == [1, 1]


def test_a_recompute_that_emits_nothing_new_sends_nothing_new(world, mrt, twilio, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    dispatch_and_send(world, run_jobs)

    dispatch_and_send(world, run_jobs)  # the engine enqueues dispatch after each recompute

    assert len(twilio.sent) == 1


def test_sms_goes_out_only_when_the_shop_enables_it(world, mrt, twilio, mailbox, run_jobs):
    world.settings(sms_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    assert twilio.sent == [] and len(mailbox.messages) == 1


def test_a_phone_that_is_not_e164_gets_no_sms(world, mrt, twilio, mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA), phone="555-0100")
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    assert twilio.sent == [] and len(mailbox.messages) == 1


def test_an_opted_out_phone_gets_email_and_a_suppressed_sms_record(world, mrt, twilio, mailbox,
                                                                  run_jobs):
    from app.db import unit_of_work
    with unit_of_work(world.rt.sessions) as session:
        session.add(SmsConsent(shop_id=world.shop_id, phone=PHONE, opted_out=True))
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    assert twilio.sent == [] and len(mailbox.messages) == 1
    assert {(n.channel, n.status) for n in world.notifications()} == {
        ("email", "sent"), ("sms", "suppressed")}


def test_dates_follow_the_shops_locale(world, mrt, twilio, mailbox, run_jobs):
    from app.db import unit_of_work
    from app.domain.shops.models import Shop
    with unit_of_work(world.rt.sessions) as session:
        session.get(Shop, world.shop_id).locale = "fr"
    world.order(1001, (11, "Chemise", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    assert "14 mars 2030" in mailbox.messages[0].get_body(("plain",)).get_content()
    assert "14 mars 2030" in twilio.sent[0]["Body"]


def test_messages_greet_the_customer_by_first_name_and_name_the_variant(
        world, mrt, twilio, mailbox, run_jobs):
    with unit_of_work(world.rt.sessions) as session:
        session.add(Variant(shop_id=world.shop_id, variant_id=511, title="Sage / M"))
    world.order(1001, (11, "Linen Shirt", 3, 2, ETA), first_name="Ada")
    world.effect(1001, 11, "line_backordered", new=ETA)
    world.settings(liquid_templates={"backordered": {
        "sms": "Hi {{ customer.first_name }}: {% for line in lines %}{{ line.backordered }} of "
               "{{ line.quantity }} {{ line.title }} ({{ line.variant_title }}) ship "
               "{{ line.eta | date: '%Y-%m-%d' }}{% endfor %} {{ status_url }}"}})

    dispatch_and_send(world, run_jobs)

    text = mailbox.messages[0].get_body(("plain",)).get_content()
    assert text.startswith("Hello Ada,") and "2 x Linen Shirt (Sage / M): expected" in text
    assert twilio.sent[0]["Body"].startswith("Hi Ada: 2 of 3 Linen Shirt (Sage / M) ship 2030-03-14 ")


# --- delay notices ---------------------------------------------------------------

def overdue_world(world, *, eta):
    world.order(1001, (11, "Linen Shirt", 1, 1, eta))
    world.line(11, promised_eta=datetime.now(UTC).date() - timedelta(days=3))


def test_a_passed_promise_gets_a_delay_notice_with_the_new_date_and_a_free_cancel(
        world, mrt, twilio, mailbox, run_jobs):
    overdue_world(world, eta=ETA)

    assert jobs.scan_overdue() == 2
    run_jobs()

    [mail] = mailbox.messages
    assert mail["Subject"] == "Order #1001 is delayed: a new date, or cancel free of charge"
    text = mail.get_body(("plain",)).get_content()
    assert "now expected March 14, 2030" in text and "cancel" in text and "/status/" in text
    assert "Cancel free or keep waiting" in twilio.sent[0]["Body"]
    with world.rt.sessions() as session:  # the new date is the new promise
        assert session.scalar(select(OrderLine.promised_eta)) == ETA


def test_a_passed_promise_without_a_new_date_says_the_date_is_unknown_once(
        world, mrt, mailbox, run_jobs):
    overdue_world(world, eta=None)

    jobs.scan_overdue()
    jobs.scan_overdue()  # the next day's scan: same promise, same news
    run_jobs()

    [mail] = mailbox.messages
    assert "new date unknown" in mail.get_body(("plain",)).get_content()


def test_lines_not_yet_overdue_or_no_longer_backordered_get_no_delay_notice(world, mrt, run_jobs):
    world.order(1001, (11, "On time", 1, 1, ETA), (12, "Shipped", 1, 0, None))
    world.line(11, promised_eta=datetime.now(UTC).date() + timedelta(days=1))
    world.line(12, promised_eta=datetime.now(UTC).date() - timedelta(days=1))

    assert jobs.scan_overdue() == 0


# --- provider failures -------------------------------------------------------------

def only(world, channel):
    return next(n for n in world.notifications() if n.channel == channel)


def test_a_transient_twilio_error_is_retried_and_the_message_sent_once(world, mrt, twilio,
                                                                       run_jobs):
    world.settings(email_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    twilio.fail_next(503, twilio_fixture("error_20001_with_details_twilio_python_test.json"))
    jobs.dispatch_effects(world.shop_id)
    sms_id = only(world, "sms").id

    from app.errors import TransientError
    with pytest.raises(TransientError):
        jobs.send_notification(sms_id)
    assert only(world, "sms").status == "pending"
    assert jobs.send_notification(sms_id) == "sent"  # what RQ's retry runs

    assert len(twilio.sent) == 1 and only(world, "sms").attempts == 2


@pytest.mark.parametrize("fixture", ["error_21211_docs_example.json",
                                     "error_21211_legacy_twilio_python_test.json"])
def test_a_permanent_twilio_error_is_recorded_and_never_retried(world, mrt, twilio, fixture):
    world.settings(email_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    twilio.fail_next(400, twilio_fixture(fixture))
    jobs.dispatch_effects(world.shop_id)
    sms_id = only(world, "sms").id

    assert jobs.send_notification(sms_id) == "failed"
    assert jobs.send_notification(sms_id) == "skipped"

    row = only(world, "sms")
    assert (row.status, row.error_code) == ("failed", "21211")
    assert len(twilio.mock.calls) == 1
    from app.domain.notifications.sending import failed_notifications
    with world.rt.sessions() as session:  # what the merchant page lists
        assert [n.id for n in failed_notifications(session, world.shop_id)] == [sms_id]


def test_error_21610_marks_the_phone_opted_out_and_stops_later_sms(world, mrt, twilio,
                                                                   mailbox, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA), (12, "Wool Socks", 1, 0, None))
    world.effect(1001, 11, "line_backordered", new=ETA)
    from tests.notifications.conftest import OPTED_OUT_BODY
    twilio.fail_next(400, OPTED_OUT_BODY)
    dispatch_and_send(world, run_jobs)
    world.effect(1001, 12, "line_backordered", new=LATER)

    dispatch_and_send(world, run_jobs)

    with world.rt.sessions() as session:
        assert session.scalar(select(SmsConsent.opted_out)) is True
    sms = [n for n in world.notifications() if n.channel == "sms"]
    assert [(n.status, n.error_code) for n in sms] == [("failed", "21610"), ("suppressed", None)]
    assert twilio.sent == [] and len(mailbox.messages) == 2


def test_smtp_4xx_is_retried_and_5xx_is_final(world, mrt, mailbox):
    world.settings(sms_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.order(1002, (21, "Wool Socks", 1, 1, ETA), email_="bob@example.com")
    world.effect(1001, 11, "line_backordered", new=ETA)
    world.effect(1002, 21, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    first, second = world.notifications()
    mailbox.replies = ["451 4.3.0 try again later", "550 5.1.1 no such user"]

    from app.errors import TransientError
    with pytest.raises(TransientError):
        jobs.send_notification(first.id)
    assert jobs.send_notification(second.id) == "failed"
    assert jobs.send_notification(first.id) == "sent"

    assert [(n.status, n.error_code) for n in world.notifications()] == [
        ("sent", None), ("failed", "550")]
    assert [m["To"] for m in mailbox.messages] == ["ada@example.com"]


def test_each_email_carries_a_stable_message_id(world, mrt, mailbox, run_jobs):
    world.settings(sms_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)

    dispatch_and_send(world, run_jobs)

    [row] = world.notifications()
    assert mailbox.messages[0]["Message-ID"] == f"<notification-{row.id}@backorder.test>"


def test_waiting_too_long_for_a_send_slot_is_retried_and_not_counted_as_an_attempt(
        world, mrt, twilio, monkeypatch):
    world.settings(email_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    limiter = jobs.sms_limiter(mrt.settings)
    while limiter.try_acquire():  # other workers took every slot of this second
        pass
    monkeypatch.setattr(jobs, "SLOT_WAIT_SECONDS", 0)

    with pytest.raises(jobs.NoSlot):
        jobs.send_notification(only(world, "sms").id)

    row = only(world, "sms")
    assert (row.status, row.attempts, twilio.sent) == ("pending", 0, [])
