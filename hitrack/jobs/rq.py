"""Jobs on Redis with RQ: the production queue, drained by ``hitrack worker``.

The RQ job is only a pointer: the function ``hitrack.worker.run_job`` with the
hitrack job id. The worker process builds its runner once from the same
``HITRACK_*`` settings as the web app. RQ's own job id is derived from the
hitrack id, so enqueueing twice is harmless; a worker killed mid-job leaves
the row ``running`` with an old heartbeat, and the next worker to start
requeues it (:func:`hitrack.services.jobs.requeue_stale`).
"""

from __future__ import annotations

from redis import Redis
from rq import Queue

__all__ = ["RQQueue", "QUEUE_NAME", "JOB_FUNCTION"]

QUEUE_NAME = "hitrack"
JOB_FUNCTION = "hitrack.worker.run_job"
"""Named, not imported: the worker module sits above this package (it builds the runner)."""


class RQQueue:
    """Puts job ids on one RQ queue."""

    name = "rq"

    def __init__(self, redis_url: str, *, queue_name: str = QUEUE_NAME) -> None:
        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(queue_name, connection=self.connection)

    def enqueue(self, job_id: int) -> None:
        self.queue.enqueue(
            JOB_FUNCTION,
            job_id,
            job_id=f"hitrack-job-{job_id}",
            job_timeout=-1,  # long settlements are expected; the heartbeat tells a dead one
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
        )
