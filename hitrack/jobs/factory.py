"""Pick the job queue the settings name, built from plain values."""

from __future__ import annotations

from hitrack.jobs.base import JobQueue, Runner

__all__ = ["make_job_queue", "QUEUES"]

QUEUES = ("inline", "database", "rq")


def make_job_queue(
    name: str, *, runner: Runner, redis_url: str | None = None, rq_queue: str = "hitrack"
) -> JobQueue:
    """``inline`` (default), ``database`` or ``rq`` (needs ``redis_url``)."""
    if name == "inline":
        from hitrack.jobs.inline import InlineQueue

        return InlineQueue(runner)
    if name == "database":
        from hitrack.jobs.database import DatabaseQueue

        return DatabaseQueue()
    if name == "rq":
        if not redis_url:
            raise ValueError("HITRACK_JOBS=rq needs HITRACK_REDIS_URL")
        from hitrack.jobs.rq import RQQueue

        return RQQueue(redis_url, queue_name=rq_queue)
    raise ValueError(f"HITRACK_JOBS must be one of {', '.join(QUEUES)}, not {name!r}")
