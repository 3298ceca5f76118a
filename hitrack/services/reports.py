"""Reports on money: per production or model for its owners, and the ledger for admins."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Allocation,
    Creator,
    LedgerAccount,
    LedgerTransaction,
    RevenueEvent,
    Work,
)
from hitrack.domain.errors import PermissionDenied
from hitrack.services import ledger
from hitrack.services.graph import visible_work

__all__ = [
    "Share",
    "CurrencyReport",
    "WorkReport",
    "work_report",
    "AccountTotal",
    "LedgerOverview",
    "ledger_overview",
]


@dataclass(frozen=True)
class Share:
    """One creator's part of a work's revenue: earnings along the graph and recouped costs."""

    creator_id: int
    name: str
    earned: int
    recouped: int

    @property
    def total(self) -> int:
        return self.earned + self.recouped


@dataclass
class CurrencyReport:
    currency: str
    events: int = 0
    revenue: int = 0
    costs: int = 0
    fees: int = 0
    recouped: int = 0
    distributable: int = 0
    distribution: list[Share] = field(default_factory=list)

    @property
    def distributed(self) -> int:
        return sum(s.total for s in self.distribution)

    @property
    def balances(self) -> bool:
        return self.fees + self.distributed == self.revenue


@dataclass(frozen=True)
class WorkReport:
    work: Work
    currencies: list[CurrencyReport]


def work_report(db: Session, actor: Creator, public_id: str) -> WorkReport:
    """Revenue, fees, recouped costs and the full distribution of the events at a work.

    For the work's owners (its producer, its operator) and admins.
    """
    work = visible_work(db, actor, public_id)
    if not (actor.is_admin or work.is_owned_by(actor.id)):
        raise PermissionDenied(
            f"only the owners of {work.public_id} see its report", ids=(work.public_id,)
        )
    parts: dict[str, CurrencyReport] = {}
    for currency, events, revenue, costs, fees, recouped, distributable in db.execute(
        select(
            RevenueEvent.currency,
            func.count(),
            func.sum(RevenueEvent.amount),
            func.sum(RevenueEvent.costs),
            func.sum(RevenueEvent.fee),
            func.sum(RevenueEvent.recouped),
            func.sum(RevenueEvent.distributable),
        )
        # Reported revenue is not revenue until it is funded and settled.
        .where(RevenueEvent.work_id == work.id, RevenueEvent.state == "settled")
        .group_by(RevenueEvent.currency)
        .order_by(RevenueEvent.currency)
    ):
        parts[currency] = CurrencyReport(
            currency,
            int(events),
            int(revenue),
            int(costs),
            int(fees),
            int(recouped),
            int(distributable),
        )
    shares: dict[tuple[str, int], dict[str, int]] = {}
    names: dict[int, str] = {}
    for currency, creator_id, name, kind, amount in db.execute(
        select(
            RevenueEvent.currency,
            Allocation.creator_id,
            Creator.display_name,
            Allocation.kind,
            func.sum(Allocation.amount),
        )
        .join(RevenueEvent, Allocation.event_id == RevenueEvent.id)
        .join(Creator, Allocation.creator_id == Creator.id)
        .where(RevenueEvent.work_id == work.id)
        .group_by(
            RevenueEvent.currency, Allocation.creator_id, Creator.display_name, Allocation.kind
        )
    ):
        names[creator_id] = name
        shares.setdefault((currency, creator_id), {})[kind] = int(amount)
    for (currency, creator_id), kinds in shares.items():
        parts[currency].distribution.append(
            Share(creator_id, names[creator_id], kinds.get("earning", 0), kinds.get("recoup", 0))
        )
    for part in parts.values():
        part.distribution.sort(key=lambda s: (-s.total, s.name, s.creator_id))
    return WorkReport(work, list(parts.values()))


@dataclass(frozen=True)
class AccountTotal:
    kind: str
    currency: str
    accounts: int
    balance: int


@dataclass(frozen=True)
class LedgerOverview:
    totals: list[AccountTotal]
    transactions: dict[str, int]
    events: int
    breaches: list[str]

    @property
    def healthy(self) -> bool:
        return not self.breaches


def ledger_overview(db: Session, actor: Creator | None) -> LedgerOverview:
    """Totals per account kind and currency, transactions per kind, and the invariant status.

    ``actor`` None is the system (the CLI); otherwise admins only.
    """
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("the ledger overview is for admins")
    # Totals over many accounts are added up in Python: each account stays
    # within the account cap, but a kind's total over many accounts need not
    # fit in 64 bits (SQLite's sum() would raise).
    grouped: dict[tuple[str, str], list[int]] = {}
    for kind, currency, running in db.execute(
        select(LedgerAccount.kind, LedgerAccount.currency, LedgerAccount.balance)
    ):
        grouped.setdefault((kind, currency), []).append(int(running))
    totals = [
        AccountTotal(kind, currency, len(values), sum(values))
        for (kind, currency), values in sorted(grouped.items(), key=lambda kv: kv[0][::-1])
    ]
    transactions = {
        kind: int(n)
        for kind, n in db.execute(
            select(LedgerTransaction.kind, func.count())
            .group_by(LedgerTransaction.kind)
            .order_by(LedgerTransaction.kind)
        )
    }
    events = int(db.scalar(select(func.count()).select_from(RevenueEvent)) or 0)
    return LedgerOverview(totals, transactions, events, ledger.check_invariants(db))
