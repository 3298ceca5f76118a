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

from collections.abc import Iterable
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
from hitrack.domain.errors import InvalidInput
from hitrack.domain.ledger import owed
from hitrack.domain.money import format_micros, format_micros_exact
from hitrack.domain.spreadsheet import csv_text
from hitrack.services import explanations, funding, ledger

__all__ = [
    "EarningLine",
    "MoneyLine",
    "CurrencyStatement",
    "Statement",
    "Earnings",
    "earnings",
    "expected_lines",
    "parse_period",
    "statement",
    "statement_csv",
    "chart_data",
]

MAX_PERIOD_DAYS = 3660


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

    @property
    def description(self) -> str:
        what = "costs recouped from" if self.kind == "recoup" else "earned through"
        return f"{what} {self.work_title} ({self.work_kind})"


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

    @property
    def earnings_total(self) -> int:
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


def _earning_lines(
    db: Session,
    creator_id: int,
    *conditions: ColumnElement[bool],
    limit: int | None = None,
    currency: str | None = None,
    explain: int = EXPLAINED_LINES,
) -> list[EarningLine]:
    # An allocation is of one event (settled on its own, or a recoup in a
    # period) or of one settlement period (a creator's earnings of the batch).
    settled_by = func.coalesce(RevenueEvent.transaction_id, SettlementPeriod.transaction_id)
    stmt = (
        select(Allocation, RevenueEvent, SettlementPeriod, LedgerTransaction.created_at, Work)
        .outerjoin(RevenueEvent, Allocation.event_id == RevenueEvent.id)
        .outerjoin(SettlementPeriod, Allocation.period_id == SettlementPeriod.id)
        .join(LedgerTransaction, LedgerTransaction.id == settled_by)
        .outerjoin(Work, RevenueEvent.work_id == Work.id)
        .where(Allocation.creator_id == creator_id, *conditions)
        .order_by(LedgerTransaction.created_at.desc(), Allocation.id.desc())
    )
    if currency is not None:
        stmt = stmt.where(
            func.coalesce(RevenueEvent.currency, SettlementPeriod.currency) == currency
        )
    if limit is not None:
        stmt = stmt.limit(limit)
    creator = db.get(Creator, creator_id)
    lines = []
    for n, (allocation, event, period, at, work) in enumerate(db.execute(stmt).all()):
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
            )
        )
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


def earnings(db: Session, creator_id: int, *, limit: int = 500) -> Earnings:
    """Balances per currency, the latest ``limit`` earnings and the expected ones, newest first."""
    expected, more = expected_lines(db, creator_id)
    pending, pending_more = expected_lines(db, creator_id, state="funded")
    return Earnings(
        pending=pending,
        pending_more=pending_more,
        balances=ledger.creator_balances(db, creator_id),
        held=ledger.held_balances(db, creator_id),
        lines=_earning_lines(db, creator_id, limit=limit),
        expected=expected,
        expected_more=more,
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


def statement(db: Session, creator_id: int, start: date, end: date) -> Statement:
    """The creator's statement from ``start`` to ``end`` (days, both included, UTC)."""
    begin, finish = _midnight(start), _midnight(end + timedelta(days=1))
    accounts = list(
        db.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.creator_id == creator_id, LedgerAccount.kind == "creator_payable")
            .order_by(LedgerAccount.currency)
        )
    )
    result = []
    for account in accounts:

        def balance_before(moment: datetime, account_id: int = account.id) -> int:
            total = db.scalar(
                select(func.coalesce(func.sum(LedgerPosting.amount), 0))
                .join(LedgerTransaction, LedgerPosting.transaction_id == LedgerTransaction.id)
                .where(
                    LedgerPosting.account_id == account_id, LedgerTransaction.created_at < moment
                )
            )
            return owed(int(total or 0))

        part = CurrencyStatement(account.currency, balance_before(begin), balance_before(finish))
        part.earnings = list(
            reversed(
                _earning_lines(
                    db,
                    creator_id,
                    LedgerTransaction.created_at >= begin,
                    LedgerTransaction.created_at < finish,
                    currency=account.currency,
                )
            )
        )
        rows = db.execute(
            select(LedgerTransaction, LedgerPosting.amount, Payout.status)
            .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
            # A hold's own text says "held"; the payout it belongs to says where it stands now.
            .outerjoin(Payout, Payout.hold_transaction_id == LedgerTransaction.id)
            .where(
                LedgerPosting.account_id == account.id,
                LedgerTransaction.created_at >= begin,
                LedgerTransaction.created_at < finish,
            )
            .order_by(LedgerTransaction.created_at, LedgerTransaction.id)
        )
        for tx, amount, payout_status in rows:
            if tx.kind == "revenue":
                part.ledger_earnings += owed(amount)
                continue
            line = MoneyLine(
                tx.created_at,
                tx.kind,
                tx.idempotency_key,
                _describe(tx, payout_status, amount, account.currency),
                amount,
            )
            (part.payouts if tx.kind in ledger.PAYOUT_KINDS else part.adjustments).append(line)
        if part.opening or part.closing or part.earnings or part.payouts or part.adjustments:
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


def statement_csv(st: Statement) -> str:
    """The statement as CSV: opening, each earning and payout, closing (amounts exact in micros).

    Descriptions carry titles and references other people chose; cells a
    spreadsheet would run as formulas are neutralised (:mod:`hitrack.domain.spreadsheet`).
    """
    rows: list[tuple[str, str, str, str, str, str, int]] = []

    def row(currency: str, when: str, kind: str, ref: str, text: str, micros: int) -> None:
        rows.append((currency, when, kind, ref, text, format_micros_exact(micros), micros))

    for part in st.currencies:
        row(
            part.currency,
            st.start.isoformat(),
            "opening_balance",
            "",
            "balance at the start",
            part.opening,
        )
        for e in part.earnings:
            row(
                part.currency,
                e.at.date().isoformat(),
                e.kind,
                e.event,
                f"{e.description}: " + " | ".join(e.lines),
                e.amount,
            )
        for p in part.payouts:
            row(
                part.currency,
                p.at.date().isoformat(),
                p.kind,
                p.reference,
                p.description,
                -p.amount,
            )
        for a in part.adjustments:
            row(
                part.currency,
                a.at.date().isoformat(),
                a.kind,
                a.reference,
                a.description,
                -a.amount,
            )
        row(
            part.currency,
            st.end.isoformat(),
            "closing_balance",
            "",
            f"balance at the end ({format_micros(part.closing, part.currency)} {part.currency})",
            part.closing,
        )
    return csv_text(CSV_HEADER, rows)
