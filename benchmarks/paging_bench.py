"""Paged pages at 100k rows on PostgreSQL: a work page, earnings, a statement CSV, a payout run.

Builds, in a fresh schema of the given database, a work cited by N works, a
creator with N allocations, and N verified creators with balances, then
measures through the real Flask app (test client, real PostgreSQL):

- ``GET /works/{id}`` and ``GET /api/v1/works/{id}`` (first and a deep page): p99
- ``GET /me/earnings`` and ``GET /api/v1/me/earnings`` (first and a deep page): p99
  (the page signed in with the same bearer token as the API)
- ``GET /api/v1/me/statement?format=csv`` over N lines: seconds, streamed
- a payout run over N creators with the manual provider (bulk path): seconds

Run::

    HITRACK_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/paging_test \\
        python benchmarks/paging_bench.py --n 100000
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hitrack.db.migrate import upgrade  # noqa: E402
from hitrack.db.models import (  # noqa: E402
    Creator,
)
from hitrack.db.session import make_engine  # noqa: E402
from hitrack.payments import ManualProvider  # noqa: E402
from hitrack.services.payouts import run_payouts  # noqa: E402
from hitrack.settings import Settings  # noqa: E402
from hitrack.web import create_app  # noqa: E402

CHUNK = 10_000


def build(db: Session, n: int) -> dict[str, object]:
    """The catalogue, written with set-based SQL (generate_series): seconds, not minutes."""
    sql = [
        "INSERT INTO creators (handle, display_name, email, role, created_at) "
        "VALUES ('star', 'Star', 'star@bench.test', 'creator', now())",
        "INSERT INTO works (public_id, kind, title, description, visibility, created_at, "
        "consent_remix, consent_ai_training, attribution_weight_num, attribution_weight_den, "
        "credit_pool_num, credit_pool_den, status) VALUES ('popular', 'record', 'Popular', '', "
        "'public', now(), true, false, 0, 1, 0, 1, 'active')",
        "INSERT INTO work_owners (work_id, creator_id, fraction_num, fraction_den, graph_version) "
        "SELECT w.id, c.id, 1, 1, 0 FROM works w, creators c "
        "WHERE w.public_id = 'popular' AND c.handle = 'star'",
        "INSERT INTO works (public_id, kind, title, description, visibility, created_at, "
        "consent_remix, consent_ai_training, attribution_weight_num, attribution_weight_den, "
        "credit_pool_num, credit_pool_den, status) SELECT 'c' || g, 'record', 'Citer ' || g, '', "
        "'public', now(), true, false, 0, 1, 0, 1, 'active' FROM generate_series(1, :n) g",
        "INSERT INTO citations (work_id, source_id, share_num, share_den, created_at, "
        "graph_version) SELECT id, (SELECT id FROM works WHERE public_id = 'popular'), 1, 100, "
        "now(), 0 FROM works WHERE public_id LIKE 'c%'",
        "INSERT INTO ledger_transactions (idempotency_key, payload_hash, kind, description, "
        "created_at) SELECT 'bench-' || g, '0', 'revenue', '', "
        "now() - (:n + 1 - g) * interval '1 second' FROM generate_series(1, :n) g",
        "INSERT INTO revenue_events (external_id, payload_hash, origin, work_id, currency, amount, "
        "costs, fee_rate_num, fee_rate_den, fee, recouped, distributable, occurred_at, state, "
        "funding_transaction_id, transaction_id, graph_version, rejection_reason) "
        "SELECT 'ev' || t.id, '0', 'api', (SELECT id FROM works WHERE public_id = 'popular'), "
        "'USD', 1000000, 0, 0, 1, 0, 0, 1000000, t.created_at, 'settled', t.id, t.id, 0, '' "
        "FROM ledger_transactions t WHERE t.idempotency_key LIKE 'bench-%'",
        "INSERT INTO allocations (event_id, creator_id, kind, amount, exact) "
        "SELECT e.id, (SELECT id FROM creators WHERE handle = 'star'), 'earning', 1000000, "
        "'1000000' FROM revenue_events e ORDER BY e.id",
        "INSERT INTO ledger_accounts (code, kind, creator_id, currency, balance) "
        "SELECT 'creator:' || id || ':payable:USD', 'creator_payable', id, 'USD', -1000000::bigint * :n "
        "FROM creators WHERE handle = 'star'",
        "INSERT INTO ledger_postings (transaction_id, account_id, currency, amount) "
        "SELECT t.id, (SELECT id FROM ledger_accounts WHERE code LIKE 'creator:%'), 'USD', "
        "-1000000 FROM ledger_transactions t WHERE t.idempotency_key LIKE 'bench-%'",
        # n verified creators with 20 USD each on the manual provider.
        "INSERT INTO creators (handle, display_name, email, role, created_at) "
        "SELECT 'payee-' || g, 'Payee ' || g, NULL, 'creator', now() FROM generate_series(1, :n) g",
        "INSERT INTO ledger_accounts (code, kind, creator_id, currency, balance) "
        "SELECT 'creator:' || id || ':payable:USD', 'creator_payable', id, 'USD', -20000000 "
        "FROM creators WHERE handle LIKE 'payee-%'",
        "INSERT INTO payout_accounts (creator_id, provider, provider_account_id, state, "
        "status_reason, details, updated_at) SELECT id, 'manual', 'manual:' || id, 'payable', '', "
        "'bench', now() FROM creators WHERE handle LIKE 'payee-%'",
        "INSERT INTO creator_verifications (creator_id, source, reason, created_at) "
        "SELECT id, 'admin', 'bench', now() FROM creators WHERE handle LIKE 'payee-%'",
        "ANALYZE",
    ]
    for statement in sql:
        db.execute(text(statement), {"n": n} if ":n" in statement else {})
    db.commit()
    star = db.scalar(select(Creator.id).where(Creator.handle == "star"))
    return {"work": "popular", "star": star}


def p99(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def measure_pages(
    app: Flask, engine: Engine, seeded: dict[str, object], args: argparse.Namespace
) -> None:
    client = app.test_client()
    work = seeded["work"]
    star = seeded["star"]
    with app.app_context():
        from hitrack.services import accounts

        with Session(engine) as db:
            token = accounts.issue_token(db, db.get(Creator, star))  # type: ignore[arg-type]
    auth = {"Authorization": f"Bearer {token}"}
    deep = client.get(f"/api/v1/works/{work}?per_page=50").get_json()
    cursor = deep["cited_by_next"]
    for _ in range(20):
        cursor = client.get(f"/api/v1/works/{work}?cited_by_after={cursor}").get_json()[
            "cited_by_next"
        ]
    figures = {
        "work page (HTML)": lambda: client.get(f"/works/{work}"),
        "work API, first page": lambda: client.get(f"/api/v1/works/{work}"),
        "work API, page 21": lambda: client.get(f"/api/v1/works/{work}?cited_by_after={cursor}"),
        "earnings page (HTML), first page": lambda: client.get("/me/earnings", headers=auth),
        "earnings page (HTML), deep page": lambda: client.get(
            f"/me/earnings?before={args.n // 2}", headers=auth
        ),
        "earnings API, first page": lambda: client.get("/api/v1/me/earnings", headers=auth),
        "earnings API, deep page": lambda: client.get(
            f"/api/v1/me/earnings?before={args.n // 2}", headers=auth
        ),
    }
    for name, fn in figures.items():
        status = fn().status_code  # type: ignore[attr-defined]
        assert status == 200, f"{name}: {status}"
        median, worst = p99(fn, args.runs)
        print(f"{name}: median {median:.1f} ms, p99 {worst:.1f} ms")
    t = time.perf_counter()
    response = client.get("/api/v1/me/statement?format=csv", headers=auth)
    lines = sum(chunk.count(b"\n") for chunk in response.iter_encoded())
    print(f"statement CSV: {lines} lines streamed in {time.perf_counter() - t:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument(
        "--skip-payouts", action="store_true", help="measure the pages and the CSV only"
    )
    parser.add_argument(
        "--payouts-only", action="store_true", help="measure only the payout run, not the pages"
    )
    args = parser.parse_args()
    url = os.environ.get(
        "HITRACK_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/paging_test"
    )
    schema = f"paging_bench_{secrets.token_hex(3)}"
    admin_engine = make_engine(url)
    with admin_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{sep}options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        t = time.perf_counter()
        with Session(engine) as db:
            seeded = build(db, args.n)
        print(f"built n={args.n} in {time.perf_counter() - t:.1f} s")
        app = create_app(
            Settings(
                database_url=str(engine.url.render_as_string(hide_password=False)),
                environment="test",
                secret_key="bench",
                data_dir=Path("/tmp/paging-bench"),
            )
        )
        if not args.payouts_only:
            measure_pages(app, engine, seeded, args)
        if args.skip_payouts:
            return
        t = time.perf_counter()
        with Session(engine) as db:
            run = run_payouts(
                db,
                ManualProvider(),
                started_by=None,
                minimums={"USD": 10_000_000},
                now=datetime.now(UTC),
            )
            summary = run.summary.get("counts")
        print(f"payout run (manual): {summary} in {time.perf_counter() - t:.1f} s")
    finally:
        engine.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
