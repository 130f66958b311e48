"""Declarative base shared by every model; naming conventions keep migrations stable."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BIGINT_MAX, INTEGER_MAX = 2**63 - 1, 2**31 - 1


def whole_number(raw: str | None, low: int = 1, high: int = BIGINT_MAX) -> int | None:
    """A whole number from a form, query or URL within low..high; None unless it is one.

    The digits are measured before int() reads them: int() of thousands of digits is
    slow, then refused, and a number beyond BIGINT fails the query that binds it.
    """
    digits = (raw or "").strip()
    if not digits.isascii() or not digits.isdigit():
        return None
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        return None
    value = int(digits)
    return value if low <= value <= high else None


# BIGINT on PostgreSQL, INTEGER on SQLite so that autoincrement keeps working there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Timezone-aware datetimes in, timezone-aware UTC datetimes out, on every database.

    PostgreSQL keeps the zone (TIMESTAMPTZ); SQLite stores naive text, so values are
    normalised to UTC going in and marked UTC coming out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, datetime) and value.tzinfo is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def shop_fk(**kwargs):
    """The shop_id column every table carries: one shop's rows are found (and erased) by it."""
    return mapped_column(BigId, ForeignKey("shops.id", ondelete="CASCADE"), **kwargs)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
