"""Many revenue events at once never lose or duplicate money.

1,000 events from 8 workers, plus events every worker sends at the same time:
threads against a real SQLite file, processes against PostgreSQL. Afterwards
the ledger sums exactly and ``hitrack ledger check`` passes.

On SQLite the threads queue for the write lock in arrival order
(``hitrack.db.session.WriterQueue``), so no thread waits longer than the
transactions ahead of it, however loaded the machine is.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.cli import main
from hitrack.db.migrate import upgrade
from hitrack.db.models import RevenueEvent
from hitrack.db.session import make_engine
from hitrack.services import ledger
from tests.conftest import migrated_postgres_schema
from tests.factories import concurrency_event, make_song, record_many

EVENTS, WORKERS, SHARED = 1_000, 8, 10


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'concurrency.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with migrated_postgres_schema("hitrack_conc") as url:
        yield url


def run(url: str, executor_kind: str) -> None:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        song = make_song(db)
        work_ids = [
            song.night_swim.public_id,
            song.tide.public_id,
            song.model.public_id,
            song.shoreline.public_id,
        ]
        admin_id = song.admin.id
    chunks = [list(range(w, EVENTS, WORKERS)) for w in range(WORKERS)]
    if executor_kind == "threads":
        pool: ThreadPoolExecutor | ProcessPoolExecutor = ThreadPoolExecutor(WORKERS)
    else:
        pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
    with pool:
        created = sum(
            pool.map(
                record_many,
                [url] * WORKERS,
                [admin_id] * WORKERS,
                [work_ids] * WORKERS,
                chunks,
                [SHARED] * WORKERS,
            )
        )
    assert created == EVENTS + SHARED

    expected_cash = sum(
        int(concurrency_event(work_ids, i)["amount"])  # type: ignore[call-overload]
        for i in [*range(EVENTS), *(-1 - k for k in range(SHARED))]
    )
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(RevenueEvent)) == EVENTS + SHARED
        assert ledger.balance(db, ledger.cash_account("USD")) == expected_cash
        assert ledger.check_invariants(db) == []
    engine.dispose()
    result = CliRunner().invoke(main, ["ledger", "check"], env={"HITRACK_DATABASE_URL": url})
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_many_events_from_threads_on_sqlite_keep_the_ledger_exact(sqlite_url: str) -> None:
    run(sqlite_url, "threads")


@pytest.mark.slow
@pytest.mark.postgres
def test_many_events_from_processes_on_postgresql_keep_the_ledger_exact(postgres_url: str) -> None:
    run(postgres_url, "processes")
