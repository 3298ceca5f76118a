"""Funded revenue into the ledger: fund an event, settle it now or hold it for a period.

Settling one event runs the fast engine over the stored compact graph
(:mod:`hitrack.services.compact_graph`), writes one allocation row per creator
(``earning``) and per owner who fronted costs (``recoup``), each with its exact
entitlement, and posts one transaction from unsettled revenue to the fee and
each creator's payable. Allocations and postings are written in bulk, so the
cost follows the ancestry's size in rows, not in round trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import NamedTuple, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.bulk import insert_rows, lookup
from hitrack.db.models import Allocation, Citation, Creator, RevenueEvent, Work
from hitrack.domain import credit, fast
from hitrack.domain.errors import Conflict
from hitrack.domain.ledger import Posting
from hitrack.domain.money import format_micros
from hitrack.domain.shares import parse_share
from hitrack.jobs.base import JobQueue
from hitrack.services import compact_graph, credits, follows, ledger

__all__ = [
    "DEFAULT_PERIOD_MIN_SOURCES",
    "domain_event",
    "require_reported",
    "fund_into",
    "fund_events",
    "funding_transaction",
    "settle_funded",
    "settle_events",
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
    fund_events(db, [event], method=method, reference=reference, by=by)
    return event


def fund_events(
    db: Session,
    events: Sequence[RevenueEvent],
    *,
    method: str,
    reference: str | None = None,
    by: Creator | None = None,
) -> None:
    """:func:`fund_into` for many events at once: one funding transaction each, in bulk."""
    for event in events:
        require_reported(event, "fund")
    posted = ledger.post_transactions(
        db,
        [
            funding_transaction(event.external_id, event.currency, event.amount, method)
            for event in events
        ],
    )
    now = utcnow()
    for event in events:
        event.state = "funded"
        event.funding_method = method
        event.funding_reference = reference
        event.funding_transaction_id = posted[f"revenue-funding:{event.external_id}"]
        event.funded_at = now
        event.decided_by_id = by.id if by is not None and method == "manual" else None
    db.flush()


def funding_transaction(
    external_id: str, currency: str, amount: int, method: str
) -> ledger.NewTransaction:
    """The ledger transaction of an event's money arriving (``revenue-funding:<external id>``)."""
    return ledger.NewTransaction(
        f"revenue-funding:{external_id}",
        "revenue_funding",
        ledger.revenue_funding_postings(currency, amount),
        f"{format_micros(amount)} {currency} received for revenue event "
        f"{external_id} ({method.replace('_', ' ')})",
    )


def settle_funded(
    db: Session, event: RevenueEvent, *, queue: JobQueue | None = None
) -> RevenueEvent:
    """Settle a funded event on its own (no commit): allocations, and one transaction from
    unsettled revenue to the fee and each creator's payable.

    The fast engine settles it over the settlement graph
    (:func:`hitrack.services.compact_graph.settlement_graph`; ``queue`` gets a
    rebuild when that graph is stale); the event records the graph version, so
    its explanation replays that graph (:func:`settle_events`).
    """
    graph = compact_graph.settlement_graph(db, {event.work_id}, queue=queue)
    settle_events(db, [event], graph)
    return event


def settle_events(
    db: Session, events: Sequence[RevenueEvent], graph: compact_graph.SettlementGraph
) -> None:
    """Settle funded events one by one over ``graph`` (no commit), written in bulk.

    Each event is its own settlement (its allocations, its ledger transaction
    ``revenue:<external id>``), exactly as if settled alone; the rows of all of
    them are written together: allocations with COPY, the transactions with
    :func:`hitrack.services.ledger.post_transactions`, so the cost is the
    rows, not one round trip per creator or per event.
    """
    for event in events:
        if event.state != "funded":
            raise Conflict(
                f"revenue event {event.external_id} is {event.state}: only funded revenue settles",
                ids=(event.external_id,),
            )
    cg = graph.graph
    settled: list[tuple[RevenueEvent, credit.EventSettlement, list[Part]]] = []
    handles: set[str] = set()
    for event in events:
        settlement = fast.settle_event(cg, domain_event(event))
        parts = settlement_parts(settlement, cg.owners_of(cg.work_index[event.work.public_id]))
        settled.append((event, settlement, parts))
        handles |= {part.handle for part in parts if not credits.is_unclaimed(part.handle)}
    ids = creator_ids(db, handles)
    allocations: list[tuple[object, ...]] = []
    transactions: list[ledger.NewTransaction] = []
    for event, settlement, parts in settled:
        # An unclaimed credit's part goes to its escrow account (hitrack.services.credits),
        # not to an allocation: nobody holds it until a verified creator claims it.
        escrow_parts = [part for part in parts if credits.is_unclaimed(part.handle)]
        paid = [part for part in parts if not credits.is_unclaimed(part.handle)]
        event.fee = settlement.fee
        event.recouped = sum(settlement.recouped.values())
        event.distributable = settlement.distributable
        event.graph_version = graph.version
        allocations += [
            (event.id, None, ids[part.handle], part.kind, part.amount, part.exact) for part in paid
        ]
        cur = event.currency
        postings = [
            Posting(ledger.unsettled_account(cur), cur, event.amount),
            Posting(ledger.fees_account(cur), cur, -settlement.fee),
        ]
        postings += [
            Posting(ledger.payable_account(ids[part.handle], cur), cur, -part.amount)
            for part in paid
        ]
        postings += credits.record_escrow_earnings(db, event, escrow_parts)
        work = event.work
        transactions.append(
            ledger.NewTransaction(
                f"revenue:{event.external_id}",
                "revenue",
                postings,
                f"{format_micros(event.amount, cur)} {cur} earned by {work.title} "
                f"({work.kind} {work.public_id})",
            )
        )
    insert_rows(db, cast(Table, Allocation.__table__), _ALLOCATION_COLUMNS, allocations)
    posted = ledger.post_transactions(db, transactions)
    for event in events:
        event.transaction_id = posted[f"revenue:{event.external_id}"]
        event.state = "settled"
        db.expire(event, ["allocations"])
    db.flush()


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
    """Creator ids by handle: one array parameter per 100k handles
    (:func:`hitrack.db.bulk.lookup`), never one parameter per creator."""
    return dict(lookup(db, Creator.handle, sorted(set(handles)), Creator.id))


_ALLOCATION_COLUMNS = ("event_id", "period_id", "creator_id", "kind", "amount", "exact")


def insert_allocations(db: Session, rows: Iterable[Mapping[str, object]]) -> None:
    """Write allocation rows in bulk (COPY on PostgreSQL: :func:`hitrack.db.bulk.insert_rows`).

    The creators who earned are notified in the same transaction, in bulk too.
    """
    written = list(rows)
    insert_rows(
        db,
        cast(Table, Allocation.__table__),
        _ALLOCATION_COLUMNS,
        (tuple(row[c] for c in _ALLOCATION_COLUMNS) for row in written),
    )
    follows.earnings_happened(db, written)
