"""Many checked revenue events at once: recorded funded in bulk, then settled one by one.

The bulk path of an import (:mod:`hitrack.services.revenue.csv_import`): events
whose every field and permission is already checked are written without an
ORM object per event, and those that settle ``immediate`` are then settled,
each its own settlement (DESIGN section 3) exactly as if it had arrived alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import NamedTuple, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, joinedload

from hitrack.db.base import utcnow
from hitrack.db.bulk import among, chunks, insert_rows, reserve_ids
from hitrack.db.models import Creator, RevenueEvent, Work
from hitrack.domain.errors import InvalidInput
from hitrack.domain.shares import format_share
from hitrack.services import compact_graph, ledger
from hitrack.services.revenue.entries import ORIGINS, RevenueInput
from hitrack.services.revenue.settling import funding_transaction, settle_events

__all__ = [
    "SETTLE_ROWS",
    "WORK_COLUMNS",
    "CheckedEvent",
    "record_funded",
    "settle_recorded",
]

SETTLE_ROWS = 1_000
"""Immediate events settled together (their ORM rows are held one chunk at a time)."""


class CheckedEvent(NamedTuple):
    """An event that passed every check: what its row stores, and whether it settles now."""

    entry: RevenueInput
    payload_hash: str
    work_id: int
    fee_rate: tuple[int, int]  # numerator, denominator (hitrack.db.models.fraction_columns)
    immediate: bool


WORK_COLUMNS = (
    Work.id,
    Work.public_id,
    Work.kind,
    Work.title,
    Work.status,
    Work.visibility,
    Work.settlement_mode,
)
"""The columns of a work that the checks and a settlement read."""


_EVENT_COLUMNS = (
    "id",
    "external_id",
    "payload_hash",
    "origin",
    "state",
    "work_id",
    "currency",
    "amount",
    "costs",
    "fee_rate_num",
    "fee_rate_den",
    "attribution",
    "output",
    "fee",
    "recouped",
    "distributable",
    "occurred_at",
    "created_by_id",
    "funding_method",
    "funding_transaction_id",
    "funded_at",
    "rejection_reason",
)


def _attribution_json(entry: RevenueInput) -> str | None:
    """The attribution as the event row stores it (what the ORM would write)."""
    if entry.attribution is None:
        return None
    return json.dumps({k: format_share(v) for k, v in sorted(entry.attribution.items())})


def record_funded(
    db: Session, actor: Creator | None, events: Sequence[CheckedEvent], *, origin: str
) -> list[int]:
    """Record checked events funded on arrival, in bulk (no commit); their ids, in order.

    One funding transaction per event (:func:`~hitrack.services.ledger.post_transactions`),
    then the event rows, ``funded`` and linked to it, with COPY
    (:func:`hitrack.db.bulk.insert_rows`). Raises IntegrityError when one of
    the external ids was recorded meanwhile.
    """
    if origin not in ORIGINS:
        raise InvalidInput(f"origin must be one of {', '.join(ORIGINS)}")
    if not events:
        return []
    funded = ledger.post_transactions(
        db,
        [
            funding_transaction(e.entry.external_id, e.entry.currency, e.entry.amount, "on_arrival")
            for e in events
        ],
    )
    ids = reserve_ids(db, cast(Table, RevenueEvent.__table__), len(events))
    now = utcnow()
    creator_id = actor.id if actor is not None else None
    insert_rows(
        db,
        cast(Table, RevenueEvent.__table__),
        _EVENT_COLUMNS,
        (
            (
                event_id,
                e.entry.external_id,
                e.payload_hash,
                origin,
                "funded",
                e.work_id,
                e.entry.currency,
                e.entry.amount,
                e.entry.costs,
                *e.fee_rate,
                _attribution_json(e.entry),
                e.entry.output,
                0,
                0,
                0,
                now,
                creator_id,
                "on_arrival",
                funded[f"revenue-funding:{e.entry.external_id}"],
                now,
                "",
            )
            for event_id, e in zip(ids, events, strict=True)
        ),
    )
    return ids


def settle_recorded(
    db: Session, event_ids: Sequence[int], progress: Callable[[int], None] | None
) -> int:
    """Settle recorded funded events, :data:`SETTLE_ROWS` at a time (no commit); how many.

    ``progress(n)`` is called after each chunk of ``n`` events.

    Each is its own settlement (:func:`~hitrack.services.revenue.settling.settle_events`),
    over the settlement graph of its chunk's works.
    """
    settled = 0
    for part in chunks(event_ids, SETTLE_ROWS):
        events = list(
            db.scalars(
                select(RevenueEvent)
                .where(among(db, RevenueEvent.id, part))
                .options(joinedload(RevenueEvent.work).load_only(*WORK_COLUMNS))
                .order_by(RevenueEvent.id)
            )
        )
        graph = compact_graph.settlement_graph(db, {event.work_id for event in events})
        # Each event's settled columns are then written once, by the flush that ends
        # settle_events, not also by the autoflush of its ledger queries.
        with db.no_autoflush:
            settle_events(db, events, graph)
        settled += len(events)
        if progress is not None:
            progress(len(events))
    return settled
