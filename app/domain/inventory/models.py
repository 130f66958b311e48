"""Catalog and demand state: variants, inventory levels, orders and lines, effects.

Every table carries shop_id, so one shop's data is always found (and erased)
by that column alone.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.base import Base, BigId, UtcDateTime, shop_fk, utcnow


class Variant(Base):
    """A Shopify variant and what the engine last decided for it."""

    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("shop_id", "variant_id"),
                      Index("ix_variants_item", "shop_id", "inventory_item_id"),
                      Index("ix_variants_push", "shop_id", "push_pending"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    variant_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int | None] = mapped_column(BigInteger)
    inventory_item_id: Mapped[int | None] = mapped_column(BigInteger)
    sku: Mapped[str | None] = mapped_column(String(255), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    product_title: Mapped[str] = mapped_column(String(255), default="")
    tracked: Mapped[bool] = mapped_column(Boolean, default=True)
    managed: Mapped[bool] = mapped_column(Boolean, default=True)  # merchant may opt a variant out
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    details_known: Mapped[bool] = mapped_column(Boolean, default=False)
    # The Admin API confirmed the item's levels (possibly none): its stock is known.
    stock_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    details_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    shopify_policy: Mapped[str | None] = mapped_column(String(10))  # as Shopify last told us
    # The engine's decision, stored so the next recompute can diff against it.
    status: Mapped[str | None] = mapped_column(String(20))
    next_eta: Mapped[date | None] = mapped_column(Date)
    capacity: Mapped[int | None] = mapped_column(Integer)
    backordered_units: Mapped[int] = mapped_column(Integer, default=0)
    desired_policy: Mapped[str | None] = mapped_column(String(10))  # None: never pushed
    recomputed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Inputs of the last full allocation, so an order appended at the back of the queue
    # (the flash-sale case) is allocated without reading every open line again.
    alloc_on_hand: Mapped[int | None] = mapped_column(Integer)
    alloc_total_open: Mapped[int | None] = mapped_column(BigInteger)
    alloc_checksum: Mapped[int | None] = mapped_column(BigInteger)
    alloc_tail_placed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    alloc_tail_line_id: Mapped[int | None] = mapped_column(BigInteger)
    alloc_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Open demand of the variant's lines (units, and units weighted by line id), kept in
    # step by every write of a line's open quantity (state.py), so a recompute knows
    # whether anything in front of the queue changed without summing every open line.
    # Checked against the lines themselves now and then (service.py): a drift is
    # repaired and logged, never trusted for long.
    open_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    open_checksum: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    open_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # What was last written to Shopify; a push happens only when these differ.
    pushed_policy: Mapped[str | None] = mapped_column(String(10))
    pushed_status: Mapped[str | None] = mapped_column(String(20))
    pushed_eta: Mapped[date | None] = mapped_column(Date)
    push_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # Flash sales (DESIGN.md): Shopify sells until DENY arrives, so a variant selling fast
    # is closed while the orders already on their way can still fit under the cap.
    # Units that ever joined the variant's open demand (only ever grows), the count the
    # sale rate last took in, the rate itself (units a second, decaying over time) and
    # the fastest it recently was (rules.peak_rate).
    queued_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    rate_queued_units: Mapped[int] = mapped_column(BigInteger, default=0,
                                                   server_default=text("0"))
    sale_rate: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    sale_rate_peak: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    sale_rate_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Why the variant was closed before its cap (None: it was not): the units the cap still
    # allowed and the sale rate then, so the merchant's page can say so.
    closed_early_left: Mapped[int | None] = mapped_column(Integer)
    closed_early_rate: Mapped[float | None] = mapped_column(Float)
    # The newest order the engine knew of when it decided DENY: the push measures the time
    # from that order to DENY at Shopify against it.
    deny_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class InventoryLevel(Base):
    """`available` of one inventory item at one location, newest snapshot wins."""

    __tablename__ = "inventory_levels"
    __table_args__ = (UniqueConstraint("shop_id", "inventory_item_id", "location_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    inventory_item_id: Mapped[int] = mapped_column(BigInteger)
    location_id: Mapped[int] = mapped_column(BigInteger)
    available: Mapped[int] = mapped_column(Integer, default=0)
    source_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Units the app added to `available` itself (a PO received on its page) since
    # Shopify's snapshot: `available - local_added` is what Shopify last reported.
    local_added: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class CustomerOrder(Base):
    """A storefront order, as of its newest snapshot (`source_updated_at`)."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("shop_id", "order_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    order_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    customer_first_name: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order",
                                                  cascade="all, delete-orphan")


class OrderLine(Base):
    """One line item; its open quantity is what still waits for stock."""

    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("shop_id", "line_item_id"),
                      Index("ix_order_lines_queue", "shop_id", "variant_id", "placed_at",
                            "line_item_id"),
                      # Lines released after a stock snapshot are still counted in it.
                      # Partial: only released lines, so queue reads never pick this one.
                      Index("ix_order_lines_released", "shop_id", "variant_id", "released_at",
                            postgresql_where=text("released_at IS NOT NULL"),
                            sqlite_where=text("released_at IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    order_pk: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"),
                                          index=True)
    line_item_id: Mapped[int] = mapped_column(BigInteger)
    variant_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(255), default="")
    ordered_quantity: Mapped[int] = mapped_column(Integer)  # as first ordered
    quantity: Mapped[int] = mapped_column(Integer)  # current quantity after edits and removals
    fulfilled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    # Refund line items that cancelled units ({refund line item id: quantity}): a refund
    # webhook may arrive before the order update that reflects it.
    cancel_refunds: Mapped[dict] = mapped_column(JSON, default=dict)
    # Units still waiting to ship, kept in step with the fields above on every write,
    # so the recompute reads only open (or previously backordered) lines.
    open_quantity: Mapped[int] = mapped_column(Integer, default=0)
    placed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the order's, for the queue
    # Units released (cancelled or refunded before shipping) and when: an inventory
    # snapshot older than the release still counts them as committed.
    released_quantity: Mapped[int] = mapped_column(Integer, default=0)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_by_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # The engine's last decision for this line.
    backordered: Mapped[int] = mapped_column(Integer, default=0)
    eta: Mapped[date | None] = mapped_column(Date)
    promised_eta: Mapped[date | None] = mapped_column(Date)  # the first date told to the customer
    order: Mapped[CustomerOrder] = relationship(back_populates="lines")


class Effect(Base):
    """A difference the recompute found: what notifications and reorders act on."""

    __tablename__ = "effects"
    __table_args__ = (
        Index("ix_effects_shop_created", "shop_id", "created_at"),
        # The follow-up sweeper looks for effects nobody acted on yet, every minute.
        Index("ix_effects_undispatched", "shop_id", postgresql_where=text("dispatched_at IS NULL"),
              sqlite_where=text("dispatched_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    variant_id: Mapped[int] = mapped_column(BigInteger)
    line_item_id: Mapped[int | None] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    old: Mapped[str | None] = mapped_column(String(64))
    new: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ShopSettings(Base):
    """The merchant's backorder, reorder and notification settings."""

    __tablename__ = "shop_settings"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id", ondelete="CASCADE"),
                                         primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default="auto")
    fixed_cap: Mapped[int | None] = mapped_column(Integer)
    buffer: Mapped[int] = mapped_column(Integer, default=0)
    handling_days: Mapped[int] = mapped_column(Integer, default=1)
    counted_location_ids: Mapped[list | None] = mapped_column(JSON)  # None: every location
    extra: Mapped[dict] = mapped_column(JSON, default=dict)  # reorder and notification settings
    # Hold backordered units on their fulfillment orders. New shops start with it on;
    # shops from before the setting existed keep shipping as they did until they turn it on.
    hold_backorders: Mapped[bool] = mapped_column(Boolean, default=True,
                                                  server_default=text("false"))


class VariantOverride(Base):
    """Per-product or per-variant exceptions to the shop's settings."""

    __tablename__ = "variant_overrides"
    __table_args__ = (UniqueConstraint("shop_id", "product_id", "variant_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = shop_fk()
    product_id: Mapped[int | None] = mapped_column(BigInteger)
    variant_id: Mapped[int | None] = mapped_column(BigInteger)
    mode: Mapped[str | None] = mapped_column(String(10))
    fixed_cap: Mapped[int | None] = mapped_column(Integer)
    buffer: Mapped[int | None] = mapped_column(Integer)
    handling_days: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
