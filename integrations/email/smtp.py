"""Email over SMTP (smtplib), with SMTP replies mapped to the service's taxonomy.

4xx replies and network trouble are TransientError (the worker retries with
backoff); 5xx replies and messages that cannot be built are PermanentError.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid

from app.domain.ports import Email
from app.errors import IntegrationError, PermanentError, TransientError

log = logging.getLogger(__name__)


def build_message(message: Email, *, default_sender: str) -> EmailMessage:
    """The MIME message for `message`: text, optional HTML alternative, attachments."""
    sender = message.sender or default_sender
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    # A stable Message-ID lets the recipient (and us) recognise a resend.
    mime["Message-ID"] = _message_id(message.message_id, sender)
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mimetype.partition("/")
        mime.add_attachment(attachment.content, maintype=maintype,
                            subtype=subtype or "octet-stream", filename=attachment.filename)
    return mime


def _message_id(message_id: str | None, sender: str) -> str:
    if not message_id:
        addresses = getaddresses([sender])
        domain = addresses[0][1].rpartition("@")[2] if addresses else ""
        return make_msgid(domain=domain or None)
    return message_id if message_id.startswith("<") else f"<{message_id}>"


class SmtpEmailSender:
    """EmailSender that hands each message to one SMTP server (a relay or provider)."""

    def __init__(self, host: str, port: int, *, username: str | None = None,
                 password: str | None = None, starttls: bool = True, sender: str,
                 timeout: float = 10):
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._sender = sender
        self._timeout = timeout
        # One connection kept open between messages: a flash sale sends thousands, and a
        # connection (TCP, STARTTLS, AUTH) costs several round trips each.
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the password
        return f"SmtpEmailSender({self._host!r}, {self._port!r}, username={self._username!r})"

    def send_email(self, message: Email) -> None:
        """Deliver one message to the SMTP server; raise TransientError or PermanentError."""
        try:
            mime = build_message(message, default_sender=self._sender)
        except (ValueError, TypeError) as exc:  # e.g. a newline in a header value
            raise PermanentError(f"email cannot be built: {exc}") from exc
        try:
            self._deliver(mime)
        except (smtplib.SMTPException, OSError) as exc:
            error = map_error(exc)
            log.warning("smtp send failed: %s", error, extra={"code": error.code})
            raise error from exc
        log.info("email %s sent to %s", mime["Message-ID"], message.to)

    def _deliver(self, mime: EmailMessage) -> None:
        with self._lock:
            smtp = self._connection()
            try:
                smtp.send_message(mime)
            except (smtplib.SMTPException, OSError):
                self.close()  # whatever state it is in, the next message starts afresh
                raise

    def _connection(self) -> smtplib.SMTP:
        """The open connection if the server still answers on it (a NOOP: a message is
        only ever sent on a connection known to be alive, so a dropped one is never
        mistaken for a failed send), else a new one."""
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            smtp.ehlo()
            self._secure(smtp)
            if self._username:
                smtp.login(self._username, self._password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        """Let go of the kept connection (politely if the server still listens)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _secure(self, smtp: smtplib.SMTP) -> None:
        if not self._starttls:
            return
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        elif self._username:
            # Configured for TLS but not offered (or stripped on the way): keep the
            # password off a cleartext connection rather than downgrade silently.
            raise PermanentError("SMTP server does not offer STARTTLS; "
                                 "refusing to send credentials in clear")


def map_error(exc: Exception) -> IntegrationError:
    """Classify an smtplib or socket failure as transient or permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused(exc)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError(f"SMTP server disconnected: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_reply_code(exc.smtp_code, _reply_text(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPException):  # e.g. no usable AUTH mechanism
        return PermanentError(f"SMTP error: {exc}")
    return TransientError(f"SMTP server unreachable: {type(exc).__name__}: {exc}")


def _refused(exc: smtplib.SMTPRecipientsRefused) -> IntegrationError:
    # Greylisting answers 450/451 to RCPT: retry unless some reply was final.
    codes = [code for code, _ in exc.recipients.values()]
    detail = "; ".join(f"{rcpt}: {code} {_reply_text(text)}"
                       for rcpt, (code, text) in exc.recipients.items())
    worst = max(codes, default=550)
    return _by_reply_code(worst, f"recipients refused: {detail}")


def _by_reply_code(code: int, text: str) -> IntegrationError:
    if 400 <= code < 500:
        return TransientError(f"SMTP {code}: {text}", code=code)
    if 500 <= code < 600:
        return PermanentError(f"SMTP {code}: {text}", code=code)
    # Not an SMTP reply at all (smtplib uses -1 for garbled answers): worth another try.
    return TransientError(f"SMTP {code}: {text}", code=code)


def _reply_text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)

