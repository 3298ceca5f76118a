"""Record one revenue event, all or nothing: validate, replay or store, then fund and settle.

A revenue event is money earned by one work (DESIGN sections 1, 3 and 4). It is
accepted for finalized productions and registered models, and for records
when an admin (or the system: CSV import, Stripe) sends it. Recording it:

1. validates the fields and who may send them
   (:mod:`hitrack.services.revenue.entries`, :mod:`~hitrack.services.revenue.events`);
2. is idempotent on ``external_id``: the same payload (hash of its canonical
   JSON) returns the original event, another payload raises
   :class:`~hitrack.domain.errors.IdempotencyConflict`. A replay is answered
   only to someone who may see the event; to anyone else another's id answers
   exactly like an unknown one (the sender's permission is checked first);
3. follows the event's state. Events from an admin, a CSV import or a Stripe
   sale are *funded on arrival* and settled at once or held for the next
   period (:mod:`hitrack.services.revenue.settling`). An event a model's
   operator reports is stored ``reported``: it moves no money and pays nobody
   until it is funded (:mod:`hitrack.services.funding`).

Two requests with one ``external_id`` at once produce one event: the unique
constraint decides, and the loser returns the winner's event.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, RevenueEvent, Work
from hitrack.domain.errors import InvalidInput, NotFound
from hitrack.domain.fast.event import CompactEvents
from hitrack.domain.settlement import prepare_event
from hitrack.domain.shares import format_share
from hitrack.jobs.base import JobQueue
from hitrack.services import compact_graph
from hitrack.services.graph import get_work
from hitrack.services.revenue.entries import ORIGINS, RevenueInput, engine_event, parse_revenue
from hitrack.services.revenue.events import check_permission, check_sender, replay
from hitrack.services.revenue.settling import (
    DEFAULT_PERIOD_MIN_SOURCES,
    fund_into,
    settle_or_hold,
)
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "Recorded",
    "funded_on_arrival",
    "record_revenue",
    "new_event",
    "report_into",
    "validate_entry",
    "settle_into",
]


class Recorded(NamedTuple):
    """The event, and whether this call created it (False: an idempotent replay)."""

    event: RevenueEvent
    created: bool


def funded_on_arrival(actor: Creator | None) -> bool:
    """Whether an event from ``actor`` comes with its money: the system's and admins' do.

    A model's operator only reports revenue; it is funded later (DESIGN section 1).
    """
    return actor is None or actor.is_admin


def record_revenue(
    db: Session,
    actor: Creator | None,
    data: Mapping[str, Any] | RevenueInput,
    *,
    default_fee_rate: Fraction,
    origin: str = "api",
    queue: JobQueue | None = None,
    period_min_sources: int = DEFAULT_PERIOD_MIN_SOURCES,
) -> Recorded:
    """Record one revenue event; ``actor`` None is the system (CSV, Stripe).

    Funded on arrival (:func:`funded_on_arrival`) it is settled at once;
    from a model's operator it is stored ``reported`` and moves no money.
    Raises InvalidInput/InvalidEvent (bad fields, a work that may not earn),
    NotFound, PermissionDenied or IdempotencyConflict; nothing is written then.
    """
    entry = (
        data
        if isinstance(data, RevenueInput)
        else parse_revenue(data, default_fee_rate=default_fee_rate)
    )
    try:
        with unit_of_work(db):
            work = get_work(db, entry.work)
            if (
                actor is not None
                and not actor.is_admin
                and work.visibility == "private"
                and not work.is_owned_by(actor.id)
            ):
                raise NotFound(f"work {entry.work} not found", ids=(entry.work,))
            # The sender's permission first: whoever may not send for this work gets
            # the same answer whether the external id is unknown or someone else's.
            check_permission(actor, work)
            existing = replay(db, actor, entry)
            if existing is not None:
                return Recorded(existing, False)  # nothing was written: the commit is empty
            entry = check_sender(db, actor, work, entry)
            if funded_on_arrival(actor):
                event = settle_into(
                    db,
                    actor,
                    work,
                    entry,
                    origin=origin,
                    queue=queue,
                    period_min_sources=period_min_sources,
                )
            else:
                event = report_into(db, actor, work, entry, origin=origin)
    except IntegrityError:
        # A concurrent request with the same external_id won the unique constraint;
        # the unit of work rolled ours back, so the winner's event is visible now.
        with unit_of_work(db):
            existing = replay(db, actor, entry)
        if existing is None:
            raise
        return Recorded(existing, False)
    return Recorded(event, True)


def new_event(
    db: Session,
    actor: Creator | None,
    work: Work,
    entry: RevenueInput,
    *,
    origin: str,
    state: str,
    flush: bool = True,
) -> RevenueEvent:
    """A new event row in the session; ``flush`` (the default) inserts it at once, so the
    unique external id decides between concurrent requests here."""
    if origin not in ORIGINS:
        raise InvalidInput(f"origin must be one of {', '.join(ORIGINS)}")
    event = RevenueEvent(
        external_id=entry.external_id,
        payload_hash=entry.payload_hash(),
        origin=origin,
        state=state,
        work_id=work.id,
        currency=entry.currency,
        amount=entry.amount,
        costs=entry.costs,
        attribution=None
        if entry.attribution is None
        else {k: format_share(v) for k, v in sorted(entry.attribution.items())},
        output=entry.output,
        created_by_id=actor.id if actor else None,
    )
    event.fee_rate = entry.fee_rate
    event.work = work
    db.add(event)
    if flush:
        db.flush()
    return event


def report_into(
    db: Session, actor: Creator | None, work: Work, entry: RevenueInput, *, origin: str
) -> RevenueEvent:
    """Store a validated event as ``reported`` (no commit): no allocation, no posting.

    The credit engine checks it now (an attribution within the manifest, ...),
    so funding it later cannot fail on its fields.
    """
    validate_entry(db, work, entry)
    return new_event(db, actor, work, entry, origin=origin, state="reported")


def validate_entry(
    db: Session, work: Work, entry: RevenueInput, *, queue: JobQueue | None = None
) -> None:
    """The engines' own checks of an event (an attribution within the manifest, ...)."""
    graph = compact_graph.settlement_graph(db, {work.id}, queue=queue)
    prepare_event(CompactEvents(graph.graph), engine_event(entry))


def settle_into(
    db: Session,
    actor: Creator | None,
    work: Work,
    entry: RevenueInput,
    *,
    origin: str,
    queue: JobQueue | None = None,
    period_min_sources: int = DEFAULT_PERIOD_MIN_SOURCES,
) -> RevenueEvent:
    """A validated event funded on arrival, into the session (no commit): the event,
    its funding, and its settlement (now, or in the next period: :func:`settle_or_hold`).

    Raises IntegrityError (from the flush) when the external id exists already.
    """
    event = new_event(db, actor, work, entry, origin=origin, state="reported")
    fund_into(db, event, method="on_arrival")
    return settle_or_hold(db, event, queue=queue, period_min_sources=period_min_sources)
