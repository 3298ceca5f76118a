"""Funded revenue into the ledger: fund an event, settle it now or hold it for a period.

Settling one event runs the fast engine over the stored compact graph
(:mod:`hitrack.services.compact_graph`), writes one allocation row per creator
(``earning``) and per owner who fronted costs (``recoup``), each with its exact
entitlement, and posts one transaction from unsettled revenue to the fee and
each creator's payable. Allocations and postings are written in bulk, so the
cost follows the ancestry's size in rows, not in round trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.models import Allocation, Citation, Creator, RevenueEvent, Work
from hitrack.domain import credit, fast
from hitrack.domain.errors import Conflict
from hitrack.domain.ledger import Posting
from hitrack.domain.money import format_micros
from hitrack.domain.shares import parse_share
from hitrack.jobs.base import JobQueue
from hitrack.services import compact_graph, credits, ledger

__all__ = [
    "DEFAULT_PERIOD_MIN_SOURCES",
    "domain_event",
    "require_reported",
    "fund_into",
    "settle_funded",
    "settle_or_hold",
    "settlement_mode",
    "Part",
    "settlement_parts",
    "exact_text",
    "creator_ids",
    "insert_allocations",
]

DEFAULT_PERIOD_MIN_SOURCES = 10_000
"""A model whose manifest has at least this many works settles per period by default."""


def domain_event(event: RevenueEvent) -> credit.RevenueEvent:
    """The stored event as the credit engine takes it."""
    return credit.RevenueEvent(
        event.external_id,
        event.work.public_id,
        event.amount,
        event.costs,
        event.fee_rate,
        None
        if event.attribution is None
        else {k: parse_share(v) for k, v in event.attribution.items()},
    )


def require_reported(event: RevenueEvent, action: str) -> None:
    """Refuse ``action`` (fund, reject) on an event that is no longer only reported."""
    if event.state == "reported":
        return
    if event.state == "rejected":
        reason = f" ({event.rejection_reason})" if event.rejection_reason else ""
        raise Conflict(
            f"revenue event {event.external_id} was rejected{reason}; it cannot be {action}ed",
            ids=(event.external_id,),
        )
    raise Conflict(
        f"revenue event {event.external_id} is already {event.state}; it cannot be {action}ed",
        ids=(event.external_id,),
    )


def fund_into(
    db: Session,
    event: RevenueEvent,
    *,
    method: str,
    reference: str | None = None,
    by: Creator | None = None,
) -> RevenueEvent:
    """The event's money arrived (no commit): cash in, held as unsettled revenue.

    ``method``: ``on_arrival`` (it came with the event), ``checkout`` (a paid
    Stripe Checkout session, ``reference`` its id) or ``manual`` (an admin,
    ``by``, confirmed it; ``reference`` their note).
    """
    require_reported(event, "fund")
    cur = event.currency
    transaction = ledger.post_transaction(
        db,
        f"revenue-funding:{event.external_id}",
        "revenue_funding",
        ledger.revenue_funding_postings(cur, event.amount),
        f"{format_micros(event.amount)} {cur} received for revenue event {event.external_id} "
        f"({method.replace('_', ' ')})",
        commit=False,
    )
    event.state = "funded"
    event.funding_method = method
    event.funding_reference = reference
    event.funding_transaction_id = transaction.id
    event.funded_at = utcnow()
    event.decided_by_id = by.id if by is not None and method == "manual" else None
    db.flush()
    return event


def settle_funded(
    db: Session, event: RevenueEvent, *, queue: JobQueue | None = None
) -> RevenueEvent:
    """Settle a funded event on its own (no commit): allocations, and one transaction from
    unsettled revenue to the fee and each creator's payable.

    The fast engine settles it over the settlement graph
    (:func:`hitrack.services.compact_graph.settlement_graph`; ``queue`` gets a
    rebuild when that graph is stale); the event records the graph version, so
    its explanation replays that graph. Allocations are written in bulk.
    """
    if event.state != "funded":
        raise Conflict(
            f"revenue event {event.external_id} is {event.state}: only funded revenue settles",
            ids=(event.external_id,),
        )
    work = event.work
    graph = compact_graph.settlement_graph(db, {work.id}, queue=queue)
    settlement = fast.settle_event(graph.graph, domain_event(event))
    owners = graph.graph.owners_of(graph.graph.work_index[work.public_id])
    parts = settlement_parts(settlement, owners)
    # An unclaimed credit's part goes to its escrow account (hitrack.services.credits),
    # not to an allocation: nobody holds it until a verified creator claims it.
    escrow_parts = [part for part in parts if credits.is_unclaimed(part.handle)]
    parts = [part for part in parts if not credits.is_unclaimed(part.handle)]
    ids = creator_ids(db, {part.handle for part in parts})
    event.fee = settlement.fee
    event.recouped = sum(settlement.recouped.values())
    event.distributable = settlement.distributable
    event.graph_version = graph.version
    insert_allocations(
        db,
        [
            {
                "event_id": event.id,
                "period_id": None,
                "creator_id": ids[part.handle],
                "kind": part.kind,
                "amount": part.amount,
                "exact": part.exact,
            }
            for part in parts
        ],
    )
    db.expire(event, ["allocations"])

    cur = event.currency
    postings = [
        Posting(ledger.unsettled_account(cur), cur, event.amount),
        Posting(ledger.fees_account(cur), cur, -settlement.fee),
    ]
    postings += [
        Posting(ledger.payable_account(ids[part.handle], cur), cur, -part.amount) for part in parts
    ]
    postings += credits.record_escrow_earnings(db, event, escrow_parts)
    ledger.ensure_accounts(db, sorted({p.account for p in postings}))
    transaction = ledger.post_transaction(
        db,
        f"revenue:{event.external_id}",
        "revenue",
        postings,
        f"{format_micros(event.amount, cur)} {cur} earned by {work.title} ({work.kind} {work.public_id})",
        commit=False,
    )
    event.transaction_id = transaction.id
    event.state = "settled"
    db.flush()
    return event


def settle_or_hold(
    db: Session,
    event: RevenueEvent,
    *,
    queue: JobQueue | None = None,
    period_min_sources: int = DEFAULT_PERIOD_MIN_SOURCES,
) -> RevenueEvent:
    """Settle a funded event now, or leave it funded for the next settlement period.

    Which one is the work's :func:`settlement_mode`.
    """
    if settlement_mode(db, event.work, period_min_sources=period_min_sources) == "period":
        return event
    return settle_funded(db, event, queue=queue)


def settlement_mode(db: Session, work: Work, *, period_min_sources: int) -> str:
    """``immediate`` or ``period``: the work's own setting, else its kind and size decide.

    Records and productions settle per event; a model with at least
    ``period_min_sources`` works in its manifest (the setting
    ``HITRACK_PERIOD_SETTLEMENT_MIN_SOURCES``) settles per period.
    """
    if work.settlement_mode is not None:
        return work.settlement_mode
    if work.kind != "model":
        return "immediate"
    count = db.scalar(
        select(func.count()).select_from(
            select(Citation.id)
            .where(Citation.work_id == work.id)
            .limit(period_min_sources)
            .subquery()
        )
    )
    return "period" if int(count or 0) >= period_min_sources else "immediate"


class Part(NamedTuple):
    """One creator's part of a settled event: what an allocation row stores."""

    handle: str
    kind: str  # earning | recoup
    amount: int
    exact: str


def settlement_parts(
    settlement: credit.EventSettlement,
    owners: Mapping[str, Fraction],
    *,
    only: str | None = None,
) -> list[Part]:
    """The allocations of ``settlement`` (``only``: one creator's); ``owners`` of its work."""
    fill_all = getattr(settlement.entitlements, "fill_all", None)
    if only is None and fill_all is not None:
        fill_all()  # the fast engine's exact entitlements, all in one pass
    parts = [
        Part(handle, "earning", settlement.creators.get(handle, 0), exact_text(exact))
        for handle, exact in settlement.entitlements.items()
        if only in (None, handle)
    ]
    recouped = sum(settlement.recouped.values())
    parts += [
        Part(handle, "recoup", micros, exact_text(recouped * owners[handle]))
        for handle, micros in settlement.recouped.items()
        if only in (None, handle)
    ]
    return parts


def exact_text(value: Fraction) -> str:
    """An exact entitlement as stored: ``numerator/denominator``."""
    return f"{value.numerator}/{value.denominator}"


_CHUNK = 5_000


def creator_ids(db: Session, handles: Iterable[str]) -> dict[str, int]:
    """Creator ids by handle, looked up in chunks (never one parameter per creator at once)."""
    wanted = sorted(set(handles))
    ids: dict[str, int] = {}
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        ids.update(
            db.execute(select(Creator.handle, Creator.id).where(Creator.handle.in_(chunk))).all()
        )
    return ids


def insert_allocations(db: Session, rows: list[dict[str, object]]) -> None:
    """Write allocation rows in bulk: an executemany (batched multi-row inserts on PostgreSQL)."""
    for i in range(0, len(rows), _CHUNK * 4):
        db.execute(insert(Allocation), rows[i : i + _CHUNK * 4])
