"""Customer messages (one per recipient and channel) and SMS consent.

`(shop_id, dedup_key)` is unique, and the key is derived from the effects a
message covers, so a redelivered dispatch, a retried job or a recompute can
never create the same message twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.base import Base, BigId, UtcDateTime, shop_fk, utcnow


class Status(StrEnum):
    PENDING = "pending"        # waiting for its send job
    SCHEDULED = "scheduled"    # SMS held back by quiet hours until send_after
    SENDING = "sending"        # claimed by a worker, the provider call may be under way
    SENT = "sent"              # the provider accepted it
    FAILED = "failed"          # will not be sent: last_error says why
    SUPPRESSED = "suppressed"  # deliberately not sent (the customer opted out)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Kind(StrEnum):
    BACKORDERED = "backordered"
    ETA_CHANGED = "eta_changed"
    READY_TO_SHIP = "ready_to_ship"
    CANCELLED = "cancelled"
    DELAY_NOTICE = "delay_notice"


class Notification(Base):
    """One message to one recipient on one channel."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("shop_id", "dedup_key"),
                      Index("ix_notifications_order", "shop_id", "order_id"),
                      Index("ix_notifications_status", "status", "updated_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    order_id: Mapped[int] = mapped_column(BigInteger)  # Shopify's order id
    dedup_key: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str | None] = mapped_column(String(320))  # None once redacted
    subject: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    # What the message told about each line; the next message compares against it.
    lines: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default=Status.PENDING)
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)  # Twilio SID
    delivery_status: Mapped[str | None] = mapped_column(String(20))  # from status callbacks
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    send_after: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SmsConsent(Base):
    """Whether a phone number may receive SMS from a shop (STOP / START, error 21610)."""

    __tablename__ = "sms_consents"
    __table_args__ = (UniqueConstraint("shop_id", "phone"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    phone: Mapped[str] = mapped_column(String(32))  # E.164
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(20), default="")  # inbound keyword or error code
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
