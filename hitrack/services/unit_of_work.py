"""The unit of work: a service's writes commit together, or roll back together.

Every use case that writes wraps its work in :func:`unit_of_work`; nothing else
in the services, the views or the commands calls ``commit`` or ``rollback``.
The few other ways a transaction may end are named here too, each for a reason:

- :func:`read_only` ends a block of reads and checks by rolling back, so its
  snapshot and locks are not held over what follows: a provider call (Stripe),
  storing an upload, a long computation, the next step of a job. On SQLite
  every transaction takes the write lock at ``BEGIN`` (``hitrack.db.session``),
  so a read left open there blocks every writer.
- :func:`set_rollback` ends a unit of work without writing anything: the use
  case found, under its locks, that there is nothing to do.
- :func:`discard` drops what a failed step left behind (on PostgreSQL an
  aborted transaction refuses every further statement), before the failure is
  recorded in a unit of work of its own.

Payouts and jobs need several transactions in one call on purpose (a payout is
committed before Stripe is called, so a crash leaves a record; a job's
progress is committed while it works): they use one unit of work per step.

Side effects that must wait for the commit (queueing a job, sending mail) are
registered with :func:`after_commit`; those that must be undone if the
transaction fails (a stored file) with :func:`on_rollback`. Both belong to the
transaction, or SAVEPOINT, that is open when they are registered: a SAVEPOINT
that rolls back undoes its own (runs its on-rollback hooks, drops its
after-commit hooks) and leaves the enclosing ones alone; one that is released
hands them to the enclosing transaction. They run once, when the outermost
transaction ends: after-commit hooks if it committed, on-rollback hooks if it
rolled back or the session was closed without committing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

__all__ = [
    "unit_of_work",
    "read_only",
    "set_rollback",
    "discard",
    "after_commit",
    "on_rollback",
]

log = logging.getLogger(__name__)

_HOOKS = "hitrack.unit_of_work.hooks"
_COMMITTING = "hitrack.unit_of_work.committing"
_OPEN = "hitrack.unit_of_work.open"
_ROLLBACK_ONLY = "hitrack.unit_of_work.rollback_only"


@contextmanager
def unit_of_work(db: Session) -> Iterator[Session]:
    """Commit when the block ends normally; roll back (and re-raise) on any exception.

    The block ends with a rollback instead of a commit if it called
    :func:`set_rollback`.
    """
    db.info[_OPEN] = db.info.get(_OPEN, 0) + 1
    try:
        yield db
        if db.info.pop(_ROLLBACK_ONLY, False):
            db.rollback()
        else:
            db.commit()
    except BaseException:
        db.info.pop(_ROLLBACK_ONLY, None)
        db.rollback()
        raise
    finally:
        db.info[_OPEN] -= 1


def set_rollback(db: Session) -> None:
    """End the enclosing :func:`unit_of_work` with a rollback instead of a commit.

    For a use case that finds, under the locks it took, that it has nothing to
    do (a balance already held by another run, a payout already settled): it
    returns normally and nothing it touched is kept.
    """
    if not db.info.get(_OPEN):
        raise RuntimeError("set_rollback outside a unit of work")
    db.info[_ROLLBACK_ONLY] = True


@contextmanager
def read_only(db: Session) -> Iterator[Session]:
    """Reads and checks whose transaction is rolled back when the block ends, however it ends.

    Use it before anything slow or external, so that no snapshot or lock
    (on SQLite: the database write lock) is held over it. Objects read in the
    block are expired and load again on their next use.
    """
    try:
        yield db
    finally:
        db.rollback()


def discard(db: Session) -> None:
    """Drop whatever the session's transaction holds that no unit of work committed.

    After a step failed outside a unit of work (a read that hit a database
    error leaves a PostgreSQL transaction aborted), so the failure can be
    recorded in a unit of work of its own.
    """
    db.rollback()


@dataclass
class _Hook:
    transaction: SessionTransaction
    callback: Callable[[], None]
    on_commit: bool


def after_commit(db: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction commits (never if it rolls back)."""
    _register(db, callback, on_commit=True)


def on_rollback(db: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` if the session's current transaction rolls back (never if it commits)."""
    _register(db, callback, on_commit=False)


def _register(db: Session, callback: Callable[[], None], *, on_commit: bool) -> None:
    # Begin the transaction now if none is open, so the hook belongs to the one
    # the caller's next statements run in.
    transaction = db.get_nested_transaction() or db.get_transaction() or db.begin()
    db.info.setdefault(_HOOKS, []).append(_Hook(transaction, callback, on_commit))


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _run(hooks: list[_Hook], *, committed: bool) -> None:
    for hook in hooks:
        if hook.on_commit != committed:
            continue
        try:
            hook.callback()
        except Exception:  # the transaction has ended; a failing side effect must not hide it
            log.exception(
                "%s callback %r failed",
                "after-commit" if committed else "on-rollback",
                hook.callback,
            )


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    # Fires for the outermost commit and for each released SAVEPOINT, just
    # before the transaction's end below; the end alone does not say which.
    session.info[_COMMITTING] = True


@event.listens_for(Session, "after_transaction_end")
def _end(session: Session, transaction: SessionTransaction) -> None:
    committed = session.info.pop(_COMMITTING, False)
    hooks: list[_Hook] = session.info.get(_HOOKS, [])
    if not hooks or (committed and transaction.parent is not None):
        return  # nothing registered, or a released SAVEPOINT: the hooks wait for the enclosing end
    ended = [hook for hook in hooks if _within(hook.transaction, transaction)]
    if not ended:
        return
    session.info[_HOOKS] = [hook for hook in hooks if not _within(hook.transaction, transaction)]
    _run(ended, committed=committed)
