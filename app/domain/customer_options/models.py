"""Rows for the customer's options: cancellations, alternatives, switch requests, discounts.

Each table carries a unique key that makes its write idempotent: one cancellation and one
switch request per line, one goodwill discount per order (and per code), so a double click,
a retried job or a replayed scan never creates a second row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.base import Base, BigId, UtcDateTime, shop_fk, utcnow


class EditStatus:
    OFF = "off"          # the shop does not edit orders on cancel: nothing to do
    PENDING = "pending"  # the edit job has not succeeded yet
    DONE = "done"        # Shopify's order no longer holds the cancelled units
    FAILED = "failed"    # will not be retried: edit_error says why (shown to the merchant)


class RefundStatus:
    OFF = "off"          # no refund by the app: the setting is off, or the order is not edited
    PENDING = "pending"  # to refund once the edit is done
    PROCESSING = "processing"  # made in Shopify; the payment provider has not confirmed it
    DONE = "done"        # refunded (refund_amount), or the units were free
    FAILED = "failed"    # will not be retried: refund_error says why (shown to the merchant)


class DiscountStatus:
    PENDING = "pending"
    CREATED = "created"
    FAILED = "failed"


class LineCancellation(Base):
    """A backordered line the customer cancelled on the status page, the Shopify edit, the refund."""

    __tablename__ = "line_cancellations"
    __table_args__ = (UniqueConstraint("shop_id", "line_item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    order_id: Mapped[int] = mapped_column(BigInteger)
    line_item_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(255), default="")
    quantity: Mapped[int] = mapped_column(Integer)  # units the customer cancelled
    # What stays on the Shopify line (the shipped units): the edit sets this, never less.
    kept_quantity: Mapped[int] = mapped_column(Integer, default=0)
    edit_status: Mapped[str] = mapped_column(String(12), default=EditStatus.OFF)
    edit_attempts: Mapped[int] = mapped_column(Integer, default=0)
    edit_error: Mapped[str | None] = mapped_column(Text)
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The refund of the cancelled units, after the edit (customer_options.refunds).
    refund_status: Mapped[str] = mapped_column(String(12), default=RefundStatus.OFF,
                                               server_default=RefundStatus.OFF)
    refund_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refund_error: Mapped[str | None] = mapped_column(Text)
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    refund_currency: Mapped[str | None] = mapped_column(String(3))
    refund_id: Mapped[int | None] = mapped_column(BigInteger)  # Shopify's Refund
    refunded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Alternative(Base):
    """An in-stock alternative the merchant offers for a product or one variant."""

    __tablename__ = "variant_alternatives"
    # Named by hand: the convention's name would pass PostgreSQL's 63-character limit.
    __table_args__ = (UniqueConstraint("shop_id", "scope", "target_id", "alternative_variant_id",
                                       name="uq_variant_alternatives_target"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    scope: Mapped[str] = mapped_column(String(10))  # "product" or "variant"
    target_id: Mapped[int] = mapped_column(BigInteger)
    alternative_variant_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SwitchRequest(Base):
    """A customer's request to receive an alternative instead of a backordered line."""

    __tablename__ = "switch_requests"
    __table_args__ = (UniqueConstraint("shop_id", "line_item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    order_id: Mapped[int] = mapped_column(BigInteger)
    line_item_id: Mapped[int] = mapped_column(BigInteger)
    from_variant_id: Mapped[int | None] = mapped_column(BigInteger)
    to_variant_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class OrderDiscount(Base):
    """The one goodwill discount code of an order, reserved before Shopify is asked."""

    __tablename__ = "order_discounts"
    __table_args__ = (UniqueConstraint("shop_id", "order_id"), UniqueConstraint("shop_id", "code"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    order_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12))  # "percentage" or "fixed_amount"
    value: Mapped[str] = mapped_column(String(20))  # a decimal, as text: no float rounding
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default=DiscountStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    discount_id: Mapped[int | None] = mapped_column(BigInteger)  # Shopify's DiscountCodeNode
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
