"""``hitrack worker``: drain the job queue the settings name.

- ``HITRACK_JOBS=rq``: an RQ worker on ``HITRACK_REDIS_URL``; RQ calls
  :func:`run_job` with a hitrack job id.
- ``HITRACK_JOBS=database``: polls the jobs table (SQLite included).
- ``HITRACK_JOBS=inline`` (default): jobs already run in the process that
  starts them, so there is nothing for a worker to do.

Every worker first requeues jobs whose worker died (their heartbeat stopped),
then keeps doing so once a minute while it runs.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from hitrack import providers
from hitrack.db.session import make_engine, make_session_factory
from hitrack.domain.errors import InvalidInput
from hitrack.services import jobs
from hitrack.settings import Settings

__all__ = ["run_job", "run_worker", "STALE_AFTER"]

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=1)
"""A running job whose heartbeat is older than this has lost its worker (beats every 10 s)."""


@cache
def _sessions() -> sessionmaker[Session]:
    settings = Settings.from_env()
    return make_session_factory(
        make_engine(
            settings.database_url,
            statement_timeout_ms=settings.job_statement_timeout_ms,
            lock_timeout_ms=settings.lock_timeout_ms,
        )
    )


@cache
def _runner() -> jobs.JobRunner:
    return providers.job_runner(Settings.from_env(), _sessions())


def run_job(job_id: int) -> None:
    """What the RQ worker calls: run one hitrack job in this process."""
    _load_handlers()
    _runner()(job_id)


def _load_handlers() -> None:
    # Importing the services registers their job kinds.
    import hitrack.services.job_kinds  # noqa: F401


def run_worker(
    settings: Settings, *, burst: bool = False, stop: threading.Event | None = None
) -> int:
    """Work the configured queue until stopped (``burst``: until it is empty); returns jobs run."""
    _load_handlers()
    sessions = make_session_factory(
        make_engine(
            settings.database_url,
            statement_timeout_ms=settings.job_statement_timeout_ms,
            lock_timeout_ms=settings.lock_timeout_ms,
        )
    )
    runner = providers.job_runner(settings, sessions)
    queue = providers.job_queue(settings, runner)
    stop = stop or threading.Event()
    if settings.jobs == "inline":
        raise InvalidInput("HITRACK_JOBS=inline runs jobs where they start: no worker needed")
    if settings.jobs == "database":
        return jobs.work(sessions, runner, queue, stop=stop, stale_after=STALE_AFTER, burst=burst)

    from rq import SimpleWorker, Worker

    from hitrack.jobs.rq import RQQueue

    assert isinstance(queue, RQQueue)

    def requeue_forever() -> None:
        while True:
            with sessions() as db:
                requeued = jobs.requeue_stale(db, queue, older_than=STALE_AFTER)
            if requeued:
                log.warning("requeued jobs whose worker stopped: %s", ", ".join(requeued))
            if stop.wait(STALE_AFTER.total_seconds()):
                return

    with sessions() as db:
        jobs.requeue_stale(db, queue, older_than=STALE_AFTER)
    if not burst:
        threading.Thread(target=requeue_forever, daemon=True).start()
    worker_class = SimpleWorker if burst else Worker
    worker = worker_class([queue.queue], connection=queue.connection)
    worker.work(burst=burst, with_scheduler=False)
    return int(worker.successful_job_count)
