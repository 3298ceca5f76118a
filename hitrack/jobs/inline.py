"""The embedded default: a job runs at once, in the process that started it."""

from __future__ import annotations

from hitrack.jobs.base import Runner

__all__ = ["InlineQueue"]


class InlineQueue:
    """Runs each job as soon as it is enqueued; nothing to start, nothing to configure."""

    name = "inline"

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def enqueue(self, job_id: int) -> None:
        self._runner(job_id)
