"""TwilioSmsSender against Twilio's REST API as recorded in ../shared/fixtures/twilio."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses

from app.errors import PermanentError, TransientError
from integrations.twilio.console import ConsoleSmsSender
from integrations.twilio.sms import TwilioSmsSender, is_opt_out

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "twilio"
ACCOUNT_SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
AUTH_TOKEN = "test-auth-token"
API_URL = "http://twilio.fake.test"
MESSAGES_URL = f"{API_URL}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
FROM = "+14155552345"
TO = "+14155550100"

# No Twilio-authored 21610 body exists in the fixtures (SOURCES.md section 4),
# so this one follows the shape of error_21211_docs_example.json.
OPTED_OUT = {
    "code": 21610,
    "message": "Attempt to send to unsubscribed recipient",
    "more_info": "https://www.twilio.com/docs/errors/21610",
    "status": 400,
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sender(**overrides) -> TwilioSmsSender:
    options = {"from_number": FROM, "api_url": API_URL, "timeout": 2} | overrides
    return TwilioSmsSender(ACCOUNT_SID, AUTH_TOKEN, **options)


def posted_form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@pytest.fixture
def twilio():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_send_posts_the_message_and_returns_twilios_sid(twilio):
    twilio.post(MESSAGES_URL, json=fixture("message_create_201_queued.json"), status=201)

    result = sender().send_sms(to=TO, body="Your order ships Friday",
                               status_callback="https://shop.example/webhooks/twilio/status")

    assert (result.sid, result.status) == ("SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "queued")
    assert posted_form(twilio.calls[0]) == {
        "To": TO, "From": FROM, "Body": "Your order ships Friday",
        "StatusCallback": "https://shop.example/webhooks/twilio/status",
    }


def test_send_authenticates_with_the_account_credentials(twilio):
    twilio.post(MESSAGES_URL, json=fixture("message_create_201_queued.json"), status=201)

    sender().send_sms(to=TO, body="hi")

    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert twilio.calls[0].request.headers["Authorization"] == f"Basic {expected}"


def test_send_without_status_callback_omits_it(twilio):
    twilio.post(MESSAGES_URL, json=fixture("message_create_201_queued.json"), status=201)

    sender().send_sms(to=TO, body="hi")

    assert "StatusCallback" not in posted_form(twilio.calls[0])


def test_messaging_service_sid_is_used_instead_of_from_when_set(twilio):
    twilio.post(MESSAGES_URL, json=fixture("message_create_201_queued.json"), status=201)
    service = "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

    sender(messaging_service_sid=service).send_sms(to=TO, body="hi")

    form = posted_form(twilio.calls[0])
    assert form["MessagingServiceSid"] == service
    assert "From" not in form


def test_default_api_url_is_twilios(twilio):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    twilio.post(url, json=fixture("message_create_201_sent.json"), status=201)

    result = TwilioSmsSender(ACCOUNT_SID, AUTH_TOKEN, from_number=FROM).send_sms(to=TO, body="hi")

    assert result.status == "sent"


def test_a_sender_needs_a_from_number_or_a_messaging_service():
    with pytest.raises(ValueError):
        TwilioSmsSender(ACCOUNT_SID, AUTH_TOKEN)


def test_invalid_number_is_permanent_and_not_retried(twilio):
    twilio.post(MESSAGES_URL, json=fixture("error_21211_docs_example.json"), status=400)

    with pytest.raises(PermanentError) as caught:
        sender().send_sms(to="5551234567", body="hi")

    assert caught.value.code == 21211
    assert not is_opt_out(caught.value)
    assert len(twilio.calls) == 1


def test_legacy_error_body_without_status_still_maps_its_code(twilio):
    twilio.post(MESSAGES_URL, json=fixture("error_21211_legacy_twilio_python_test.json"),
                status=400)

    with pytest.raises(PermanentError) as caught:
        sender().send_sms(to="5551234567", body="hi")

    assert caught.value.code == 21211


def test_opted_out_recipient_is_permanent_and_recognisable(twilio):
    twilio.post(MESSAGES_URL, json=OPTED_OUT, status=400)

    with pytest.raises(PermanentError) as caught:
        sender().send_sms(to=TO, body="hi")

    assert caught.value.code == 21610
    assert is_opt_out(caught.value)


def test_unknown_client_error_is_permanent(twilio):
    twilio.post(MESSAGES_URL, json=fixture("error_20001_with_details_twilio_python_test.json"),
                status=400)

    with pytest.raises(PermanentError) as caught:
        sender().send_sms(to=TO, body="hi")

    assert caught.value.code == 20001


def test_rfc9457_problem_body_is_mapped_like_a_legacy_one(twilio):
    # Twilio 9.10+ raises TwilioServiceException (not a TwilioRestException) for these.
    problem = {"type": "https://www.twilio.com/docs/errors/21211", "title": "Invalid 'To'",
               "status": 400, "code": 21211, "detail": "not a valid phone number"}
    twilio.post(MESSAGES_URL, json=problem, status=400)

    with pytest.raises(PermanentError) as caught:
        sender().send_sms(to="5551234567", body="hi")

    assert caught.value.code == 21211


def test_too_many_requests_is_transient_with_retry_after(twilio):
    body = {"code": 20429, "message": "Too Many Requests", "status": 429}
    twilio.post(MESSAGES_URL, json=body, status=429, headers={"Retry-After": "7"})

    with pytest.raises(TransientError) as caught:
        sender().send_sms(to=TO, body="hi")

    assert caught.value.code == 20429
    assert caught.value.retry_after == 7.0


def test_server_error_is_transient(twilio):
    twilio.post(MESSAGES_URL, body="<html>Internal Server Error</html>", status=500)

    with pytest.raises(TransientError) as caught:
        sender().send_sms(to=TO, body="hi")

    assert caught.value.retry_after is None


def test_service_unavailable_problem_body_is_transient(twilio):
    problem = {"type": "https://www.twilio.com/docs/errors/20503", "title": "Unavailable",
               "status": 503, "code": 20503}
    twilio.post(MESSAGES_URL, json=problem, status=503, headers={"Retry-After": "2"})

    with pytest.raises(TransientError) as caught:
        sender().send_sms(to=TO, body="hi")

    assert caught.value.retry_after == 2.0


def test_connection_timeout_is_transient(twilio):
    twilio.post(MESSAGES_URL, body=requests.exceptions.ConnectTimeout("timed out"))

    with pytest.raises(TransientError):
        sender().send_sms(to=TO, body="hi")


def test_refused_connection_is_transient(twilio):
    twilio.post(MESSAGES_URL, body=requests.exceptions.ConnectionError("refused"))

    with pytest.raises(TransientError):
        sender().send_sms(to=TO, body="hi")


def test_console_twin_records_and_logs_with_a_twilio_shaped_sid(caplog):
    console = ConsoleSmsSender()

    with caplog.at_level("INFO", logger="backorder.sms"):
        result = console.send_sms(to=TO, body="Your order ships Friday")

    assert result.sid.startswith("SMconsole") and len(result.sid) == 34
    assert [(sms.sid, sms.to, sms.body) for sms in console.sent] == [
        (result.sid, TO, "Your order ships Friday")]
    assert "Your order ships Friday" in caplog.text


def test_find_sent_recognises_a_message_an_earlier_attempt_queued(twilio):
    page = fixture("message_list_page_200.json")
    message = page["messages"][0]  # body "testing", created Fri, 24 May 2019 17:44:46
    twilio.get(MESSAGES_URL, json=page, status=200)
    since = datetime(2019, 5, 24, 17, 44, 46, 500000, tzinfo=UTC)  # our clock, a bit later

    found = sender().find_sent(to=message["to"], body="testing", since=since)

    assert found is not None and found.sid == message["sid"]
    assert parse_qs(twilio.calls[0].request.url.split("?", 1)[1])["To"] == [message["to"]]


def test_find_sent_ignores_other_texts_and_older_messages(twilio):
    page = fixture("message_list_page_200.json")
    twilio.get(MESSAGES_URL, json=page, status=200)
    to = page["messages"][0]["to"]

    assert sender().find_sent(to=to, body="another text", since=datetime(2019, 1, 1, tzinfo=UTC)) is None
    assert sender().find_sent(to=to, body="testing", since=datetime(2020, 1, 1, tzinfo=UTC)) is None


def test_find_sent_failures_are_classified_like_sends(twilio):
    twilio.get(MESSAGES_URL, json={"code": 20500, "message": "Internal", "status": 500}, status=500)

    with pytest.raises(TransientError):
        sender().find_sent(to=TO, body="x", since=datetime(2020, 1, 1, tzinfo=UTC))
