"""What customers do and see: the status page, cancelling a line, SMS consent, delivery states."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from babel.dates import format_datetime
from babel.numbers import format_currency
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.customer_options import alternatives, order_edits, refunds
from app.domain.inventory import state
from app.domain.inventory.effects import CloseReason, EffectKind
from app.domain.inventory.models import CustomerOrder, Effect, OrderLine
from app.domain.notifications import rules
from app.domain.notifications.models import Notification, SmsConsent, Status
from app.domain.notifications.rendering import babel_locale, format_day
from app.domain.notifications.sending import Delivered, record_sent, set_consent
from app.domain.notifications.service import load_order
from app.domain.shops.models import Shop
from app.errors import Conflict, NotFound

# The merchant's alert: listed on the merchant page, never messaged to the customer.
LINE_CANCELLED_BY_CUSTOMER = "line_cancelled_by_customer"
KIND_LABELS = {"backordered": "Backorder notice", "eta_changed": "New expected date",
               "ready_to_ship": "Ready to ship", "cancelled": "Backorder cancelled",
               "delay_notice": "Delay notice"}

Recompute = Callable[[Session, int, Iterable[int]], list]


@dataclass(frozen=True)
class LineStatus:
    line_item_id: int
    title: str
    quantity: int
    state: str
    eta: str | None
    cancellable: bool
    backordered: int = 0  # units that may be cancelled on their own (the others are in stock)
    open_units: int = 0
    alternatives: tuple[alternatives.Offer, ...] = ()  # in stock now, one click to ask for
    switch_requested: str | None = None  # the alternative asked for, once asked
    refund: str | None = None  # what Shopify refunded for the cancelled units, once it did


@dataclass(frozen=True)
class SentMessage:
    when: str
    channel: str
    label: str
    subject: str
    delivery: str | None


@dataclass(frozen=True)
class StatusPage:
    shop_name: str
    order_name: str
    lines: list[LineStatus]
    messages: list[SentMessage]


def status_page(session: Session, shop_id: int, order_id: int) -> StatusPage:
    """The order as its customer sees it; NotFound when the shop or order is gone."""
    shop, order = _shop_and_order(session, shop_id, order_id)
    offers = alternatives.offers_for(session, shop_id, order.lines)
    asked = alternatives.requests_for(session, shop_id, order_id)
    refunded = refunds.refunded_lines(session, shop_id, order_id)
    lines = [replace(_line_status(line, shop.locale),
                     alternatives=tuple(offers.get(line.line_item_id, ()))
                     if line.line_item_id not in asked else (),
                     switch_requested=asked.get(line.line_item_id),
                     refund=_refund_text(refunded.get(line.line_item_id), shop.locale))
             for line in sorted(order.lines, key=lambda x: x.line_item_id)]
    return StatusPage(shop.name or shop.domain, order.name or f"#{order.order_id}", lines,
                      _history(session, shop, order_id))


def _refund_text(refund: tuple[Decimal, str, bool] | None, locale: str | None) -> str | None:
    """Never more than is true: "issued" until the payment provider confirms it."""
    if refund is None:
        return None
    amount, currency, confirmed = refund
    money = format_currency(amount, currency, locale=babel_locale(locale))
    return (f"Refunded to your payment: {money}" if confirmed
            else f"Refund of {money} issued; your payment provider is completing it")


def _shop_and_order(session: Session, shop_id: int, order_id: int) -> tuple[Shop, CustomerOrder]:
    shop = session.get(Shop, shop_id)
    order = load_order(session, shop_id, order_id) if shop is not None else None
    if shop is None or order is None:
        raise NotFound("We could not find this order.")
    return shop, order


def _line_status(line: OrderLine, locale: str | None) -> LineStatus:
    open_quantity = max(line.quantity - line.fulfilled_quantity, 0)
    kept = line.open_quantity
    if line.cancelled_by_customer:
        state = "Cancelled at your request"
    elif _cancelled_units(line) and kept:
        rest = (f"{line.backordered} of them backordered" if line.backordered
                else "ready to ship")
        state = (f"{_cancelled_units(line)} cancelled at your request; "
                 f"{kept} still {'ships' if kept == 1 else 'ship'}, {rest}")
    elif line.quantity == 0:
        state = "Cancelled"
    elif open_quantity == 0:
        state = "Shipped"
    elif line.backordered > 0:
        state = f"Backordered ({line.backordered} of {open_quantity})"
    else:
        state = "Ready to ship"
    return LineStatus(line.line_item_id, line.title or "Item", line.quantity, state,
                      format_day(line.eta, locale) if line.backordered > 0 else None,
                      cancellable=_cancellable(line),
                      backordered=line.backordered if _cancellable(line) else 0,
                      open_units=line.open_quantity)


def _cancellable(line: OrderLine) -> bool:
    return line.backordered > 0 and not line.cancelled_by_customer and not _cancelled_units(line)


def _cancelled_units(line: OrderLine) -> int:
    """Units the customer already gave up here while keeping the rest."""
    return int((line.cancel_refunds or {}).get(state.CUSTOMER_CANCEL_KEY, 0))


def _history(session: Session, shop: Shop, order_id: int) -> list[SentMessage]:
    rows = session.scalars(select(Notification)
                           .where(Notification.shop_id == shop.id,
                                  Notification.order_id == order_id,
                                  Notification.status == Status.SENT)
                           .order_by(Notification.sent_at, Notification.id))
    zone, locale = rules.shop_zone(shop.timezone), babel_locale(shop.locale)
    return [SentMessage(format_datetime(n.sent_at, "medium", tzinfo=zone, locale=locale),
                        "Email" if n.channel == "email" else "SMS",
                        KIND_LABELS.get(n.kind, n.kind), n.subject, n.delivery_status)
            for n in rows]


def request_switch(session: Session, shop_id: int, order_id: int, line_item_id: int,
                   variant_id: int, *, now: datetime) -> bool:
    """Ask for an in-stock alternative instead of a backordered line; False when asked before."""
    _, order = _shop_and_order(session, shop_id, order_id)
    line = _locked_line(session, order, line_item_id)
    return alternatives.request_switch(session, shop_id, order_id, line, variant_id, now=now)


def _variant_of(order: CustomerOrder, line_item_id: int) -> int | None:
    return next((line.variant_id for line in order.lines if line.line_item_id == line_item_id),
                None)


def _locked_line(session: Session, order: CustomerOrder, line_item_id: int) -> OrderLine:
    line = session.scalar(select(OrderLine).where(OrderLine.order_pk == order.id,
                                                  OrderLine.line_item_id == line_item_id)
                          .with_for_update())
    if line is None:
        raise NotFound("This item is not part of the order.")
    return line


def cancel_line(session: Session, shop_id: int, order_id: int, line_item_id: int, *,
                now: datetime, recompute: Recompute, only_backordered: bool = False) -> list:
    """Cancel a backordered line, or only its backordered units, at the customer's request;
    returns the intents to enqueue after commit.

    The units leave the queue (others move up), the merchant is alerted by an effect
    of kind `line_cancelled_by_customer`, and, when the shop allows it, a job sets the
    Shopify line to the units kept (customer_options.order_edits). `recompute` is the
    engine's, with what the suppliers will bring wired in.
    """
    _, order = _shop_and_order(session, shop_id, order_id)
    # The variant is locked before the line, in the order the webhook handlers lock them.
    state.lock_variants(session, shop_id, [v for v in (_variant_of(order, line_item_id),) if v])
    line = _locked_line(session, order, line_item_id)
    if not _cancellable(line):
        raise Conflict("This item can no longer be cancelled here.")
    backordered, eta = line.backordered, line.eta
    if only_backordered and backordered < line.open_quantity:
        units, kept = backordered, line.quantity - backordered
        state.cancel_units_for_customer(session, order, line, units, at=now)
        # The units that stay are covered where they stand in the queue: the customer is
        # told of the cancelled ones, not that the others became "ready to ship".
        line.backordered, line.eta = 0, None
        session.add(_effect(line, order_id, EffectKind.LINE_BACKORDER_CANCELLED.value,
                            eta.isoformat() if eta else None, CloseReason.CANCELLED.value, now))
    else:
        units, kept = line.open_quantity, None
        state.cancel_for_customer(session, order, line, at=now)
    session.add(_effect(line, order_id, LINE_CANCELLED_BY_CUSTOMER, str(units),
                        eta.isoformat() if eta else None, now))
    session.flush()
    intents = order_edits.record_cancellation(session, shop_id, order_id, line,
                                              cancelled_units=units, kept_units=kept, now=now)
    if line.variant_id:
        intents += recompute(session, shop_id, [line.variant_id])
    return intents


def _effect(line: OrderLine, order_id: int, kind: str, old: str | None, new: str | None,
            now: datetime) -> Effect:
    return Effect(shop_id=line.shop_id, variant_id=line.variant_id or 0, order_id=order_id,
                  line_item_id=line.line_item_id, kind=kind, old=old, new=new, created_at=now)


def record_keyword(session: Session, phone: str, word: str, *, now: datetime) -> int:
    """Apply STOP / START from an inbound SMS to every shop that knows the phone; returns how many.

    The sending number is shared by the shops, and carriers block the pair, so
    consent follows the phone, not one shop.
    """
    number = rules.e164(phone)
    if number is None or word not in ("stop", "start"):
        return 0
    shop_ids = _shops_knowing(session, number)
    for shop_id in shop_ids:
        set_consent(session, shop_id, number, opted_out=word == "stop",
                    source=f"sms:{word}", now=now)
    return len(shop_ids)


def _shops_knowing(session: Session, phone: str) -> list[int]:
    known = set(session.scalars(select(SmsConsent.shop_id).where(SmsConsent.phone == phone)))
    # Orders keep phones as typed ("+1 415-555-0100"): narrow on the last four digits,
    # which separators rarely split, then compare normalised.
    candidates = session.execute(select(CustomerOrder.shop_id, CustomerOrder.phone)
                                 .where(CustomerOrder.phone.like(f"%{phone[-4:]}"))
                                 .distinct())
    known |= {shop_id for shop_id, raw in candidates if rules.e164(raw) == phone}
    known |= set(session.scalars(select(Notification.shop_id).where(
        Notification.recipient == phone).distinct()))
    return sorted(known)


def record_delivery_status(session: Session, *, sid: str, status: str,
                           error_code: str | None, notification_id: int | None,
                           now: datetime) -> bool:
    """Apply a Twilio status callback; False when no message matches it."""
    row = session.scalar(select(Notification).where(Notification.provider_id == sid)
                         .with_for_update())
    if row is None and notification_id is not None:
        # The callback URL names the message: repairs a row whose worker died before recording.
        row = session.get(Notification, notification_id, with_for_update=True)
        if row is None or row.provider_id not in (None, sid):
            return False
        record_sent(session, row.id, Delivered(sid, None), now=now)
    if row is None:
        return False
    if rules.newer_delivery_status(row.delivery_status, status):
        row.delivery_status, row.updated_at = status, now
        if error_code:
            row.error_code = str(error_code)[:20]
    return True

