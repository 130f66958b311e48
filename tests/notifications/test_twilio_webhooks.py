"""Twilio's webhooks: status callbacks and inbound SMS, signed like Twilio signs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.db import unit_of_work
from app.domain.notifications.models import Notification, SmsConsent
from tests.notifications.conftest import AUTH_TOKEN, ETA, PHONE
from workers import notifications as jobs

VECTORS = json.loads((Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "twilio"
                      / "twilio_request_validator_vectors.json").read_text(encoding="utf-8"))
PUBLIC = "https://backorder.test"  # the tests' PUBLIC_URL; the test client calls http://localhost


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def post(client, path: str, params: dict, *, signature: str | None = "auto"):
    if signature == "auto":
        signature = sign(PUBLIC + path, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return client.post(path, data=params, headers=headers)


def test_the_signing_helper_reproduces_twilios_own_vector():
    vector = VECTORS["vectors"][0]
    assert sign(vector["url"], vector["params"], VECTORS["auth_token"]) == vector[
        "expected_signature"]


@pytest.mark.parametrize("path", ["/webhooks/twilio/status", "/webhooks/twilio/inbound"])
def test_a_missing_or_wrong_signature_is_refused_with_403(mapp, path):
    client = mapp.test_client()
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "From": PHONE, "Body": "STOP"}
    assert post(client, path, params, signature=None).status_code == 403
    assert post(client, path, params, signature=sign(PUBLIC + path, params, "wrong")
                ).status_code == 403
    assert post(client, path, params | {"Body": "START"},
                signature=sign(PUBLIC + path, params)).status_code == 403  # body tampered


def test_the_signature_is_checked_against_the_public_url_not_the_one_the_proxy_forwarded(mapp):
    client = mapp.test_client()
    params = {"From": PHONE, "Body": "hello"}
    internal = sign("http://localhost/webhooks/twilio/inbound", params)
    assert post(client, "/webhooks/twilio/inbound", params, signature=internal).status_code == 403
    assert post(client, "/webhooks/twilio/inbound", params).status_code == 204


def test_without_twilio_configured_every_callback_is_refused(client):
    params = {"From": PHONE, "Body": "STOP"}
    assert post(client, "/webhooks/twilio/inbound", params).status_code == 403


# --- status callbacks -------------------------------------------------------------------

def sent_sms(world, mrt, twilio, run_jobs) -> Notification:
    world.settings(email_enabled=False)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    run_jobs()
    [row] = world.notifications()
    return row


def test_status_callbacks_update_the_delivery_state_by_message_sid(world, mrt, twilio, mapp,
                                                                   run_jobs):
    row = sent_sms(world, mrt, twilio, run_jobs)
    client = mapp.test_client()
    path = f"/webhooks/twilio/status?n={row.id}"

    for state in ("sent", "delivered", "sent"):  # the late "sent" must not undo "delivered"
        response = post(client, path, {"MessageSid": row.provider_id, "MessageStatus": state})
        assert response.status_code == 204

    [row] = world.notifications()
    assert (row.status, row.delivery_status) == ("sent", "delivered")


def test_an_undelivered_callback_keeps_twilios_error_code(world, mrt, twilio, mapp, run_jobs):
    row = sent_sms(world, mrt, twilio, run_jobs)
    post(mapp.test_client(), "/webhooks/twilio/status",
         {"MessageSid": row.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    [row] = world.notifications()
    assert (row.delivery_status, row.error_code) == ("undelivered", "30003")


def test_a_callback_for_an_unknown_message_is_acknowledged_and_ignored(mapp):
    response = post(mapp.test_client(), "/webhooks/twilio/status",
                    {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"})
    assert response.status_code == 204


# --- inbound SMS ---------------------------------------------------------------------------

def consent(world) -> bool | None:
    with world.rt.sessions() as session:
        return session.scalar(select(SmsConsent.opted_out).where(SmsConsent.phone == PHONE))


def test_stop_stops_later_sms_while_email_continues(world, mrt, twilio, mailbox, mapp, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA), phone="+1 415-555-0100")

    response = post(mapp.test_client(), "/webhooks/twilio/inbound", {"From": PHONE, "Body": "STOP"})
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    run_jobs()

    assert response.status_code == 204
    assert consent(world) is True
    assert twilio.sent == [] and len(mailbox.messages) == 1


def test_every_standard_opt_out_and_opt_in_keyword_updates_consent(world, mapp):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    client = mapp.test_client()
    for stop, start in [("STOPALL", "START"), ("Unsubscribe", "yes"), ("CANCEL", "UNSTOP"),
                        ("END", "start"), ("quit", "Start")]:
        post(client, "/webhooks/twilio/inbound", {"From": PHONE, "Body": stop})
        assert consent(world) is True, stop
        post(client, "/webhooks/twilio/inbound", {"From": PHONE, "Body": start})
        assert consent(world) is False, start


def test_an_opt_in_allows_sms_again(world, mrt, twilio, mapp, run_jobs):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    client = mapp.test_client()
    post(client, "/webhooks/twilio/inbound", {"From": PHONE, "Body": "STOP"})

    post(client, "/webhooks/twilio/inbound", {"From": PHONE, "Body": "START"})
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    run_jobs()

    assert len(twilio.sent) == 1


def test_help_gets_a_twiml_reply_naming_the_keywords(mapp):
    response = post(mapp.test_client(), "/webhooks/twilio/inbound", {"From": PHONE, "Body": "HELP"})
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    body = response.get_data(as_text=True)
    assert body.startswith("<?xml") and "<Response><Message>" in body
    assert "STOP" in body and "START" in body


def test_any_other_text_is_acknowledged_without_a_reply(world, mapp):
    response = post(mapp.test_client(), "/webhooks/twilio/inbound",
                    {"From": PHONE, "Body": "When does my shirt ship?"})
    assert response.status_code == 204 and response.get_data() == b""
    assert consent(world) is None


def test_a_stop_reaches_every_shop_that_messages_the_phone(world, mrt, mapp):
    from tests.notifications.conftest import World
    from tests.support.factories import make_shop
    other = World(world.rt, make_shop(world.rt).id)
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    other.order(2001, (21, "Mug", 1, 1, ETA), phone="(+1) 415 555 0100")

    post(mapp.test_client(), "/webhooks/twilio/inbound", {"From": PHONE, "Body": "STOP"})

    with world.rt.sessions() as session:
        rows = session.execute(select(SmsConsent.shop_id, SmsConsent.opted_out)).all()
    assert sorted(rows) == sorted([(world.shop_id, True), (other.shop_id, True)])


def test_a_carrier_opt_out_in_a_status_callback_is_remembered(world, mrt, twilio, mapp,
                                                              run_jobs):
    row = sent_sms(world, mrt, twilio, run_jobs)
    post(mapp.test_client(), "/webhooks/twilio/status",
         {"MessageSid": row.provider_id, "MessageStatus": "undelivered", "ErrorCode": "21610",
          "To": PHONE})
    assert consent(world) is True


def test_consent_rows_keep_when_and_why(world, mrt, mapp):
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA))
    before = datetime.now(UTC)
    post(mapp.test_client(), "/webhooks/twilio/inbound", {"From": PHONE, "Body": "stop"})
    with unit_of_work(world.rt.sessions) as session:
        row = session.scalar(select(SmsConsent))
        assert (row.source, row.updated_at >= before) == ("sms:stop", True)
