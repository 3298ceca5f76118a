"""The unit of work: a service's writes commit together, or roll back together.

Every use case that writes wraps its work in :func:`unit_of_work`; nothing else
in the services calls ``commit``. Views and commands never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

__all__ = ["unit_of_work"]


@contextmanager
def unit_of_work(db: Session) -> Iterator[Session]:
    """Commit when the block ends normally; roll back (and re-raise) on any exception."""
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
