"""The webhook inbox: every accepted delivery, stored before it is acknowledged."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.base import Base, BigId, UtcDateTime, utcnow


class EventStatus(str, enum.Enum):
    RECEIVED = "received"      # stored, waiting for (or in) a worker
    PROCESSED = "processed"
    FAILED = "failed"          # gave up: last_error says why
    IGNORED = "ignored"        # unknown topic or shop: kept for the record


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("shop_domain", "dedup_key"),
        Index("ix_webhook_events_pending", "status", "received_at"),
        # A shop's waiting events in arrival order: what one batch of the engine takes.
        Index("ix_webhook_events_shop_waiting", "shop_id", "id",
              postgresql_where=text("status = 'RECEIVED'"),
              sqlite_where=text("status = 'RECEIVED'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_domain: Mapped[str] = mapped_column(String(255))
    shop_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(100))
    dedup_key: Mapped[str] = mapped_column(String(255))
    webhook_id: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255))
    api_version: Mapped[str | None] = mapped_column(String(20))
    triggered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    resource_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=20, validate_strings=True),
        default=EventStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
