"""RQ jobs for customer messages: dispatch effects, send one message, scan and sweep.

Jobs take ids. `send_notification` runs three short transactions around the
provider call (claim, call, record; see app.domain.notifications.sending), so
a retried or duplicated job never sends a message twice. Send jobs carry the
notification id as their unique RQ job id; quiet-hours SMS are scheduled
jobs, which the workers' scheduler (`--with-scheduler`) moves to the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlparse

from redis import Redis
from redis.exceptions import RedisError

from app import jobs as queueing
from app.config import Settings
from app.domain.base import utcnow
from app.domain.intents import DispatchEffects, SendMessage
from app.domain.notifications import sending, service
from app.domain.notifications.links import StatusLinks
from app.domain.notifications.models import Channel
from app.domain.notifications.sending import Deferred, Outgoing
from app.domain.notifications.service import Queued
from app.errors import PermanentError, TransientError
from integrations import factory
from integrations.ratelimit import SendRateLimiter
from integrations.twilio.sms import is_opt_out
from workers import customer_options
from workers.context import runtime
from workers.job import call, job

log = logging.getLogger(__name__)
# Well inside RQ's job timeout (180 s), so a long wait ends in a retry, not a killed job.
SLOT_WAIT_SECONDS = 60
CALLING_TTL = 86400  # longer than any claim stays unsettled (the sweeper takes it at 5 min)


@job
def dispatch_effects(shop_id: int) -> int:
    """Turn the shop's settled effects into messages; enqueue their send jobs after commit."""
    rt = runtime()
    result = call(service.dispatch_effects, shop_id, links=links(rt.settings),
                  now=utcnow())
    enqueue_sends(rt.redis, result.queued)
    if result.recheck_at is not None:  # some orders' effects are still settling
        queueing.enqueue(rt.redis, [DispatchEffects(shop_id, at=result.recheck_at)])
    return len(result.queued)


@job
def scan_overdue() -> int:
    """Delay notices for every backordered line whose promised date has passed (periodic)."""
    rt = runtime()
    shop_ids = call(service.active_shop_ids)
    queued = 0
    for shop_id in shop_ids:  # one transaction per shop: one bad shop does not block the rest
        found = call(service.queue_delay_notices, shop_id, links=links(rt.settings),
                     now=utcnow())
        # Goodwill codes the notices carry are created beside them (and retried here hourly).
        customer_options.enqueue_pending_discounts(shop_id)
        enqueue_sends(rt.redis, found)
        queued += len(found)
    return queued


@job
def send_notification(notification_id: int) -> str:
    """Send one message at most once; returns what happened (for logs and tests)."""
    rt = runtime()
    claimed = call(sending.claim, notification_id, now=utcnow(),
                   maybe_sent=_provider_called(rt.redis, notification_id))
    if claimed is None:
        return "skipped"
    if isinstance(claimed, Deferred):  # ran early (a sweep): wait for the end of quiet hours
        enqueue_sends(rt.redis, [Queued(notification_id, claimed.until)])
        return "deferred"
    try:
        senders(rt.settings)  # built before the slot: the send follows its grant at once
        if claimed.channel == Channel.SMS:
            _wait_for_slot(rt.settings)
        _mark_calling(rt.redis, notification_id)
        delivered = _call_provider(rt.settings, claimed)
    except TransientError as exc:
        return _release(notification_id, exc, attempted=not isinstance(exc, NoSlot))
    except PermanentError as exc:
        _record_failure(notification_id, exc, opt_out=is_opt_out(exc))
        return "failed"
    except Exception as exc:
        _record_failure(notification_id, exc, opt_out=False)
        raise  # a bug: visible in RQ's failed registry; retries are no-ops (row is failed)
    call(sending.record_sent, notification_id, delivered, now=utcnow())
    return "sent"


class NoSlot(TransientError):
    """No send slot was taken, so the provider was not called: not an attempt."""


def _calling_key(notification_id: int) -> str:
    return f"backorder:calling:{notification_id}"


def _mark_calling(redis: Redis, notification_id: int) -> None:
    """Note, right before the provider call, that this message may now go out.

    A worker that dies after its claim but before this (waiting for a send slot, say)
    surely sent nothing, so the retry sends; one that dies after it may have sent, so
    the message is settled as interrupted (at most once). A Redis write, not a database
    commit: nothing slow may stand between a send slot and its send.
    """
    try:
        redis.set(_calling_key(notification_id), 1, ex=CALLING_TTL)
    except RedisError as exc:
        raise NoSlot(f"cannot record the attempt: {exc}") from exc


def _provider_called(redis: Redis, notification_id: int) -> bool:
    try:
        return bool(redis.exists(_calling_key(notification_id)))
    except RedisError:
        return True  # unknown: assume it may have gone out


def _wait_for_slot(settings: Settings) -> None:
    # Right before the call, so sends (not only acquisitions) keep to the rate.
    try:
        granted = sms_limiter(settings).acquire(timeout=SLOT_WAIT_SECONDS)
    except TransientError as exc:  # Redis unreachable
        raise NoSlot(str(exc)) from exc
    if not granted:
        raise NoSlot("no SMS send slot free yet (rate limit)")


def _release(notification_id: int, exc: TransientError, *, attempted: bool) -> str:
    retry = call(sending.release, notification_id, exc, attempted=attempted,
                 now=utcnow())
    if retry:
        raise exc  # RQ retries with backoff
    return "failed"


def _call_provider(settings: Settings, outgoing: Outgoing) -> sending.Delivered:
    sms, email = senders(settings)
    return sending.deliver(outgoing, sms=sms, email=email,
                           status_callback=status_callback_url(settings, outgoing.id),
                           message_id=f"notification-{outgoing.id}@{_host(settings)}")


def _record_failure(notification_id: int, exc: Exception, *, opt_out: bool) -> None:
    log.warning("notification %s failed for good: %s", notification_id, exc)
    call(sending.record_failure, notification_id, exc, opt_out=opt_out, now=utcnow())


@job
def sweep_notifications(older_than_seconds: int = 300) -> int:
    """Re-enqueue messages whose job was lost (Redis down, worker died); periodic."""
    rt = runtime()
    due, stuck = call(sending.stale_ids, now=utcnow(),
                      older_than=timedelta(seconds=older_than_seconds))
    # A stuck "sending" row is settled by its job's claim: marked interrupted, not resent.
    return enqueue_sends(rt.redis, [Queued(i) for i in due + stuck], replace_dead=True)


# --- wiring --------------------------------------------------------------------

def links(settings: Settings) -> StatusLinks:
    return StatusLinks(settings.secret_key, settings.public_url)


def status_callback_url(settings: Settings, notification_id: int) -> str:
    # The id in the (signed) URL lets a callback repair a row whose worker died mid-send.
    return f"{settings.public_url}/webhooks/twilio/status?n={notification_id}"


def _host(settings: Settings) -> str:
    return urlparse(settings.public_url).hostname or "backorder.local"


@lru_cache(maxsize=8)
def senders(settings: Settings):
    """(SmsSender, EmailSender) for these settings, built once per process."""
    return factory.sms_sender(settings), factory.email_sender(settings)


@lru_cache(maxsize=8)
def sms_limiter(settings: Settings) -> SendRateLimiter:
    """The per-sender limiter every worker shares through Redis."""
    sender = settings.twilio_messaging_service_sid or settings.twilio_from_number or "console"
    return SendRateLimiter(settings.redis_url or "redis://127.0.0.1:6379/0",
                           per_second=settings.sms_rate_per_second, key=f"sms-send:{sender}")


def enqueue_sends(redis: Redis, queued: Iterable[Queued], *, replace_dead: bool = False) -> int:
    """One unique job per message (`notify-<id>`), scheduled when held by quiet hours;
    returns how many were put on a queue."""
    return queueing.enqueue(redis, [SendMessage(item.notification_id, item.send_after,
                                                replace_dead=replace_dead)
                                    for item in queued])
