"""Pure notification rules: settings, grouping, what changed per line, quiet hours, keywords.

Plain data in, plain data out (stdlib only), so every rule is tested without
a database. Rendering lives next door in `rendering.py`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from app.domain.inventory.effects import EffectKind
from app.domain.notifications.models import Kind

# Effects that concern a customer; the others (variant status) belong to other consumers.
CUSTOMER_EFFECTS = (EffectKind.LINE_BACKORDERED, EffectKind.LINE_ETA_CHANGED,
                    EffectKind.LINE_READY_TO_SHIP, EffectKind.LINE_BACKORDER_CANCELLED)
# When one message covers lines with different news, its headline is the most pressing.
HEADLINE_ORDER = (Kind.DELAY_NOTICE, Kind.CANCELLED, Kind.ETA_CHANGED, Kind.BACKORDERED,
                  Kind.READY_TO_SHIP)
E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time


# The shop's Liquid templates, {kind: {part: source}}. Not "templates": that key holds
# the Jinja ones of earlier releases, which migration 0012_i15a_liquid_templates converted.
TEMPLATES_KEY = "liquid_templates"


@dataclass(frozen=True)
class NotifySettings:
    """The shop's notification settings, from ShopSettings.extra["notifications"]."""

    email_enabled: bool = True
    sms_enabled: bool = False
    eta_change_threshold_days: int = 1
    group_window_seconds: int = 60
    max_group_wait_seconds: int = 600
    quiet_hours: QuietHours | None = QuietHours(time(21, 0), time(8, 0))
    templates: Mapping[str, Mapping[str, str]] | None = None

    @classmethod
    def from_extra(cls, extra: Mapping | None) -> NotifySettings:
        """Read the settings; a missing or malformed value falls back to its default."""
        raw = (extra or {}).get("notifications") or {}
        if not isinstance(raw, Mapping):
            return cls()
        default = cls()
        return cls(
            email_enabled=_flag(raw.get("email_enabled"), default.email_enabled),
            sms_enabled=_flag(raw.get("sms_enabled"), default.sms_enabled),
            eta_change_threshold_days=_count(raw.get("eta_change_threshold_days"),
                                             default.eta_change_threshold_days),
            group_window_seconds=_count(raw.get("group_window_seconds"),
                                        default.group_window_seconds),
            max_group_wait_seconds=_count(raw.get("max_group_wait_seconds"),
                                          default.max_group_wait_seconds),
            quiet_hours=_quiet_hours(raw.get("quiet_hours", "default"), default.quiet_hours),
            templates=raw.get(TEMPLATES_KEY) if isinstance(raw.get(TEMPLATES_KEY), Mapping)
            else None)


def _flag(value, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _count(value, default: int) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else default


def _quiet_hours(value, default: QuietHours | None) -> QuietHours | None:
    if value is None or value is False:
        return None  # the merchant turned quiet hours off
    try:
        return QuietHours(time.fromisoformat(value["start"]), time.fromisoformat(value["end"]))
    except (TypeError, KeyError, ValueError):
        return default


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; SQLite hands stored times back naive (they were written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def shop_zone(name: str | None) -> ZoneInfo:
    """The shop's timezone; UTC when Shopify's name is unknown here."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_today(now: datetime, zone_name: str | None) -> date:
    return now.astimezone(shop_zone(zone_name)).date()


def next_allowed_send(now: datetime, zone_name: str | None, quiet: QuietHours | None) -> datetime:
    """`now` if outside quiet hours, else the (aware) moment they end in the shop's timezone."""
    if quiet is None or quiet.start == quiet.end:
        return now
    local = now.astimezone(shop_zone(zone_name))
    clock = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:  # e.g. 00:00-07:00, within one day
        inside = quiet.start <= clock < quiet.end
        end_day = local.date()
    else:  # e.g. 21:00-08:00, across midnight
        inside = clock >= quiet.start or clock < quiet.end
        end_day = local.date() + timedelta(days=1 if clock >= quiet.start else 0)
    if not inside:
        return now
    # Combining with the zone (not adding hours) keeps 08:00 right across DST changes.
    return datetime.combine(end_day, quiet.end, tzinfo=local.tzinfo)


def email_address(raw: str | None) -> str | None:
    """The address when `raw` is exactly one (a list such as "a@x, b@y" would reach every
    address in it); None otherwise. Syntax only: no DNS lookup."""
    address = (raw or "").strip()
    try:
        validate_email(address, check_deliverability=False, globally_deliverable=False,
                       test_environment=True)
    except EmailNotValidError:
        return None
    return address


def e164(phone: str | None) -> str | None:
    """The phone in E.164 form, or None when it cannot be one (no SMS then)."""
    if not phone:
        return None
    cleaned = re.sub(r"[\s().\-]", "", phone)
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return cleaned if E164.fullmatch(cleaned) else None


# --- grouping ---------------------------------------------------------------

@dataclass(frozen=True)
class EffectRow:
    id: int
    order_id: int | None
    line_item_id: int | None
    kind: str
    old: str | None
    new: str | None
    created_at: datetime


def ready_orders(effects: Iterable[EffectRow], *, now: datetime, window: timedelta,
                 max_wait: timedelta) -> tuple[set[int], datetime | None]:
    """Orders whose effects have settled (nothing new for `window`, or waited `max_wait`).

    Returns those order ids and when to look again for the others (None: no others).
    """
    newest: dict[int, datetime] = {}
    oldest: dict[int, datetime] = {}
    for effect in effects:
        if effect.order_id is None:
            continue
        newest[effect.order_id] = max(newest.get(effect.order_id, effect.created_at),
                                      effect.created_at)
        oldest[effect.order_id] = min(oldest.get(effect.order_id, effect.created_at),
                                      effect.created_at)
    ready, recheck = set(), None
    for order_id, last in newest.items():
        due = min(last + window, oldest[order_id] + max_wait)
        if due <= now:
            ready.add(order_id)
        else:
            recheck = due if recheck is None else min(recheck, due)
    return ready, recheck


# --- what changed for a line -------------------------------------------------

BACKORDERED, READY, CANCELLED = "backordered", "ready", "cancelled"


@dataclass(frozen=True)
class Told:
    """What the customer was last told about a line."""

    state: str  # BACKORDERED, READY or CANCELLED
    eta: date | None = None


@dataclass(frozen=True)
class LineUpdate:
    line_item_id: int
    kind: Kind
    eta: date | None = None
    old_eta: date | None = None
    reason: str | None = None


def parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def line_update(line_item_id: int, effects: Sequence[EffectRow], told: Told | None,
                *, threshold_days: int) -> LineUpdate | None:
    """The one piece of news for a line after `effects` (in order), or None when there is none.

    Effects that cancel out (backordered, then ready within the window) say nothing;
    a moved date is news only when it moved at least `threshold_days` from what was told.
    """
    if not effects:
        return None
    before = told or _implied_before(effects[0])
    last = effects[-1]
    if last.kind in (EffectKind.LINE_BACKORDERED, EffectKind.LINE_ETA_CHANGED):
        return _backordered_news(line_item_id, before, parse_day(last.new), threshold_days)
    if before.state != BACKORDERED:
        return None
    if last.kind == EffectKind.LINE_READY_TO_SHIP:
        return LineUpdate(line_item_id, Kind.READY_TO_SHIP, old_eta=before.eta)
    return LineUpdate(line_item_id, Kind.CANCELLED, old_eta=before.eta, reason=last.new)


def _implied_before(first: EffectRow) -> Told:
    if first.kind == EffectKind.LINE_BACKORDERED:
        return Told(READY)  # not backordered before: nothing to take back
    return Told(BACKORDERED, parse_day(first.old))


def _backordered_news(line_item_id: int, before: Told, eta: date | None,
                      threshold_days: int) -> LineUpdate | None:
    if before.state != BACKORDERED:
        return LineUpdate(line_item_id, Kind.BACKORDERED, eta=eta)
    if before.eta == eta:
        return None
    known_both = before.eta is not None and eta is not None
    if known_both and abs((eta - before.eta).days) < max(threshold_days, 1):
        return None
    return LineUpdate(line_item_id, Kind.ETA_CHANGED, eta=eta, old_eta=before.eta)


def told_after(update: LineUpdate) -> Told:
    """What the customer knows about the line once `update` is sent."""
    if update.kind == Kind.READY_TO_SHIP:
        return Told(READY)
    if update.kind == Kind.CANCELLED:
        return Told(CANCELLED)
    return Told(BACKORDERED, update.eta)


def headline(kinds: Iterable[str]) -> Kind:
    """The kind of a message covering several lines: the most pressing news."""
    present = set(kinds)
    return next(k for k in HEADLINE_ORDER if k in present)


def dedup_key(channel: str, order_id: int, basis: Iterable) -> str:
    """A short stable key from what the message covers (effect ids, or delay facts)."""
    text = ",".join(str(part) for part in basis)
    return f"{channel}:{order_id}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


# --- delay notices ------------------------------------------------------------

def delay_update(line_item_id: int, *, promised: date, eta: date | None,
                 today: date) -> LineUpdate:
    """A delay notice for a line whose promised date passed; a past ETA is no date at all."""
    new = eta if eta is not None and eta >= today else None
    return LineUpdate(line_item_id, Kind.DELAY_NOTICE, eta=new, old_eta=promised)


# --- Twilio -------------------------------------------------------------------

# Twilio's standard opt-out, opt-in and help keywords (Advanced Opt-Out defaults).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END",
                           "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword(body: str | None) -> str | None:
    """'stop', 'start' or 'help' when the whole inbound text is such a keyword."""
    word = " ".join((body or "").upper().replace(".", " ").replace("!", " ").split())
    if word in OPT_OUT_WORDS:
        return "stop"
    if word in OPT_IN_WORDS:
        return "start"
    return "help" if word in HELP_WORDS else None


# Later states win; the terminal ones share a rank so none overrides another.
DELIVERY_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
                 "delivered": 4, "undelivered": 4, "failed": 4, "read": 5, "canceled": 4}


def newer_delivery_status(current: str | None, incoming: str) -> bool:
    """True when a status callback moves the delivery forward (callbacks arrive out of order)."""
    if incoming not in DELIVERY_RANK:
        return False
    return current is None or DELIVERY_RANK[incoming] > DELIVERY_RANK.get(current, -1)
