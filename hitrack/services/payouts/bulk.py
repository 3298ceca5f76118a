"""A payout run's phases in bulk: holds written a batch at a time, provider calls overlapped.

:func:`~hitrack.services.payouts.batch.run_payouts` (the run's one bracket)
calls :func:`hold_all` then :func:`send_all`: the two-phase path of the package
docstring (hold, send, settle) with the round trips counted per *batch* of
payouts instead of per payout, so a run over a hundred thousand creators ends
in seconds:

1. **Hold**, one committed transaction per batch: the batch's payable
   accounts locked in id order (``FOR UPDATE`` on PostgreSQL) and their
   balances read in one query, the creators with a payout already in flight
   left out (one query), then the payout rows, the hold transactions, their
   postings and the balance moves written with one multi-row statement each.
   Idempotency keys are the same as one at a time (``<run>:<creator>:<currency>``
   and ``payout-hold:<key>``); a batch that cannot be written as a whole is
   held one payout at a time by the original path, so one creator's trouble
   stays theirs.
2. **Send**: the batch's payouts are claimed in one update and committed,
   the transfer requests built from one read of the payout accounts, and the
   provider called from a thread pool of at most ``max_workers`` threads —
   outside any database transaction (the threads never touch the session).
3. **Record** what came back: answers that only keep a payout pending
   (``UNKNOWN``, as the manual provider's "awaiting manual payment") in one
   multi-row update; ``SENT`` and ``FAILED`` through
   :func:`~hitrack.services.payouts.results.apply_result`, which posts or
   voids the hold exactly once and notifies the creator.

A process killed at any point leaves what the one-at-a-time path leaves:
committed holds whose payouts are pending, which the next run or
:func:`~hitrack.services.payouts.reconcile.reconcile` settles by looking the
transfer up, never by sending again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple, TypeVar, cast

from sqlalchemy import BigInteger, Integer, Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.bulk import among
from hitrack.db.models import (
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Payout,
    PayoutAccount,
    PayoutRun,
)
from hitrack.domain import ledger as rules
from hitrack.domain.errors import NotFound
from hitrack.domain.money import format_micros, to_minor_units, whole_minor_units
from hitrack.payments.base import (
    PayoutProvider,
    TransferOutcome,
    TransferRequest,
    TransferResult,
)
from hitrack.services import ledger
from hitrack.services.notifications import Mailer
from hitrack.services.payouts.core import _now, log, payout_key
from hitrack.services.payouts.reconcile import reconcile
from hitrack.services.payouts.results import _problem, apply_result
from hitrack.services.payouts.runs import Candidate, _hold, _skip, candidates
from hitrack.services.unit_of_work import discard, unit_of_work

__all__ = ["BATCH", "MAX_WORKERS", "hold_all", "hold_batch", "send_all", "send_batch"]

BATCH = 1_000
T = TypeVar("T")
MAX_WORKERS = 8


def _chunks(items: Sequence[Candidate] | Sequence[int], size: int) -> Iterator[list]:  # type: ignore[type-arg]
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def hold_batch(
    db: Session, run: PayoutRun, batch: Sequence[Candidate], minimums: Mapping[str, int]
) -> int:
    """Hold the payouts of ``batch`` in one transaction; how many were held (commits)."""
    at = utcnow()
    with unit_of_work(db):
        codes = {ledger.payable_account(c.creator_id, c.currency): c for c in batch}
        stmt = (
            select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.balance)
            .where(among(db, LedgerAccount.code, sorted(codes)))
            .order_by(LedgerAccount.id)
        )
        if db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        payable = {code: (int(aid), int(balance)) for aid, code, balance in db.execute(stmt)}
        in_flight = set(
            db.execute(
                select(Payout.creator_id, Payout.currency).where(
                    Payout.status == "pending",
                    among(db, Payout.creator_id, sorted({c.creator_id for c in batch})),
                )
            )
        )
        held: list[tuple[Candidate, int, str]] = []
        for code, candidate in codes.items():
            if code not in payable or (candidate.creator_id, candidate.currency) in in_flight:
                continue
            # Read under the lock: another run may have held part of it meanwhile.
            amount = whole_minor_units(rules.owed(payable[code][1]), candidate.currency)
            if amount <= 0 or amount < minimums[candidate.currency]:
                continue
            held.append(
                (candidate, amount, payout_key(run, candidate.creator_id, candidate.currency))
            )
        if not held:
            return 0
        hold_codes = [ledger.payout_hold_account(c.creator_id, c.currency) for c, _, _ in held]
        ledger.ensure_accounts(db, sorted(set(hold_codes)))
        holds = dict(
            db.execute(
                select(LedgerAccount.code, LedgerAccount.id).where(
                    among(db, LedgerAccount.code, hold_codes)
                )
            ).all()
        )
        transactions = []
        for c, amount, key in held:
            postings = rules.check_balanced(
                ledger.payout_hold_postings(c.creator_id, c.currency, amount)
            )
            transactions.append(
                {
                    "idempotency_key": f"payout-hold:{key}",
                    "payload_hash": rules.transaction_hash("payout_hold", postings),
                    "kind": "payout_hold",
                    "description": f"Payout {format_micros(amount, c.currency)} {c.currency} "
                    f"held while the transfer is sent (run {run.public_id})",
                    "created_at": at,
                }
            )
        _insert_rows(db, LedgerTransaction, transactions)
        keys = [t["idempotency_key"] for t in transactions]
        tx_ids = dict(
            db.execute(
                select(LedgerTransaction.idempotency_key, LedgerTransaction.id).where(
                    among(db, LedgerTransaction.idempotency_key, keys)
                )
            ).all()
        )
        _insert_rows(
            db,
            Payout,
            [
                {
                    "run_id": run.id,
                    "creator_id": c.creator_id,
                    "currency": c.currency,
                    "amount": amount,
                    "idempotency_key": key,
                    "status": "pending",
                    "hold_transaction_id": tx_ids[f"payout-hold:{key}"],
                    "failure_reason": "",
                    "created_at": at,
                    "updated_at": at,
                }
                for c, amount, key in held
            ],
        )
        postings_rows = []
        moves = []
        for c, amount, key in held:
            tx = tx_ids[f"payout-hold:{key}"]
            payable_id = payable[ledger.payable_account(c.creator_id, c.currency)][0]
            hold_id = holds[ledger.payout_hold_account(c.creator_id, c.currency)]
            postings_rows += [
                {
                    "transaction_id": tx,
                    "account_id": payable_id,
                    "currency": c.currency,
                    "amount": amount,
                },
                {
                    "transaction_id": tx,
                    "account_id": hold_id,
                    "currency": c.currency,
                    "amount": -amount,
                },
            ]
            moves += [(payable_id, amount), (hold_id, -amount)]
        _insert_rows(db, LedgerPosting, postings_rows)
        _move_balances(db, moves)
    return len(held)


def _postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _insert_rows(
    db: Session, model: type, rows: list[dict[str, object]], *, skip_existing: str | None = None
) -> None:
    """Insert ``rows`` in one statement: PostgreSQL binds one array per column (``unnest``),
    so the statement has as many parameters as columns however many rows; SQLite,
    in-process, takes them as an executemany."""
    if not rows:
        return
    table = cast(Table, model.__table__)  # type: ignore[attr-defined]
    if not _postgres(db):
        db.execute(insert(table), rows)
        return
    names = list(rows[0])
    arrays = [
        func.unnest(
            bindparam(
                f"a_{name}",
                [row[name] for row in rows],
                type_=ARRAY(getattr(table.c[name].type, "impl", table.c[name].type)),
            )
        )
        for name in names
    ]
    statement = postgresql_insert(table).from_select(names, select(*arrays))
    if skip_existing is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_existing])
    db.execute(statement)


def _move_balances(db: Session, moves: Sequence[tuple[int, int]]) -> None:
    """Add each amount to its account's running balance (accounts distinct), in id order."""
    ordered = sorted(moves)
    table = cast(Table, LedgerAccount.__table__)
    if not _postgres(db):
        db.execute(
            update(table)
            .where(table.c.id == bindparam("account"))
            .values(balance=table.c.balance + bindparam("amount")),
            [{"account": a, "amount": m} for a, m in ordered],
        )
        return
    db.execute(
        text(
            "UPDATE ledger_accounts SET balance = ledger_accounts.balance + moves.amount "
            "FROM (SELECT unnest(:accounts) AS account, unnest(:amounts) AS amount) AS moves "
            "WHERE ledger_accounts.id = moves.account"
        ).bindparams(
            bindparam("accounts", [a for a, _ in ordered], type_=ARRAY(Integer)),
            bindparam("amounts", [m for _, m in ordered], type_=ARRAY(BigInteger)),
        )
    )


def hold_all(
    db: Session,
    provider: PayoutProvider,
    run: PayoutRun,
    minimums: Mapping[str, int],
    at: datetime,
    batch_size: int = BATCH,
) -> None:
    """Reconcile what earlier runs left pending, then hold every payout a batch at a time."""
    reconcile(db, provider, now=at)
    found = candidates(db, provider.name, minimums)
    discard(db)
    refused = [c for c in found if c.refused]
    for candidate in refused:
        _skip(db, run, candidate, candidate.refused)
    payable = [c for c in found if not c.refused]
    for batch in _chunks(payable, batch_size):
        try:
            hold_batch(db, run, batch, minimums)
        except Exception:
            discard(db)  # hold them one at a time: one creator's trouble stays theirs
            log.exception("payout run %s: a batch hold failed; holding one by one", run.public_id)
            for candidate in batch:
                try:
                    _hold(db, run, candidate, minimums[candidate.currency])
                except Exception as error:
                    discard(db)
                    _skip(db, run, candidate, f"could not hold the payout: {_problem(error)}")


class _Pending(NamedTuple):
    """What sending a payout needs, read as plain values (no ORM object per payout)."""

    id: int
    creator_id: int
    currency: str
    amount: int
    idempotency_key: str


def _requests(
    db: Session, run: PayoutRun, payouts: Sequence[_Pending]
) -> dict[int, TransferRequest | BaseException]:
    accounts = dict(
        db.execute(
            select(PayoutAccount.creator_id, PayoutAccount.provider_account_id).where(
                PayoutAccount.provider == run.provider,
                among(db, PayoutAccount.creator_id, sorted({p.creator_id for p in payouts})),
            )
        ).all()
    )
    built: dict[int, TransferRequest | BaseException] = {}
    for p in payouts:
        try:
            if p.creator_id not in accounts:
                raise NotFound(f"creator {p.creator_id} has no {run.provider} payout account")
            built[p.id] = TransferRequest(
                idempotency_key=p.idempotency_key,
                amount_minor=to_minor_units(p.amount, p.currency),
                currency=p.currency.lower(),
                destination=accounts[p.creator_id],
                transfer_group=run.public_id,
                metadata={"payout_id": str(p.id), "creator_id": str(p.creator_id)},
            )
        except Exception as error:
            built[p.id] = error
    return built


def _call(provider: PayoutProvider, request: TransferRequest) -> TransferResult:
    """One provider call on a pool thread: an exception means nobody knows whether money moved."""
    try:
        return provider.send_transfer(request)
    except Exception as error:
        log.exception("payout %s: the provider call raised", request.idempotency_key)
        return TransferResult(
            TransferOutcome.UNKNOWN,
            None,
            f"the provider call raised {_problem(error)}; reconcile looks the transfer up",
        )


def send_batch(
    db: Session,
    provider: PayoutProvider,
    run: PayoutRun,
    ids: Sequence[int],
    pool: ThreadPoolExecutor,
    *,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> int:
    """Claim, send and record the pending payouts ``ids``; how many were handled."""
    at = _now(now)
    with unit_of_work(db):
        # Claimed and read in one statement (reconcile leaves them alone for SETTLE_GRACE).
        claimed = sorted(
            _Pending(*row)
            for row in db.execute(
                update(Payout)
                .where(among(db, Payout.id, ids), Payout.status == "pending")
                .values(updated_at=at)
                .returning(
                    Payout.id,
                    Payout.creator_id,
                    Payout.currency,
                    Payout.amount,
                    Payout.idempotency_key,
                )
                .execution_options(synchronize_session=False)
            )
        )
        if not claimed:
            return 0
        requests = _requests(db, run, claimed)
    # The provider is called with no transaction open: the session is idle.
    calls = {
        pid: pool.submit(_call, provider, req)
        for pid, req in requests.items()
        if isinstance(req, TransferRequest)
    }
    results: dict[int, TransferResult] = {pid: future.result() for pid, future in calls.items()}
    for pid, req in requests.items():
        if not isinstance(req, TransferRequest):  # never sent: the money goes back
            results[pid] = TransferResult(
                TransferOutcome.FAILED, None, f"not sent: {_problem(req)}"
            )
    waiting: dict[str, list[int]] = {}
    for pid, result in results.items():
        if result.outcome is TransferOutcome.UNKNOWN:
            waiting.setdefault(result.message[:1000], []).append(pid)
    if waiting:
        with unit_of_work(db):
            for reason, pids in sorted(waiting.items()):  # one statement per distinct answer
                db.execute(
                    update(Payout)
                    .where(among(db, Payout.id, sorted(pids)), Payout.status == "pending")
                    .values(failure_reason=reason)
                    .execution_options(synchronize_session=False)
                )
    for pid, result in sorted(results.items()):
        if result.outcome is TransferOutcome.UNKNOWN:
            continue
        try:
            payout = db.get(Payout, pid)
            assert payout is not None, "a payout of this run"
            apply_result(db, payout, result, mailer=mailer)
        except Exception as error:
            discard(db)
            log.exception("payout %s: settling the provider's answer failed", pid)
            with unit_of_work(db):
                db.execute(
                    update(Payout)
                    .where(Payout.id == pid, Payout.status == "pending")
                    .values(
                        failure_reason=f"settling the provider's answer failed: {_problem(error)}"
                    )
                    .execution_options(synchronize_session=False)
                )
    return len(results)


def send_all(
    db: Session,
    provider: PayoutProvider,
    run: PayoutRun,
    *,
    mailer: Mailer | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH,
    max_workers: int = MAX_WORKERS,
) -> None:
    """Send the run's pending payouts a batch at a time, at most ``max_workers`` calls in flight.

    ``progress(done, total)`` is called before the first batch (``done`` 0) and after each.
    """
    ids = list(
        db.scalars(
            select(Payout.id)
            .where(Payout.run_id == run.id, Payout.status == "pending")
            .order_by(Payout.id)
        )
    )
    discard(db)
    done = 0
    if progress is not None:
        progress(done, len(ids))
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="payout") as pool:
        for chunk in _chunks(ids, batch_size):
            done += send_batch(db, provider, run, chunk, pool, mailer=mailer, now=now)
            if progress is not None:
                progress(done, len(ids))
