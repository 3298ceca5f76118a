"""``hitrack settlement close`` on a real SQLite file: the period settles once, with a summary."""

from __future__ import annotations

from fractions import Fraction

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hitrack.cli import main
from hitrack.db.models import RevenueEvent, SettlementPeriod
from hitrack.db.session import make_engine, make_session_factory
from hitrack.services import ledger, revenue
from tests.factories import make_song, usd


@pytest.fixture
def env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HITRACK_DATA_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("HITRACK_ENV", "test")
    monkeypatch.setenv("HITRACK_JOBS", "inline")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(f"sqlite:///{(tmp_path / 'instance' / 'hitrack.sqlite3').resolve()}")
    yield runner, make_session_factory(engine)
    engine.dispose()


def test_close_settles_the_funded_events_once_and_says_so(env) -> None:  # type: ignore[no-untyped-def]
    runner, sessions = env
    with sessions() as db:
        song = make_song(db)
        song.night_swim.settlement_mode = "period"
        db.commit()
        for i in range(3):
            revenue.record_revenue(
                db,
                song.admin,
                {
                    "external_id": f"cli-{i}",
                    "work": song.night_swim.public_id,
                    "amount": usd(10),
                    "currency": "USD",
                },
                default_fee_rate=Fraction(0),
            )
        email = song.admin.email
    result = runner.invoke(main, ["settlement", "close", "--as", email])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].endswith("30.00 USD (3 events)")
    again = runner.invoke(main, ["settlement", "close", "--as", email])
    assert again.exit_code == 0, again.output
    assert again.output.strip().splitlines()[-1].endswith("nothing was waiting")
    with sessions() as db:
        assert len(db.scalars(select(SettlementPeriod)).all()) == 1
        assert set(db.scalars(select(RevenueEvent.state))) == {"settled"}
        assert ledger.check_invariants(db) == []


def test_a_bad_cut_off_is_refused_and_changes_nothing(env) -> None:  # type: ignore[no-untyped-def]
    runner, sessions = env
    result = runner.invoke(main, ["settlement", "close", "--until", "2999-01-01"])
    assert result.exit_code == 1
    assert "cannot close in the future" in result.output
    with sessions() as db:
        assert db.scalars(select(SettlementPeriod)).all() == []
