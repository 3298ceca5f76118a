"""What creators see of their money: earnings with explanations, balances and statements.

A statement covers a period of days (``start`` to ``end``, both included,
UTC) per currency: the opening balance, each earning (with its explanation),
the payouts, and the closing balance. Opening and closing balances are read
from the ledger (the creator's payable account), earnings from the
allocation rows; ``reconciles`` says whether ``opening + earnings - payouts
+ adjustments == closing`` and the ledger's revenue postings equal the
earnings, so a statement that disagrees with the ledger says so.

Revenue reported by a model's operator but not yet funded pays nobody; the
earnings overview shows the creator's part of it as *expected* (computed on
demand by :func:`hitrack.services.funding.expected_allocations`), apart from
the balance and never in a statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Allocation,
    Creator,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Payout,
    RevenueEvent,
    SettlementPeriod,
    Work,
)
from hitrack.domain.errors import InvalidInput, NotFound
from hitrack.domain.ledger import owed
from hitrack.domain.money import format_micros, format_micros_exact
from hitrack.domain.paging import PageRequest
from hitrack.domain.spreadsheet import csv_lines, csv_text
from hitrack.services import credit_lines, explanations, funding, ledger

__all__ = [
    "EarningLine",
    "MoneyLine",
    "CurrencyStatement",
    "Statement",
    "Earnings",
    "earnings",
    "expected_lines",
    "explain_earning",
    "parse_period",
    "statement",
    "statement_csv",
    "statement_csv_chunks",
    "chart_data",
]

MAX_PERIOD_DAYS = 3660
#: Earning lines a statement lists per currency and page; the CSV streams them all.
MAX_STATEMENT_LINES = 200


@dataclass(frozen=True)
class EarningLine:
    """One allocation to the creator: an earning or a recoup of costs, explained."""

    event: str
    at: datetime
    work_id: str
    work_title: str
    work_kind: str
    kind: str
    currency: str
    amount: int
    exact: str
    lines: list[str]
    #: How a credit of the creator's brought it (hitrack.services.credit_lines).
    credits: tuple[str, ...] = ()
    #: The allocation's id: the cursor of paged lists.
    allocation_id: int = 0

    @property
    def description(self) -> str:
        what = "costs recouped from" if self.kind == "recoup" else "earned through"
        credited = "".join(f", {note}" for note in self.credits)
        return f"{what} {self.work_title} ({self.work_kind}){credited}"


@dataclass(frozen=True)
class MoneyLine:
    """A payout or another ledger movement on the creator's payable (positive: paid out)."""

    at: datetime
    kind: str
    reference: str
    description: str
    amount: int


@dataclass
class CurrencyStatement:
    currency: str
    opening: int
    closing: int
    earnings: list[EarningLine] = field(default_factory=list)
    payouts: list[MoneyLine] = field(default_factory=list)
    adjustments: list[MoneyLine] = field(default_factory=list)
    ledger_earnings: int = 0
    #: The period's earnings in all (``earnings`` may be one page of them).
    earnings_sum: int | None = None
    earnings_count: int | None = None
    #: The cursor of the next page of earnings (None: the last page).
    earnings_next: int | None = None

    @property
    def earnings_total(self) -> int:
        if self.earnings_sum is not None:
            return self.earnings_sum
        return sum(e.amount for e in self.earnings)

    @property
    def payouts_total(self) -> int:
        return sum(p.amount for p in self.payouts)

    @property
    def adjustments_total(self) -> int:
        return -sum(a.amount for a in self.adjustments)

    @property
    def reconciles(self) -> bool:
        return (
            self.opening + self.earnings_total - self.payouts_total + self.adjustments_total
            == self.closing
            and self.ledger_earnings == self.earnings_total
        )


@dataclass(frozen=True)
class Statement:
    creator_id: int
    start: date
    end: date
    currencies: list[CurrencyStatement]


@dataclass(frozen=True)
class Earnings:
    """A creator's balances (owed now, and held in payouts in flight) and latest earnings.

    ``expected`` are their parts of reported revenue not yet funded (not in any
    balance); ``expected_more`` says whether more reported events would pay them.
    """

    balances: dict[str, int]
    held: dict[str, int]
    lines: list[EarningLine]
    expected: list[EarningLine] = field(default_factory=list)
    expected_more: bool = False
    pending: list[EarningLine] = field(default_factory=list)
    pending_more: bool = False
    #: How many earnings the creator has in all, and the cursor of the next page.
    count: int = 0
    next_before: int | None = None

    @property
    def pending_totals(self) -> dict[str, int]:
        """Funded earnings awaiting the next settlement period, per currency (not in a balance)."""
        totals: dict[str, int] = {}
        for line in self.pending:
            totals[line.currency] = totals.get(line.currency, 0) + line.amount
        return dict(sorted(totals.items()))

    @property
    def expected_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for line in self.expected:
            totals[line.currency] = totals.get(line.currency, 0) + line.amount
        return dict(sorted(totals.items()))


EXPLAINED_LINES = 20
"""Earning lines explained when a page opens; the others are explained when opened."""
PAGE_EXPLAINED_LINES = 1
"""Earning lines explained on each page of the earnings list: an explanation costs a few
queries over the event's graph, so the others are explained when opened
(:func:`explain_earning`)."""


def _earning_lines(
    db: Session,
    creator_id: int,
    *conditions: ColumnElement[bool],
    limit: int | None = None,
    currency: str | None = None,
    explain: int = EXPLAINED_LINES,
    before: int | None = None,
    after: int | None = None,
    oldest_first: bool = False,
) -> list[EarningLine]:
    # An allocation is of one event (settled on its own, or a recoup in a
    # period) or of one settlement period (a creator's earnings of the batch).
    # Listed in allocation order (the order they were settled in) from the
    # index on (creator_id, id), so a page costs the same deep in the list.
    settled_by = func.coalesce(RevenueEvent.transaction_id, SettlementPeriod.transaction_id)
    stmt = (
        select(Allocation, RevenueEvent, SettlementPeriod, LedgerTransaction.created_at, Work)
        .outerjoin(RevenueEvent, Allocation.event_id == RevenueEvent.id)
        .outerjoin(SettlementPeriod, Allocation.period_id == SettlementPeriod.id)
        .join(LedgerTransaction, LedgerTransaction.id == settled_by)
        .outerjoin(Work, RevenueEvent.work_id == Work.id)
        .where(Allocation.creator_id == creator_id, *conditions)
        .order_by(Allocation.id if oldest_first else Allocation.id.desc())
    )
    if before is not None:
        stmt = stmt.where(Allocation.id < before)
    if after is not None:
        stmt = stmt.where(Allocation.id > after)
    if currency is not None:
        stmt = stmt.where(
            func.coalesce(RevenueEvent.currency, SettlementPeriod.currency) == currency
        )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = db.execute(stmt).all()
    if not rows:
        return []
    creator = db.get(Creator, creator_id)
    reach = credit_lines.credit_reach(db, creator_id)
    lines = []
    for n, (allocation, event, period, at, work) in enumerate(rows):
        if event is None:
            lines.append(
                EarningLine(
                    event=period.public_id,
                    at=at,
                    work_id="",
                    work_title=f"settlement period to {period.until:%Y-%m-%d %H:%M} UTC",
                    work_kind="period",
                    kind=allocation.kind,
                    currency=period.currency,
                    amount=allocation.amount,
                    exact=allocation.exact,
                    lines=[f"{period.events} funded events settled together"],
                    allocation_id=allocation.id,
                )
            )
            continue
        why = (
            explanations.explain_event(db, event, creator, kind=allocation.kind)
            if creator is not None and n < explain
            else []
        )
        lines.append(
            EarningLine(
                event=event.external_id,
                at=at,
                work_id=work.public_id,
                work_title=work.title,
                work_kind=work.kind,
                kind=allocation.kind,
                currency=event.currency,
                amount=allocation.amount,
                exact=allocation.exact,
                lines=why,
                credits=reach.notes(event.work_id, event.graph_version, at)
                if allocation.kind == "earning"
                else (),
                allocation_id=allocation.id,
            )
        )
    return lines


def explain_earning(db: Session, creator_id: int, external_id: object) -> list[EarningLine]:
    """The creator's earnings from one event, each explained (the page a line's "why" opens).

    Only the creator's own allocations are read: another creator's event, or
    one that did not pay them, is not found.
    """
    if not isinstance(external_id, str) or not external_id or len(external_id) > 200:
        raise NotFound("no such earning")
    lines = _earning_lines(
        db, creator_id, RevenueEvent.external_id == external_id, limit=10, explain=10
    )
    if not lines:
        raise NotFound(f"no earning of yours from event {external_id}", ids=(external_id,))
    return lines


def expected_lines(
    db: Session, creator_id: int, *, limit: int = funding.EXPECTED_LIMIT, state: str = "reported"
) -> tuple[list[EarningLine], bool]:
    """The creator's expected parts of reported, unfunded revenue, newest first.

    ``state="funded"``: their pending parts of funded revenue awaiting a settlement period.
    """
    parts, more = funding.expected_allocations(db, creator_id, limit=limit, state=state)
    creator = db.get(Creator, creator_id)
    return [
        EarningLine(
            event=part.event.external_id,
            at=part.event.occurred_at,
            work_id=part.event.work.public_id,
            work_title=part.event.work.title,
            work_kind=part.event.work.kind,
            kind=part.kind,
            currency=part.event.currency,
            amount=part.amount,
            exact=part.exact,
            lines=explanations.explain_event(db, part.event, creator, kind=part.kind)
            if creator is not None and n < EXPLAINED_LINES
            else [],
        )
        for n, part in enumerate(parts)
    ], more


def earnings(
    db: Session, creator_id: int, *, limit: int | None = None, page: PageRequest | None = None
) -> Earnings:
    """Balances per currency, one page of earnings (newest first) and the expected ones.

    ``page.cursor`` is the ``next_before`` of the page before; ``limit`` (for
    callers that want one list) overrides the page size.
    """
    page = page or PageRequest()
    size = limit if limit is not None else page.per_page
    expected, more = expected_lines(db, creator_id)
    pending, pending_more = expected_lines(db, creator_id, state="funded")
    lines = _earning_lines(
        db, creator_id, limit=size + 1, before=page.cursor, explain=PAGE_EXPLAINED_LINES
    )
    count = db.scalar(
        select(func.count()).select_from(Allocation).where(Allocation.creator_id == creator_id)
    )
    return Earnings(
        pending=pending,
        pending_more=pending_more,
        balances=ledger.creator_balances(db, creator_id),
        held=ledger.held_balances(db, creator_id),
        lines=lines[:size],
        expected=expected,
        expected_more=more,
        count=int(count or 0),
        next_before=lines[size - 1].allocation_id if len(lines) > size else None,
    )


def chart_data(lines: Iterable[EarningLine], currency: str) -> dict[str, object]:
    """The earnings chart's data (frontend contract): micros per day, oldest first."""
    per_day: dict[str, int] = {}
    for line in lines:
        if line.currency == currency and line.amount:
            day = line.at.astimezone(UTC).date().isoformat()
            per_day[day] = per_day.get(day, 0) + line.amount
    return {
        "currency": currency,
        "points": [{"date": day, "micros": micros} for day, micros in sorted(per_day.items())],
    }


def parse_period(start: object, end: object, *, today: date) -> tuple[date, date]:
    """``from``/``to`` as ISO dates (both included); default: this month up to today."""

    def one(value: object, name: str, default: date) -> date:
        if value in (None, ""):
            return default
        if not isinstance(value, str):
            raise InvalidInput(f"{name}: a date like 2026-01-31")
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"{name}: {value!r} is not a date like 2026-01-31") from None

    first = one(start, "from", today.replace(day=1))
    last = one(end, "to", today)
    if last < first:
        raise InvalidInput(f"to ({last}) is before from ({first})")
    if (last - first).days > MAX_PERIOD_DAYS:
        raise InvalidInput(f"a statement covers at most {MAX_PERIOD_DAYS} days")
    return first, last


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _payable_accounts(db: Session, creator_id: int) -> list[LedgerAccount]:
    return list(
        db.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.creator_id == creator_id, LedgerAccount.kind == "creator_payable")
            .order_by(LedgerAccount.currency)
        )
    )


def _balance_before(db: Session, account_id: int, moment: datetime) -> int:
    total = db.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount), 0))
        .join(LedgerTransaction, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerPosting.account_id == account_id, LedgerTransaction.created_at < moment)
    )
    return owed(int(total or 0))


def _in_period(begin: datetime, finish: datetime) -> tuple[ColumnElement[bool], ...]:
    return (LedgerTransaction.created_at >= begin, LedgerTransaction.created_at < finish)


def _earnings_totals(
    db: Session, creator_id: int, currency: str, begin: datetime, finish: datetime
) -> tuple[int, int]:
    """The number and sum of the creator's allocations in ``currency`` settled in the period."""
    settled_by = func.coalesce(RevenueEvent.transaction_id, SettlementPeriod.transaction_id)
    count, total = db.execute(
        select(func.count(), func.coalesce(func.sum(Allocation.amount), 0))
        .select_from(Allocation)
        .outerjoin(RevenueEvent, Allocation.event_id == RevenueEvent.id)
        .outerjoin(SettlementPeriod, Allocation.period_id == SettlementPeriod.id)
        .join(LedgerTransaction, LedgerTransaction.id == settled_by)
        .where(
            Allocation.creator_id == creator_id,
            func.coalesce(RevenueEvent.currency, SettlementPeriod.currency) == currency,
            *_in_period(begin, finish),
        )
    ).one()
    return int(count or 0), int(total or 0)


def _money_moves(
    db: Session, part: CurrencyStatement, account_id: int, begin: datetime, finish: datetime
) -> None:
    """The period's revenue total (summed in SQL) and each payout or other movement."""
    revenue_total = db.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount), 0))
        .join(LedgerTransaction, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(
            LedgerPosting.account_id == account_id,
            LedgerTransaction.kind == "revenue",
            *_in_period(begin, finish),
        )
    )
    part.ledger_earnings = owed(int(revenue_total or 0))
    rows = db.execute(
        select(LedgerTransaction, LedgerPosting.amount, Payout.status)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        # A hold's own text says "held"; the payout it belongs to says where it stands now.
        .outerjoin(Payout, Payout.hold_transaction_id == LedgerTransaction.id)
        .where(
            LedgerPosting.account_id == account_id,
            LedgerTransaction.kind != "revenue",
            *_in_period(begin, finish),
        )
        .order_by(LedgerTransaction.created_at, LedgerTransaction.id)
    )
    for tx, amount, payout_status in rows:
        line = MoneyLine(
            tx.created_at,
            tx.kind,
            tx.idempotency_key,
            _describe(tx, payout_status, amount, part.currency),
            amount,
        )
        (part.payouts if tx.kind in ledger.PAYOUT_KINDS else part.adjustments).append(line)


def statement(
    db: Session,
    creator_id: int,
    start: date,
    end: date,
    *,
    page: PageRequest | None = None,
    currency: str | None = None,
) -> Statement:
    """The creator's statement from ``start`` to ``end`` (days, both included, UTC).

    Each currency lists one page of its earnings, oldest first (``page``: its
    size, and the ``earnings_next`` cursor of the page before); totals and
    reconciliation always cover the whole period. ``currency`` limits the
    statement to one currency (to page through its earnings).
    """
    page = page or PageRequest(per_page=MAX_STATEMENT_LINES)
    begin, finish = _midnight(start), _midnight(end + timedelta(days=1))
    result = []
    for account in _payable_accounts(db, creator_id):
        if currency is not None and account.currency != currency:
            continue
        part = CurrencyStatement(
            account.currency,
            _balance_before(db, account.id, begin),
            _balance_before(db, account.id, finish),
        )
        part.earnings_count, part.earnings_sum = _earnings_totals(
            db, creator_id, account.currency, begin, finish
        )
        lines = _earning_lines(
            db,
            creator_id,
            *_in_period(begin, finish),
            currency=account.currency,
            limit=page.per_page + 1,
            after=page.cursor,
            oldest_first=True,
        )
        part.earnings = lines[: page.per_page]
        if len(lines) > page.per_page:
            part.earnings_next = lines[page.per_page - 1].allocation_id
        _money_moves(db, part, account.id, begin, finish)
        if part.opening or part.closing or part.earnings_count or part.payouts or part.adjustments:
            result.append(part)
    return Statement(creator_id, start, end, result)


# How a payout's hold reads once the payout has moved on.
_HOLD_OUTCOMES = {
    "paid": "paid",
    "failed": "failed; the amount came back to your balance",
    "reversed": "reversed; the amount came back to your balance",
}


def _describe(tx: LedgerTransaction, payout_status: str | None, amount: int, currency: str) -> str:
    """A ledger movement in words; a payout's hold by the payout's state, not "held" forever."""
    outcome = _HOLD_OUTCOMES.get(payout_status or "") if tx.kind == "payout_hold" else None
    if outcome is None:
        return tx.description or tx.kind
    return f"Payout of {format_micros(amount, currency)} {currency} {outcome}"


CSV_HEADER = ("currency", "date", "type", "reference", "description", "amount", "amount_micros")


CsvRow = tuple[str, str, str, str, str, str, int]
CSV_CHUNK_ROWS = 1_000


def _row(currency: str, when: str, kind: str, ref: str, text: str, micros: int) -> CsvRow:
    return (currency, when, kind, ref, text, format_micros_exact(micros), micros)


def _earning_row(currency: str, e: EarningLine) -> CsvRow:
    return _row(
        currency,
        e.at.date().isoformat(),
        e.kind,
        e.event,
        f"{e.description}: " + " | ".join(e.lines),
        e.amount,
    )


def _opening_row(st_start: date, part: CurrencyStatement) -> CsvRow:
    return _row(
        part.currency,
        st_start.isoformat(),
        "opening_balance",
        "",
        "balance at the start",
        part.opening,
    )


def _move_rows(part: CurrencyStatement) -> Iterator[CsvRow]:
    for move in [*part.payouts, *part.adjustments]:
        yield _row(
            part.currency,
            move.at.date().isoformat(),
            move.kind,
            move.reference,
            move.description,
            -move.amount,
        )


def _closing_row(st_end: date, part: CurrencyStatement) -> CsvRow:
    return _row(
        part.currency,
        st_end.isoformat(),
        "closing_balance",
        "",
        f"balance at the end ({format_micros(part.closing, part.currency)} {part.currency})",
        part.closing,
    )


def statement_csv(st: Statement) -> str:
    """The statement as CSV: opening, each earning and payout, closing (amounts exact in micros).

    Descriptions carry titles and references other people chose; cells a
    spreadsheet would run as formulas are neutralised (:mod:`hitrack.domain.spreadsheet`).
    For a whole period of any size, stream :func:`statement_csv_chunks` instead.
    """
    rows: list[CsvRow] = []
    for part in st.currencies:
        rows.append(_opening_row(st.start, part))
        rows.extend(_earning_row(part.currency, e) for e in part.earnings)
        rows.extend(_move_rows(part))
        rows.append(_closing_row(st.end, part))
    return csv_text(CSV_HEADER, rows)


def _streamed_earnings(
    db: Session,
    creator_id: int,
    currency: str,
    begin: datetime,
    finish: datetime,
    after: int,
    reach: credit_lines.CreditReach,
) -> Iterator[EarningLine]:
    """Every earning after allocation ``after`` in the period, read in batches (no ORM objects)."""
    settled_by = func.coalesce(RevenueEvent.transaction_id, SettlementPeriod.transaction_id)
    stmt = (
        select(
            Allocation.id,
            Allocation.kind,
            Allocation.amount,
            Allocation.exact,
            RevenueEvent.external_id,
            RevenueEvent.work_id,
            RevenueEvent.graph_version,
            SettlementPeriod.public_id,
            SettlementPeriod.until,
            SettlementPeriod.events,
            LedgerTransaction.created_at,
            Work.public_id,
            Work.title,
            Work.kind,
        )
        .select_from(Allocation)
        .outerjoin(RevenueEvent, Allocation.event_id == RevenueEvent.id)
        .outerjoin(SettlementPeriod, Allocation.period_id == SettlementPeriod.id)
        .join(LedgerTransaction, LedgerTransaction.id == settled_by)
        .outerjoin(Work, RevenueEvent.work_id == Work.id)
        .where(
            Allocation.creator_id == creator_id,
            Allocation.id > after,
            func.coalesce(RevenueEvent.currency, SettlementPeriod.currency) == currency,
            *_in_period(begin, finish),
        )
        .order_by(Allocation.id)
        .execution_options(stream_results=True, max_row_buffer=CSV_CHUNK_ROWS * 5)
    )
    # Core rows (no ORM result processing) in batches from a server-side cursor.
    for row in db.connection().execute(stmt):
        (
            aid,
            kind,
            amount,
            exact,
            external_id,
            work_id,
            version,
            period_id,
            until,
            events,
            at,
            work_public_id,
            title,
            work_kind,
        ) = row
        if external_id is None:
            yield EarningLine(
                event=period_id,
                at=at,
                work_id="",
                work_title=f"settlement period to {until:%Y-%m-%d %H:%M} UTC",
                work_kind="period",
                kind=kind,
                currency=currency,
                amount=amount,
                exact=exact,
                lines=[f"{events} funded events settled together"],
                allocation_id=aid,
            )
            continue
        yield EarningLine(
            event=external_id,
            at=at,
            work_id=work_public_id,
            work_title=title,
            work_kind=work_kind,
            kind=kind,
            currency=currency,
            amount=amount,
            exact=exact,
            lines=[],
            credits=reach.notes(work_id, version, at) if kind == "earning" else (),
            allocation_id=aid,
        )


def _statement_rows(db: Session, creator_id: int, start: date, end: date) -> Iterator[CsvRow]:
    begin, finish = _midnight(start), _midnight(end + timedelta(days=1))
    reach = credit_lines.credit_reach(db, creator_id)
    for account in _payable_accounts(db, creator_id):
        part = CurrencyStatement(
            account.currency,
            _balance_before(db, account.id, begin),
            _balance_before(db, account.id, finish),
        )
        part.earnings_count, part.earnings_sum = _earnings_totals(
            db, creator_id, account.currency, begin, finish
        )
        _money_moves(db, part, account.id, begin, finish)
        if not (
            part.opening or part.closing or part.earnings_count or part.payouts or part.adjustments
        ):
            continue
        yield _opening_row(start, part)
        # The first lines come explained, as on the statement page; the rest stream.
        first = _earning_lines(
            db,
            creator_id,
            *_in_period(begin, finish),
            currency=account.currency,
            limit=EXPLAINED_LINES,
            oldest_first=True,
        )
        for line in first:
            yield _earning_row(account.currency, line)
        if len(first) == EXPLAINED_LINES:
            for line in _streamed_earnings(
                db, creator_id, account.currency, begin, finish, first[-1].allocation_id, reach
            ):
                yield _earning_row(account.currency, line)
        yield from _move_rows(part)
        yield _closing_row(end, part)


def statement_csv_chunks(db: Session, creator_id: int, start: date, end: date) -> Iterator[str]:
    """The whole statement of the period as CSV text, in chunks of rows, read as it is sent.

    The same rows as :func:`statement_csv` (every earning of the period, not
    one page), with cells neutralised; memory stays bounded by one batch of
    rows however long the statement is.
    """
    batch: list[str] = []
    for line in csv_lines(CSV_HEADER, _statement_rows(db, creator_id, start, end)):
        batch.append(line)
        if len(batch) >= CSV_CHUNK_ROWS:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)
