"""``hitrack ledger check`` covers unsettled revenue, on a real database file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session

from hitrack.cli import main
from hitrack.db.migrate import upgrade
from hitrack.db.session import make_engine
from hitrack.services import funding, ledger, revenue
from hitrack.services.unit_of_work import unit_of_work
from tests.factories import make_song, usd


def test_ledger_check_passes_with_reported_and_funded_events_and_finds_stray_unsettled_money(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as db:
        song = make_song(db)
        for external_id in ("out-1", "out-2"):
            revenue.record_revenue(
                db,
                song.cy,
                {
                    "work": song.model.public_id,
                    "amount": usd(4),
                    "currency": "USD",
                    "external_id": external_id,
                },
                default_fee_rate=Fraction(0),
            )
        funding.confirm_funding(db, song.admin, "out-1")
    env = {"HITRACK_DATABASE_URL": url, "HITRACK_DATA_DIR": str(tmp_path)}
    check = CliRunner().invoke(main, ["ledger", "check"], env=env)
    assert check.exit_code == 0 and "every invariant holds" in check.stderr, check.output

    with Session(engine) as db, unit_of_work(db):
        ledger.post_transaction(
            db, "stray", "revenue_funding", ledger.revenue_funding_postings("USD", 3)
        )
    engine.dispose()
    broken = CliRunner().invoke(main, ["ledger", "check"], env=env)
    assert broken.exit_code == 1
    assert (
        "USD: unsettled revenue holds 3 micros, but the funded events not yet settled sum to 0"
        in broken.stdout
    )
