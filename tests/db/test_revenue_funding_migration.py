"""Migration 0003 gives events recorded before revenue had states their state and funding."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hitrack.db.migrate import upgrade
from hitrack.db.models import RevenueEvent
from hitrack.db.session import make_engine
from hitrack.domain.ledger import Posting, transaction_hash
from hitrack.services import ledger


def test_an_event_settled_before_0003_is_settled_and_funded_by_its_own_transaction(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0002")
    now = datetime.now(UTC)
    postings = [
        Posting("platform:cash:USD", "USD", 100),
        Posting("creator:1:payable:USD", "USD", -100),
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO creators (id, handle, display_name, role, created_at) "
                "VALUES (1, 'ana', 'Ana', 'creator', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO works (id, public_id, kind, title, description, visibility, "
                "created_at, consent_remix, consent_ai_training, attribution_weight_num, "
                "attribution_weight_den, status) VALUES (1, 'r1', 'record', 'Shoreline', '', "
                "'public', :now, 1, 0, 0, 1, 'active')"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO ledger_accounts (id, code, kind, creator_id, currency) VALUES "
                "(1, 'platform:cash:USD', 'platform_cash', NULL, 'USD'), "
                "(2, 'creator:1:payable:USD', 'creator_payable', 1, 'USD')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO ledger_transactions (id, idempotency_key, payload_hash, kind, "
                "description, created_at) VALUES (1, 'revenue:old-1', :digest, 'revenue', '', :now)"
            ),
            {"digest": transaction_hash("revenue", postings), "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO ledger_postings (transaction_id, account_id, currency, amount) "
                "VALUES (1, 1, 'USD', 100), (1, 2, 'USD', -100)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO revenue_events (id, external_id, payload_hash, origin, work_id, "
                "currency, amount, costs, fee_rate_num, fee_rate_den, fee, recouped, "
                "distributable, occurred_at, transaction_id) VALUES (1, 'old-1', :h, 'api', 1, "
                "'USD', 100, 0, 0, 1, 0, 0, 100, :now, 1)"
            ),
            {"h": "0" * 64, "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO allocations (event_id, creator_id, kind, amount, exact, explanation) "
                "VALUES (1, 1, 'earning', 100, '100/1', '[]')"
            )
        )

    upgrade(engine)

    with Session(engine) as db:
        event = db.scalars(select(RevenueEvent)).one()
        assert (event.state, event.funding_method, event.funding_transaction_id) == (
            "settled",
            "on_arrival",
            event.transaction_id,
        )
        assert event.funded_at == event.occurred_at
        assert ledger.check_invariants(db) == []
    engine.dispose()
