"""Shops that installed the app, with their Admin API token encrypted at rest.

A public-app install holds an expiring offline token: the access token lasts an hour
and its refresh token (also encrypted) buys the next one. A custom-app token from
`backorder shops add` has neither expiry nor refresh token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.base import Base, BigId, UtcDateTime, utcnow


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    token_ciphertext: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    refresh_token_ciphertext: Mapped[str | None] = mapped_column(Text)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    scopes: Mapped[str] = mapped_column(String(1000), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    needs_reinstall: Mapped[bool] = mapped_column(Boolean, default=False)
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    name: Mapped[str] = mapped_column(String(255), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # Measured seconds from an order to DENY at Shopify (a moving average over the shop's
    # closes): how long orders keep coming once the service decided to stop selling.
    order_to_deny_seconds: Mapped[float | None] = mapped_column(Float)
    # Cookie sessions carry the version they were opened under; logging out bumps it.
    # Server default only: INSERTs written for an older schema must not name the column.
    session_version: Mapped[int] = mapped_column(Integer, server_default="0")

    def __repr__(self) -> str:  # never shows the token
        return f"<Shop {self.domain} active={self.active}>"
