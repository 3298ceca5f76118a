"""The unit of work: a service's writes commit together, or roll back together.

Every use case that writes wraps its work in :func:`unit_of_work`; nothing else
in the services calls ``commit``. Views and commands never commit.

Side effects that must wait for the commit (queueing a job, sending mail) are
registered with :func:`after_commit`; those that must be undone if the
transaction fails (a stored file) with :func:`on_rollback`. Both run once and
are forgotten when the transaction ends either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

__all__ = ["unit_of_work", "after_commit", "on_rollback"]

log = logging.getLogger(__name__)

_AFTER_COMMIT = "hitrack.after_commit"
_ON_ROLLBACK = "hitrack.on_rollback"


@contextmanager
def unit_of_work(db: Session) -> Iterator[Session]:
    """Commit when the block ends normally; roll back (and re-raise) on any exception."""
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise


def after_commit(db: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction commits (never if it rolls back)."""
    db.info.setdefault(_AFTER_COMMIT, []).append(callback)


def on_rollback(db: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` if the session's current transaction rolls back (never if it commits)."""
    db.info.setdefault(_ON_ROLLBACK, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # the change is committed; a failing side effect must not hide it
            log.exception("after-commit callback %r failed", callback)


@event.listens_for(Session, "after_soft_rollback")
def _run_on_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    session.info.pop(_AFTER_COMMIT, None)
    for callback in session.info.pop(_ON_ROLLBACK, []):
        try:
            callback()
        except Exception:
            log.exception("on-rollback callback %r failed", callback)
