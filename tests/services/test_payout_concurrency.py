"""Two payout runs at the same time never pay anyone twice (SQLite file database and PostgreSQL).

The runs use separate sessions on separate connections, as two admins or a
web request and ``hitrack payouts run`` would, against the fake Stripe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hitrack.db.migrate import upgrade
from hitrack.db.models import Payout, PayoutRun
from hitrack.db.session import make_engine
from hitrack.payments import StripeConnectProvider
from hitrack.services import ledger, payouts
from tests.conftest import migrated_postgres_schema
from tests.factories import MINIMUMS, ScriptedProvider, connect, fund, make_person, usd
from tests.fake_stripe import FakeStripe


@pytest.fixture
def sqlite_file_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgresql_own_schema() -> Iterator[Engine]:
    """A schema of its own: the runs commit for real, from several connections."""
    with migrated_postgres_schema("hitrack_runs") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_file_engine" if request.param == "sqlite" else "postgresql_own_schema"
    engine: Engine = request.getfixturevalue(name)
    return engine


def test_two_concurrent_runs_make_zero_duplicate_transfers(
    shared_engine: Engine, fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    sessions = sessionmaker(bind=shared_engine, expire_on_commit=False)
    with sessions() as db:
        admin = make_person(db, "Admin", admin=True)
        creators = [make_person(db, f"C{i}") for i in range(6)]
        for i, creator in enumerate(creators):
            row = payouts.connect_account(db, stripe_provider, creator)
            fake_stripe.complete_onboarding(row.provider_account_id)
            payouts.refresh_account(db, stripe_provider, creator)
            fund(db, creator, usd(10 + i) + 123)
        admin_id = admin.id

    # The overlap is arranged, not timed: both runs start together, and neither
    # sends a transfer before the other has held its payouts (or ended), so both
    # runs hold the same creators' money while the other's payouts are in flight.
    # The wait sits in the progress callback, which runs with no transaction
    # open, so it never holds SQLite's write lock against the other run.
    barrier = threading.Barrier(2)
    held = [threading.Event(), threading.Event()]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        def wait_for_the_other(done: int, _total: int) -> None:
            if done == 0:  # this run's payouts are held; none sent yet
                held[i].set()
                if not held[1 - i].wait(timeout=30):
                    errors.append(AssertionError(f"run {1 - i} never finished holding"))

        try:
            with sessions() as session:
                me = session.get(type(admin), admin_id)
                session.commit()  # SQLite: release the write lock before waiting for the other
                barrier.wait(timeout=10)
                payouts.run_payouts(
                    session,
                    stripe_provider,
                    started_by=me,
                    minimums=MINIMUMS,
                    progress=wait_for_the_other,
                )
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            held[i].set()  # a run that ended before holding never keeps the other waiting

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []

    transfers = fake_stripe.transfers()
    destinations = [t["destination"] for t in transfers]
    assert len(destinations) == len(set(destinations)) == len(creators)  # zero duplicates
    with sessions() as db:
        runs = db.scalars(select(PayoutRun)).all()
        assert len(runs) == 2
        paid = db.scalars(select(Payout).where(Payout.status == "paid")).all()
        assert sorted(p.creator_id for p in paid) == sorted(c.id for c in creators)
        for creator in creators:
            assert ledger.creator_balances(db, creator.id) == {"USD": 123}
            assert ledger.held_balances(db, creator.id) == {}
        assert sum(t["amount"] for t in transfers) == sum(1000 + 100 * i for i in range(6))
        assert ledger.check_invariants(db) == []


def test_one_payout_in_flight_per_creator_and_currency(db: Session) -> None:
    """The partial unique index refuses a second pending payout, even with money to pay."""
    admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
    connect(db, ana)
    fund(db, ana, usd(20))
    provider = ScriptedProvider(answers=["unknown_lost"])
    first = payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    assert [p.status for p in first.payouts] == ["pending"]
    fund(db, ana, usd(50))  # more earnings arrive while the first is unresolved
    second = payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS)
    assert second.payouts == [] and provider.calls == 1
    assert ledger.creator_balances(db, ana.id) == {"USD": usd(50)}
    assert ledger.held_balances(db, ana.id) == {"USD": usd(20)}
