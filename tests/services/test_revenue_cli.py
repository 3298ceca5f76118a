"""``hitrack revenue import`` and ``hitrack ledger check`` on a real database file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hitrack.cli import main
from hitrack.db.migrate import upgrade
from hitrack.db.models import LedgerAccount, LedgerPosting, LedgerTransaction
from hitrack.db.session import make_engine
from tests.factories import make_song, usd


def setup_db(tmp_path: Path) -> tuple[str, str, str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as db:
        song = make_song(db)
    engine.dispose()
    return url, song.night_swim.public_id, song.admin.email or ""


def test_import_shows_progress_and_a_summary_then_ledger_check_passes(tmp_path: Path) -> None:
    url, work, admin = setup_db(tmp_path)
    csv_file = tmp_path / "revenue.csv"
    csv_file.write_text(
        "external_id,work,amount,currency,costs,fee_rate\n"
        + "".join(f"r{i},{work},{usd(1) + i},USD,0,0.1\n" for i in range(30))
    )
    runner = CliRunner()
    env = {"HITRACK_DATABASE_URL": url, "HITRACK_DATA_DIR": str(tmp_path)}
    result = runner.invoke(main, ["revenue", "import", str(csv_file), "--as", admin], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 30 rows: 30 new events" in result.stderr
    again = runner.invoke(main, ["revenue", "import", str(csv_file)], env=env)
    assert "0 new events, 30 already recorded" in again.stderr
    check = runner.invoke(main, ["ledger", "check"], env=env)
    assert check.exit_code == 0 and "every invariant holds" in check.stderr


def test_a_bad_line_is_named_and_nothing_is_imported(tmp_path: Path) -> None:
    url, work, _ = setup_db(tmp_path)
    csv_file = tmp_path / "revenue.csv"
    csv_file.write_text(f"external_id,work,amount,currency\na,{work},10,USD\nb,{work},ten,USD\n")
    env = {"HITRACK_DATABASE_URL": url, "HITRACK_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["revenue", "import", str(csv_file)], env=env)
    assert result.exit_code == 1
    assert "line 3: amount" in result.stderr and "nothing imported" in result.stderr
    assert "0 transactions" in CliRunner().invoke(main, ["ledger", "check"], env=env).stderr


def test_ledger_check_lists_breaches_and_exits_1(tmp_path: Path) -> None:
    url, work, _ = setup_db(tmp_path)
    engine = make_engine(url)
    with engine.begin() as conn:
        account = conn.execute(
            insert(LedgerAccount)
            .values(code="platform:cash:USD", kind="platform_cash", currency="USD")
            .returning(LedgerAccount.id)
        ).scalar()
        tx = conn.execute(
            insert(LedgerTransaction)
            .values(
                idempotency_key="forged",
                payload_hash="0" * 64,
                kind="revenue",
                description="",
                created_at=datetime.now(UTC),
            )
            .returning(LedgerTransaction.id)
        ).scalar()
        conn.execute(
            insert(LedgerPosting).values(
                transaction_id=tx, account_id=account, currency="USD", amount=5
            )
        )
        assert conn.execute(select(LedgerPosting.amount)).scalar() == 5
    engine.dispose()
    result = CliRunner().invoke(main, ["ledger", "check"], env={"HITRACK_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "USD: postings sum to 5, not 0" in result.stdout
    assert "breach" in result.stderr
