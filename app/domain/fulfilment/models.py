"""Orders whose fulfilment holds and tag Shopify may not show yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, PrimaryKeyConstraint, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.base import Base, UtcDateTime, shop_fk


class FulfilmentSync(Base):
    """One order's holds and tag to bring in step with its lines.

    Every change to a line's backordered units bumps `version` and makes the order due
    now; a run that read version v clears `due_at` only if the version is still v, so a
    change made while it talked to Shopify is never lost.
    """

    __tablename__ = "fulfilment_syncs"
    __table_args__ = (PrimaryKeyConstraint("shop_id", "order_id"),
                      Index("ix_fulfilment_syncs_due", "shop_id", "due_at",
                            postgresql_where=text("due_at IS NOT NULL"),
                            sqlite_where=text("due_at IS NOT NULL")))

    shop_id: Mapped[int] = shop_fk()
    order_id: Mapped[int] = mapped_column(BigInteger)  # Shopify's
    version: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
