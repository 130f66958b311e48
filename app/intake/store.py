"""The raw store statement of webhook intake: many deliveries in one INSERT.

The domain says what a delivery is stored with (`inbox_row`) and what became of it
(`Recorded`); this is how the inbox writer (writer.py) stores a batch of them in one
round trip, tuned for the web process's CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import (
    Boolean,
    Connection,
    String,
    and_,
    bindparam,
    case,
    exists,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql

from app.db import fetch_native, ignoring_conflict
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.intake.service import Recorded
from app.domain.shops.models import Shop

# Compiles the column types the SQL text casts to (`_record_many_sql`)
_PG_DIALECT = postgresql.dialect()


def record_deliveries(connection: Connection, rows: Sequence[dict]) -> list[Recorded]:
    """Store each delivery once, in the order given; duplicates (of stored rows or of an
    earlier row in `rows`) are recognised by the (shop, key) constraint.

    The shop and the status are looked up inside the INSERT. On PostgreSQL every row goes
    in one statement (one round trip, one commit however many deliveries wait); SQLite,
    the local default, takes them one statement each.
    """
    if connection.dialect.name != "postgresql":
        statement = _record_statement(connection.dialect.name)
        return [_recorded(connection.execute(statement, row).first()) for row in rows]
    values = tuple(row[name] for row in rows for name in _VALUES)
    stored = {(domain, key): (event_id, pending) for event_id, pending, domain, key
              in fetch_native(connection, _record_many_sql(len(rows)), values)}
    # pop: of two rows with one key, the first is stored and the second is its duplicate
    return [_recorded(stored.pop((row["shop_domain"], row["dedup_key"]), None)) for row in rows]


def _recorded(row) -> Recorded:
    """From (id, pending, ...) as RETURNING gives it; None: nothing stored, a duplicate."""
    if row is None:
        return Recorded(event_id=None, pending=False)
    return Recorded(event_id=row[0], pending=bool(row[1]))


_COPIED = ("shop_domain", "topic", "dedup_key", "webhook_id", "event_id", "api_version",
           "triggered_at", "received_at", "resource_id", "payload")
_FLAGS = ("handled", "compliance")
_VALUES = (*_COPIED, *_FLAGS)


@lru_cache(maxsize=2)
def _record_statement(dialect: str):
    """One row, built once per dialect: RECEIVED for a handled topic of a known, active
    shop (any shop for compliance topics), IGNORED otherwise."""
    table = WebhookEvent.__table__
    domain = bindparam("shop_domain")
    values = {name: bindparam(name, type_=table.c[name].type) for name in _COPIED}
    return ignoring_conflict(
        dialect, table, {**values, **_derived(domain, *(bindparam(flag, type_=Boolean)
                                                        for flag in _FLAGS))},
        ["shop_domain", "dedup_key"], returning=_returned(table))


@lru_cache(maxsize=64)
def _record_many_sql(rows: int) -> str:
    """PostgreSQL, `rows` rows: the rule of `_record_statement` (a test holds the two to
    one answer), as SQL text with the server's placeholders ($1 ...), run on the driver
    (`fetch_native`). Every value is a plain parameter, cast in the VALUES list: psycopg
    adapts arrays in Python, and the same INSERT built with SQLAlchemy's values() costs
    far more CPU than this text (bench/README.md)."""
    table = WebhookEvent.__table__
    casts = [_pg_type(table.c[name].type) for name in _COPIED] + ["boolean", "boolean"]
    width = len(casts)
    values = ", ".join(
        "(" + ", ".join(f"${n * width + i}::{cast}" for i, cast in enumerate(casts, 1)) + ")"
        for n in range(rows))
    received, ignored = (f"'{status.name}'" for status in (EventStatus.RECEIVED,
                                                             EventStatus.IGNORED))
    return (f"INSERT INTO webhook_events ({', '.join(_COPIED)}, shop_id, status, attempts) "
            f"SELECT {', '.join('incoming.' + name for name in _COPIED)}, shops.id, "
            f"CASE WHEN incoming.handled AND shops.id IS NOT NULL "
            f"AND (shops.active OR incoming.compliance) THEN {received} ELSE {ignored} END, 0 "
            f"FROM (VALUES {values}) AS incoming ({', '.join(_VALUES)}) "
            f"LEFT JOIN shops ON shops.domain = incoming.shop_domain "
            f"ON CONFLICT (shop_domain, dedup_key) DO NOTHING "
            f"RETURNING id, status = {received} AS pending, shop_domain, dedup_key")


def _pg_type(kind) -> str:
    # text, not varchar(n): a value too long for its column fails the INSERT instead of
    # being cut to fit by the cast
    return "text" if isinstance(kind, String) else kind.compile(dialect=_PG_DIALECT)


def _derived(domain, handled, compliance) -> dict:
    """The columns computed in the database: the shop, the status, the attempt count."""
    eligible = exists().where(Shop.domain == domain,
                              or_(Shop.active.is_(True), compliance))
    status = case((and_(handled, eligible), _constant(EventStatus.RECEIVED)),
                  else_=_constant(EventStatus.IGNORED))
    return {"shop_id": select(Shop.id).where(Shop.domain == domain).scalar_subquery(),
            "status": status, "attempts": literal(0)}


def _returned(table) -> tuple:
    """After the id (`ignoring_conflict` returns it first): whether it is pending."""
    return ((table.c.status == _constant(EventStatus.RECEIVED)).label("pending"),)


def _constant(status: EventStatus):
    return literal(status, WebhookEvent.__table__.c.status.type)
