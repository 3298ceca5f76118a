"""Settlement periods: funded events settled as one batch per currency, exactly once."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.models import Allocation, Job, LedgerTransaction, RevenueEvent, SettlementPeriod
from hitrack.db.session import make_engine, make_session_factory
from hitrack.domain import credit
from hitrack.domain.errors import Conflict, InvalidInput, PermissionDenied
from hitrack.jobs.database import DatabaseQueue
from hitrack.services import jobs, ledger, revenue, settlement, statements
from hitrack.services.graph import ancestry_ids, load_graph
from tests.conftest import migrated_postgres_schema
from tests.factories import Song, make_song, usd

_ids = itertools.count()


@pytest.fixture
def own_postgres() -> Iterator[Engine]:
    """A PostgreSQL schema of its own: these tests commit from several sessions."""
    with migrated_postgres_schema("hitrack_periods") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def song(db: Session) -> Song:
    song = make_song(db)
    song.model.settlement_mode = "period"
    song.night_swim.settlement_mode = "period"
    db.commit()
    return song


def fund(
    db: Session, song: Song, work, amount: int, currency: str = "USD", **extra: object
) -> RevenueEvent:  # type: ignore[no-untyped-def]
    data = {
        "external_id": f"p-{next(_ids)}",
        "work": work.public_id,
        "amount": amount,
        "currency": currency,
        **extra,
    }
    recorded = revenue.record_revenue(db, song.admin, data, default_fee_rate=Fraction(0))
    return recorded.event


def reference(db: Session, events: list[RevenueEvent]) -> dict[str, int]:
    """Each creator's micros (earnings of the batch + recoups) by the exact engine."""
    G = load_graph(db, ancestry_ids(db, {e.work_id for e in events}))
    batch = credit.settle_batch(G, [revenue.domain_event(e) for e in events])
    micros = dict(batch.creators)
    for handle, m in batch.recouped.items():
        micros[handle] = micros.get(handle, 0) + m
    return {h: m for h, m in micros.items() if m}


def paid(db: Session, period: SettlementPeriod) -> dict[str, int]:
    rows = db.execute(
        select(Allocation.creator_id, func.sum(Allocation.amount))
        .outerjoin(RevenueEvent, Allocation.event_id == RevenueEvent.id)
        .where((Allocation.period_id == period.id) | (RevenueEvent.period_id == period.id))
        .group_by(Allocation.creator_id)
    ).all()
    from hitrack.db.models import Creator

    return {db.get(Creator, c).handle: int(m) for c, m in rows if m}


def test_period_events_wait_funded_and_show_as_pending(db: Session, song: Song) -> None:
    event = fund(db, song, song.night_swim, usd(100))
    assert event.state == "funded" and event.transaction_id is None
    found = statements.earnings(db, song.ana.id)
    assert found.balances == {}
    assert found.pending_totals == {"USD": usd(29)}
    assert any("to your record Shoreline" in line for line in found.pending[0].lines)


def test_closing_a_period_settles_the_batch_exactly_once(db: Session, song: Song) -> None:
    events = [
        fund(db, song, song.night_swim, usd(100), costs=usd(10), fee_rate="0.1"),
        fund(db, song, song.night_swim, 333_333),
        fund(db, song, song.model, 1_000_001, attribution={song.shoreline.public_id: 1}),
    ]
    eur = fund(db, song, song.night_swim, 777_777, currency="EUR")
    until = utcnow()
    expected = reference(db, events)
    period = settlement.close_currency(db, until, "USD")
    assert period is not None and period.events == 3
    assert paid(db, period) == expected
    for event in events:
        db.refresh(event)
        assert event.state == "settled" and event.period_id == period.id
        assert event.transaction_id == period.transaction_id
    db.refresh(eur)
    assert eur.state == "funded"  # another currency, another transaction
    # Again, and again with a later cut-off: nothing is settled twice.
    assert settlement.close_currency(db, until, "USD").id == period.id  # type: ignore[union-attr]
    assert settlement.close_currency(db, utcnow(), "USD") is None
    keys = db.scalars(
        select(LedgerTransaction.idempotency_key).where(
            LedgerTransaction.idempotency_key.like("settlement-period:%")
        )
    ).all()
    assert keys == [f"settlement-period:{period.public_id}"]
    assert ledger.check_invariants(db) == []
    assert ledger.balance(db, "platform:unsettled:USD") == 0
    lines = statements.earnings(db, song.ana.id).lines
    assert any(line.work_kind == "period" for line in lines)


def test_the_period_job_settles_every_currency_and_a_resubmission_is_the_same_job(
    db: Session, song: Song
) -> None:
    fund(db, song, song.night_swim, usd(5))
    fund(db, song, song.night_swim, usd(7), currency="EUR")
    queue = DatabaseQueue()
    until = settlement.parse_until(None)
    job = settlement.submit_period(db, queue, song.admin, until)
    assert settlement.submit_period(db, queue, song.admin, until).id == job.id
    result = settlement.settlement_period_job(_context(db, job))
    assert result["events"] == 2
    assert sorted(p.currency for p in settlement.periods(db)) == ["EUR", "USD"]


def test_a_worker_killed_mid_period_is_resumed_and_settles_once_to_the_micro(
    db: Session, song: Song
) -> None:
    usd_events = [fund(db, song, song.night_swim, 1_000_003 * (i + 1)) for i in range(3)]
    eur_events = [fund(db, song, song.model, 999_999, currency="EUR")]
    expected = {"USD": reference(db, usd_events), "EUR": reference(db, eur_events)}
    queue = DatabaseQueue()
    until = utcnow()
    job = settlement.submit_period(db, queue, song.admin, until)
    # The dead worker's state: it claimed the job, committed EUR and its checkpoint, then died.
    settlement.close_currency(db, until, "EUR", job_id=job.id)
    with db.begin_nested():
        db.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(
                status="running",
                attempts=1,
                state={"done": ["EUR"]},
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )
    db.commit()
    assert jobs.requeue_stale(db, queue, older_than=timedelta(minutes=1)) == [job.public_id]
    db.refresh(job)
    result = settlement.settlement_period_job(_context(db, job))
    assert sorted(result["periods"]) == sorted(p.public_id for p in settlement.periods(db))
    for period in settlement.periods(db):
        assert paid(db, period) == expected[period.currency]
    assert db.scalar(select(func.count()).select_from(SettlementPeriod)) == 2


def test_bad_cut_offs_and_non_admins_are_refused(db: Session, song: Song) -> None:
    with pytest.raises(Conflict, match="future"):  # not yet: it can close later
        settlement.parse_until((utcnow() + timedelta(days=2)).date().isoformat())
    with pytest.raises(InvalidInput, match="not an ISO date"):
        settlement.parse_until("yesterday")
    with pytest.raises(PermissionDenied):
        settlement.submit_period(db, DatabaseQueue(), song.ana, utcnow())
    assert db.scalar(select(func.count()).select_from(Job)) == 0


@pytest.mark.postgres
def test_concurrent_closes_settle_each_event_once(own_postgres: Engine) -> None:
    postgresql_engine = own_postgres
    sessions = make_session_factory(postgresql_engine)
    with sessions() as db:
        song = make_song(db)
        song.night_swim.settlement_mode = "period"
        db.commit()
        events = [fund(db, song, song.night_swim, 1_000_000 + i) for i in range(20)]
        expected = reference(db, events)
        event_ids = [e.id for e in events]
    until = utcnow()
    barrier = threading.Barrier(2)
    results: list[object] = []

    def close() -> None:
        with sessions() as db:
            barrier.wait()
            period = settlement.close_currency(db, until, "USD")
            results.append(None if period is None else period.id)

    threads = [threading.Thread(target=close) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0] is not None
    with sessions() as db:
        period = db.get(SettlementPeriod, results[0])
        assert period is not None and period.events == 20
        assert paid(db, period) == expected
        states = db.scalars(select(RevenueEvent.state).where(RevenueEvent.id.in_(event_ids)))
        assert set(states) == {"settled"}


def _context(db: Session, job: Job) -> jobs.JobContext:
    from contextlib import contextmanager

    @contextmanager
    def same_session():  # type: ignore[no-untyped-def]
        yield db

    return jobs.JobContext(
        job_id=job.id,
        public_id=job.public_id,
        kind=job.kind,
        params=dict(job.params),
        state=dict(job.state or {}),
        created_by_id=job.created_by_id,
        sessions=same_session,
    )


@pytest.mark.postgres
def test_a_citation_and_a_small_event_complete_while_a_large_period_settles(
    own_postgres: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgresql_engine = own_postgres
    from hitrack.domain import fast
    from hitrack.services import graph
    from tests.factories import make_work

    sessions = make_session_factory(postgresql_engine)
    with sessions() as db:
        song = make_song(db)
        song.model.settlement_mode = "period"
        db.commit()
        events = [fund(db, song, song.model, 1_000_000 + i) for i in range(200)]
        expected = reference(db, events)
        ana_id, bo_id = song.ana.id, song.bo.id
        shoreline, tide = song.shoreline.public_id, song.tide.public_id
        admin_id = song.admin.id
        own = make_work(db, "record", "Bo's new record", {song.bo: 1}).public_id
    until = utcnow()
    computing, release = threading.Event(), threading.Event()
    real_batch = fast.settle_batch

    def held_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        computing.set()  # the period holds its locks and is computing its batch
        release.wait(60)
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(settlement.fast, "settle_batch", held_batch)
    closed: list[SettlementPeriod | None] = []

    def close() -> None:
        with sessions() as db:
            closed.append(settlement.close_currency(db, until, "USD"))

    worker = threading.Thread(target=close)
    worker.start()
    try:
        assert computing.wait(60)
        # Requests run with the production timeouts: waiting on the period would fail them.
        requests = make_engine(
            postgresql_engine.url.render_as_string(hide_password=False),
            statement_timeout_ms=10_000,
            lock_timeout_ms=5_000,
        )
        try:
            with make_session_factory(requests)() as db:
                from hitrack.db.models import Creator

                bo = db.get(Creator, bo_id)
                citation = graph.cite(db, bo, own, shoreline, "1/10")
                assert citation.id is not None
                admin = db.get(Creator, admin_id)
                small = revenue.record_revenue(
                    db,
                    admin,
                    {"external_id": "small-1", "work": tide, "amount": 1_000, "currency": "USD"},
                    default_fee_rate=Fraction(0),
                ).event
                assert small.state == "settled"
            assert worker.is_alive()  # both completed while the period was still settling
        finally:
            requests.dispose()
    finally:
        release.set()
        worker.join(60)
    [period] = closed
    assert period is not None and period.events == 200
    with sessions() as db:
        assert paid(db, db.get(SettlementPeriod, period.id)) == expected
        assert ana_id in {a.creator_id for a in db.scalars(select(Allocation))}


@pytest.mark.postgres
def test_a_worker_killed_mid_period_settles_the_period_once_on_the_rerun(
    own_postgres: Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A real ``hitrack worker`` process, SIGKILLed while it settles the period's second currency.

    EUR settles and is checkpointed; USD waits on a row lock this test holds, so
    the kill lands inside USD's transaction. The rerun settles USD only, and each
    currency's period pays exactly the reference engine's micros.
    """
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from sqlalchemy import text

    root = Path(__file__).resolve().parents[2]
    url = own_postgres.url.render_as_string(hide_password=False)
    sessions = make_session_factory(own_postgres)
    with sessions() as db:
        song = make_song(db)
        song.night_swim.settlement_mode = "period"
        song.model.settlement_mode = "period"
        db.commit()
        usd_events = [fund(db, song, song.night_swim, 1_000_003 * (i + 1)) for i in range(3)]
        eur_events = [fund(db, song, song.model, 999_999 + i, currency="EUR") for i in range(2)]
        expected = {"USD": reference(db, usd_events), "EUR": reference(db, eur_events)}
        held_id = usd_events[0].id
        job = settlement.submit_period(db, DatabaseQueue(), song.admin, utcnow())
        job_id = job.id

    env = {k: v for k, v in os.environ.items() if not k.startswith("HITRACK_")}
    env.update(
        HITRACK_DATABASE_URL=url,
        HITRACK_DATA_DIR=str(tmp_path),
        HITRACK_ENV="test",
        HITRACK_SECRET_KEY="worker-test",
        HITRACK_JOBS="database",
        HITRACK_DB_LOCK_TIMEOUT_MS="0",  # the dying worker waits on our lock, never gives up
        PYTHONPATH=str(root),
    )

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "hitrack.cli", "worker", "--burst"],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    holder = sessions()
    holder.execute(select(RevenueEvent.id).where(RevenueEvent.id == held_id).with_for_update())
    worker = start_worker()
    try:
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE '%revenue_events%FOR UPDATE%' "
            "AND pid <> pg_backend_pid()"
        )
        deadline = time.monotonic() + 120
        with own_postgres.connect() as probe:
            # The worker reaches USD only after EUR is committed and checkpointed.
            while not probe.execute(waiting).scalar():
                assert worker.poll() is None, worker.communicate()[0].decode()
                assert time.monotonic() < deadline, "the worker never reached the USD batch"
                probe.rollback()
                time.sleep(0.05)  # polling the worker's state, not standing in for it
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        holder.rollback()
        holder.close()

    with sessions() as db:
        row = db.get(Job, job_id)
        assert row is not None and row.status == "running" and row.state == {"done": ["EUR"]}
        assert [p.currency for p in settlement.periods(db)] == ["EUR"]
        # The dead worker's heartbeat stops; a minute later it is stale.
        db.execute(
            update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(minutes=5))
        )
        db.commit()

    rerun = start_worker()
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output.decode()
    with sessions() as db:
        row = db.get(Job, job_id)
        assert row is not None and row.status == "succeeded", row.error
        closed = settlement.periods(db)
        assert sorted(p.currency for p in closed) == ["EUR", "USD"]  # each once
        for period in closed:
            assert paid(db, period) == expected[period.currency]
        assert db.scalar(select(func.count()).select_from(SettlementPeriod)) == 2
        states = db.scalars(select(RevenueEvent.state).where(RevenueEvent.currency == "USD"))
        assert set(states) == {"settled"}
        assert ledger.check_invariants(db) == []
