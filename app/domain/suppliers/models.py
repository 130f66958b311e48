"""Suppliers, what they sell, purchase orders and the lead times they really kept."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.base import Base, BigId, UtcDateTime, shop_fk, utcnow


class Supplier(Base):
    __tablename__ = "suppliers"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    endpoint_url: Mapped[str | None] = mapped_column(String(1000))  # HTTP channel, if any
    # Plain text before migration 0010 moved it into endpoint_secret_ciphertext; always
    # empty now, dropped in a later release (expand, then contract).
    endpoint_secret: Mapped[str | None] = mapped_column(String(255))
    endpoint_secret_ciphertext: Mapped[str | None] = mapped_column(Text)  # TokenCipher
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")


class SupplierItem(Base):
    """One row of a supplier catalog: a SKU this supplier can deliver, on what terms."""

    __tablename__ = "supplier_items"
    __table_args__ = (UniqueConstraint("shop_id", "supplier_id", "sku"),
                      Index("ix_supplier_items_sku", "shop_id", "sku"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("suppliers.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))
    supplier_sku: Mapped[str] = mapped_column(String(255))
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3))
    lead_time_days: Mapped[int] = mapped_column(Integer)
    moq: Mapped[int] = mapped_column(Integer, default=1)
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PoStatus(str, enum.Enum):
    DRAFT = "draft"
    # Claimed by a dispatch job: the supplier may be receiving it right now. A PO
    # stays here only if the worker died between the provider call and the commit.
    SENDING = "sending"
    SENT = "sent"
    CONFIRMED = "confirmed"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


OPEN_PO_STATUSES = (PoStatus.DRAFT, PoStatus.SENDING, PoStatus.SENT, PoStatus.CONFIRMED,
                    PoStatus.PARTIALLY_RECEIVED)
# Statuses in which the supplier may still confirm the PO or move its dates.
SUPPLIER_EDITABLE_STATUSES = (PoStatus.SENDING, PoStatus.SENT, PoStatus.CONFIRMED,
                              PoStatus.PARTIALLY_RECEIVED)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (UniqueConstraint("shop_id", "number"),
                      Index("ix_purchase_orders_open", "shop_id", "supplier_id", "status"),
                      # Coalescing, enforced by the database: whatever the planners do
                      # concurrently, a supplier never has two open drafts.
                      Index("uq_purchase_orders_one_draft", "shop_id", "supplier_id", unique=True,
                            postgresql_where=text("status = 'DRAFT'"),
                            sqlite_where=text("status = 'DRAFT'")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("suppliers.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[PoStatus] = mapped_column(
        Enum(PoStatus, native_enum=False, length=20, validate_strings=True), default=PoStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Set by the merchant (or by the auto-send setting): a dispatch job may send it.
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dispatch_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lines: Mapped[list[PurchaseOrderLine]] = relationship(back_populates="po",
                                                          cascade="all, delete-orphan")


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (Index("ix_po_lines_variant", "shop_id", "variant_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    po_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_orders.id", ondelete="CASCADE"),
                                       index=True)
    variant_id: Mapped[int] = mapped_column(BigInteger)  # Shopify variant id
    sku: Mapped[str] = mapped_column(String(255))
    supplier_sku: Mapped[str] = mapped_column(String(255), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    received_quantity: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=0)
    promised_lead_time_days: Mapped[int] = mapped_column(Integer, default=0)
    expected_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)  # the reorder decision, in one line
    po: Mapped[PurchaseOrder] = relationship(back_populates="lines")

    @property
    def open_quantity(self) -> int:
        return max(0, self.quantity - self.received_quantity)


class LeadTimeRecord(Base):
    """A received PO line: promised against actual lead time, for learning."""

    __tablename__ = "lead_time_records"
    __table_args__ = (Index("ix_lead_time_records_supplier", "shop_id", "supplier_id",
                            "received_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("suppliers.id", ondelete="CASCADE"))
    po_line_id: Mapped[int] = mapped_column(BigId, unique=True)
    promised_days: Mapped[int] = mapped_column(Integer)
    actual_days: Mapped[int] = mapped_column(Integer)
    received_on: Mapped[date] = mapped_column(Date)


class PoReceipt(Base):
    """Units of one PO line received on one occasion, and whether Shopify has them yet.

    Shopify's inventoryAdjustQuantities has no idempotency key, so each receipt
    is pushed at most once: push_status goes pending -> pushing (committed before
    the call) -> pushed, or to failed/unknown for the merchant (receiving.py).
    """

    __tablename__ = "po_receipts"
    __table_args__ = (Index("ix_po_receipts_po", "po_id", "push_status"),
                      Index("ix_po_receipts_stock", "shop_id", "inventory_item_id", "location_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    po_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_orders.id", ondelete="CASCADE"))
    po_line_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("purchase_order_lines.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(BigInteger)
    inventory_item_id: Mapped[int | None] = mapped_column(BigInteger)
    location_id: Mapped[int | None] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    push_status: Mapped[str] = mapped_column(String(10), default="pending")
    push_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    pushed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    push_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Units of this receipt Shopify's stock snapshots have not shown yet: the rise the
    # push causes is the app's own, never stock received in Shopify (shopify_receipts.py).
    echo_pending: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
