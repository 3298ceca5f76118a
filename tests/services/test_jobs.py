"""Jobs: submitted in a unit of work, run once after commit, failures kept with their reason."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.models import Job
from hitrack.domain.errors import IdempotencyConflict, InvalidEvent, InvalidInput, NotFound
from hitrack.jobs.database import DatabaseQueue
from hitrack.jobs.inline import InlineQueue
from hitrack.services import jobs
from hitrack.services.unit_of_work import unit_of_work
from tests.factories import make_person

calls: list[Mapping[str, Any]] = []


@jobs.job_kind("test_echo")
def _echo(ctx: jobs.JobContext) -> Mapping[str, Any]:
    calls.append(dict(ctx.params))
    ctx.progress(1, 2, "half way")
    ctx.save_state(step="done")
    ctx.progress(2, 2, "all done")
    return {"echo": ctx.params.get("text"), "state": ctx.state.get("step")}


@jobs.job_kind("test_refuses")
def _refuses(ctx: jobs.JobContext) -> Mapping[str, Any]:
    raise InvalidEvent("the period has no funded events")


@jobs.job_kind("test_crashes")
def _crashes(ctx: jobs.JobContext) -> Mapping[str, Any]:
    raise RuntimeError("disk full")


@pytest.fixture
def sessions(connection: Connection):  # type: ignore[no-untyped-def]
    """Sessions on the test's connection, as a worker would open them on the database."""

    @contextmanager
    def open_session() -> Iterator[Session]:
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()

    return open_session


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


def _job(db: Session, public_id: str) -> Job:
    db.expire_all()
    job = db.scalar(select(Job).where(Job.public_id == public_id))
    assert job is not None
    return job


def test_an_inline_job_runs_after_commit_and_records_its_result(db, sessions):
    queue = InlineQueue(jobs.JobRunner(sessions))
    with unit_of_work(db):
        job = jobs.submit(db, queue, "test_echo", {"text": "hi"}, actor=None)
        assert calls == []  # not before the commit
    row = _job(db, job.public_id)
    assert calls == [{"text": "hi"}]
    assert row.status == "succeeded"
    assert row.result == {"echo": "hi", "state": "done"}
    assert row.state == {"step": "done"}
    assert (row.progress_done, row.progress_total) == (2, 2)
    assert row.attempts == 1 and row.finished_at is not None


def test_a_job_submitted_in_a_rolled_back_transaction_never_runs(db, sessions):
    queue = InlineQueue(jobs.JobRunner(sessions))
    with pytest.raises(RuntimeError), unit_of_work(db):
        jobs.submit(db, queue, "test_echo", {"text": "lost"}, actor=None)
        raise RuntimeError("the use case failed after submitting")
    assert calls == []
    assert db.scalar(select(Job).where(Job.kind == "test_echo")) is None


def test_a_refused_job_fails_with_the_reason_and_a_crash_with_its_type(db, sessions):
    queue = InlineQueue(jobs.JobRunner(sessions))
    with unit_of_work(db):
        refused = jobs.submit(db, queue, "test_refuses", {}, actor=None)
        crashed = jobs.submit(db, queue, "test_crashes", {}, actor=None)
    refused_row, crashed_row = _job(db, refused.public_id), _job(db, crashed.public_id)
    assert refused_row.status == "failed"
    assert refused_row.error == "the period has no funded events"
    assert crashed_row.status == "failed"
    assert crashed_row.error == "RuntimeError: disk full"


def test_a_job_id_delivered_twice_runs_once(db, sessions):
    runner = jobs.JobRunner(sessions)
    with unit_of_work(db):
        job = jobs.submit(db, DatabaseQueue(), "test_echo", {"text": "once"}, actor=None)
    runner(job.id)
    runner(job.id)
    assert calls == [{"text": "once"}]
    assert _job(db, job.public_id).attempts == 1


def test_submitting_with_a_key_is_idempotent_and_other_parameters_conflict(db):
    queue = DatabaseQueue()
    with unit_of_work(db):
        first = jobs.submit(db, queue, "test_echo", {"text": "a"}, actor=None, key="close:2026-11")
    with unit_of_work(db):
        again = jobs.submit(db, queue, "test_echo", {"text": "a"}, actor=None, key="close:2026-11")
    assert again.id == first.id
    with pytest.raises(IdempotencyConflict), unit_of_work(db):
        jobs.submit(db, queue, "test_echo", {"text": "b"}, actor=None, key="close:2026-11")


def test_an_unknown_kind_is_refused_and_nothing_is_stored(db):
    with pytest.raises(InvalidInput, match="unknown job kind 'no_such_kind'"), unit_of_work(db):
        jobs.submit(db, DatabaseQueue(), "no_such_kind", {}, actor=None)
    assert db.scalar(select(Job)) is None


def test_a_job_whose_worker_stopped_is_requeued_then_failed_after_too_many_attempts(db, sessions):
    queue = DatabaseQueue()
    with unit_of_work(db):
        job = jobs.submit(db, queue, "test_echo", {"text": "resumed"}, actor=None)
    with unit_of_work(db):  # a worker claimed it and then died: no heartbeat since
        row = _job(db, job.public_id)
        row.status, row.attempts = "running", 1
        row.heartbeat_at = utcnow() - timedelta(minutes=5)
    assert jobs.requeue_stale(db, queue, older_than=timedelta(minutes=10)) == []  # beat lately
    assert jobs.requeue_stale(db, queue, older_than=timedelta(minutes=1)) == [job.public_id]
    assert _job(db, job.public_id).status == "queued"
    jobs.JobRunner(sessions)(job.id)
    assert calls == [{"text": "resumed"}]
    assert _job(db, job.public_id).attempts == 2

    with unit_of_work(db):
        row = _job(db, job.public_id)
        row.status, row.attempts = "running", jobs.MAX_ATTEMPTS
        row.heartbeat_at = utcnow() - timedelta(minutes=5)
    assert jobs.requeue_stale(db, queue, older_than=timedelta(minutes=1)) == []
    row = _job(db, job.public_id)
    assert row.status == "failed"
    assert row.error == f"the worker running it stopped {jobs.MAX_ATTEMPTS} times"


def test_the_database_worker_drains_queued_jobs_in_order(db, sessions):
    import threading

    queue = DatabaseQueue()
    with unit_of_work(db):
        for text in ("first", "second"):
            jobs.submit(db, queue, "test_echo", {"text": text}, actor=None)

    @contextmanager
    def factory() -> Iterator[Session]:
        with sessions() as session:
            yield session

    ran = jobs.work(
        factory,  # type: ignore[arg-type]
        jobs.JobRunner(sessions),
        queue,
        stop=threading.Event(),
        burst=True,
    )
    assert ran == 2
    assert calls == [{"text": "first"}, {"text": "second"}]


def test_a_job_is_visible_to_who_started_it_and_admins_only(db):
    starter, other = make_person(db, "starter"), make_person(db, "other")
    boss = make_person(db, "boss", admin=True)
    with unit_of_work(db):
        job = jobs.submit(db, DatabaseQueue(), "test_echo", {}, actor=starter)
    assert jobs.visible_job(db, starter, job.public_id).id == job.id
    assert jobs.visible_job(db, boss, job.public_id).id == job.id
    for viewer, public_id in ((other, job.public_id), (starter, "job_unknown")):
        with pytest.raises(NotFound, match=f"job {public_id} not found"):
            jobs.visible_job(db, viewer, public_id)


def _resources(provider: Any) -> jobs.JobResources:
    from hitrack.settings import Settings

    settings = Settings(environment="test", secret_key="x", payout_minimum={"USD": 10_000_000})
    return jobs.JobResources(
        settings=settings,
        payout_provider=lambda: provider,
        storage=lambda: None,  # type: ignore[arg-type,return-value]
    )


def test_a_payout_run_job_pays_everyone_due_and_reports_the_run(db, sessions):
    from hitrack.db.models import Payout
    from hitrack.services import payout_runs
    from tests.factories import ScriptedProvider, connect, fund

    provider = ScriptedProvider()
    people = [make_person(db, f"due{i}") for i in range(3)]
    for person in people:
        fund(db, person, 25_000_000)
        connect(db, person)
    boss = make_person(db, "boss", admin=True)
    queue = InlineQueue(jobs.JobRunner(sessions, resources=_resources(provider)))
    job = payout_runs.submit_payout_run(db, queue, boss)
    row = _job(db, job.public_id)
    assert row.status == "succeeded", row.error
    assert (row.progress_done, row.progress_total) == (3, 3)
    run_id = row.result["run"]
    assert row.state == {"run": run_id}
    assert row.result["summary"].startswith(f"payout run {run_id}: 3 payouts (3 paid)")
    paid = db.scalars(select(Payout).where(Payout.status == "paid")).all()
    assert sorted(p.creator_id for p in paid) == sorted(p.id for p in people)
    assert provider.calls == 3


def test_a_resumed_payout_run_job_continues_the_same_run_and_pays_nobody_twice(db, sessions):
    from hitrack.db.models import Payout, PayoutRun
    from hitrack.services import payout_runs, payouts
    from tests.factories import ScriptedProvider, connect, fund

    provider = ScriptedProvider()
    people = [make_person(db, f"due{i}") for i in range(2)]
    for person in people:
        fund(db, person, 25_000_000)
        connect(db, person)
    boss = make_person(db, "boss", admin=True)
    with unit_of_work(db):
        job = jobs.submit(db, DatabaseQueue(), payout_runs.KIND, {}, actor=boss)
    # The first worker opened the run and held the payouts, then died before sending.
    run = payouts.open_run(db, provider, started_by=boss, minimums={"USD": 10_000_000})
    with unit_of_work(db):
        row = _job(db, job.public_id)
        row.status, row.attempts, row.state = "running", 1, {"run": run.public_id}
        row.heartbeat_at = utcnow() - timedelta(minutes=5)
    jobs.requeue_stale(db, DatabaseQueue(), older_than=timedelta(minutes=1))
    jobs.JobRunner(sessions, resources=_resources(provider))(job.id)
    row = _job(db, job.public_id)
    assert row.status == "succeeded", row.error
    assert row.result["run"] == run.public_id
    assert db.scalars(select(PayoutRun)).all() == [run]
    assert len(db.scalars(select(Payout).where(Payout.status == "paid")).all()) == 2
    assert provider.calls == 2


def test_a_non_admin_cannot_start_a_payout_run_job(db):
    from hitrack.domain.errors import PermissionDenied
    from hitrack.services import payout_runs

    creator = make_person(db, "creator")
    with pytest.raises(PermissionDenied):
        payout_runs.submit_payout_run(db, DatabaseQueue(), creator)
    assert db.scalar(select(Job)) is None
