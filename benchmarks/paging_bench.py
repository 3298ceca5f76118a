"""Paged pages at 100k rows on PostgreSQL: a work page, earnings, a statement CSV, a payout run.

Builds, in a fresh schema of the given database, a work cited by N works, a
creator with N allocations, and N verified creators with balances, then
measures through the real Flask app (test client, real PostgreSQL):

- ``GET /works/{id}`` and ``GET /api/v1/works/{id}`` (first and a deep page): p99
- ``GET /me/earnings`` and ``GET /api/v1/me/earnings`` (first and a deep page): p99
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

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hitrack.db.migrate import upgrade  # noqa: E402
from hitrack.db.models import (  # noqa: E402
    Allocation,
    Citation,
    Creator,
    CreatorVerification,
    LedgerAccount,
    LedgerTransaction,
    PayoutAccount,
    PayoutAccountState,
    RevenueEvent,
    Work,
)
from hitrack.db.session import make_engine  # noqa: E402
from hitrack.payments import ManualProvider  # noqa: E402
from hitrack.services.payouts.bulk import run_payouts_bulk  # noqa: E402
from hitrack.settings import Settings  # noqa: E402
from hitrack.web import create_app  # noqa: E402

CHUNK = 10_000


def _bulk(db: Session, model: type, rows: list[dict[str, object]]) -> None:
    for i in range(0, len(rows), CHUNK):
        db.execute(insert(model), rows[i : i + CHUNK])


def build(db: Session, n: int) -> dict[str, object]:
    tag = secrets.token_hex(3)
    star = Creator(handle=f"star-{tag}", display_name="Star", email=f"star-{tag}@bench.test")
    admin = Creator(handle=f"admin-{tag}", display_name="Admin", role="admin", email=None)
    db.add_all([star, admin])
    db.flush()
    popular = Work(public_id=f"pop{tag}", kind="record", title="Popular", created_by_id=star.id)
    db.add(popular)
    db.flush()
    _bulk(
        db,
        Work,
        [{"public_id": f"c{tag}{i}", "kind": "record", "title": f"Citer {i}"} for i in range(n)],
    )
    ids = db.scalars(select(Work.id).where(Work.public_id.like(f"c{tag}%"))).all()
    _bulk(
        db,
        Citation,
        [{"work_id": w, "source_id": popular.id, "share_num": 1, "share_den": 100} for w in ids],
    )
    # n settled events of one work, each with one allocation to the star.
    _bulk(
        db,
        LedgerTransaction,
        [
            {"idempotency_key": f"bench-{tag}-{i}", "payload_hash": "0" * 64, "kind": "revenue"}
            for i in range(n)
        ],
    )
    txs = db.scalars(
        select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key.like(f"bench-{tag}-%"))
    ).all()
    _bulk(
        db,
        RevenueEvent,
        [
            {
                "external_id": f"ev-{tag}-{i}",
                "payload_hash": "0" * 64,
                "origin": "api",
                "work_id": popular.id,
                "currency": "USD",
                "amount": 1_000_000,
                "state": "settled",
                "funding_transaction_id": tx,
                "transaction_id": tx,
                "graph_version": 0,
            }
            for i, tx in enumerate(txs)
        ],
    )
    events = db.scalars(
        select(RevenueEvent.id).where(RevenueEvent.external_id.like(f"ev-{tag}-%"))
    ).all()
    _bulk(
        db,
        Allocation,
        [
            {
                "event_id": e,
                "creator_id": star.id,
                "kind": "earning",
                "amount": 1_000_000,
                "exact": "1000000",
            }
            for e in events
        ],
    )
    db.add(
        LedgerAccount(
            code=f"creator:{star.id}:payable:USD",
            kind="creator_payable",
            creator_id=star.id,
            currency="USD",
            balance=-n * 1_000_000,
        )
    )
    # n verified creators with 20 USD each on the manual provider.
    _bulk(
        db,
        Creator,
        [{"handle": f"p-{tag}-{i}", "display_name": f"Payee {i}", "email": None} for i in range(n)],
    )
    payees = db.scalars(select(Creator.id).where(Creator.handle.like(f"p-{tag}-%"))).all()
    _bulk(
        db,
        LedgerAccount,
        [
            {
                "code": f"creator:{c}:payable:USD",
                "kind": "creator_payable",
                "creator_id": c,
                "currency": "USD",
                "balance": -20_000_000,
            }
            for c in payees
        ],
    )
    _bulk(
        db,
        PayoutAccount,
        [
            {
                "creator_id": c,
                "provider": "manual",
                "provider_account_id": f"manual:{c}",
                "state": PayoutAccountState.PAYABLE,
                "details": "bench",
            }
            for c in payees
        ],
    )
    _bulk(
        db,
        CreatorVerification,
        [{"creator_id": c, "source": "admin", "reason": "bench"} for c in payees],
    )
    db.commit()
    return {"work": popular.public_id, "star": star.id, "admin": admin.id}


def p99(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=100)
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
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        app = create_app(
            Settings(
                database_url=str(engine.url.render_as_string(hide_password=False)),
                environment="test",
                secret_key="bench",
                data_dir=Path("/tmp/paging-bench"),
            )
        )
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
            "work API, page 21": lambda: client.get(
                f"/api/v1/works/{work}?cited_by_after={cursor}"
            ),
            "earnings API, first page": lambda: client.get("/api/v1/me/earnings", headers=auth),
            "earnings API, deep page": lambda: client.get(
                f"/api/v1/me/earnings?before={args.n // 2}", headers=auth
            ),
        }
        for name, fn in figures.items():
            median, worst = p99(fn, args.runs)
            print(f"{name}: median {median:.1f} ms, p99 {worst:.1f} ms")
        t = time.perf_counter()
        response = client.get("/api/v1/me/statement?format=csv", headers=auth)
        lines = sum(chunk.count(b"\n") for chunk in response.iter_encoded())
        print(f"statement CSV: {lines} lines streamed in {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        with Session(engine) as db:
            run = run_payouts_bulk(
                db,
                ManualProvider(),
                started_by=None,
                minimums={"USD": 10_000_000},
                now=datetime.now(UTC),
            )
            summary = run.summary.get("counts")
        print(f"payout run (manual, bulk): {summary} in {time.perf_counter() - t:.1f} s")
    finally:
        engine.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
