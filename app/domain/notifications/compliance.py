"""customers/redact and customers/data_request for what notifications store.

Registered with the compliance handlers when this package is imported.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.domain.customers.service import EXPORTERS, REDACTORS, Subject
from app.domain.inventory.models import CustomerOrder
from app.domain.notifications import rules
from app.domain.notifications.models import Channel, Notification, SmsConsent


def _reach(session: Session, subject: Subject) -> tuple[set[int], set[str], set[str]]:
    """(order ids, emails, phones) that belong to the customer."""
    conditions = [CustomerOrder.order_id.in_(subject.order_ids)] if subject.order_ids else []
    if subject.customer_id is not None:
        conditions.append(CustomerOrder.customer_id == subject.customer_id)
    if subject.email:
        conditions.append(CustomerOrder.email == subject.email)
    orders = session.execute(select(CustomerOrder.order_id, CustomerOrder.email,
                                    CustomerOrder.phone)
                             .where(CustomerOrder.shop_id == subject.shop_id,
                                    or_(*conditions))).all() if conditions else []
    order_ids = set(subject.order_ids) | {o.order_id for o in orders}
    # Messages keep their own recipients: found even if another redactor blanked the order.
    sms_to = session.scalars(select(Notification.recipient).where(
        Notification.shop_id == subject.shop_id, Notification.order_id.in_(order_ids),
        Notification.channel == Channel.SMS)) if order_ids else []
    emails = {e for e in [subject.email, *(o.email for o in orders)] if e}
    phones = {p for p in (rules.e164(x) for x in
                          [subject.phone, *(o.phone for o in orders), *sms_to]) if p}
    return order_ids, emails, phones


def _notifications(subject: Subject, order_ids: set[int], addresses: set[str]):
    return (Notification.shop_id == subject.shop_id,
            or_(Notification.order_id.in_(order_ids), Notification.recipient.in_(addresses)))


def redact_notifications(session: Session, subject: Subject) -> None:
    """Erase the customer's phone, email, first name and message bodies, and their SMS
    consent rows."""
    order_ids, emails, phones = _reach(session, subject)
    if order_ids:
        session.execute(update(CustomerOrder).where(CustomerOrder.shop_id == subject.shop_id,
                                                    CustomerOrder.order_id.in_(order_ids))
                        .values(customer_first_name=None))
    session.execute(update(Notification)
                    .where(*_notifications(subject, order_ids, emails | phones))
                    .values(recipient=None, subject="", body="", html=None, lines=[]))
    if phones:
        session.execute(delete(SmsConsent).where(SmsConsent.shop_id == subject.shop_id,
                                                 SmsConsent.phone.in_(phones)))


def export_notifications(session: Session, subject: Subject) -> dict:
    """Every message kept for the customer and their SMS consent."""
    order_ids, emails, phones = _reach(session, subject)
    rows = session.scalars(select(Notification)
                           .where(*_notifications(subject, order_ids, emails | phones))
                           .order_by(Notification.id))
    consents = session.scalars(select(SmsConsent).where(SmsConsent.shop_id == subject.shop_id,
                                                        SmsConsent.phone.in_(phones)))
    return {"messages": [_message(n) for n in rows],
            "sms_consent": [{"phone": c.phone, "opted_out": c.opted_out,
                             "updated_at": c.updated_at.isoformat()} for c in consents]}


def _message(n: Notification) -> dict:
    return {"order_id": n.order_id, "channel": n.channel, "kind": n.kind,
            "recipient": n.recipient, "subject": n.subject, "body": n.body, "status": n.status,
            "delivery_status": n.delivery_status, "created_at": n.created_at.isoformat(),
            "sent_at": n.sent_at.isoformat() if n.sent_at else None}


def register() -> None:
    """Add the redactor and exporter once (importing twice must not register twice)."""
    if redact_notifications not in REDACTORS:
        REDACTORS.append(redact_notifications)
    if all(name != "notifications" for name, _ in EXPORTERS):
        EXPORTERS.append(("notifications", export_notifications))


register()
