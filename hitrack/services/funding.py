"""Funding reported revenue: paid by its operator, confirmed by an admin, or rejected.

A model's operator only *reports* revenue (DESIGN section 1): the event is
stored ``reported`` and moves no money until its money arrives. Then it is
funded and settled in one transaction (:func:`hitrack.services.revenue.fund_into`,
:func:`hitrack.services.revenue.settle_funded`):

* the operator pays it through Stripe Checkout: :func:`open_checkout` opens a
  session for the amount (its metadata names the event) and the signed
  ``checkout.session.completed`` webhook funds it (:func:`fund_from_checkout`);
* with manual payouts the operator pays by other means and an admin confirms
  that the money arrived (:func:`confirm_funding`);
* an admin may instead reject the report (:func:`reject_report`): it then
  never moves money.

Funding happens once: a replayed webhook for the session that funded the event
changes nothing, and funding an event that is already funded, settled or
rejected is a :class:`~hitrack.domain.errors.Conflict`.

Until then the creators whose works the event would pay see their part as
*expected* (:func:`expected_allocations`): computed with the same settlement
engine on demand, never stored as allocations or postings, never in a balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.bulk import among
from hitrack.db.models import Citation, Creator, RevenueEvent, WorkOwner
from hitrack.domain import fast
from hitrack.domain.errors import (
    Conflict,
    HitrackError,
    InvalidEvent,
    InvalidInput,
    PermissionDenied,
)
from hitrack.domain.money import (
    format_micros,
    from_minor_units,
    micros_per_minor_unit,
    parse_currency,
    to_minor_units,
)
from hitrack.payments.base import CheckoutProvider, CheckoutRequest
from hitrack.services import compact_graph, revenue
from hitrack.services.unit_of_work import read_only, unit_of_work

__all__ = [
    "Funding",
    "ExpectedAllocation",
    "EXPECTED_LIMIT",
    "MANUAL_FUNDING",
    "open_checkout",
    "checkout_amount",
    "fund_from_checkout",
    "confirm_funding",
    "reject_report",
    "reported_events",
    "expected_allocations",
]

EXPECTED_LIMIT = 50
MANUAL_FUNDING = (
    "Pay the amount to the platform by bank transfer, quoting the event id; "
    "an admin confirms when the money has arrived."
)
_MAX_NOTE = 500


@dataclass(frozen=True)
class Funding:
    """How the operator pays a reported event: a Checkout page to visit, or manual instructions."""

    event: RevenueEvent
    method: str  # "checkout" | "manual"
    checkout_id: str | None
    url: str | None
    instructions: str


def _reporter_event(db: Session, actor: Creator, external_id: str) -> RevenueEvent:
    event = revenue.visible_event(db, actor, external_id)
    if event.created_by_id != actor.id:
        raise PermissionDenied(
            f"revenue event {external_id} is paid by the operator who reported it",
            ids=(external_id,),
        )
    return event


def checkout_amount(event: RevenueEvent) -> int:
    """The event's amount in minor units for Checkout; InvalidEvent unless it is whole and > 0."""
    if event.amount <= 0:
        raise InvalidEvent(
            f"revenue event {event.external_id} is 0: there is nothing to pay",
            ids=(event.external_id,),
        )
    if event.amount % micros_per_minor_unit(event.currency):
        raise InvalidEvent(
            f"revenue event {event.external_id} is {event.amount} micros, not a whole number "
            f"of {event.currency}'s minor unit: Checkout cannot charge it exactly; an admin can "
            "confirm a manual payment",
            ids=(event.external_id,),
        )
    return to_minor_units(event.amount, event.currency)


def open_checkout(
    db: Session, actor: Creator, external_id: str, provider: object, *, base_url: str
) -> Funding:
    """Let the reporting operator pay a reported event.

    With a provider that takes payments (Stripe) this opens a Checkout session
    for the amount, idempotently: asking again while it is open returns the same
    session. Without one (manual payouts) it answers with instructions; an
    admin then confirms the payment. Nothing is written here: only the signed
    webhook funds the event.
    """
    # Nothing is written: the read ends (on SQLite its transaction holds the
    # write lock) before the provider is waited on.
    with read_only(db):
        event = _reporter_event(db, actor, external_id)
        revenue.require_reported(event, "fund")
        if not isinstance(provider, CheckoutProvider):
            return Funding(event, "manual", None, None, MANUAL_FUNDING)
        back = f"{base_url.rstrip('/')}/me/revenue"
        request = CheckoutRequest(
            # One key per event and payload: a retry within Stripe's 24 hours
            # returns the session already open instead of a second one.
            idempotency_key=f"hitrack-fund-{event.external_id[:120]}-{event.payload_hash[:16]}",
            amount_minor=checkout_amount(event),
            currency=event.currency.lower(),
            description=f"Revenue {event.external_id} of {event.work.title}",
            metadata={"revenue_event": event.external_id},
            success_url=f"{back}?funded={event.external_id}",
            cancel_url=back,
        )
        instructions = (
            f"Pay {format_micros(event.amount)} {event.currency} on the Checkout page; the event "
            "is funded and settled when Stripe confirms the payment."
        )
    session = provider.create_checkout(request)
    return Funding(event, "checkout", session.id, session.url, instructions)


def fund_from_checkout(
    db: Session, external_id: str, *, session_id: str, amount_minor: int, currency: str
) -> RevenueEvent:
    """A paid Checkout session names the event: fund and settle it (from the signed webhook).

    The paid amount and currency must be the event's. The same session again
    changes nothing; any other funding of an already funded event is a Conflict
    (the money then needs a refund, which the stored webhook row shows).
    """
    with unit_of_work(db):
        event = revenue.get_event(db, external_id, lock=True)
        if (event.funding_method, event.funding_reference) == ("checkout", session_id):
            return event  # this session funded it already: a replay
        paid_currency = parse_currency(currency, f"checkout {session_id}: currency")
        paid = from_minor_units(amount_minor, paid_currency)
        if paid_currency != event.currency or paid != event.amount:
            raise InvalidEvent(
                f"checkout {session_id} paid {format_micros(paid, paid_currency)} {paid_currency} "
                f"for revenue event {external_id} of "
                f"{format_micros(event.amount, event.currency)} {event.currency}",
                ids=(external_id, session_id),
            )
        if event.state != "reported":
            raise Conflict(
                f"checkout {session_id} paid for revenue event {external_id}, which is already "
                f"{event.state}: refund the payment",
                ids=(external_id, session_id),
            )
        revenue.fund_into(db, event, method="checkout", reference=session_id)
        revenue.settle_or_hold(db, event)
    return event


def _admin(actor: Creator, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"admins {what}")


def _note(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.strip()) > _MAX_NOTE:
        raise InvalidInput(f"{what}: text of at most {_MAX_NOTE} characters")
    return value.strip()


def confirm_funding(
    db: Session, actor: Creator, external_id: str, reference: object = None
) -> RevenueEvent:
    """An admin confirms the money of a reported event arrived: fund and settle it.

    ``reference`` is the admin's note of the payment (a bank reference).
    """
    _admin(actor, "confirm funding")
    note = _note(reference, "reference")
    with unit_of_work(db):
        event = revenue.get_event(db, external_id, lock=True)
        revenue.fund_into(db, event, method="manual", reference=note or None, by=actor)
        revenue.settle_or_hold(db, event)
    return event


def reject_report(
    db: Session, actor: Creator, external_id: str, reason: object = None
) -> RevenueEvent:
    """An admin rejects a reported event: it stays ``rejected`` and never moves money."""
    _admin(actor, "reject reported revenue")
    text = _note(reason, "reason")
    with unit_of_work(db):
        event = revenue.get_event(db, external_id, lock=True)
        revenue.require_reported(event, "reject")
        event.state = "rejected"
        event.rejection_reason = text
        event.decided_by_id = actor.id
    return event


def reported_events(
    db: Session, actor: Creator, *, mine: bool = False, limit: int = 100
) -> list[RevenueEvent]:
    """Reported events, newest first: all of them for an admin, or the actor's own (``mine``)."""
    if not mine:
        _admin(actor, "see every reported event")
    query = (
        select(RevenueEvent)
        .options(selectinload(RevenueEvent.work), selectinload(RevenueEvent.created_by))
        .order_by(RevenueEvent.occurred_at.desc(), RevenueEvent.id.desc())
        .limit(limit)
    )
    if mine:
        query = query.where(RevenueEvent.created_by_id == actor.id)
    else:
        query = query.where(RevenueEvent.state == "reported")
    return list(db.scalars(query))


# --- expected earnings -------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedAllocation:
    """A creator's part of a reported event if it were funded now (not stored anywhere)."""

    event: RevenueEvent
    kind: str  # earning | recoup
    amount: int
    exact: str


REACH_LIMIT = 5_000
"""Works citing a creator's works (transitively) read to find the events that may pay them.

Past it (a popular record) the walk stops, and the newest :data:`EXPECTED_SCAN`
events in the state are settled with the compact graph instead: a request
never walks the whole catalogue of citers."""
EXPECTED_SCAN = 200
"""Events in the state (newest first) looked at when the creator's citers are too many."""


def _reaching(creator_id: int) -> Any:
    # The creator's works and every work that cites them, transitively: the only
    # works whose revenue can reach the creator.
    walk = (
        select(WorkOwner.work_id.label("id"))
        .where(WorkOwner.creator_id == creator_id)
        .cte("reaching", recursive=True)
    )
    return walk.union(select(Citation.work_id).join(walk, Citation.source_id == walk.c.id))


def _candidate_events(db: Session, creator_id: int, state: str, limit: int) -> list[RevenueEvent]:
    """Events in ``state`` that may pay the creator, newest first (at most ``limit + 1``).

    One bounded walk of the creator's citers (PostgreSQL stops a recursive
    query at its limit): when it ends below :data:`REACH_LIMIT`, exactly the
    events on those works; else the newest :data:`EXPECTED_SCAN` events.
    """
    newest = (
        select(RevenueEvent)
        .where(RevenueEvent.state == state)
        .options(selectinload(RevenueEvent.work))
        .order_by(RevenueEvent.occurred_at.desc(), RevenueEvent.id.desc())
    )
    if db.scalar(select(RevenueEvent.id).where(RevenueEvent.state == state).limit(1)) is None:
        return []
    walk = _reaching(creator_id)
    reaching = set(db.scalars(select(walk.c.id).limit(REACH_LIMIT + 1)))
    if len(reaching) <= REACH_LIMIT:
        return list(
            db.scalars(
                newest.where(among(db, RevenueEvent.work_id, sorted(reaching))).limit(limit + 1)
            )
        )
    return list(db.scalars(newest.limit(EXPECTED_SCAN)))


def expected_allocations(
    db: Session, creator_id: int, *, limit: int = EXPECTED_LIMIT, state: str = "reported"
) -> tuple[list[ExpectedAllocation], bool]:
    """The creator's parts of the latest ``limit`` reported events that would pay them.

    ``state="funded"``: the funded events waiting for a settlement period
    (*pending*), computed the same way.

    Returns the parts (newest event first) and whether more reported events
    would pay them. Bounded whatever the catalogue: one indexed query says
    whether any event is in the state, one walk of at most :data:`REACH_LIMIT`
    citers finds the events (else the newest :data:`EXPECTED_SCAN` are looked
    at, and older ones are not listed), one graph load covers them all;
    nothing is written.
    """
    creator = db.get(Creator, creator_id)
    if creator is None:
        return [], False
    events = _candidate_events(db, creator_id, state, limit)
    if not events:
        return [], False
    graph = compact_graph.settlement_graph(db, {e.work_id for e in events})
    cg = graph.graph
    parts: list[ExpectedAllocation] = []
    paying = 0
    for event in events:
        try:
            settlement = fast.settle_event(cg, revenue.domain_event(event))
        except HitrackError:
            # Checked when it was reported; should the graph refuse it now, its
            # funding will say why. The earnings page must not fail over it.
            continue
        owners = cg.owners_of(cg.work_index[event.work.public_id])
        mine = [
            ExpectedAllocation(event, part.kind, part.amount, part.exact)
            for part in revenue.settlement_parts(settlement, owners, only=creator.handle)
        ]
        if not mine:
            continue
        if paying == limit:
            return parts, True
        paying += 1
        parts += mine
    return parts, False
