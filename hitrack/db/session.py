"""Engines and sessions.

Services receive a :class:`~sqlalchemy.orm.Session` and own its transaction
(they call ``commit``); the web layer opens one session per request and never
commits. SQLite gets foreign keys switched on and a busy timeout, so that it
behaves like the production database where it matters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "make_session_factory"]


def make_engine(
    url: str, *, statement_timeout_ms: int = 0, lock_timeout_ms: int = 0, **kwargs: Any
) -> Engine:
    """Create an engine; for SQLite, enforce foreign keys and wait on locks.

    On PostgreSQL every session gets ``statement_timeout`` and ``lock_timeout``
    (milliseconds, 0: none), so no request can hold a lock or the server for
    longer: its statement fails, its transaction rolls back and its locks go.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from the driver (it defers BEGIN in ways
            # that break SAVEPOINTs) and begin every transaction ourselves below.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: two writers never both read
            # and then deadlock on upgrading, they queue on the busy timeout instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "postgresql" and (statement_timeout_ms or lock_timeout_ms):

        @event.listens_for(engine, "connect")
        def _postgres_timeouts(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
            cursor.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
            cursor.close()
            dbapi_connection.commit()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
