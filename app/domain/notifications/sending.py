"""Sending one notification at most once.

The job runs three short transactions around the provider call:
`claim` moves the row to "sending" and commits *before* the call, `deliver`
calls the provider, then `record_sent` / `release` / `record_failure` store
the outcome. A row found in "sending" by a later run means a worker stopped
between the call and the record: the message may have gone out, so it is
never sent again (see README, "The one unavoidable window"). A status
callback from Twilio carrying the notification id repairs such a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import insert_ignoring_conflict
from app.domain.notifications import rules
from app.domain.notifications.models import Channel, Notification, SmsConsent, Status
from app.domain.notifications.service import opted_out
from app.domain.ports import Email, EmailSender, SmsSender
from app.errors import IntegrationError, TransientError

INTERRUPTED = "interrupted"
INTERRUPTED_TEXT = ("a worker stopped after claiming this message, before its outcome was "
                    "recorded; it may have gone out, so it is not sent again")
MAX_ATTEMPTS = 8  # transient failures beyond this many attempts become final


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, as plain data for the provider call outside any transaction."""

    id: int
    shop_id: int
    channel: str
    recipient: str
    subject: str
    body: str
    html: str | None
    # Set on a retry after the provider was called: that call may have been accepted
    # with its answer lost, so look for the message before sending it again.
    check_sent_since: datetime | None = None


@dataclass(frozen=True)
class Deferred:
    """Not yet: quiet hours hold the message until `until`."""

    until: datetime


@dataclass(frozen=True)
class Delivered:
    provider_id: str | None
    delivery_status: str | None


def claim(session: Session, notification_id: int, *, now: datetime,
          maybe_sent: bool = True) -> Outgoing | Deferred | None:
    """Mark the message "sending" (commit before calling the provider); None: nothing to send.

    `maybe_sent`: an earlier run may have called the provider (the job knows). A row left
    "sending" by a run that surely did not is claimed again; otherwise it is settled as
    interrupted and never sent twice.
    """
    row = session.scalar(select(Notification).where(Notification.id == notification_id)
                         .with_for_update())
    if row is None or row.status in (Status.SENT, Status.FAILED, Status.SUPPRESSED):
        return None  # already done: a retried or duplicate job
    if row.status == Status.SENDING and maybe_sent:
        _fail(row, INTERRUPTED, INTERRUPTED_TEXT, now)
        return None
    if row.send_after is not None and rules.as_utc(row.send_after) > now:
        return Deferred(rules.as_utc(row.send_after))
    if not row.recipient:
        _fail(row, "redacted", "the recipient was erased (customers/redact)", now)
        return None
    if row.channel == Channel.SMS and opted_out(session, row.shop_id, row.recipient):
        row.status, row.last_error, row.updated_at = Status.SUPPRESSED, "opted out", now
        return None
    row.status, row.updated_at = Status.SENDING, now
    since = rules.as_utc(row.created_at) if row.attempts and row.channel == Channel.SMS else None
    return Outgoing(row.id, row.shop_id, row.channel, row.recipient, row.subject, row.body,
                    row.html, check_sent_since=since)


def deliver(outgoing: Outgoing, *, sms: SmsSender, email: EmailSender,
            status_callback: str | None, message_id: str | None) -> Delivered:
    """Hand the message to its provider; raises TransientError or PermanentError."""
    if outgoing.channel == Channel.SMS:
        found = outgoing.check_sent_since and sms.find_sent(
            to=outgoing.recipient, body=outgoing.body, since=outgoing.check_sent_since)
        result = found or sms.send_sms(to=outgoing.recipient, body=outgoing.body,
                                       status_callback=status_callback)
        return Delivered(result.sid, result.status)
    email.send_email(Email(to=outgoing.recipient, subject=outgoing.subject, text=outgoing.body,
                           html=outgoing.html, message_id=message_id))
    return Delivered(None, None)


def record_sent(session: Session, notification_id: int, delivered: Delivered, *,
                now: datetime) -> None:
    """The provider accepted the message."""
    row = session.get(Notification, notification_id, with_for_update=True)
    if row is None or not (row.status == Status.SENDING or _interrupted(row)):
        return
    row.status, row.sent_at, row.updated_at = Status.SENT, now, now
    row.attempts += 1
    row.error_code = row.last_error = None
    row.provider_id = delivered.provider_id or row.provider_id
    if delivered.delivery_status and rules.newer_delivery_status(row.delivery_status,
                                                                 delivered.delivery_status):
        row.delivery_status = delivered.delivery_status


def release(session: Session, notification_id: int, error: TransientError, *,
            attempted: bool, now: datetime) -> bool:
    """Back to "pending" so a retry can send it; False when attempts are used up (now failed).

    `attempted`: the provider was called (a wait for a rate-limit slot is not an attempt).
    """
    row = session.get(Notification, notification_id, with_for_update=True)
    if row is None or row.status != Status.SENDING:
        return False
    row.attempts += 1 if attempted else 0
    if row.attempts >= MAX_ATTEMPTS:
        _fail(row, _code(error), f"gave up after {row.attempts} attempts: {error}", now)
        return False
    row.status, row.updated_at = Status.PENDING, now
    row.error_code, row.last_error = _code(error), str(error)[:4000]
    return True


def record_failure(session: Session, notification_id: int, error: Exception, *,
                   opt_out: bool, now: datetime) -> None:
    """A final failure: recorded for the merchant and never retried; an opt-out is remembered."""
    row = session.get(Notification, notification_id, with_for_update=True)
    if row is None or row.status in (Status.SENT, Status.SUPPRESSED):
        return
    row.attempts += 1
    _fail(row, _code(error), str(error) or type(error).__name__, now)
    if opt_out and row.channel == Channel.SMS and row.recipient:
        set_consent(session, row.shop_id, row.recipient, opted_out=True,
                    source=_code(error) or "provider", now=now)


def set_consent(session: Session, shop_id: int, phone: str, *, opted_out: bool, source: str,
                now: datetime) -> None:
    """Record that the phone may (or may not) get SMS from the shop."""
    insert_ignoring_conflict(session, SmsConsent.__table__,
                             dict(shop_id=shop_id, phone=phone, opted_out=opted_out,
                                  source=source[:20], updated_at=now), ["shop_id", "phone"])
    session.execute(update(SmsConsent)
                    .where(SmsConsent.shop_id == shop_id, SmsConsent.phone == phone)
                    .values(opted_out=opted_out, source=source[:20], updated_at=now))


def _fail(row: Notification, code: str | None, message: str, now: datetime) -> None:
    row.status, row.error_code, row.last_error = Status.FAILED, code, message[:4000]
    row.updated_at = now


def _interrupted(row: Notification) -> bool:
    return row.status == Status.FAILED and row.error_code == INTERRUPTED


def _code(error: Exception) -> str | None:
    code = error.code if isinstance(error, IntegrationError) else None
    return None if code is None else str(code)[:20]


# --- what the sweeper and operators look at -------------------------------------

def stale_ids(session: Session, *, now: datetime, older_than: timedelta,
              limit: int = 500) -> tuple[list[int], list[int]]:
    """(due messages whose job may be lost, messages stuck in "sending") older than that."""
    before = now - older_than
    due = session.scalars(
        select(Notification.id)
        .where(Notification.status.in_([Status.PENDING, Status.SCHEDULED]),
               Notification.updated_at <= before,
               (Notification.send_after.is_(None)) | (Notification.send_after <= now))
        .order_by(Notification.id).limit(limit))
    stuck = session.scalars(
        select(Notification.id)
        .where(Notification.status == Status.SENDING, Notification.updated_at <= before)
        .order_by(Notification.id).limit(limit))
    return list(due), list(stuck)


def failed_notifications(session: Session, shop_id: int, limit: int = 100) -> list[Notification]:
    """Messages that will not be sent, newest first: what the merchant page shows."""
    return list(session.scalars(
        select(Notification).where(Notification.shop_id == shop_id,
                                   Notification.status == Status.FAILED)
        .order_by(Notification.id.desc()).limit(limit)))
