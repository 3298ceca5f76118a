"""Who may send revenue for a work, whether the work may earn, and who may see an event.

The sender's permission is checked before anything about the event itself, so
whoever may not send for a work gets the same answer whether an external id is
unknown or someone else's; :func:`replay` answers an idempotent resend only to
those who :func:`may_see` the original.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Allocation, Creator, RevenueEvent, Work
from hitrack.domain.errors import IdempotencyConflict, InvalidEvent, NotFound, PermissionDenied
from hitrack.domain.paging import COUNT_CAP, Page, PageRequest, page_of
from hitrack.services.ai_models import validate_attribution
from hitrack.services.productions import is_earning
from hitrack.services.revenue.entries import RevenueInput

__all__ = [
    "AllocationRow",
    "allocation_page",
    "check_permission",
    "check_sender",
    "get_event",
    "may_see",
    "visible_event",
    "replay",
]


def check_permission(actor: Creator | None, work: Work) -> None:
    """May ``actor`` (None: the system) send revenue for ``work`` at all?

    Checked before anything about the event itself, its external id included.
    """
    operator = work.kind == "model" and actor is not None and work.is_owned_by(actor.id)
    if actor is not None and not actor.is_admin and not operator:
        raise PermissionDenied(
            "revenue is sent by admins; a model's operator may send it for their own model",
            ids=(work.public_id,),
        )


def check_sender(
    db: Session, actor: Creator | None, work: Work, entry: RevenueInput
) -> RevenueInput:
    """May ``actor`` (None: the system) send this event for ``work``, and may ``work`` earn?

    Returns the entry with a named output's vector as its attribution.
    """
    check_permission(actor, work)
    if not is_earning(work):  # the one rule for "may this work earn" (records included)
        raise InvalidEvent(_not_earning(work), ids=(work.public_id,))
    if entry.attribution is not None:
        if work.kind != "model":
            raise InvalidEvent(
                f"attribution is only for models, and {work.public_id} is a {work.kind}",
                ids=(work.public_id,),
            )
        validate_attribution(db, work, dict(entry.attribution))
    if entry.output is not None:
        from hitrack.services.attribution import output_vector

        return replace(entry, attribution=output_vector(db, work, entry.output))
    return entry


def _not_earning(work: Work) -> str:
    """Why ``work`` may not earn, in the words its kind uses."""
    if work.kind == "production":
        return f"production {work.public_id} is {work.status}: only a finalized split earns money"
    if work.kind == "model":
        return f"model {work.public_id} is {work.status}, not registered"
    return f"{work.kind} {work.public_id} is {work.status}: it does not earn"


def get_event(db: Session, external_id: str, *, lock: bool = False) -> RevenueEvent:
    """The event and its work; ``lock`` holds its row until the transaction ends.

    Its allocations load when first read; a model event has one per paid
    creator (tens of thousands), so listings read :func:`allocation_page`.
    """
    query = (
        select(RevenueEvent)
        .where(RevenueEvent.external_id == external_id)
        .options(selectinload(RevenueEvent.work))
    )
    if lock:
        query = query.with_for_update(of=RevenueEvent).execution_options(populate_existing=True)
    event = db.scalar(query)
    if event is None:
        raise NotFound(f"revenue event {external_id} not found", ids=(external_id,))
    return event


class AllocationRow(NamedTuple):
    """One allocation of an event as listed: plain columns, no ORM object."""

    id: int
    creator_id: int
    handle: str
    display_name: str
    kind: str
    amount: int
    exact: str


def allocation_page(db: Session, event: RevenueEvent, page: PageRequest) -> Page[AllocationRow]:
    """A page of the event's allocations in their order (keyset on the allocation id), read
    as columns, with their count (capped at :data:`~hitrack.domain.paging.COUNT_CAP`)."""
    query = (
        select(
            Allocation.id,
            Allocation.creator_id,
            Creator.handle,
            Creator.display_name,
            Allocation.kind,
            Allocation.amount,
            Allocation.exact,
        )
        .join(Creator, Creator.id == Allocation.creator_id)
        .where(Allocation.event_id == event.id)
    )
    if page.cursor is not None:
        query = query.where(Allocation.id > page.cursor)
    rows = [
        AllocationRow(*row)
        for row in db.execute(query.order_by(Allocation.id).limit(page.per_page + 1))
    ]
    total = db.scalar(
        select(func.count()).select_from(
            select(Allocation.id)
            .where(Allocation.event_id == event.id)
            .limit(COUNT_CAP + 1)
            .subquery()
        )
    )
    return page_of(rows, page, int(total or 0), lambda row: row.id)


def may_see(actor: Creator | None, event: RevenueEvent) -> bool:
    """Admins, the system (None), the event's sender and the owners of its work see it."""
    return (
        actor is None
        or actor.is_admin
        or event.created_by_id == actor.id
        or event.work.is_owned_by(actor.id)
    )


def visible_event(
    db: Session, actor: Creator, external_id: str, *, lock: bool = False
) -> RevenueEvent:
    """The event for those who :func:`may_see` it; NotFound for anyone else, as for an unknown id."""
    try:
        event = get_event(db, external_id, lock=lock)
    except NotFound:
        event = None
    if event is None or not may_see(actor, event):
        raise NotFound(f"revenue event {external_id} not found", ids=(external_id,))
    return event


def replay(db: Session, actor: Creator | None, entry: RevenueInput) -> RevenueEvent | None:
    """The event already recorded under this external id, answered as a replay (None: new).

    Only someone who :func:`may_see` the event gets it back (or, for another
    payload, :class:`IdempotencyConflict`); to anyone else the id is only taken.
    """
    event = db.scalar(
        select(RevenueEvent)
        .where(RevenueEvent.external_id == entry.external_id)
        .options(selectinload(RevenueEvent.work))
    )
    if event is None:
        return None
    if not may_see(actor, event):
        # Someone else's event: say only that the id is taken, never what it holds.
        raise IdempotencyConflict(
            f"external_id {entry.external_id} is already in use; send the event under another id",
            ids=(entry.external_id,),
        )
    if event.payload_hash != entry.payload_hash():
        raise IdempotencyConflict(
            f"revenue event {entry.external_id} was already recorded with another payload",
            ids=(entry.external_id,),
        )
    return event
