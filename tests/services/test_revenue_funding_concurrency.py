"""An admin's confirmation and a Checkout webhook for one report at once fund it once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.migrate import upgrade
from hitrack.db.models import Creator, LedgerTransaction, RevenueEvent
from hitrack.db.session import make_engine, make_session_factory
from hitrack.domain.errors import Conflict
from hitrack.services import funding, ledger, revenue
from tests.conftest import migrated_postgres_schema
from tests.factories import make_song, usd

REPORTS = 6


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'funding.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    else:
        with migrated_postgres_schema("hitrack_fund") as pg_url:
            yield pg_url


def test_two_fundings_at_once_fund_each_report_exactly_once(url: str) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as db:
        song = make_song(db)
        admin_id, model = song.admin.id, song.model.public_id
        for n in range(REPORTS):
            revenue.record_revenue(
                db,
                song.cy,
                {"work": model, "amount": usd(16), "currency": "USD", "external_id": f"r{n}"},
                default_fee_rate=Fraction(0),
            )
    barrier = threading.Barrier(2)

    def attempt(fund: Callable[[Session, str], object], external_id: str) -> str:
        with sessions() as db:
            barrier.wait()
            try:
                fund(db, external_id)
            except Conflict:
                return "refused"
            return "funded"

    def by_admin(db: Session, external_id: str) -> object:
        admin = db.get(Creator, admin_id)
        assert admin is not None
        return funding.confirm_funding(db, admin, external_id, "wire")

    def by_checkout(db: Session, external_id: str) -> object:
        return funding.fund_from_checkout(
            db, external_id, session_id=f"cs_{external_id}", amount_minor=1600, currency="usd"
        )

    with ThreadPoolExecutor(2) as pool:
        for n in range(REPORTS):
            answers = sorted(pool.map(attempt, [by_admin, by_checkout], [f"r{n}"] * 2))
            assert answers == ["funded", "refused"]
    with sessions() as db:
        states = set(db.scalars(select(RevenueEvent.state)))
        fundings = db.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "revenue_funding")
        )
        assert states == {"settled"} and fundings == REPORTS
        assert ledger.balance(db, ledger.cash_account("USD")) == REPORTS * usd(16)
        assert ledger.check_invariants(db) == []
    engine.dispose()
