"""Engine, sessions and the transaction boundary.

Services never commit. The boundary does: `unit_of_work` in web handlers,
CLI commands and the job wrapper. Enqueue work only after it returns.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, insert
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
def single_statement(engine: Engine, prepared: PreparedStatements | None = None,
                     ) -> Iterator[Connection | PreparedStatements]:
    """Where a hot path runs its one statement, which is its whole transaction: the
    prepared statements when given (PostgreSQL), else a bare autocommit connection; no
    ORM session, no BEGIN and COMMIT round trips; durable once the statement returns."""
    if prepared is not None:
        yield prepared
        return
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


class PreparedStatements:
    """One autocommit psycopg connection per thread, for statements that run on every
    request (intake's INSERT): each is prepared on the server once per connection, and
    there is no pool checkout and no pre-ping round trip. A connection found broken
    (PostgreSQL restarted, backend terminated) is replaced and the statement tried once
    more: a statement that had committed before the break meets its own row on the retry
    and reads as a duplicate, which the inbox sweeper covers."""

    dialect_name = "postgresql"

    def __init__(self, engine: Engine):
        self._dialect = engine.dialect
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list = []
        self._statements: dict[object, _Compiled] = {}

    def first(self, statement, params: dict):
        """The statement's first row (a named tuple), or None."""
        import psycopg

        sql, values = self._compiled(statement).bind(params)
        try:
            return self._connection().execute(sql, values, prepare=True).fetchone()
        except psycopg.OperationalError:
            if not self._drop_if_broken():
                raise
            return self._connection().execute(sql, values, prepare=True).fetchone()

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            connection.close()

    def _compiled(self, statement) -> _Compiled:
        # Keyed by the statement object itself: statements run here are built once
        # (module constants, lru_cache), and the key keeps each alive.
        compiled = self._statements.get(statement)
        if compiled is None:
            compiled = self._statements[statement] = _Compiled(statement, self._dialect)
        return compiled

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            import psycopg
            from psycopg.rows import namedtuple_row

            connection = psycopg.connect(self._conninfo, autocommit=True,
                                         row_factory=namedtuple_row)
            with self._lock:
                self._open.append(connection)
            self._local.connection = connection
        return connection

    def _drop_if_broken(self) -> bool:
        connection = self._local.connection
        if not (connection.broken or connection.closed):
            return False
        self._local.connection = None
        with self._lock:
            self._open.remove(connection)
        connection.close()
        return True


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
    stmt = ignoring_conflict(dialect_of(session), table, values, conflict_cols)
    return session.execute(stmt).scalar_one_or_none()


class _Compiled:
    """A statement as SQL text for the driver, with the bind processing SQLAlchemy would
    do (its column types' conversions), and its constants already converted."""

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        binds = [(name, b) for b, name in compiled.bind_names.items()]  # names in the SQL
        self._processors = {name: p for name, b in binds
                            if (p := b.type.bind_processor(dialect))}
        self._constants = {name: self._process(name, b.value) for name, b in binds
                           if not b.required}

    def bind(self, params: dict) -> tuple[str, dict]:
        return self.sql, {**self._constants,
                          **{key: self._process(key, value) for key, value in params.items()}}

    def _process(self, key: str, value):
        processor = self._processors.get(key)
        return value if processor is None or value is None else processor(value)


def first_row(db: Session | Connection | PreparedStatements, statement, params: dict):
    """The first row of one statement run on whatever the caller holds, or None."""
    if isinstance(db, PreparedStatements):
        return db.first(statement, params)
    return db.execute(statement, params).first()


def dialect_of(db: Session | Connection | PreparedStatements) -> str:
    if isinstance(db, PreparedStatements):
        return db.dialect_name
    return (db.dialect if isinstance(db, Connection) else db.get_bind().dialect).name


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
