"""One immediate revenue event at scale, HTTP to committed ledger, and a CSV revenue import.

Builds, in a fresh PostgreSQL schema, the catalogue of ``platform_bench.py``
(``--works`` records by ``--works // 5`` creators, one model whose manifest is
every record, settled ``immediate``), rebuilds the stored compact graph, then
times through the Flask app (``POST /api/v1/revenue`` with a bearer token, the
test client, so the whole request path runs in this process):

* the first event (the process loads the stored compact graph once);
* a second event (the graph already loaded): the steady-state figure;
* one contributor's explanation on demand;
* ``hitrack revenue import``'s service (:func:`hitrack.services.revenue.import_csv`)
  over ``--csv-rows`` rows spread over the records, streamed from a file.

Every event's stored micros are compared with the exact engine on a sample of
creators, and ``ledger.check_invariants`` must find nothing after the events.

    HITRACK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/event_bench.py --works 100000 --csv-rows 10000
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from platform_bench import build_catalogue, check_sample  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from hitrack.db.migrate import upgrade  # noqa: E402
from hitrack.db.models import Allocation, Creator, Work  # noqa: E402
from hitrack.db.session import make_engine, make_session_factory  # noqa: E402
from hitrack.services import accounts, compact_graph, explanations, ledger, revenue  # noqa: E402
from hitrack.settings import Settings  # noqa: E402
from hitrack.web import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--csv-rows", type=int, default=10_000)
    args = parser.parse_args()
    base = os.environ.get("HITRACK_TEST_DATABASE_URL")
    if not base:
        sys.exit("set HITRACK_TEST_DATABASE_URL to a PostgreSQL database")
    schema = f"bench_{secrets.token_hex(4)}"
    admin_engine = make_engine(base)
    with admin_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    results: list[tuple[str, float]] = []

    def report(label: str, seconds: float) -> None:
        results.append((label, seconds))
        print(f"{label}: {seconds:.2f} s", flush=True)

    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions() as db:
            start = time.perf_counter()
            admin_id, model_id, work_ids = build_catalogue(db, args.works)
            report("catalogue bulk load", time.perf_counter() - start)
            # Fresh statistics, as autovacuum gives a table soon after a bulk load:
            # the planner otherwise takes the new citations for a few thousand.
            db.commit()
            db.execute(text("ANALYZE"))
            db.commit()
            start = time.perf_counter()
            compact_graph.rebuild(db)
            report("compact graph rebuild", time.perf_counter() - start)
            admin = db.get(Creator, admin_id)
            model = db.get(Work, model_id)
            assert admin is not None and model is not None
            token = accounts.issue_token(db, admin)
            model_public_id = model.public_id
        compact_graph.forget()  # the web process loads the stored graph itself

        with tempfile.TemporaryDirectory() as data_dir:
            app = create_app(
                Settings(
                    data_dir=Path(data_dir),
                    environment="test",
                    secret_key="bench",
                    database_url=url,
                )
            )
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}
            for n, label in ((1, "first (loads the graph)"), (2, "second (graph loaded)")):
                start = time.perf_counter()
                response = client.post(
                    "/api/v1/revenue",
                    json={
                        "external_id": f"bench-model-{n}",
                        "work": model_public_id,
                        "amount": 1_000_000_007 * n,
                        "currency": "USD",
                    },
                    headers=headers,
                )
                seconds = time.perf_counter() - start
                assert response.status_code == 201, response.get_data(as_text=True)[:500]
                report(
                    f"one immediate event over HTTP, {args.works}-work manifest, {label}", seconds
                )
        with sessions() as db:
            first = revenue.get_event(db, "bench-model-1")
            assert first.state == "settled"
            event = revenue.get_event(db, "bench-model-2")
            assert event.state == "settled"
            check_sample(db, event)  # the exact engine over the whole manifest: minutes at 100k
            paid = db.scalar(
                select(Allocation.creator_id)
                .where(Allocation.event_id == event.id, Allocation.creator_id != admin_id)
                .order_by(Allocation.amount.desc())
                .limit(1)
            )
            creator = db.get(Creator, paid)
            assert creator is not None
            start = time.perf_counter()
            lines = explanations.explain_event(db, event, creator, kind="earning")
            report("one contributor's explanation on demand", time.perf_counter() - start)
            assert lines
            breaches = ledger.check_invariants(db)
            assert not breaches, breaches[:5]
            db.rollback()

            if args.csv_rows:
                rng = random.Random(7)
                publics = list(db.scalars(select(Work.public_id).where(Work.kind == "record")))
                with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
                    f.write("external_id,work,amount,currency\n")
                    for i in range(args.csv_rows):
                        f.write(f"csv-{i},{rng.choice(publics)},{rng.randint(1, 10**9)},USD\n")
                    path = f.name
                try:
                    start = time.perf_counter()
                    with open(path, encoding="utf-8", newline="") as stream:
                        result = revenue.import_csv(
                            db, stream, None, default_fee_rate=Fraction(1, 10)
                        )
                    seconds = time.perf_counter() - start
                finally:
                    os.unlink(path)
                assert result.created == args.csv_rows == result.settled, result
                report(
                    f"revenue CSV import, {args.csv_rows} rows ({args.csv_rows / seconds:,.0f} events/s)",
                    seconds,
                )
                # Its two steps: every row checked and recorded, funded (the ingest rate);
                # then each immediate event settled on its own.
                report(
                    f"... checked, recorded and funded "
                    f"({args.csv_rows / result.recorded_seconds:,.0f} events/s)",
                    result.recorded_seconds,
                )
                report(
                    f"... settled, one settlement per event "
                    f"({result.settled / result.settled_seconds:,.0f} events/s)",
                    result.settled_seconds,
                )
                event = revenue.get_event(db, "csv-0")
                check_sample(db, event)
                breaches = ledger.check_invariants(db)
                assert not breaches, breaches[:5]
    finally:
        engine.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()
    print("| operation | seconds |\n|---|---|")
    for label, seconds in results:
        print(f"| {label} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
