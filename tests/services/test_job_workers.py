"""Workers as production runs them: ``hitrack worker`` processes on RQ (Redis) and on the database.

Each test starts the real command in a subprocess against a database file,
so the job crosses a process boundary exactly as it does in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.migrate import upgrade
from hitrack.db.models import Job, Payout, PayoutRun
from hitrack.db.session import make_engine, make_session_factory
from hitrack.jobs.database import DatabaseQueue
from hitrack.services import jobs, ledger, payout_runs, payouts
from hitrack.services.unit_of_work import unit_of_work
from tests.factories import connect, fund, make_person

REDIS_URL = os.environ.get("HITRACK_TEST_REDIS_URL", "")
ROOT = Path(__file__).resolve().parents[2]


def _database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    upgrade(make_engine(url))
    return url


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITRACK_")}
    env.update(
        HITRACK_DATABASE_URL=url,
        HITRACK_DATA_DIR=str(tmp_path),
        HITRACK_ENV="test",
        HITRACK_SECRET_KEY="worker-test",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hitrack.cli", "worker", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _job(db: Session, job_id: int) -> Job:
    """The job as it is now; the read ends at once (SQLite: a held transaction blocks the worker)."""
    db.rollback()
    job = db.get(Job, job_id, populate_existing=True)
    assert job is not None
    db.expunge(job)
    db.rollback()
    return job


@pytest.mark.skipif(not REDIS_URL, reason="needs HITRACK_TEST_REDIS_URL (CI sets it)")
def test_an_rq_worker_runs_a_queued_payout_run(tmp_path: Path) -> None:
    import redis

    from hitrack.jobs.rq import RQQueue

    redis.Redis.from_url(REDIS_URL).ping()  # configured but unreachable fails, never skips
    url = _database(tmp_path)
    queue_name = f"hitrack-test-{os.getpid()}-{time.monotonic_ns()}"
    queue = RQQueue(REDIS_URL, queue_name=queue_name)
    db = make_session_factory(make_engine(url))()
    boss = make_person(db, "boss", admin=True)
    with unit_of_work(db):
        job = jobs.submit(db, queue, payout_runs.KIND, {}, actor=boss)
    assert queue.queue.count == 1  # queued on commit

    env = _env(
        url, tmp_path, HITRACK_JOBS="rq", HITRACK_REDIS_URL=REDIS_URL, HITRACK_RQ_QUEUE=queue_name
    )
    worker = _worker(env, "--burst")
    output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output.decode()
    row = _job(db, job.id)
    assert row.status == "succeeded", (row.error, output.decode())
    assert row.result is not None and row.result["summary"].endswith(": 0 payouts")
    queue.queue.delete(delete_jobs=True)


def test_a_database_worker_resumes_a_run_its_dead_predecessor_left_half_done(
    tmp_path: Path,
) -> None:
    url = _database(tmp_path)
    db = make_session_factory(make_engine(url))()
    due = 30
    for i in range(due):
        person = make_person(db, f"due{i}")
        fund(db, person, 20_000_000)
        connect(db, person, provider="manual")
    boss = make_person(db, "boss", admin=True)
    with unit_of_work(db):
        job = jobs.submit(db, DatabaseQueue(), payout_runs.KIND, {}, actor=boss)
    # The dead worker had claimed the job, chosen its run id and opened the run
    # (all payouts held), then stopped beating.
    run_id = "run_resumed_by_the_next_worker"
    from hitrack.payments.manual import ManualProvider

    payouts.open_run(
        db,
        ManualProvider(lambda _: True),
        started_by=boss,
        minimums={"USD": 10_000_000},
        run_id=run_id,
    )
    with unit_of_work(db):
        db.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(
                status="running",
                attempts=1,
                state={"run": run_id},
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )
    db.rollback()

    worker = _worker(_env(url, tmp_path, HITRACK_JOBS="database"), "--burst")
    output, _ = worker.communicate(timeout=300)
    assert worker.returncode == 0, output.decode()
    row = _job(db, job.id)
    assert row.status == "succeeded", row.error
    assert row.attempts == 2 and row.result is not None and row.result["run"] == run_id
    assert db.scalar(select(func.count()).select_from(PayoutRun)) == 1
    assert db.scalar(select(func.count()).select_from(Payout)) == due  # one each, none twice
    assert ledger.check_invariants(db) == []
