"""The email twin for development and tests: nothing leaves the machine."""

from __future__ import annotations

import logging

from app.domain.ports import Email
from integrations.email.smtp import build_message

log = logging.getLogger("backorder.email")


class ConsoleEmailSender:
    """EmailSender that logs each message and keeps it in `self.sent`."""

    def __init__(self, *, sender: str = "backorder@localhost") -> None:
        self.sender = sender
        self.sent: list[Email] = []

    def send_email(self, message: Email) -> None:
        """Record and log the message."""
        # Building the MIME message here too makes dev fail where SMTP would
        # (a newline in a header, a bad attachment type), not only in production.
        mime = build_message(message, default_sender=self.sender)
        self.sent.append(message)
        attachments = ", ".join(a.filename for a in message.attachments) or "none"
        log.info("email %s to %s: %s (attachments: %s)\n%s", mime["Message-ID"],
                 message.to, message.subject, attachments, message.text)
