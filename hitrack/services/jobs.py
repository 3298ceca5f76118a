"""Jobs: long work as rows with a status, progress and a result, run outside requests.

A use case that starts long work calls :func:`submit` inside its unit of
work; the row is committed first and handed to the configured
:class:`~hitrack.jobs.JobQueue` only after the commit. Whatever queue runs it,
the work goes through :class:`JobRunner`, which

1. *claims* the row (``queued -> running`` in one conditional UPDATE, so a job
   id delivered twice runs once),
2. calls the handler registered for the job's kind with a :class:`JobContext`
   (parameters, a way to open sessions, progress, a checkpoint),
3. records ``succeeded`` with the handler's result, or ``failed`` with the
   reason — never leaves a job ``running`` because its handler raised.

A worker killed mid-job leaves the row ``running`` with a heartbeat that stops
moving; :func:`requeue_stale` (run by every ``hitrack worker``) puts it back in
the queue, and the handler resumes from its checkpoint. Handlers are therefore
written to be idempotent: they commit in steps, save a checkpoint with
:meth:`JobContext.save_state`, and report progress between steps.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from hitrack.db.base import utcnow
from hitrack.db.models import Creator, Job
from hitrack.domain.errors import HitrackError, IdempotencyConflict, InvalidInput, NotFound
from hitrack.jobs.base import JobQueue
from hitrack.payments.base import PayoutProvider
from hitrack.services.unit_of_work import after_commit, read_only, unit_of_work
from hitrack.settings import Settings
from hitrack.storage import MediaStorage

__all__ = [
    "JobStatus",
    "JobContext",
    "JobResources",
    "Handler",
    "job_kind",
    "handler_for",
    "submit",
    "JobRunner",
    "requeue_stale",
    "claim_next",
    "work",
    "visible_job",
    "MAX_ATTEMPTS",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""A job whose worker died this many times is failed instead of requeued again."""

SessionSource = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class JobResources:
    """The providers a handler may need, built once per worker from settings."""

    settings: Settings
    payout_provider: Callable[[], PayoutProvider]
    storage: Callable[[], MediaStorage]


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class JobContext:
    """What a handler gets: its parameters, sessions, progress and a checkpoint."""

    job_id: int
    public_id: str
    kind: str
    params: Mapping[str, Any]
    state: dict[str, Any]
    created_by_id: int | None
    sessions: SessionSource
    resources: JobResources | None = None
    """Providers the handler may need; None only in tests of handlers that need none."""
    _progress: Callable[[int, int | None, str], None] = field(default=lambda *_: None, repr=False)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Report how far the job is; call it between units of work, not inside one."""
        self._progress(done, total, message)

    def save_state(self, **values: Any) -> None:
        """Checkpoint: merged into the job's ``state``, which a resumed run starts from."""
        self.state.update(values)
        with self.sessions() as db, unit_of_work(db):
            db.execute(update(Job).where(Job.id == self.job_id).values(state=dict(self.state)))


Handler = Callable[[JobContext], Mapping[str, Any]]
_HANDLERS: dict[str, Handler] = {}


def job_kind(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler for ``kind`` (one per kind)."""

    def register(handler: Handler) -> Handler:
        existing = _HANDLERS.get(kind)
        if existing is not None and existing is not handler:
            raise ValueError(f"job kind {kind!r} is registered twice")
        _HANDLERS[kind] = handler
        return handler

    return register


def handler_for(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)


def submit(
    db: Session,
    queue: JobQueue,
    kind: str,
    params: Mapping[str, Any],
    *,
    actor: Creator | None,
    key: str | None = None,
) -> Job:
    """Create a job in the caller's unit of work; it is queued once the transaction commits.

    ``key`` makes the submission idempotent: the same key with the same kind and
    parameters returns the existing job; with others it is an
    :class:`~hitrack.domain.errors.IdempotencyConflict`.
    """
    if handler_for(kind) is None:
        raise InvalidInput(f"unknown job kind {kind!r}")
    if key is not None:
        existing = db.scalar(select(Job).where(Job.idempotency_key == key))
        if existing is not None:
            if existing.kind != kind or existing.params != dict(params):
                raise IdempotencyConflict(f"job {key} was already submitted with other parameters")
            return existing
    job = Job(
        public_id="job_" + secrets.token_hex(8),
        kind=kind,
        status=JobStatus.QUEUED,
        params=dict(params),
        state={},
        idempotency_key=key,
        created_by_id=actor.id if actor is not None else None,
        created_at=utcnow(),
    )
    db.add(job)
    db.flush()
    job_id = job.id
    after_commit(db, lambda: queue.enqueue(job_id))
    return job


class JobRunner:
    """Runs one job to its end; every queue calls this with the job id."""

    def __init__(
        self,
        sessions: sessionmaker[Session] | SessionSource,
        *,
        resources: JobResources | None = None,
        heartbeat: timedelta = timedelta(seconds=10),
        progress_every: float = 0.5,
    ) -> None:
        self._sessions = _session_source(sessions)
        self.resources = resources
        self.heartbeat = heartbeat
        self.progress_every = progress_every

    def __call__(self, job_id: int) -> None:
        row = self._claim(job_id)
        if row is None:
            return  # already running elsewhere, or finished: a redelivery
        handler = handler_for(row.kind)
        if handler is None:
            self._finish(job_id, JobStatus.FAILED, error=f"unknown job kind {row.kind!r}")
            return
        last: dict[str, Any] = {"at": 0.0, "message": None}

        def progress(done: int, total: int | None, message: str) -> None:
            # Written at most every ``progress_every`` seconds, but always when
            # the step changes or the job reaches its total.
            now = time.monotonic()
            same_step = message == last["message"] and (total is None or done < total)
            if same_step and now - last["at"] < self.progress_every:
                return
            last.update(at=now, message=message)
            self._touch(job_id, progress_done=done, progress_total=total, message=message)

        context = JobContext(
            job_id=row.id,
            public_id=row.public_id,
            kind=row.kind,
            params=dict(row.params),
            state=dict(row.state or {}),
            created_by_id=row.created_by_id,
            sessions=self._sessions,
            resources=self.resources,
            _progress=progress,
        )
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job_id, stop), daemon=True)
        beat.start()
        try:
            result = handler(context)
        except HitrackError as error:
            self._finish(job_id, JobStatus.FAILED, error=str(error))
        except Exception as error:
            log.exception("job %s (%s) failed", row.public_id, row.kind)
            self._finish(job_id, JobStatus.FAILED, error=f"{type(error).__name__}: {error}")
        else:
            self._finish(job_id, JobStatus.SUCCEEDED, result=dict(result))
        finally:
            stop.set()
            beat.join()

    def _claim(self, job_id: int) -> Job | None:
        now = utcnow()
        with self._sessions() as db, unit_of_work(db):
            claimed = db.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
                .values(
                    status=JobStatus.RUNNING,
                    attempts=Job.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                    error="",
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            job = db.get(Job, job_id, populate_existing=True)
            assert job is not None
            db.expunge(job)  # read once, used after this session closes
            return job

    def _touch(self, job_id: int, **values: Any) -> None:
        try:
            with self._sessions() as db, unit_of_work(db):
                db.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
                    .values(heartbeat_at=utcnow(), **values)
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # progress is best effort; the work itself must go on
            log.warning("could not record progress of job %s", job_id, exc_info=True)

    def _beat(self, job_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat.total_seconds()):
            self._touch(job_id)

    def _finish(
        self,
        job_id: int,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: str = "",
    ) -> None:
        values: dict[str, Any] = {"status": status, "error": error, "finished_at": utcnow()}
        if result is not None:
            values["result"] = result
        if status is JobStatus.SUCCEEDED:  # a finished job is all done, whatever it last reported
            values["progress_done"] = func.coalesce(Job.progress_total, Job.progress_done)
        with self._sessions() as db, unit_of_work(db):
            db.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


def _session_source(sessions: sessionmaker[Session] | SessionSource) -> SessionSource:
    if isinstance(sessions, sessionmaker):
        factory = sessions

        @contextmanager
        def open_session() -> Iterator[Session]:
            db = factory()
            try:
                yield db
            finally:
                db.close()

        return open_session
    return sessions


def requeue_stale(
    db: Session, queue: JobQueue, *, older_than: timedelta, now: datetime | None = None
) -> list[str]:
    """Put back running jobs whose worker stopped beating; fail those that died too often.

    Returns the public ids requeued. Runs in its own unit of work.
    """
    cutoff = (now or utcnow()) - older_than
    with unit_of_work(db):
        stale = list(
            db.scalars(
                select(Job)
                .where(Job.status == JobStatus.RUNNING, Job.heartbeat_at < cutoff)
                .order_by(Job.id)
                .with_for_update(skip_locked=True)
            )
        )
        requeued: list[Job] = []
        for job in stale:
            if job.attempts >= MAX_ATTEMPTS:
                job.status = JobStatus.FAILED
                job.error = f"the worker running it stopped {job.attempts} times"
                job.finished_at = utcnow()
            else:
                job.status = JobStatus.QUEUED
                job.message = "requeued after its worker stopped"
                requeued.append(job)
        ids = [job.id for job in requeued]
        for job_id in ids:
            after_commit(db, lambda job_id=job_id: queue.enqueue(job_id))  # type: ignore[misc]
    return [job.public_id for job in requeued]


def claim_next(db: Session) -> int | None:
    """The id of the oldest queued job (for the database queue's worker), or None."""
    with read_only(db):  # the runner claims it in a transaction of its own
        job_id: int | None = db.scalar(
            select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id).limit(1)
        )
    return job_id


def work(
    sessions: sessionmaker[Session],
    runner: Callable[[int], None],
    queue: JobQueue,
    *,
    stop: threading.Event,
    poll_every: float = 1.0,
    stale_after: timedelta = timedelta(minutes=1),
    burst: bool = False,
) -> int:
    """The database queue's worker loop: requeue stale jobs, run queued ones; returns jobs run.

    ``burst`` returns once no job is queued (for tests and one-off drains).
    """
    ran = 0
    while not stop.is_set():
        with sessions() as db:
            requeue_stale(db, queue, older_than=stale_after)
            job_id = claim_next(db)
        if job_id is None:
            if burst:
                return ran
            stop.wait(poll_every)
            continue
        runner(job_id)
        ran += 1
    return ran


def visible_job(db: Session, actor: Creator, public_id: str) -> Job:
    """The job for admins and the creator who started it; NotFound for anyone else."""
    job = db.scalar(select(Job).where(Job.public_id == public_id))
    if job is None or not (actor.is_admin or job.created_by_id == actor.id):
        raise NotFound(f"job {public_id} not found", ids=(public_id,))
    return job
