"""The double-entry ledger as stored: accounts, append-only transactions, balances.

The rules (balance per currency, payload hashes, invariants) live in
:mod:`hitrack.domain.ledger`; this module reads and writes the rows.

Sign convention (see :mod:`hitrack.domain.ledger`): a posting's amount is
**positive for a debit and negative for a credit**. Revenue moves in two
transactions (DESIGN section 4): *funding* (the money arrived) debits
``platform:cash:<CUR>`` and credits ``platform:unsettled:<CUR>``; *settlement*
debits ``platform:unsettled:<CUR>`` and credits ``platform:fees:<CUR>`` and
each ``creator:<id>:payable:<CUR>``. So unsettled revenue holds exactly the
funded events not yet settled, and a reported event that is never funded
touches no account. What the platform owes a creator is ``-balance(payable)``,
which :func:`creator_balances` returns as a positive number.

Accounts are named by code and created on first use:

================================= ======================== ====================================
code                              kind                     meaning
================================= ======================== ====================================
``platform:cash:USD``             ``platform_cash``        money received (debit)
``platform:unsettled:USD``        ``platform_unsettled``   unsettled revenue: funded events not
                                                           yet settled (credit)
``platform:fees:USD``             ``platform_fees``        the platform's fees (credit)
``platform:paid_out:USD``         ``platform_paid_out``    money confirmed sent (credit)
``creator:<id>:payable:USD``      ``creator_payable``      owed to a creator (credit)
``creator:<id>:payout_hold:USD``  ``creator_payout_hold``  owed, a transfer in flight
``credit:<id>:escrow:USD``        ``credit_escrow``        earned by an unclaimed credit, held
                                                           until a verified creator claims it
================================= ======================== ====================================

An escrow account (``<id>`` is the credit's row id) is paid like a payable
and emptied only by a claim, into the claimant's payable
(:mod:`hitrack.services.credits`); it never flows back to the owners.

Payouts are two-phase (DESIGN section 4), three transactions built by
:func:`payout_hold_postings`, :func:`payout_paid_postings` and
:func:`payout_void_postings`, each posted with :func:`post_transaction`.

Caps: no posting and no account balance may go beyond
:data:`~hitrack.domain.money.MAX_ACCOUNT_MICROS` (either sign); a transaction
that would is refused whole. Each account row keeps the running sum of its
postings (``ledger_accounts.balance``), updated in the transaction that posts,
so the cap (and "a payable never owes the platform") is checked and balances
are read without summing an account's history; :func:`check_invariants`
compares it with the postings, which stay authoritative. Sums over many
accounts are added up as Python integers (or PostgreSQL NUMERIC), never in a
64-bit column.

Append-only: the ORM refuses to update or delete ledger rows (mapper events
and a guard on bulk statements, installed when this module is imported);
on PostgreSQL a trigger refuses them too (migration 0002). A correction is a
reversing transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, event, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapper, ORMExecuteState, Session

from hitrack.db.base import utcnow
from hitrack.db.bulk import insert_rows, lookup
from hitrack.db.models import (
    Allocation,
    CreditEarning,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    RevenueEvent,
)
from hitrack.domain import ledger as rules
from hitrack.domain.errors import HitrackError, IdempotencyConflict, InvalidInput, LedgerImbalance
from hitrack.domain.ledger import Posting
from hitrack.domain.money import MAX_ACCOUNT_MICROS, beyond_account_cap

__all__ = [
    "ensure_accounts",
    "Posting",
    "LedgerIsAppendOnly",
    "cash_account",
    "unsettled_account",
    "fees_account",
    "paid_out_account",
    "payable_account",
    "payout_hold_account",
    "escrow_account",
    "OWED_KINDS",
    "account_kind",
    "get_account",
    "post_transaction",
    "balance",
    "creator_balances",
    "held_balances",
    "check_invariants",
    "payout_hold_postings",
    "payout_paid_postings",
    "payout_void_postings",
    "revenue_funding_postings",
    "post_postings",
    "post_transactions",
    "NewTransaction",
    "PAYOUT_KINDS",
]

PAYOUT_KINDS = ("payout_hold", "payout_paid", "payout_void")
_CHUNK = 5_000  # codes or ids per IN list: bounded bind parameters per query


class LedgerIsAppendOnly(HitrackError):
    """Something tried to update or delete a ledger row."""

    code = "ledger_append_only"


# --- account codes ---------------------------------------------------------------


def cash_account(currency: str) -> str:
    return f"platform:cash:{currency}"


def unsettled_account(currency: str) -> str:
    return f"platform:unsettled:{currency}"


def fees_account(currency: str) -> str:
    return f"platform:fees:{currency}"


def paid_out_account(currency: str) -> str:
    return f"platform:paid_out:{currency}"


def payable_account(creator_id: int, currency: str) -> str:
    return f"creator:{creator_id}:payable:{currency}"


def payout_hold_account(creator_id: int, currency: str) -> str:
    return f"creator:{creator_id}:payout_hold:{currency}"


def escrow_account(credit_id: int, currency: str) -> str:
    """The escrow of an unclaimed credit (its row id), where its earnings wait for a claim."""
    return f"credit:{credit_id}:escrow:{currency}"


#: Accounts the platform owes someone (a credit side): none may ever owe the platform.
OWED_KINDS = ("creator_payable", "creator_payout_hold", "credit_escrow")

_PLATFORM_KINDS = {
    "cash": "platform_cash",
    "unsettled": "platform_unsettled",
    "fees": "platform_fees",
    "paid_out": "platform_paid_out",
}
_CREATOR_KINDS = {"payable": "creator_payable", "payout_hold": "creator_payout_hold"}


def account_kind(code: str) -> tuple[str, int | None, str]:
    """``(kind, creator id or None, currency)`` of an account code; InvalidInput if unknown.

    Examples
    --------
    >>> account_kind("creator:7:payable:USD")
    ('creator_payable', 7, 'USD')
    >>> account_kind("credit:3:escrow:USD")
    ('credit_escrow', None, 'USD')
    """
    parts = code.split(":")
    if len(parts) == 3 and parts[0] == "platform" and parts[1] in _PLATFORM_KINDS:
        return _PLATFORM_KINDS[parts[1]], None, parts[2]
    if (
        len(parts) == 4
        and parts[0] == "creator"
        and parts[1].isdigit()
        and parts[2] in _CREATOR_KINDS
    ):
        return _CREATOR_KINDS[parts[2]], int(parts[1]), parts[3]
    if len(parts) == 4 and parts[0] == "credit" and parts[1].isdigit() and parts[2] == "escrow":
        return "credit_escrow", None, parts[3]
    raise InvalidInput(f"unknown ledger account code {code!r}")


def get_account(db: Session, code: str) -> LedgerAccount:
    """The account with ``code``, created on first use (safe against a concurrent creator).

    Runs inside the caller's transaction (a SAVEPOINT around the insert); it
    does not commit.
    """
    account = db.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    if account is not None:
        return account
    kind, creator_id, currency = account_kind(code)
    try:
        with db.begin_nested():
            account = LedgerAccount(code=code, kind=kind, creator_id=creator_id, currency=currency)
            db.add(account)
    except IntegrityError:
        # Another transaction created it first (it has committed by now: the
        # insert waited for it on the unique index).
        account = db.scalars(select(LedgerAccount).where(LedgerAccount.code == code)).one()
    return account


def ensure_accounts(db: Session, codes: list[str]) -> None:
    """Create those of the accounts ``codes`` that do not exist yet, in bulk (no commit).

    For transactions with many postings (a settlement with thousands of
    creators): a few multi-row inserts instead of one savepoint per new
    account. Safe against a concurrent first use of the same account: the
    insert skips a code another transaction has created (waiting for it on
    the unique index when that one has not committed yet).
    """
    existing = {code for (code,) in lookup(db, LedgerAccount.code, sorted(set(codes)))}
    missing = sorted({code for code in codes if code not in existing})
    if not missing:
        return
    table = cast(Table, LedgerAccount.__table__)
    dialect = db.get_bind().dialect.name
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(
        table
    ).on_conflict_do_nothing(index_elements=["code"])
    rows = []
    for code in missing:
        kind, creator_id, currency = account_kind(code)
        rows.append(
            {
                "code": code,
                "kind": kind,
                "creator_id": creator_id,
                "currency": currency,
                "balance": 0,
            }
        )
    for i in range(0, len(rows), _CHUNK):
        db.execute(statement, rows[i : i + _CHUNK])


# --- posting -----------------------------------------------------------------------


def post_transaction(
    db: Session,
    key: str,
    kind: str,
    postings: Sequence[Posting],
    description: str = "",
    *,
    reverses: LedgerTransaction | None = None,
) -> LedgerTransaction:
    """Post one balanced transaction, idempotently on ``key``.

    The same ``key`` with the same kind and postings returns the original
    transaction (nothing new is written); with other postings it raises
    :class:`~hitrack.domain.errors.IdempotencyConflict`. Postings are merged
    per account and must sum to zero per currency
    (:class:`~hitrack.domain.errors.LedgerImbalance` otherwise). A posting that
    debits a creator's payable or payout hold may not leave it owing the
    platform, and no posting or resulting balance may go beyond
    :data:`~hitrack.domain.money.MAX_ACCOUNT_MICROS` (InvalidInput); the
    account rows are locked, in code order, while checking. A refused
    transaction writes nothing.

    It runs in the caller's unit of work and never commits: the transaction is
    posted together with the caller's own rows (a payout, a revenue event),
    and a refusal rolls back only its own SAVEPOINT.

    Examples
    --------
    Hold a payout, then post it (``db`` a session)::

        hold = post_transaction(db, f"payout:{p.id}:hold", "payout_hold",
                                payout_hold_postings(creator_id, "USD", 12_340_000))
    """
    if not isinstance(key, str) or not key or len(key) > 200:
        raise InvalidInput("idempotency key: 1 to 200 characters")
    merged = rules.check_balanced(postings)
    _check_posting_caps(merged)
    digest = rules.transaction_hash(kind, merged)
    existing = _by_key(db, key)
    if existing is not None:
        return _same_or_conflict(existing, digest)
    try:
        with db.begin_nested():
            return _write(db, key, kind, merged, digest, description, reverses)
    except IntegrityError:
        existing = _by_key(db, key)
        if existing is None:
            raise
        return _same_or_conflict(existing, digest)


def _check_posting_caps(merged: Sequence[Posting]) -> None:
    too_large = [p for p in merged if abs(p.amount) > MAX_ACCOUNT_MICROS]
    if too_large:
        raise InvalidInput(
            f"posting of {too_large[0].amount} micros on {too_large[0].account} is beyond the "
            f"account cap of {MAX_ACCOUNT_MICROS} micros; nothing was posted",
            ids=tuple(p.account for p in too_large),
        )


def _by_key(db: Session, key: str) -> LedgerTransaction | None:
    return db.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))


def _same_or_conflict(existing: LedgerTransaction, digest: str) -> LedgerTransaction:
    if existing.payload_hash != digest:
        raise IdempotencyConflict(
            f"ledger transaction {existing.idempotency_key} was already posted with other postings",
            ids=(existing.idempotency_key,),
        )
    return existing


def _write(
    db: Session,
    key: str,
    kind: str,
    merged: list[Posting],
    digest: str,
    description: str,
    reverses: LedgerTransaction | None,
) -> LedgerTransaction:
    # Accounts in code order: two concurrent first uses never wait on each other crosswise.
    codes = sorted({p.account for p in merged})
    accounts = _accounts(db, codes)
    for code in codes:
        if code not in accounts:
            created = get_account(db, code)
            accounts[code] = _Account(created.id, created.kind, created.currency)
    for p in merged:
        if accounts[p.account].currency != p.currency:
            raise InvalidInput(
                f"account {p.account} is in {accounts[p.account].currency}, not {p.currency}"
            )
    transaction = LedgerTransaction(
        idempotency_key=key,
        payload_hash=digest,
        kind=kind,
        description=description,
        reverses_id=reverses.id if reverses else None,
    )
    db.add(transaction)
    db.flush()
    post_postings(db, transaction.id, [(accounts[p.account].id, p) for p in merged])
    after = _move_balances(db, [(accounts[p.account].id, p.amount) for p in merged])
    balances = {p.account: after[accounts[p.account].id] for p in merged}
    beyond = beyond_account_cap(balances)
    if beyond:
        raise InvalidInput(
            "transaction refused, nothing was posted: " + "; ".join(beyond),
            ids=tuple(code for code, value in balances.items() if abs(value) > MAX_ACCOUNT_MICROS),
        )
    for p in merged:
        account = accounts[p.account]
        owes = account.kind in OWED_KINDS and after[account.id] > 0
        if p.amount > 0 and owes:
            raise LedgerImbalance(
                f"{p.account} would owe the platform: not enough balance for {p.amount} micros",
                ids=(p.account,),
            )
    return transaction


class NewTransaction(NamedTuple):
    """One transaction for :func:`post_transactions`."""

    key: str
    kind: str
    postings: Sequence[Posting]
    description: str = ""


def post_transactions(db: Session, transactions: Sequence[NewTransaction]) -> dict[str, int]:
    """Post many balanced transactions at once (no commit); their ids by idempotency key.

    The bulk form of :func:`post_transaction` for imports that post thousands
    of transactions (two per revenue event): the same rules per transaction
    (balanced per currency, payload hash, posting caps; a key posted before
    with the same postings is the original, with others an
    :class:`~hitrack.domain.errors.IdempotencyConflict`), checked before
    anything is written, then the transactions and postings written with
    COPY (:func:`hitrack.db.bulk.insert_rows`) and each account's running
    balance moved once by its total. The account caps and "an owed account
    never owes the platform" are checked on the balances after the batch; a
    refusal raises and the caller's unit of work rolls everything back. A
    key written concurrently by another transaction raises IntegrityError.
    """
    prepared: list[tuple[NewTransaction, list[Posting], str]] = []
    keys: set[str] = set()
    for item in transactions:
        if not isinstance(item.key, str) or not item.key or len(item.key) > 200:
            raise InvalidInput("idempotency key: 1 to 200 characters")
        if item.key in keys:
            raise IdempotencyConflict(f"ledger transaction {item.key} twice in one batch")
        keys.add(item.key)
        merged = rules.check_balanced(item.postings)
        _check_posting_caps(merged)
        prepared.append((item, merged, rules.transaction_hash(item.kind, merged)))
    digests = {t.key: digest for t, _, digest in prepared}
    ids: dict[str, int] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        for key, tx_id, digest in db.execute(
            select(
                LedgerTransaction.idempotency_key,
                LedgerTransaction.id,
                LedgerTransaction.payload_hash,
            ).where(LedgerTransaction.idempotency_key.in_(chunk))
        ):
            ids[key] = tx_id
            if digests[key] != digest:
                raise IdempotencyConflict(
                    f"ledger transaction {key} was already posted with other postings", ids=(key,)
                )
    new = [(t, merged, digest) for t, merged, digest in prepared if t.key not in ids]
    if not new:
        return ids
    codes = sorted({p.account for _, merged, _ in new for p in merged})
    ensure_accounts(db, codes)
    accounts = _accounts(db, codes)
    for _, merged, _ in new:
        for p in merged:
            if accounts[p.account].currency != p.currency:
                raise InvalidInput(
                    f"account {p.account} is in {accounts[p.account].currency}, not {p.currency}"
                )
    now = utcnow()
    insert_rows(
        db,
        cast(Table, LedgerTransaction.__table__),
        ("idempotency_key", "payload_hash", "kind", "description", "created_at"),
        ((t.key, digest, t.kind, t.description, now) for t, _, digest in new),
    )
    written: dict[str, int] = {}
    new_keys = [t.key for t, _, _ in new]
    for start in range(0, len(new_keys), _CHUNK):
        for key, tx_id in db.execute(
            select(LedgerTransaction.idempotency_key, LedgerTransaction.id).where(
                LedgerTransaction.idempotency_key.in_(new_keys[start : start + _CHUNK])
            )
        ):
            written[key] = tx_id
    insert_rows(
        db,
        cast(Table, LedgerPosting.__table__),
        ("transaction_id", "account_id", "currency", "amount"),
        (
            (written[t.key], accounts[p.account].id, p.currency, p.amount)
            for t, merged, _ in new
            for p in merged
        ),
    )
    debited: set[str] = set()
    moves: list[tuple[int, int]] = []
    for _, merged, _ in new:
        for p in merged:
            moves.append((accounts[p.account].id, p.amount))
            if p.amount > 0:
                debited.add(p.account)
    after = _move_balances(db, moves)
    balances = {code: after[accounts[code].id] for code in codes if accounts[code].id in after}
    beyond = beyond_account_cap(balances)
    if beyond:
        raise InvalidInput(
            "transaction refused, nothing was posted: " + "; ".join(beyond),
            ids=tuple(code for code, value in balances.items() if abs(value) > MAX_ACCOUNT_MICROS),
        )
    for code in sorted(debited):
        if accounts[code].kind in OWED_KINDS and balances.get(code, 0) > 0:
            raise LedgerImbalance(f"{code} would owe the platform: not enough balance", ids=(code,))
    ids.update(written)
    return ids


class _Account(NamedTuple):
    id: int
    kind: str
    currency: str


def _accounts(db: Session, codes: Sequence[str]) -> dict[str, _Account]:
    """The existing accounts among ``codes``, as plain rows (no ORM object per account)."""
    found: dict[str, _Account] = {}
    for start in range(0, len(codes), _CHUNK):  # bounded parameters per query
        chunk = codes[start : start + _CHUNK]
        for code, account_id, kind, currency in db.execute(
            select(
                LedgerAccount.code, LedgerAccount.id, LedgerAccount.kind, LedgerAccount.currency
            ).where(LedgerAccount.code.in_(chunk))
        ):
            found[code] = _Account(account_id, kind, currency)
    return found


def post_postings(
    db: Session, transaction_id: int, postings: Sequence[tuple[int, Posting]]
) -> None:
    """Write a transaction's postings, ``(account id, posting)`` each, in bulk (no commit).

    The one way postings are written: COPY on PostgreSQL, an executemany
    elsewhere (:func:`hitrack.db.bulk.insert_rows`), so a settlement paying
    20,000 creators is one statement, not 20,000 ORM objects. It writes rows
    only; :func:`post_transaction` checks the balance, caps and idempotency
    around it and moves the running balances.
    """
    insert_rows(
        db,
        cast(Table, LedgerPosting.__table__),
        ("transaction_id", "account_id", "currency", "amount"),
        ((transaction_id, account_id, p.currency, p.amount) for account_id, p in postings),
    )


def _move_balances(db: Session, moves: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Add each posting to its account's running balance; the balances after, by account id.

    The rows are locked in account code order (on PostgreSQL a ``SELECT ...
    ORDER BY code FOR NO KEY UPDATE`` before one array-driven UPDATE: the lock
    an UPDATE takes itself, which leaves the key-share locks of concurrent
    postings' foreign keys alone; on SQLite the
    database is locked as a whole), so two writers never wait on each other
    crosswise; a second writer of an account waits for the first and then
    adds to the balance it committed. Two statements whatever the number of
    accounts, each binding two arrays on PostgreSQL.
    """
    if not moves:
        return {}  # a transaction of zeros (a revenue event of 0) moves no balance
    totals: dict[int, int] = {}
    for account_id, amount in moves:
        totals[account_id] = totals.get(account_id, 0) + amount
    ids = list(totals)
    table = cast(Table, LedgerAccount.__table__)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text(
                f"SELECT id FROM {table.name} WHERE id = ANY(CAST(:ids AS bigint[])) "
                "ORDER BY code FOR NO KEY UPDATE"
            ),
            {"ids": ids},
        )
        rows = db.execute(
            text(
                f"UPDATE {table.name} AS a SET balance = a.balance + m.amount "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:amounts AS bigint[])) AS m(id, amount) "
                "WHERE a.id = m.id RETURNING a.id, a.balance"
            ),
            {"ids": ids, "amounts": [totals[i] for i in ids]},
        )
        return {int(account_id): int(value) for account_id, value in rows}
    db.execute(
        update(table)
        .where(table.c.id == bindparam("account"))
        .values(balance=table.c.balance + bindparam("amount")),
        [{"account": account_id, "amount": amount} for account_id, amount in totals.items()],
    )
    after: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        after.update(
            (int(account_id), int(value))
            for account_id, value in db.execute(
                select(LedgerAccount.id, LedgerAccount.balance).where(LedgerAccount.id.in_(chunk))
            )
        )
    return after


# --- payouts: the three transactions of a two-phase payout ---------------------------


def payout_hold_postings(creator_id: int, currency: str, amount: int) -> list[Posting]:
    """A transfer is sent: ``amount`` moves from the creator's payable to their payout hold."""
    _positive(amount)
    return [
        Posting(payable_account(creator_id, currency), currency, amount),
        Posting(payout_hold_account(creator_id, currency), currency, -amount),
    ]


def payout_paid_postings(creator_id: int, currency: str, amount: int) -> list[Posting]:
    """The provider confirmed it: the hold is released to ``platform:paid_out``."""
    _positive(amount)
    return [
        Posting(payout_hold_account(creator_id, currency), currency, amount),
        Posting(paid_out_account(currency), currency, -amount),
    ]


def payout_void_postings(creator_id: int, currency: str, amount: int) -> list[Posting]:
    """The transfer failed or was reversed: the hold goes back to the creator's payable."""
    _positive(amount)
    return [
        Posting(payout_hold_account(creator_id, currency), currency, amount),
        Posting(payable_account(creator_id, currency), currency, -amount),
    ]


# --- revenue funding ---------------------------------------------------------------


def revenue_funding_postings(currency: str, amount: int) -> list[Posting]:
    """The money of a revenue event arrived: cash in, held as unsettled revenue."""
    return [
        Posting(cash_account(currency), currency, amount),
        Posting(unsettled_account(currency), currency, -amount),
    ]


def _positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("a payout amount must be a positive integer number of micros")


# --- balances ----------------------------------------------------------------------


def balance(db: Session, account: str) -> int:
    """The signed balance of the account with code ``account`` (0 if it does not exist).

    Read from the account's running balance (the sum of its postings, kept by
    :func:`post_transaction`), so it costs the same however long the history.
    """
    value = db.scalar(select(LedgerAccount.balance).where(LedgerAccount.code == account))
    return int(value or 0)


def _owed_by_kind(db: Session, creator_id: int, kind: str) -> dict[str, int]:
    owed: dict[str, int] = {}
    for currency, value in db.execute(
        select(LedgerAccount.currency, LedgerAccount.balance)
        .where(LedgerAccount.creator_id == creator_id, LedgerAccount.kind == kind)
        .order_by(LedgerAccount.currency)
    ):
        owed[currency] = owed.get(currency, 0) + rules.owed(int(value))
    return owed


def creator_balances(db: Session, creator_id: int) -> dict[str, int]:
    """What the platform owes the creator now, per currency (payouts in flight excluded)."""
    return _owed_by_kind(db, creator_id, "creator_payable")


def held_balances(db: Session, creator_id: int) -> dict[str, int]:
    """The creator's money in payouts not yet confirmed, per currency."""
    return {c: v for c, v in _owed_by_kind(db, creator_id, "creator_payout_hold").items() if v}


# --- invariants ------------------------------------------------------------------


_STREAM_ROWS = 10_000
"""Rows fetched per round trip by the invariant check's server-side cursors."""


class _Ordered:
    """A stream of rows ordered by a key, read group by group in that order.

    :meth:`take` returns the rows whose key equals the one asked for, skipping
    smaller keys; asked in ascending order, each row is read once and only the
    current group is held.
    """

    def __init__(self, rows: Iterable[Any], key: Any) -> None:
        self._rows = iter(rows)
        self._key = key
        self._head: Any = next(self._rows, None)

    def take(self, wanted: Any) -> list[Any]:
        group = []
        while self._head is not None:
            key = self._key(self._head)
            if key > wanted:
                break
            if key == wanted:
                group.append(self._head)
            self._head = next(self._rows, None)
        return group


def _stream(db: Session, stmt: Any) -> Any:
    """Rows of ``stmt`` from a server-side cursor, ``_STREAM_ROWS`` per fetch."""
    return db.execute(stmt.execution_options(yield_per=_STREAM_ROWS))


def check_invariants(db: Session) -> list[str]:
    """Every breach of the ledger's invariants, as one line each (empty: all well).

    Every currency sums to zero; every transaction balances and matches its
    payload hash; no creator payable or hold is negative; every settled event's
    allocations plus fee equal its amount, and its transaction posts exactly
    its allocations; unsettled revenue equals the funded events not yet
    settled, and no event is settled (or allocated) without its funding; no
    account is beyond the account cap, and each account's running balance
    equals the sum of its postings.

    The check streams: postings, the settled events with their allocations and
    the funded events are each read from a server-side cursor ordered by
    transaction and merged transaction by transaction, so memory holds one
    transaction's rows (plus one total per account and per currency), however
    long the ledger.

    Every sum is taken over Python integers, so a ledger an earlier version
    let grow beyond 64 bits is still read and reported, never a crash.
    """
    breaches: list[str] = []
    sums: dict[int, int] = {}
    currencies: dict[str, int] = {}
    waiting: dict[str, int] = {}
    postings = _Ordered(
        _stream(
            db,
            select(
                LedgerPosting.transaction_id,
                LedgerPosting.account_id,
                LedgerAccount.code,
                LedgerPosting.currency,
                LedgerPosting.amount,
            )
            .join(LedgerAccount, LedgerPosting.account_id == LedgerAccount.id)
            .order_by(LedgerPosting.transaction_id),
        ),
        key=lambda row: row[0],
    )
    # Settled events outside periods, by their settlement transaction (0: none).
    settled_key = func.coalesce(RevenueEvent.transaction_id, 0)
    settled_where = (RevenueEvent.state == "settled", RevenueEvent.period_id.is_(None))
    events = _Ordered(
        _stream(
            db,
            select(
                settled_key,
                RevenueEvent.id,
                RevenueEvent.external_id,
                RevenueEvent.currency,
                RevenueEvent.amount,
                RevenueEvent.fee,
                RevenueEvent.recouped,
                RevenueEvent.distributable,
                RevenueEvent.funding_transaction_id,
                RevenueEvent.transaction_id,
            )
            .where(*settled_where)
            .order_by(settled_key, RevenueEvent.id),
        ),
        key=lambda row: row[0],
    )
    allocations = _Ordered(
        _stream(
            db,
            select(
                settled_key,
                RevenueEvent.id,
                Allocation.creator_id,
                Allocation.kind,
                Allocation.amount,
                RevenueEvent.currency,
            )
            .join(RevenueEvent, Allocation.event_id == RevenueEvent.id)
            .where(*settled_where)
            .order_by(settled_key, RevenueEvent.id),
        ),
        key=lambda row: (row[0], row[1]),
    )
    # An unclaimed credit's part of an event went to its escrow (hitrack.services.credits).
    escrows = _Ordered(
        _stream(
            db,
            select(
                settled_key,
                RevenueEvent.id,
                CreditEarning.credit_id,
                CreditEarning.amount,
                RevenueEvent.currency,
            )
            .join(RevenueEvent, CreditEarning.event_id == RevenueEvent.id)
            .where(*settled_where)
            .order_by(settled_key, RevenueEvent.id),
        ),
        key=lambda row: (row[0], row[1]),
    )
    funding_key = func.coalesce(RevenueEvent.funding_transaction_id, 0)
    fundings = _Ordered(
        _stream(
            db,
            select(
                funding_key,
                RevenueEvent.external_id,
                RevenueEvent.state,
                RevenueEvent.currency,
                RevenueEvent.amount,
                RevenueEvent.transaction_id,
            )
            .where(RevenueEvent.state.in_(("funded", "settled")))
            .order_by(funding_key, RevenueEvent.id),
        ),
        key=lambda row: row[0],
    )

    def check_events(tx_id: int, tx_postings: list[Posting] | None) -> None:
        for (
            _key,
            ev_id,
            ref,
            cur,
            amount,
            fee,
            recouped,
            dist,
            funding_id,
            settlement_id,
        ) in events.take(tx_id):
            parts = [
                (payable_account(creator_id, cur), kind, int(micros))
                for _k, _e, creator_id, kind, micros, _c in allocations.take((tx_id, ev_id))
            ]
            parts += [
                (escrow_account(credit_id, cur), "earning", int(micros))
                for _k, _e, credit_id, micros, _c in escrows.take((tx_id, ev_id))
            ]
            # Settlement draws on unsettled revenue; events settled before revenue had
            # states took the cash in with their settlement (one transaction for both).
            combined = funding_id == settlement_id
            breaches.extend(
                rules.check_event(
                    rules.EventRecord(
                        ref=ref,
                        currency=cur,
                        amount=amount,
                        fee=fee,
                        recouped=recouped,
                        distributable=dist,
                        allocations=parts,
                        cash_account=(cash_account if combined else unsettled_account)(cur),
                        fee_account=fees_account(cur),
                        postings=tx_postings,
                    )
                )
            )

    def check_fundings(tx_id: int, tx_postings: list[Posting]) -> None:
        for _key, ref, state, cur, amount, settlement_id in fundings.take(tx_id):
            if state == "funded":
                waiting[cur] = waiting.get(cur, 0) + int(amount)
            if not tx_id:
                breaches.append(f"event {ref}: {state} without a funding transaction")
            elif tx_id != settlement_id and rules.merge_postings(
                tx_postings
            ) != rules.merge_postings(revenue_funding_postings(cur, int(amount))):
                breaches.append(f"event {ref}: its funding transaction does not take in its amount")

    check_events(0, None)
    check_fundings(0, [])
    for tx_id, key, kind, digest in _stream(
        db,
        select(
            LedgerTransaction.id,
            LedgerTransaction.idempotency_key,
            LedgerTransaction.kind,
            LedgerTransaction.payload_hash,
        ).order_by(LedgerTransaction.id),
    ):
        tx_postings = []
        for _tx, account_id, code, currency, amount in postings.take(tx_id):
            tx_postings.append(Posting(code, currency, int(amount)))
            sums[account_id] = sums.get(account_id, 0) + int(amount)
            currencies[currency] = currencies.get(currency, 0) + int(amount)
        off = {c: t for c, t in rules.currency_totals(tx_postings).items() if t}
        if off:
            breaches.append(f"transaction {key}: postings do not balance ({off})")
        if rules.transaction_hash(kind, tx_postings) != digest:
            breaches.append(f"transaction {key}: postings do not match its payload hash")
        check_events(tx_id, tx_postings)
        check_fundings(tx_id, tx_postings)
    breaches += rules.check_currency_totals(currencies)

    owed_kinds: dict[str, int] = {}
    totals: dict[str, int] = {}
    for account_id, code, kind, running in _stream(
        db,
        select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.kind, LedgerAccount.balance),
    ):
        total = sums.get(account_id, 0)
        if total != running:
            breaches.append(
                f"{code}: running balance {running} differs from its postings' sum {total}"
            )
        if kind in OWED_KINDS:
            owed_kinds[code] = total
        if total:
            totals[code] = total
    breaches += rules.check_owed_balances(owed_kinds)
    breaches += beyond_account_cap(totals)
    breaches += _period_breaches(db)
    breaches += _unsettled_breaches(db, waiting)
    return breaches


def _unsettled_breaches(db: Session, waiting: dict[str, int]) -> list[str]:
    """Unsettled revenue equals the funded events not yet settled, per currency; only
    settled events have allocations."""
    breaches: list[str] = []
    held = {
        currency: rules.owed(int(total))
        for currency, total in db.execute(
            select(LedgerAccount.currency, func.coalesce(func.sum(LedgerPosting.amount), 0))
            .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .where(LedgerAccount.kind == "platform_unsettled")
            .group_by(LedgerAccount.currency)
        )
    }
    for currency in sorted(set(waiting) | set(held)):
        if held.get(currency, 0) != waiting.get(currency, 0):
            breaches.append(
                f"{currency}: unsettled revenue holds {held.get(currency, 0)} micros, but the "
                f"funded events not yet settled sum to {waiting.get(currency, 0)}"
            )
    for (ref,) in db.execute(
        select(RevenueEvent.external_id)
        .join(Allocation, Allocation.event_id == RevenueEvent.id)
        .where(RevenueEvent.state != "settled")
        .distinct()
    ):
        breaches.append(f"event {ref}: allocated before it settled")
    return breaches


def _period_breaches(db: Session) -> list[str]:
    """A settlement period is checked as one event: its events' parts and its one transaction.

    Periods are few (one per currency per close); each is read with its own
    queries, holding one row per creator it paid.
    """
    from hitrack.db.models import SettlementPeriod

    breaches: list[str] = []
    for period in db.scalars(select(SettlementPeriod).order_by(SettlementPeriod.id)):
        cur = period.currency
        parts = [
            (payable_account(creator_id, cur), kind, int(amount))
            for creator_id, kind, amount in db.execute(
                select(Allocation.creator_id, Allocation.kind, Allocation.amount).where(
                    Allocation.period_id == period.id
                )
            )
        ]
        parts += [
            (payable_account(creator_id, cur), kind, int(amount))
            for creator_id, kind, amount in db.execute(
                select(Allocation.creator_id, Allocation.kind, Allocation.amount)
                .join(RevenueEvent, Allocation.event_id == RevenueEvent.id)
                .where(RevenueEvent.period_id == period.id)
            )
        ]
        parts += [
            (escrow_account(credit_id, cur), "earning", int(amount))
            for credit_id, amount in db.execute(
                select(CreditEarning.credit_id, CreditEarning.amount)
                .join(RevenueEvent, CreditEarning.event_id == RevenueEvent.id)
                .where(RevenueEvent.period_id == period.id)
            )
        ]
        totals = db.execute(
            select(
                func.coalesce(func.sum(RevenueEvent.amount), 0),
                func.coalesce(func.sum(RevenueEvent.fee), 0),
                func.coalesce(func.sum(RevenueEvent.recouped), 0),
                func.coalesce(func.sum(RevenueEvent.distributable), 0),
            ).where(RevenueEvent.period_id == period.id)
        ).one()
        postings = [
            Posting(code, currency, int(amount))
            for code, currency, amount in db.execute(
                select(LedgerAccount.code, LedgerPosting.currency, LedgerPosting.amount)
                .join(LedgerAccount, LedgerPosting.account_id == LedgerAccount.id)
                .where(LedgerPosting.transaction_id == period.transaction_id)
            )
        ]
        if int(totals[0]) != period.amount or int(totals[1]) != period.fee:
            breaches.append(f"period {period.public_id}: its events do not sum to its totals")
        breaches += rules.check_event(
            rules.EventRecord(
                ref=period.public_id,
                currency=cur,
                amount=period.amount,
                fee=period.fee,
                recouped=int(totals[2]),
                distributable=int(totals[3]),
                allocations=parts,
                cash_account=unsettled_account(cur),
                fee_account=fees_account(cur),
                postings=postings,
            )
        )
    return breaches


def ledger_rows_in(rows: Iterable[object]) -> list[object]:
    return [row for row in rows if isinstance(row, LedgerTransaction | LedgerPosting)]


# --- append-only guards --------------------------------------------------------------


def _refuse(action: str) -> Any:
    def listener(_mapper: Mapper[Any], _connection: Any, target: object) -> None:
        raise LedgerIsAppendOnly(
            f"the ledger is append-only: {action} of {type(target).__name__} refused "
            "(post a reversing transaction instead)"
        )

    return listener


def _refuse_dirty(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj for obj in ledger_rows_in(session.dirty) if session.is_modified(obj)]
    if changed or ledger_rows_in(session.deleted):
        raise LedgerIsAppendOnly("the ledger is append-only: rows may not be changed or deleted")


def _refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in (LedgerTransaction, LedgerPosting):
        raise LedgerIsAppendOnly("the ledger is append-only: bulk UPDATE/DELETE refused")


for _model in (LedgerTransaction, LedgerPosting):
    event.listen(_model, "before_update", _refuse("update"))
    event.listen(_model, "before_delete", _refuse("delete"))
event.listen(Session, "before_flush", _refuse_dirty)
event.listen(Session, "do_orm_execute", _refuse_bulk)
