"""Engines and sessions.

Services receive a :class:`~sqlalchemy.orm.Session` and own its transaction
(they call ``commit``); the web layer opens one session per request and never
commits. SQLite gets foreign keys switched on and a busy timeout, so that it
behaves like the production database where it matters.

SQLite has one writer at a time, and every transaction here takes the write
lock up front (``BEGIN IMMEDIATE``). SQLite's own wait for that lock polls
with growing sleeps and no order, so on a busy machine one thread can lose
every race for longer than the busy timeout and fail with "database is
locked" while the others write. Threads of one process therefore queue for
the lock in arrival order (:class:`WriterQueue`, one per database file) before
they ask SQLite for it: a transaction waits for those ahead of it, never for
luck. Other processes on the same file still meet at SQLite's busy timeout.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["WriterQueue", "make_engine", "make_session_factory", "writer_queue"]

SQLITE_BUSY_TIMEOUT_S = 30
_HOLDS_WRITER = "hitrack_holds_writer"


class WriterQueue:
    """A first-come, first-served lock: ``acquire`` waits for every earlier caller.

    Unlike :class:`threading.Lock` it may be released by another thread than
    the one that acquired it (a connection may end its transaction elsewhere).
    ``changed`` is notified whenever the queue moves, for whoever watches it.
    """

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self._waiters: deque[threading.Event] = deque()
        self._held = False

    @property
    def waiting(self) -> int:
        """How many callers wait for their turn."""
        return len(self._waiters)

    def acquire(self, timeout: float) -> bool:
        """Take the lock in turn; False (and out of the queue) if ``timeout`` seconds pass first."""
        with self.changed:
            if not self._held and not self._waiters:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
            self.changed.notify_all()
        if turn.wait(timeout):
            return True
        with self.changed:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiters.remove(turn)
            self.changed.notify_all()
            return False

    def release(self) -> None:
        """Hand the lock to the longest waiter, or free it."""
        with self.changed:
            if self._waiters:
                self._waiters.popleft().set()  # stays held, now by the next in line
            else:
                self._held = False
            self.changed.notify_all()


_queues: dict[str, WriterQueue] = {}
_queues_mutex = threading.Lock()


def writer_queue(url: str) -> WriterQueue | None:
    """The queue of the SQLite file behind ``url``; None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = str(Path(database).resolve())
    with _queues_mutex:
        return _queues.setdefault(key, WriterQueue())


def make_engine(
    url: str, *, statement_timeout_ms: int = 0, lock_timeout_ms: int = 0, **kwargs: Any
) -> Engine:
    """Create an engine; for SQLite, enforce foreign keys and wait on locks in turn.

    On PostgreSQL every session gets ``statement_timeout`` and ``lock_timeout``
    (milliseconds, 0: none), so no request can hold a lock or the server for
    longer: its statement fails, its transaction rolls back and its locks go.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault(
            "connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )
        engine = create_engine(url, **kwargs)
        queue = writer_queue(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from the driver (it defers BEGIN in ways
            # that break SAVEPOINTs) and begin every transaction ourselves below.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: two writers never both read
            # and then deadlock on upgrading. Threads queue for it in turn first;
            # one that waited the whole busy timeout still asks SQLite, which then
            # answers "database is locked" as it always would.
            queued = queue is not None and queue.acquire(SQLITE_BUSY_TIMEOUT_S)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if queued:
                    queue.release()  # type: ignore[union-attr]
                raise
            if queued:
                conn.info[_HOLDS_WRITER] = True

        def _end(conn: Any) -> None:
            if conn.info.pop(_HOLDS_WRITER, False):
                queue.release()  # type: ignore[union-attr]

        event.listen(engine, "commit", _end)
        event.listen(engine, "rollback", _end)

        @event.listens_for(engine, "checkin")
        def _checkin(_dbapi_connection: Any, record: Any) -> None:
            # A connection that went back to the pool without commit or rollback
            # (the pool rolls it back itself) gives up its turn too.
            if record.info.pop(_HOLDS_WRITER, False):
                queue.release()  # type: ignore[union-attr]

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
