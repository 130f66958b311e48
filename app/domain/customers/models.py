"""What is kept about customers for compliance: data-request exports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.base import Base, BigId, UtcDateTime, utcnow


class CustomerDataExport(Base):
    """The answer to a customers/data_request, for the merchant to hand over."""

    __tablename__ = "customer_data_exports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id", ondelete="CASCADE"),
                                         index=True)
    customer_id: Mapped[int | None] = mapped_column(BigId)
    customer_email: Mapped[str | None] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    content: Mapped[str] = mapped_column(Text)  # JSON document
