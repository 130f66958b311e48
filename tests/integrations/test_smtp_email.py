"""SmtpEmailSender against a real SMTP server (aiosmtpd) on the loopback interface."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app.domain.ports import Attachment, Email
from app.errors import PermanentError, TransientError
from integrations.email.console import ConsoleEmailSender
from integrations.email.smtp import SmtpEmailSender

SENDER = "Backorders <backorders@shop.example>"
CSV = b"sku,quantity\nTEE-M,3\n"


class Recorder:
    """An SMTP handler that answers RCPT and DATA as told and keeps what it accepted."""

    def __init__(self, *, data_reply: str = "250 OK", rcpt_reply: str | None = None):
        self.data_reply = data_reply
        self.rcpt_reply = rcpt_reply
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply.startswith("250"):
            envelope.peer = session.peer  # which connection brought it
            self.envelopes.append(envelope)
        return self.data_reply

    def message(self, index: int = 0) -> email.message.EmailMessage:
        return email.message_from_bytes(self.envelopes[index].content, policy=email.policy.default)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(handler, **smtp_options) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def send_via(handler, message: Email, *, smtp_options=None, **sender_options) -> None:
    """Start a server with `handler`, send `message` to it, stop the server."""
    with smtp_server(handler, **(smtp_options or {})) as port:
        sender_for(port, **sender_options).send_email(message)


def sender_for(port: int, **overrides) -> SmtpEmailSender:
    options = {"sender": SENDER, "timeout": 5} | overrides
    return SmtpEmailSender("127.0.0.1", port, **options)


def notice(**overrides) -> Email:
    fields = {"to": "ada@example.com", "subject": "Your backorder ships Friday",
              "text": "Hello Ada, it ships Friday."} | overrides
    return Email(**fields)


def test_message_arrives_with_text_html_csv_attachment_and_the_given_message_id():
    handler = Recorder()
    message = notice(html="<p>Hello Ada, it ships <b>Friday</b>.</p>",
                     attachments=(Attachment("po-1001.csv", CSV, "text/csv"),),
                     message_id="<po-1001.attempt@backorder.example>")

    send_via(handler, message)

    received = handler.message()
    assert handler.envelopes[0].rcpt_tos == ["ada@example.com"]
    assert received["Message-ID"] == "<po-1001.attempt@backorder.example>"
    assert received["From"] == SENDER
    assert received["Subject"] == "Your backorder ships Friday"
    assert received.get_body(("plain",)).get_content().strip() == "Hello Ada, it ships Friday."
    assert "<b>Friday</b>" in received.get_body(("html",)).get_content()
    [csv] = list(received.iter_attachments())
    assert (csv.get_filename(), csv.get_content_type()) == ("po-1001.csv", "text/csv")
    assert csv.get_content().encode() == CSV


def test_a_resend_carries_the_same_message_id():
    handler = Recorder()
    message = notice(message_id="po-1001@backorder.example")  # brackets are added

    with smtp_server(handler) as port:
        sender_for(port).send_email(message)
        sender_for(port).send_email(message)

    ids = {handler.message(i)["Message-ID"] for i in range(2)}
    assert ids == {"<po-1001@backorder.example>"}


def test_without_a_message_id_one_is_made_on_the_senders_domain():
    handler = Recorder()

    send_via(handler, notice())

    assert handler.message()["Message-ID"].endswith("@shop.example>")


def test_the_messages_own_sender_wins_over_the_default():
    handler = Recorder()

    send_via(handler, notice(sender="ops@shop.example"))

    assert handler.message()["From"] == "ops@shop.example"
    assert handler.envelopes[0].mail_from == "ops@shop.example"


def test_extra_headers_are_sent():
    handler = Recorder()

    send_via(handler, notice(headers={"X-Backorder-Line": "1001-1"}))

    assert handler.message()["X-Backorder-Line"] == "1001-1"


def test_login_is_used_when_a_username_is_set():
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data: LoginPassword):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    handler = Recorder()
    send_via(handler, notice(), username="relay-user", password="relay-pass", starttls=False,
             smtp_options={"authenticator": authenticator, "auth_require_tls": False})

    assert seen == [(b"relay-user", b"relay-pass")]
    assert len(handler.envelopes) == 1


def test_credentials_are_not_sent_when_starttls_is_wanted_but_not_offered():
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append(auth_data)
        return AuthResult(success=True)

    with pytest.raises(PermanentError, match="STARTTLS"):
        send_via(Recorder(), notice(), username="relay-user", password="relay-pass",
                 smtp_options={"authenticator": authenticator, "auth_require_tls": False})

    assert seen == []


def test_temporary_rejection_451_is_transient():
    with pytest.raises(TransientError) as caught:
        send_via(Recorder(data_reply="451 4.3.0 Try again later"), notice())

    assert caught.value.code == 451


def test_permanent_rejection_550_is_permanent():
    with pytest.raises(PermanentError) as caught:
        send_via(Recorder(data_reply="550 5.7.1 Message rejected"), notice())

    assert caught.value.code == 550


def test_refused_recipient_is_permanent():
    with pytest.raises(PermanentError) as caught:
        send_via(Recorder(rcpt_reply="550 5.1.1 No such user"), notice())

    assert caught.value.code == 550


def test_greylisted_recipient_is_transient():
    with pytest.raises(TransientError) as caught:
        send_via(Recorder(rcpt_reply="451 4.7.1 Greylisted, try again"), notice())

    assert caught.value.code == 451


def test_nothing_listening_is_transient():
    with pytest.raises(TransientError):
        sender_for(free_port()).send_email(notice())


def test_a_server_that_never_answers_times_out_as_transient():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the connection, never sends a greeting
        port = silent.getsockname()[1]
        with pytest.raises(TransientError):
            sender_for(port, timeout=0.3).send_email(notice())


def test_a_newline_in_a_header_is_permanent_and_nothing_is_sent():
    handler = Recorder()

    with pytest.raises(PermanentError, match="cannot be built"):
        send_via(handler, notice(subject="Hi\r\nBcc: victim@example.com"))

    assert handler.envelopes == []


def test_the_password_never_appears_in_repr():
    assert "relay-pass" not in repr(sender_for(25, username="u", password="relay-pass"))


def test_console_twin_records_and_logs_without_a_server(caplog):
    console = ConsoleEmailSender(sender=SENDER)
    message = notice(attachments=(Attachment("po-1001.csv", CSV, "text/csv"),))

    with caplog.at_level("INFO", logger="backorder.email"):
        console.send_email(message)

    assert console.sent == [message]
    assert "ada@example.com" in caplog.text and "po-1001.csv" in caplog.text


def test_messages_in_a_row_go_over_one_connection():
    handler = Recorder()
    with smtp_server(handler) as port:
        sender = sender_for(port)
        for n in range(3):
            sender.send_email(notice(subject=f"Update {n}"))
        sender.close()
    assert len(handler.envelopes) == 3
    assert len({envelope.peer for envelope in handler.envelopes}) == 1


def test_a_connection_the_server_dropped_is_replaced_and_the_next_message_arrives():
    first, second = Recorder(), Recorder()
    with smtp_server(first) as port:
        sender = sender_for(port)
        sender.send_email(notice(subject="Before"))
    controller = Controller(second, hostname="127.0.0.1", port=port)
    controller.start()  # the same address, a new server: the kept connection is gone
    try:
        sender.send_email(notice(subject="After"))
        sender.close()
    finally:
        controller.stop()
    assert [m.message()["Subject"] for m in (first, second)] == ["Before", "After"]
