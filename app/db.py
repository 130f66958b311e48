"""Engine, sessions and the transaction boundary.

Services never commit. The boundary does: `unit_of_work` in web handlers,
CLI commands and the job wrapper. Enqueue work only after it returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs) -> Engine:
    """An engine tuned for the service: checked connections, SQLite made safe to share."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the web and worker processes read while the other writes.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    session = sessions()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def insert_ignoring_conflict(session: Session, table, values: dict, conflict_cols: list[str]):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id; None when the row already existed."""
    stmt = ignoring_conflict(session.get_bind().dialect.name, table, values, conflict_cols)
    return session.execute(stmt).scalar_one_or_none()


def ignoring_conflict(dialect: str, table, values: dict, conflict_cols: list[str], *,
                      returning: tuple = ()):
    """The statement INSERT ... ON CONFLICT DO NOTHING RETURNING id (and `returning`)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        dialect_insert = insert
    return (dialect_insert(table).values(**values)
            .on_conflict_do_nothing(index_elements=conflict_cols)
            .returning(table.c.id, *returning))


def fetch_native(connection: Connection, sql: str, params: Sequence) -> list[tuple]:
    """PostgreSQL: run SQL written with the server's own $1, $2 placeholders on the
    driver and fetch its rows, as tuples.

    psycopg rewrites its usual %s placeholders with a Python parser, and caches the result
    only for statements of at most 50 parameters: intake's shared INSERT (12 a row) was
    parsed again on every run, which cost more than sending it (bench/README.md). Errors
    come out as from `exec_driver_sql`: SQLAlchemy's, with a dropped connection
    invalidated.
    """
    if not connection.in_transaction():
        connection.begin()  # what executing through SQLAlchemy does: commit() then commits
    driver = connection.connection.driver_connection
    try:
        with psycopg.RawCursor(driver) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    except psycopg.Error as exc:
        dropped = connection.dialect.is_disconnect(exc, driver, None)
        if dropped:
            connection.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, psycopg.Error, hide_parameters=True,
                                  connection_invalidated=dropped,
                                  dialect=connection.dialect) from exc
