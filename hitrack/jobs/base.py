"""The job queue protocol: hand a committed job's id to whatever runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["JobQueue", "Runner"]

Runner = Callable[[int], None]
"""Runs the job with this database id to its end (see :mod:`hitrack.services.jobs`)."""


class JobQueue(Protocol):
    """Where jobs run. ``enqueue`` is called only after the job's row is committed."""

    name: str

    def enqueue(self, job_id: int) -> None:
        """Arrange for the job to run; idempotent for the same id."""
        ...
