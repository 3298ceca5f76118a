"""``hitrack ledger check`` over a ledger of N transactions on PostgreSQL: seconds and peak memory.

Builds, in a fresh schema of the given database and with set-based SQL
(``generate_series``, a few statements whatever N), a ledger of the
platform's real shapes, every invariant true:

* revenue events funded (``revenue_funding``: cash in, unsettled revenue out)
  and settled on their own (``revenue``: unsettled revenue to the fee and three
  creators' payables, with their allocations);
* funded events waiting for a period, and one settlement period (its funded
  events settled as one transaction paying every creator, period allocations);
* payouts held (``payout_hold``) and posted (``payout_paid``);
* running balances equal to the postings' sums, payload hashes of the
  canonical postings (checked in Python on a sample of every kind).

Then runs ``hitrack ledger check`` in a child process (wall time, and the
child's peak RSS from ``os.wait4``), expecting "ledger ok"; with
``--breaches`` it then writes one breach of each kind and runs the check
again, expecting each to be named. Run::

    HITRACK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/ledger_bench.py --transactions 1000000 --breaches
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hitrack.db.migrate import upgrade  # noqa: E402
from hitrack.db.session import make_engine  # noqa: E402
from hitrack.domain import ledger as rules  # noqa: E402
from hitrack.domain.money import MAX_ACCOUNT_MICROS  # noqa: E402

HOLD = 100_000  # micros per payout: far below what any creator earns here

# The payload hash of each planned transaction, built as hitrack.domain.ledger does
# (canonical JSON of the kind and the merged postings, sorted); a sample is checked
# against rules.transaction_hash after the build.
_HASHES = """
CREATE TEMP TABLE plan_hash AS
SELECT t.id, encode(sha256(convert_to(
    '{"kind":' || to_json(t.kind)::text || ',"postings":[' ||
    coalesce(string_agg('[' || to_json(m.code)::text || ',"USD",' || m.total::text || ']', ','
             ORDER BY m.code COLLATE "C"), '') || ']}', 'UTF8')), 'hex') AS hash
FROM plan_tx t
LEFT JOIN (SELECT tx_id, code, sum(amount) AS total FROM plan_postings
           GROUP BY tx_id, code HAVING sum(amount) <> 0) m ON m.tx_id = t.id
GROUP BY t.id, t.kind
"""


def build(db: Session, n: int) -> dict[str, int]:
    """The ledger, about ``n`` transactions; the counts of each shape."""
    period_events = max(3, n // 1000)
    waiting = max(1, n // 1000)
    events = (n * 6 // 10) // 2
    payouts = max(1, (n - 2 * events - period_events - waiting - 1) // 2)
    creators = max(3, n // 50)
    seq = "nextval(pg_get_serial_sequence('ledger_transactions', 'id'))"
    params = {
        "e": events,
        "pe": period_events,
        "w": waiting,
        "p": payouts,
        "c": creators,
        "hold": HOLD,
    }
    sql = [
        "INSERT INTO creators (handle, display_name, email, role, created_at) "
        "SELECT 'lb-' || g, 'Creator ' || g, NULL, 'creator', now() FROM generate_series(0, :c - 1) g",
        "CREATE TEMP TABLE cr AS SELECT (substr(handle, 4))::int AS k, id FROM creators "
        "WHERE handle LIKE 'lb-%'",
        "CREATE UNIQUE INDEX ON cr (k)",  # the look-ups below: an index, not a scan each
        "INSERT INTO works (public_id, kind, title, description, visibility, created_at, "
        "consent_remix, consent_ai_training, attribution_weight_num, attribution_weight_den, "
        "credit_pool_num, credit_pool_den, status) VALUES ('lb-work', 'record', 'Ledger', '', "
        "'public', now(), true, false, 0, 1, 0, 1, 'active')",
        "INSERT INTO ledger_accounts (code, kind, creator_id, currency, balance) VALUES "
        "('platform:cash:USD', 'platform_cash', NULL, 'USD', 0), "
        "('platform:unsettled:USD', 'platform_unsettled', NULL, 'USD', 0), "
        "('platform:fees:USD', 'platform_fees', NULL, 'USD', 0), "
        "('platform:paid_out:USD', 'platform_paid_out', NULL, 'USD', 0)",
        "INSERT INTO ledger_accounts (code, kind, creator_id, currency, balance) "
        "SELECT 'creator:' || id || ':payable:USD', 'creator_payable', id, 'USD', 0 FROM cr "
        "UNION ALL SELECT 'creator:' || id || ':payout_hold:USD', 'creator_payout_hold', id, "
        "'USD', 0 FROM cr",
        # Events: g <= e settle alone, then pe settle in the period, then w wait for one.
        "CREATE TEMP TABLE ev AS SELECT g, amount, fee, amount - fee AS dist, "
        "(amount - fee) / 2 AS d1, (amount - fee) / 3 AS d2, "
        "amount - fee - (amount - fee) / 2 - (amount - fee) / 3 AS d3, "
        f"{seq} AS fund_tx, CASE WHEN g <= :e THEN {seq} END AS settle_tx, "
        "CASE WHEN g <= :e THEN 'alone' WHEN g <= :e + :pe THEN 'period' ELSE 'waiting' END "
        "AS how FROM (SELECT g, 1000000 + (g % 997) * 1013 AS amount, "
        "(1000000 + (g % 997) * 1013) / 10 AS fee "
        "FROM generate_series(1, :e + :pe + :w) g) s",
        "CREATE TEMP TABLE plan_tx (id bigint PRIMARY KEY, key text, kind text)",
        "CREATE TEMP TABLE plan_postings (tx_id bigint, code text, amount bigint)",
        "INSERT INTO plan_tx SELECT fund_tx, 'revenue-funding:lb-' || g, 'revenue_funding' FROM ev",
        "INSERT INTO plan_tx SELECT settle_tx, 'revenue:lb-' || g, 'revenue' FROM ev "
        "WHERE settle_tx IS NOT NULL",
        "INSERT INTO plan_postings SELECT fund_tx, 'platform:cash:USD', amount FROM ev "
        "UNION ALL SELECT fund_tx, 'platform:unsettled:USD', -amount FROM ev",
        "CREATE TEMP TABLE ev_alloc AS "
        "SELECT g, settle_tx, (SELECT id FROM cr WHERE k = g % :c) AS creator_id, d1 AS amount "
        "FROM ev WHERE how = 'alone' UNION ALL "
        "SELECT g, settle_tx, (SELECT id FROM cr WHERE k = (g + 1) % :c), d2 FROM ev "
        "WHERE how = 'alone' UNION ALL "
        "SELECT g, settle_tx, (SELECT id FROM cr WHERE k = (g + 2) % :c), d3 FROM ev "
        "WHERE how = 'alone'",
        "INSERT INTO plan_postings SELECT settle_tx, 'platform:unsettled:USD', amount FROM ev "
        "WHERE how = 'alone' UNION ALL SELECT settle_tx, 'platform:fees:USD', -fee FROM ev "
        "WHERE how = 'alone' UNION ALL SELECT settle_tx, 'creator:' || creator_id || "
        "':payable:USD', -amount FROM ev_alloc",
        # The period: its events' distributable split over every creator, remainder first.
        f"CREATE TEMP TABLE period AS SELECT {seq} AS tx, sum(amount)::bigint AS amount, "
        "sum(fee)::bigint AS fee, sum(dist)::bigint AS dist, count(*) AS events "
        "FROM ev WHERE how = 'period'",
        "INSERT INTO plan_tx SELECT tx, 'settlement-period:lb-period', 'revenue' FROM period",
        "CREATE TEMP TABLE period_alloc AS SELECT cr.id AS creator_id, "
        "p.dist / :c + CASE WHEN cr.k < p.dist % :c THEN 1 ELSE 0 END AS amount FROM cr, period p",
        "INSERT INTO plan_postings SELECT tx, 'platform:unsettled:USD', amount FROM period "
        "UNION ALL SELECT tx, 'platform:fees:USD', -fee FROM period "
        "UNION ALL SELECT (SELECT tx FROM period), 'creator:' || creator_id || ':payable:USD', "
        "-amount FROM period_alloc WHERE amount <> 0",
        # Payouts: each held, then posted.
        f"CREATE TEMP TABLE po AS SELECT j, (SELECT id FROM cr WHERE k = j % :c) AS creator_id, "
        f"{seq} AS hold_tx, {seq} AS paid_tx FROM generate_series(1, :p) j",
        "INSERT INTO plan_tx SELECT hold_tx, 'payout-hold:lb-' || j, 'payout_hold' FROM po "
        "UNION ALL SELECT paid_tx, 'payout-paid:lb-' || j, 'payout_paid' FROM po",
        "INSERT INTO plan_postings "
        "SELECT hold_tx, 'creator:' || creator_id || ':payable:USD', :hold FROM po UNION ALL "
        "SELECT hold_tx, 'creator:' || creator_id || ':payout_hold:USD', -:hold FROM po UNION ALL "
        "SELECT paid_tx, 'creator:' || creator_id || ':payout_hold:USD', :hold FROM po UNION ALL "
        "SELECT paid_tx, 'platform:paid_out:USD', -:hold FROM po",
        _HASHES,
        "INSERT INTO ledger_transactions (id, idempotency_key, payload_hash, kind, description, "
        "created_at) SELECT t.id, t.key, h.hash, t.kind, '', now() FROM plan_tx t "
        "JOIN plan_hash h ON h.id = t.id ORDER BY t.id",
        "INSERT INTO ledger_postings (transaction_id, account_id, currency, amount) "
        "SELECT p.tx_id, a.id, 'USD', p.amount FROM plan_postings p "
        "JOIN ledger_accounts a ON a.code = p.code ORDER BY p.tx_id",
        "UPDATE ledger_accounts a SET balance = s.total FROM (SELECT account_id, sum(amount) "
        "AS total FROM ledger_postings GROUP BY account_id) s WHERE a.id = s.account_id",
        "INSERT INTO settlement_periods (public_id, until, currency, events, amount, fee, "
        "graph_version, transaction_id, closed_at) SELECT 'lb-period', now(), 'USD', events, "
        "amount, fee, 0, tx, now() FROM period",
        "INSERT INTO revenue_events (external_id, payload_hash, origin, work_id, currency, amount, "
        "costs, fee_rate_num, fee_rate_den, fee, recouped, distributable, occurred_at, state, "
        "funding_method, funded_at, funding_transaction_id, transaction_id, period_id, "
        "graph_version, rejection_reason) "
        "SELECT 'lb-' || g, '0', 'csv', (SELECT id FROM works WHERE public_id = 'lb-work'), "
        "'USD', amount, 0, 1, 10, CASE WHEN how = 'waiting' THEN 0 ELSE fee END, 0, "
        "CASE WHEN how = 'waiting' THEN 0 ELSE dist END, now(), "
        "CASE WHEN how = 'waiting' THEN 'funded' ELSE 'settled' END, 'on_arrival', now(), "
        "fund_tx, CASE how WHEN 'alone' THEN settle_tx WHEN 'period' THEN (SELECT tx FROM period) "
        "END, CASE WHEN how = 'period' THEN (SELECT id FROM settlement_periods) END, 0, '' "
        "FROM ev ORDER BY g",
        "INSERT INTO allocations (event_id, period_id, creator_id, kind, amount, exact) "
        "SELECT e.id, NULL, a.creator_id, 'earning', a.amount, a.amount || '/1' FROM ev_alloc a "
        "JOIN revenue_events e ON e.external_id = 'lb-' || a.g",
        "INSERT INTO allocations (event_id, period_id, creator_id, kind, amount, exact) "
        "SELECT NULL, (SELECT id FROM settlement_periods), creator_id, 'earning', amount, "
        "amount || '/1' FROM period_alloc",
        "ANALYZE",
    ]
    for statement in sql:
        db.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
    _check_hash_sample(db)
    db.commit()
    return {
        "events settled alone": events,
        "events in the period": period_events,
        "events waiting": waiting,
        "payouts": payouts,
        "creators": creators,
        "transactions": int(db.scalar(text("SELECT count(*) FROM ledger_transactions")) or 0),
        "postings": int(db.scalar(text("SELECT count(*) FROM ledger_postings")) or 0),
    }


def _check_hash_sample(db: Session) -> None:
    """The SQL-built payload hashes equal :func:`rules.transaction_hash` (200 per kind)."""
    db.execute(text("CREATE INDEX ON plan_postings (tx_id)"))  # one look-up per sample
    sample = db.execute(
        text(
            "SELECT id, kind, hash FROM (SELECT t.id, t.kind, h.hash, row_number() OVER "
            "(PARTITION BY t.kind ORDER BY random()) AS r FROM plan_tx t JOIN plan_hash h "
            "ON h.id = t.id) s WHERE r <= 200"
        )
    ).all()
    for tx_id, kind, digest in sample:
        postings = [
            rules.Posting(code, "USD", int(amount))
            for code, amount in db.execute(
                text("SELECT code, amount FROM plan_postings WHERE tx_id = :t"), {"t": tx_id}
            )
        ]
        assert rules.transaction_hash(kind, postings) == digest, (tx_id, kind)


def _post(db: Session, key: str, kind: str, postings: list[tuple[str, int]], digest: str) -> None:
    """A transaction written below the service (as a bug or a hand edit would)."""
    tx = db.scalar(
        text(
            "INSERT INTO ledger_transactions (idempotency_key, payload_hash, kind, description, "
            "created_at) VALUES (:k, :h, :kind, 'bench breach', now()) RETURNING id"
        ),
        {"k": key, "h": digest, "kind": kind},
    )
    for code, amount in postings:
        db.execute(
            text(
                "INSERT INTO ledger_postings (transaction_id, account_id, currency, amount) "
                "SELECT :t, id, 'USD', :a FROM ledger_accounts WHERE code = :c"
            ),
            {"t": tx, "a": amount, "c": code},
        )
        db.execute(
            text("UPDATE ledger_accounts SET balance = balance + :a WHERE code = :c"),
            {"a": amount, "c": code},
        )


def write_breaches(db: Session) -> list[str]:
    """One breach of each kind the check knows; the text each must be named by."""
    q = lambda sql, **kw: db.execute(text(sql), kw).scalar()  # noqa: E731
    mid = q(
        "SELECT id FROM ledger_transactions WHERE kind = 'revenue_funding' ORDER BY id "
        "OFFSET (SELECT count(*) / 2 FROM ledger_transactions WHERE kind = 'revenue_funding') "
        "LIMIT 1"
    )
    mid_key = q("SELECT idempotency_key FROM ledger_transactions WHERE id = :i", i=mid)
    # 1. A posting slipped into a transaction: unbalanced, hash, currency, running balance.
    db.execute(
        text(
            "INSERT INTO ledger_postings (transaction_id, account_id, currency, amount) "
            "SELECT :t, id, 'USD', 3 FROM ledger_accounts WHERE code = 'platform:fees:USD'"
        ),
        {"t": mid},
    )
    # 2. Balanced postings that are not those of its payload hash.
    _post(
        db,
        "lb-bad-hash",
        "revenue",
        [("platform:cash:USD", 1), ("platform:fees:USD", -1)],
        "0" * 64,
    )
    # 3. A payable that owes the platform.
    creator = q("SELECT min(id) FROM creators WHERE handle LIKE 'lb-%'")
    payable = f"creator:{creator}:payable:USD"
    owed = -int(q("SELECT balance FROM ledger_accounts WHERE code = :c", c=payable))
    moves = [(payable, owed + 5), ("platform:cash:USD", -(owed + 5))]
    _post(db, "lb-negative", "payout_hold", moves, _hash("payout_hold", moves))
    # 4. An account beyond the cap.
    moves = [
        ("platform:cash:USD", MAX_ACCOUNT_MICROS + 1),
        ("platform:paid_out:USD", -(MAX_ACCOUNT_MICROS + 1)),
    ]
    _post(db, "lb-cap", "revenue", moves, _hash("revenue", moves))
    # 5. A running balance that drifted.
    hold = f"creator:{creator}:payout_hold:USD"
    db.execute(
        text("UPDATE ledger_accounts SET balance = balance + 1 WHERE code = :c"), {"c": hold}
    )
    # 6. A settled event with one allocation too many (and so not its transaction).
    event = q(
        "SELECT external_id FROM revenue_events WHERE state = 'settled' "
        "AND period_id IS NULL ORDER BY id LIMIT 1"
    )
    other = q("SELECT max(id) FROM creators WHERE handle LIKE 'lb-%'")
    db.execute(
        text(
            "INSERT INTO allocations (event_id, creator_id, kind, amount, exact) "
            "SELECT id, :c, 'recoup', 1, '1/1' FROM revenue_events WHERE external_id = :e"
        ),
        {"c": other, "e": event},
    )
    # 7. A funded event whose funding transaction is another event's.
    db.execute(
        text(
            "INSERT INTO revenue_events (external_id, payload_hash, origin, work_id, currency, "
            "amount, costs, fee_rate_num, fee_rate_den, fee, recouped, distributable, "
            "occurred_at, state, funding_method, funded_at, funding_transaction_id, "
            "graph_version, rejection_reason) SELECT 'lb-stolen', '0', 'csv', work_id, 'USD', "
            "amount + 1, 0, 0, 1, 0, 0, 0, now(), 'funded', 'manual', now(), "
            "funding_transaction_id, 0, '' FROM revenue_events WHERE external_id = :e"
        ),
        {"e": event},
    )
    # 8. An allocation on an event not yet settled.
    waiting = q(
        "SELECT external_id FROM revenue_events WHERE state = 'funded' "
        "AND external_id <> 'lb-stolen' LIMIT 1"
    )
    db.execute(
        text(
            "INSERT INTO allocations (event_id, creator_id, kind, amount, exact) "
            "SELECT id, :c, 'earning', 0, '0/1' FROM revenue_events WHERE external_id = :e"
        ),
        {"c": other, "e": waiting},
    )
    # 9. A period whose totals are not its events'.
    db.execute(text("UPDATE settlement_periods SET fee = fee + 1 WHERE public_id = 'lb-period'"))
    db.commit()
    return [
        f"transaction {mid_key}: postings do not balance ({{'USD': 3}})",
        f"transaction {mid_key}: postings do not match its payload hash",
        "transaction lb-bad-hash: postings do not match its payload hash",
        "USD: postings sum to 3, not 0",
        f"{payable}: owes the platform 5 micros",
        "platform:cash:USD: balance",
        f"{hold}: running balance",
        "platform:fees:USD: running balance",
        f"event {event}: recouped 1 + fee",
        f"event {event}: its ledger transaction does not match its allocations",
        "event lb-stolen: its funding transaction does not take in its amount",
        "USD: unsettled revenue holds",
        f"event {waiting}: allocated before it settled",
        "period lb-period: its events do not sum to its totals",
    ]


def _hash(kind: str, moves: list[tuple[str, int]]) -> str:
    return rules.transaction_hash(kind, [rules.Posting(c, "USD", a) for c, a in moves])


def check(url: str) -> tuple[float, float, int, str, str]:
    """``hitrack ledger check`` in a child: seconds, peak RSS (MB), exit status, out, err."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HITRACK_DATABASE_URL": url,
        "HITRACK_DATA_DIR": tempfile.mkdtemp(prefix="ledger-bench-"),
        "HITRACK_ENV": "test",
        "HITRACK_SECRET_KEY": "bench",
    }
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", "from hitrack.cli import main; main()", "ledger", "check"],
            env=env,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return seconds, usage.ru_maxrss / 1024, child.returncode, out.read(), err.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--breaches", action="store_true", help="then check a broken ledger")
    args = parser.parse_args()
    base = os.environ.get("HITRACK_BENCH_DATABASE_URL") or os.environ.get(
        "HITRACK_TEST_DATABASE_URL"
    )
    if not base or not base.startswith("postgresql"):
        sys.exit("set HITRACK_TEST_DATABASE_URL to a PostgreSQL database")
    schema = f"ledger_bench_{secrets.token_hex(3)}"
    admin_engine = make_engine(base)
    with admin_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        start = time.perf_counter()
        with Session(engine) as db:
            counts = build(db, args.transactions)
        print(f"built in {time.perf_counter() - start:.1f} s: {counts}", flush=True)
        seconds, peak, status, out, err = check(url)
        print(
            f"ledger check: {seconds:.1f} s, peak RSS {peak:.0f} MB, exit {status}: "
            f"{err.strip()[-200:]}",
            flush=True,
        )
        assert status == 0 and not out.strip(), out[:2000]
        if args.breaches:
            with Session(engine) as db:
                expected = write_breaches(db)
            seconds, peak, status, out, err = check(url)
            lines = out.splitlines()
            print(
                f"ledger check, broken: {seconds:.1f} s, peak RSS {peak:.0f} MB, exit "
                f"{status}, {len(lines)} breaches:",
                flush=True,
            )
            for line in lines:
                print(f"  {line}")
            missing = [e for e in expected if not any(line.startswith(e) for line in lines)]
            assert status == 1 and not missing, f"not named: {missing}"
            print("every breach named")
    finally:
        engine.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
