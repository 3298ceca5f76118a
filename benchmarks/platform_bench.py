"""Platform benchmark: the real path (CLI, HTTP, services) on PostgreSQL, exact micros checked.

``--path import`` (the default): the catalogue of ``benchmarks/catalogue.py``
(``--works`` works, a remix chain of ``--chain`` records, credits) is imported
with ``hitrack graph import``; the platform is started with waitress
in-process on a loopback port; over HTTP a model is registered and its
manifest of ``--manifest`` records uploaded as a file and checked by the
``model_manifest`` job; one revenue event at the end of the chain (ancestry of
``--chain`` works) is posted and settled immediately; ``hitrack ledger check``
runs over the result. ``--path services`` is the earlier benchmark below.

Earlier benchmark (``--path services``):

Builds a catalogue in a fresh PostgreSQL schema (bulk inserts): ``--works``
records by ``--works // 5`` creators, 10 % of them remixes of an earlier
record, and one model whose manifest is every record. Then times, through
the service path (``hitrack.services``, a real PostgreSQL session):

* the compact graph rebuild (the ``compact_graph_rebuild`` job's work);
* one immediate revenue event on the model (record -> settle -> ledger commit),
  with the compact graph loaded;
* a settlement period of ``--events`` funded events spread over the records;
* one creator's explanation on demand (the model event).

Every settled amount is compared with the exact engine on a sample of creators.

    HITRACK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/platform_bench.py --works 100000 --events 100000
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from hitrack.db.base import utcnow  # noqa: E402
from hitrack.db.migrate import upgrade  # noqa: E402
from hitrack.db.models import (  # noqa: E402
    Allocation,
    Citation,
    Creator,
    RevenueEvent,
    Work,
    WorkOwner,
)
from hitrack.db.session import make_engine, make_session_factory  # noqa: E402
from hitrack.domain import credit  # noqa: E402
from hitrack.services import compact_graph, explanations, ledger, revenue, settlement  # noqa: E402
from hitrack.services.graph import bump_graph_version  # noqa: E402

SEED = 11


def timed(label: str, results: dict[str, float]):  # type: ignore[no-untyped-def]
    class _T:
        def __enter__(self) -> None:
            self.start = time.perf_counter()

        def __exit__(self, *_: object) -> None:
            results[label] = time.perf_counter() - self.start
            print(f"{label}: {results[label]:.2f} s", flush=True)

    return _T()


def build_catalogue(db, works: int) -> tuple[int, int, list[int]]:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    creators = max(works // 5, 1)
    db.execute(
        insert(Creator),
        [
            {"handle": f"c{i:07d}", "display_name": f"Creator {i}", "email": None}
            for i in range(creators)
        ],
    )
    admin = Creator(handle="admin", display_name="Admin", email="admin@bench", role="admin")
    db.add(admin)
    db.flush()
    creator_ids = list(
        db.scalars(select(Creator.id).where(Creator.handle != "admin").order_by(Creator.id))
    )
    version = bump_graph_version(db)
    db.execute(
        insert(Work),
        [
            {
                "public_id": f"r{i:07d}",
                "kind": "record",
                "title": f"Record {i}",
                "consent_ai_training": True,
            }
            for i in range(works)
        ],
    )
    work_ids = list(db.scalars(select(Work.id).where(Work.kind == "record").order_by(Work.id)))
    db.execute(
        insert(WorkOwner),
        [
            {
                "work_id": w,
                "creator_id": creator_ids[rng.randrange(creators)],
                "fraction_num": 1,
                "fraction_den": 1,
                "graph_version": version,
            }
            for w in work_ids
        ],
    )
    remixes = [
        {
            "work_id": work_ids[i],
            "source_id": work_ids[rng.randrange(i)],
            "share_num": rng.randint(1, 40),
            "share_den": 100,
            "graph_version": version,
        }
        for i in range(1, works)
        if rng.random() < 0.1
    ]
    for start in range(0, len(remixes), 20_000):
        db.execute(insert(Citation), remixes[start : start + 20_000])
    model = Work(public_id="m0000001", kind="model", title="Big Model", settlement_mode="immediate")
    db.add(model)
    db.flush()
    db.execute(
        insert(WorkOwner),
        [
            {
                "work_id": model.id,
                "creator_id": admin.id,
                "fraction_num": 1,
                "fraction_den": 1,
                "graph_version": version,
            }
        ],
    )
    manifest = [
        {
            "work_id": model.id,
            "source_id": w,
            "share_num": 1,
            "share_den": 2 * works,
            "graph_version": version,
        }
        for w in work_ids
    ]
    for start in range(0, len(manifest), 20_000):
        db.execute(insert(Citation), manifest[start : start + 20_000])
    db.commit()
    return admin.id, model.id, work_ids


def check_sample(db, event: RevenueEvent, sample: int = 50) -> None:  # type: ignore[no-untyped-def]
    """The stored micros of ``event`` equal the exact engine's, on a sample of creators."""
    cg = compact_graph.whole_graph(db).graph
    start = cg.work_index[event.work.public_id]
    G = cg.to_graph(np.flatnonzero(cg.ancestry_mask(start)).tolist())
    exact = credit.settle_event(G, revenue.domain_event(event))
    stored = {
        handle: amount
        for handle, amount in db.execute(
            select(Creator.handle, Allocation.amount)
            .join(Creator, Creator.id == Allocation.creator_id)
            .where(Allocation.event_id == event.id, Allocation.kind == "earning")
        )
    }
    rng = random.Random(SEED)
    for handle in rng.sample(sorted(exact.entitlements), min(sample, len(exact.entitlements))):
        assert stored.get(handle, 0) == exact.creators.get(handle, 0), handle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", choices=("import", "services"), default="import")
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--chain", type=int, default=100_000)
    parser.add_argument("--manifest", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    if args.path == "import":
        from platform_http import run_import_path

        run_import_path(args.works, args.chain, args.manifest)
    else:
        services_path(args.works, args.events)


def services_path(works: int, events: int) -> None:
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
    results: dict[str, float] = {}
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions() as db:
            with timed("catalogue bulk load", results):
                admin_id, model_id, work_ids = build_catalogue(db, works)
            with timed("compact graph rebuild (job)", results):
                compact_graph.rebuild(db)
            admin = db.get(Creator, admin_id)
            model = db.get(Work, model_id)
            assert model is not None
            with timed(f"one immediate event, model with a {works}-work manifest", results):
                recorded = revenue.record_revenue(
                    db,
                    admin,
                    {
                        "external_id": "bench-model-1",
                        "work": model.public_id,
                        "amount": 1_000_000_007,
                        "currency": "USD",
                    },
                    default_fee_rate=Fraction(1, 10),
                )
            event = revenue.get_event(db, recorded.event.external_id)
            check_sample(db, event)
            creator = db.scalar(
                select(Creator)
                .join(Allocation, Allocation.creator_id == Creator.id)
                .where(
                    Allocation.event_id == event.id,
                    Allocation.kind == "earning",
                    Creator.id != admin_id,  # a contributor, not the model's operator
                )
                .order_by(Allocation.amount.desc())
                .limit(1)
            )
            db.rollback()
            with timed("one contributor's explanation on demand", results):
                lines = explanations.explain_event(db, event, creator, kind="earning")
            assert lines, "the creator was paid and is explained"
            # A period of funded events over the records, funded in bulk.
            rng = random.Random(SEED)
            amounts = [rng.randint(1, 10_000_000) for _ in range(events)]
            funding = ledger.post_transaction(
                db,
                "bench-funding",
                "revenue_funding",
                ledger.revenue_funding_postings("USD", sum(amounts)),
            )
            now = utcnow()
            rows = [
                {
                    "external_id": f"bench-{i}",
                    "payload_hash": "0" * 64,
                    "origin": "api",
                    "work_id": work_ids[rng.randrange(len(work_ids))],
                    "currency": "USD",
                    "amount": amount,
                    "state": "funded",
                    "funding_method": "on_arrival",
                    "funding_transaction_id": funding.id,
                    "funded_at": now,
                }
                for i, amount in enumerate(amounts)
            ]
            for start in range(0, len(rows), 20_000):
                db.execute(insert(RevenueEvent), rows[start : start + 20_000])
            db.commit()
            with timed(f"settlement period of {events} funded events", results):
                period = settlement.close_currency(db, utcnow(), "USD")
            assert period is not None and period.events == events
            breaches = ledger.check_invariants(db) if events <= 20_000 else []
            assert not [b for b in breaches if "period" in b], breaches
    finally:
        engine.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()
    print("| operation | seconds |\n|---|---|")
    for label, seconds in results.items():
        print(f"| {label} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
