"""Turning the engine's effects (and overdue promises) into Notification rows.

`dispatch_effects` consumes a shop's undispatched customer effects and, in the
same transaction, creates the messages they call for, so an effect is
announced once however often the dispatch job runs. Sending is `sending.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.db import insert_ignoring_conflict
from app.domain.customer_options.discounts import Goodwill, goodwill_for_delay
from app.domain.inventory.models import CustomerOrder, Effect, OrderLine, ShopSettings, Variant
from app.domain.notifications import rules
from app.domain.notifications.links import StatusLinks
from app.domain.notifications.models import Channel, Kind, Notification, SmsConsent, Status
from app.domain.notifications.rendering import LineView, MessageContent, render
from app.domain.notifications.rules import EffectRow, LineUpdate, NotifySettings, Told
from app.domain.shops.models import Shop

# Statuses of messages that told (or will tell) the customer something.
TELLING = (Status.PENDING, Status.SCHEDULED, Status.SENDING, Status.SENT)


@dataclass(frozen=True)
class Queued:
    """A new notification and when its send job should run (None: now)."""

    notification_id: int
    send_after: datetime | None = None


@dataclass
class Dispatched:
    queued: list[Queued] = field(default_factory=list)
    recheck_at: datetime | None = None  # effects still settling: dispatch again then


def notify_settings(session: Session, shop_id: int) -> NotifySettings:
    """The shop's notification settings (defaults when it has none)."""
    extra = session.scalar(select(ShopSettings.extra).where(ShopSettings.shop_id == shop_id))
    return NotifySettings.from_extra(extra)


def dispatch_effects(session: Session, shop_id: int, *, links: StatusLinks,
                     now: datetime) -> Dispatched:
    """Create the messages for a shop's settled effects and mark those effects consumed."""
    effects = _pending_effects(session, shop_id)
    shop = session.get(Shop, shop_id)
    if not effects or shop is None:
        return Dispatched()
    settings = notify_settings(session, shop_id)
    rows = _effect_rows(session, shop_id, effects)
    if not shop.active:  # uninstalled: nobody to speak for, consume everything
        _consume(effects, rows, {r.order_id for r in rows.values()}, now)
        return Dispatched()
    ready, recheck = rules.ready_orders(
        rows.values(), now=now, window=timedelta(seconds=settings.group_window_seconds),
        max_wait=timedelta(seconds=settings.max_group_wait_seconds))
    result = Dispatched(recheck_at=recheck)
    for order_id in sorted(ready):
        batch = [row for row in rows.values() if row.order_id == order_id]
        result.queued += _dispatch_order(session, shop, settings, order_id, batch, links, now)
    _consume(effects, rows, ready, now)
    return result


def _consume(effects: Sequence[Effect], rows: dict[int, EffectRow], orders: set,
             now: datetime) -> None:
    # Effects no order can be found for are consumed too: nobody could be told.
    for effect in effects:
        if rows[effect.id].order_id is None or rows[effect.id].order_id in orders:
            effect.dispatched_at = now


def _pending_effects(session: Session, shop_id: int) -> list[Effect]:
    # FOR UPDATE: a concurrent dispatch waits, then sees these as dispatched.
    return list(session.scalars(
        select(Effect).where(Effect.shop_id == shop_id, Effect.dispatched_at.is_(None),
                             Effect.kind.in_([str(k) for k in rules.CUSTOMER_EFFECTS]))
        .order_by(Effect.id).with_for_update()))


def _effect_rows(session: Session, shop_id: int, effects: Sequence[Effect]) -> dict[int, EffectRow]:
    """Plain rows for the rules, with the order found through the line where it is missing."""
    missing = {e.line_item_id for e in effects if e.order_id is None and e.line_item_id}
    order_of = dict(session.execute(
        select(OrderLine.line_item_id, CustomerOrder.order_id).join(CustomerOrder)
        .where(OrderLine.shop_id == shop_id, OrderLine.line_item_id.in_(missing)))) \
        if missing else {}
    return {e.id: EffectRow(e.id, e.order_id or order_of.get(e.line_item_id), e.line_item_id,
                            e.kind, e.old, e.new, rules.as_utc(e.created_at)) for e in effects}


def _dispatch_order(session: Session, shop: Shop, settings: NotifySettings, order_id: int,
                    batch: list[EffectRow], links: StatusLinks, now: datetime) -> list[Queued]:
    order = load_order(session, shop.id, order_id)
    if order is None:
        return []
    told = told_states(session, shop.id, order_id)
    by_line: dict[int, list[EffectRow]] = defaultdict(list)
    for row in batch:
        if row.line_item_id is not None:
            by_line[row.line_item_id].append(row)
    updates = [u for line_id, rows in by_line.items()
               if (u := rules.line_update(line_id, rows, told.get(line_id),
                                          threshold_days=settings.eta_change_threshold_days))]
    basis = ["effects", *sorted(r.id for r in batch)]
    return create_messages(session, shop, settings, order, updates, basis=basis, links=links,
                           now=now)


def load_order(session: Session, shop_id: int, order_id: int) -> CustomerOrder | None:
    return session.scalar(select(CustomerOrder).options(selectinload(CustomerOrder.lines))
                          .where(CustomerOrder.shop_id == shop_id,
                                 CustomerOrder.order_id == order_id))


def told_states(session: Session, shop_id: int, order_id: int) -> dict[int, Told]:
    """What the customer was last told about each line of the order, from earlier messages."""
    told: dict[int, Told] = {}
    # Sorted here, not by ORDER BY id: that invites the planner to walk the primary key
    # through every message of every order once the statistics are stale (bench/README.md).
    rows = session.execute(select(Notification.id, Notification.lines).where(
        Notification.shop_id == shop_id, Notification.order_id == order_id,
        Notification.status.in_(TELLING))).all()
    for _, lines in sorted(rows, key=lambda row: row[0]):
        for entry in lines or []:
            told[entry["line_item_id"]] = Told(entry["state"], rules.parse_day(entry.get("eta")))
    return told


def create_messages(session: Session, shop: Shop, settings: NotifySettings,
                    order: CustomerOrder, updates: Sequence[LineUpdate], *, basis: Sequence,
                    links: StatusLinks, now: datetime,
                    goodwill: Goodwill | None = None) -> list[Queued]:
    """One message per channel for these line updates; returns the ones to send."""
    if not updates:
        return []
    lines = {line.line_item_id: line for line in order.lines}
    content = _content(session, shop, order, lines, updates, links)
    if goodwill is not None:
        content = replace(content, discount_code=goodwill.code, discount_text=goodwill.text)
    queued, told_someone = [], False
    for channel, recipient, suppressed in recipients(session, shop.id, settings, order):
        told_someone = told_someone or not suppressed
        message = _Message(channel, recipient, suppressed,
                           rules.dedup_key(channel, order.order_id, basis))
        item = _insert(session, shop, settings, order, content, message, now)
        queued += [item] if item is not None else []
    if told_someone:
        _remember_promises(lines, updates)
    return queued


@dataclass(frozen=True)
class _Message:
    channel: Channel
    recipient: str
    suppressed: str | None  # why it is not sent, or None
    dedup_key: str


def _content(session: Session, shop: Shop, order: CustomerOrder, lines: dict[int, OrderLine],
             updates: Sequence[LineUpdate], links: StatusLinks) -> MessageContent:
    titles = _variant_titles(session, shop.id, lines.values())
    views = [_view(lines.get(u.line_item_id), u, titles) for u in updates]
    return MessageContent(shop.name or shop.domain, order.name or f"#{order.order_id}",
                          rules.headline(u.kind for u in updates), views,
                          links.url(shop.id, order.order_id), shop.locale or "en",
                          customer_first_name=order.customer_first_name)


def _insert(session: Session, shop: Shop, settings: NotifySettings, order: CustomerOrder,
            content: MessageContent, message: _Message, now: datetime) -> Queued | None:
    """Store the message unless its key exists; the Queued to send when it is new."""
    rendered = render(content, message.channel, settings.templates)
    send_after = (rules.next_allowed_send(now, shop.timezone, settings.quiet_hours)
                  if message.channel == Channel.SMS else now)
    status = (Status.SUPPRESSED if message.suppressed
              else Status.SCHEDULED if send_after > now else Status.PENDING)
    values = dict(shop_id=shop.id, order_id=order.order_id, kind=str(content.kind),
                  dedup_key=message.dedup_key, channel=str(message.channel),
                  recipient=message.recipient, subject=rendered.subject, body=rendered.text,
                  html=rendered.html, lines=_told_json(content.lines), status=str(status),
                  send_after=send_after, created_at=now, updated_at=now, attempts=0,
                  last_error=message.suppressed)
    new_id = insert_ignoring_conflict(session, Notification.__table__, values,
                                      ["shop_id", "dedup_key"])
    if new_id is None or message.suppressed:
        return None
    return Queued(new_id, send_after if status == Status.SCHEDULED else None)


def recipients(session: Session, shop_id: int, settings: NotifySettings,
               order: CustomerOrder) -> list[tuple[Channel, str, str | None]]:
    """(channel, address, why it is suppressed or None) for each channel the order can get."""
    found: list[tuple[Channel, str, str | None]] = []
    email = rules.email_address(order.email)
    if settings.email_enabled and email:
        found.append((Channel.EMAIL, email, None))
    phone = rules.e164(order.phone)
    if settings.sms_enabled and phone:
        found.append((Channel.SMS, phone,
                      "the customer opted out of SMS" if opted_out(session, shop_id, phone)
                      else None))
    return found


def opted_out(session: Session, shop_id: int, phone: str | None) -> bool:
    return bool(phone) and bool(session.scalar(
        select(SmsConsent.opted_out).where(SmsConsent.shop_id == shop_id,
                                           SmsConsent.phone == phone)))


def _title(line: OrderLine) -> str:
    return line.title or "an item"


def _view(line: OrderLine | None, update: LineUpdate, variant_titles: dict) -> LineView:
    if line is None:
        return LineView("an item", 1, update)
    variant_title = variant_titles.get(line.variant_id)
    if update.kind == Kind.CANCELLED and line.released_quantity:
        # Exactly the units given up, and those that still ship when only some were.
        return LineView(_title(line), line.released_quantity, update, variant_title,
                        line.quantity, still_ships=max(0, line.open_quantity))
    return LineView(_title(line), _quantity(line), update, variant_title, line.quantity)


def _variant_titles(session: Session, shop_id: int, lines) -> dict[int, str]:
    """The lines' variant titles; Shopify names a product's only variant "Default Title"."""
    ids = {line.variant_id for line in lines if line.variant_id is not None}
    rows = session.execute(select(Variant.variant_id, Variant.title).where(
        Variant.shop_id == shop_id, Variant.variant_id.in_(ids))) if ids else []
    return {vid: title for vid, title in rows if title and title != "Default Title"}


def _quantity(line: OrderLine) -> int:
    return line.backordered or max(line.quantity - line.fulfilled_quantity, 0) or line.quantity


def _told_json(views: Sequence[LineView]) -> list[dict]:
    out = []
    for view in views:
        after = rules.told_after(view.update)
        out.append({"line_item_id": view.update.line_item_id, "title": view.title,
                    "quantity": view.quantity, "kind": str(view.update.kind),
                    "state": after.state, "eta": after.eta.isoformat() if after.eta else None})
    return out


def _remember_promises(lines: dict[int, OrderLine], updates: Sequence[LineUpdate]) -> None:
    # The first date told is the promise (FTC mail-order rule); a delay notice renews it.
    for update in updates:
        line = lines.get(update.line_item_id)
        if line is None or update.eta is None:
            continue
        if update.kind == Kind.DELAY_NOTICE or (
                update.kind in (Kind.BACKORDERED, Kind.ETA_CHANGED) and line.promised_eta is None):
            line.promised_eta = update.eta


# --- delay notices ------------------------------------------------------------

def queue_delay_notices(session: Session, shop_id: int, *, links: StatusLinks,
                        now: datetime) -> list[Queued]:
    """Delay notices for backordered lines whose promised date has passed (shop's local day)."""
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.active:
        return []
    today = rules.local_today(now, shop.timezone)
    settings = notify_settings(session, shop_id)
    queued: list[Queued] = []
    for lines in _overdue_by_order(session, shop_id, today).values():
        updates = [rules.delay_update(x.line_item_id, promised=x.promised_eta, eta=x.eta,
                                      today=today) for x in lines]
        # The same promise and the same news never make a second notice.
        basis = ["delay", *(f"{u.line_item_id}:{u.old_eta}:{u.eta}" for u in updates)]
        if _already_told(session, shop_id, lines[0].order.order_id, basis):
            continue  # asked before reserving a goodwill code that no message would carry
        goodwill = goodwill_for_delay(session, shop, lines[0].order, updates, now=now)
        queued += create_messages(session, shop, settings, lines[0].order, updates,
                                  basis=basis, links=links, now=now, goodwill=goodwill)
    return queued


def _already_told(session: Session, shop_id: int, order_id: int, basis: Sequence) -> bool:
    keys = [rules.dedup_key(str(channel), order_id, basis) for channel in Channel]
    return session.scalar(select(Notification.id).where(
        Notification.shop_id == shop_id, Notification.dedup_key.in_(keys)).limit(1)) is not None


def _overdue_by_order(session: Session, shop_id: int, today) -> dict[int, list[OrderLine]]:
    overdue = session.scalars(
        select(OrderLine).join(CustomerOrder)
        .where(OrderLine.shop_id == shop_id, OrderLine.backordered > 0,
               OrderLine.cancelled_by_customer.is_(False), OrderLine.promised_eta < today,
               CustomerOrder.cancelled_at.is_(None))
        .order_by(OrderLine.order_pk, OrderLine.line_item_id))
    by_order: dict[int, list[OrderLine]] = defaultdict(list)
    for line in overdue:
        by_order[line.order_pk].append(line)
    return by_order


def active_shop_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Shop.id).where(Shop.active.is_(True)).order_by(Shop.id)))
