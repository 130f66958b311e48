"""The SMS twin for development and tests: nothing leaves the machine."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.domain.ports import SmsResult

log = logging.getLogger("backorder.sms")


@dataclass(frozen=True)
class SentSms:
    sid: str
    to: str
    body: str
    status_callback: str | None


class ConsoleSmsSender:
    """SmsSender that logs each message and keeps it in `self.sent`."""

    def __init__(self) -> None:
        self.sent: list[SentSms] = []

    def send_sms(self, *, to: str, body: str, status_callback: str | None = None) -> SmsResult:
        """Record and log the message; answer like Twilio would, with a fake SID."""
        # 34 characters like a real Message SID, so length checks downstream hold.
        sid = "SMconsole" + uuid.uuid4().hex[:25]
        self.sent.append(SentSms(sid=sid, to=to, body=body, status_callback=status_callback))
        log.info("SMS %s to %s:\n%s", sid, to, body)
        # "sent" rather than "queued": no status callback will ever follow.
        return SmsResult(sid=sid, status="sent")

    def find_sent(self, *, to: str, body: str, since: datetime) -> SmsResult | None:
        """Nothing is lost on the way to the console: a message is there or was never sent."""
        found = [s for s in self.sent if s.to == to and s.body == body]
        return SmsResult(sid=found[-1].sid, status="sent") if found else None
