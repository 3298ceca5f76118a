"""Jobs queued in the database itself: a worker process polls for queued rows.

No server beyond the database (SQLite included): ``enqueue`` does nothing,
because the committed row with status ``queued`` already is the queue, and
``hitrack worker`` claims rows one at a time.
"""

from __future__ import annotations

__all__ = ["DatabaseQueue"]


class DatabaseQueue:
    """The queued row is the queue; :func:`hitrack.services.jobs.work` drains it."""

    name = "database"

    def enqueue(self, job_id: int) -> None:
        return None
