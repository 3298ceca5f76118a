"""Migration 0005 gives every ledger account its running balance, from its postings.

A ledger an earlier version let grow beyond 64 bits gets a balance one past
the account cap (so it takes no more money and ``ledger check`` reports it),
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hitrack.db.migrate import upgrade
from hitrack.db.session import make_engine
from hitrack.domain.money import MAX_ACCOUNT_MICROS
from tests.conftest import migrated_postgres_schema

INT64_MAX = 2**63 - 1


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        yield engine
        engine.dispose()
        return
    # A fresh schema, migrated and then emptied back to nothing but its search path.
    with migrated_postgres_schema("hitrack_mig") as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield engine
        engine.dispose()


def test_running_balances_are_backfilled_and_overflowed_accounts_capped(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0004")
    with empty_engine.begin() as conn:
        for code in ("platform:cash:USD", "platform:fees:USD", "platform:cash:JPY"):
            conn.execute(
                text(
                    "INSERT INTO ledger_accounts (code, kind, currency) "
                    "VALUES (:code, :kind, :currency)"
                ),
                {"code": code, "kind": "platform_" + code.split(":")[1], "currency": code[-3:]},
            )
        ids = dict(conn.execute(text("SELECT code, id FROM ledger_accounts")).all())
        rows = [
            ("platform:cash:USD", INT64_MAX),
            ("platform:fees:USD", -INT64_MAX),
            ("platform:cash:USD", INT64_MAX),
            ("platform:fees:USD", -INT64_MAX),
            ("platform:cash:JPY", 5_000_000),
            ("platform:cash:JPY", -1_000_000),
        ]
        for n, (code, amount) in enumerate(rows):
            if n % 2 == 0:
                conn.execute(
                    text(
                        "INSERT INTO ledger_transactions "
                        "(idempotency_key, payload_hash, kind, description, created_at) "
                        "VALUES (:key, 'x', 'revenue', '', CURRENT_TIMESTAMP)"
                    ),
                    {"key": f"old-{n}"},
                )
                tx = conn.execute(text("SELECT max(id) FROM ledger_transactions")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO ledger_postings (transaction_id, account_id, currency, amount) "
                    "VALUES (:tx, :account, :currency, :amount)"
                ),
                {"tx": tx, "account": ids[code], "currency": code[-3:], "amount": amount},
            )

    upgrade(empty_engine)

    with empty_engine.connect() as conn:
        balances = dict(conn.execute(text("SELECT code, balance FROM ledger_accounts")).all())
    assert balances == {
        "platform:cash:USD": MAX_ACCOUNT_MICROS + 1,
        "platform:fees:USD": -(MAX_ACCOUNT_MICROS + 1),
        "platform:cash:JPY": 4_000_000,
    }
