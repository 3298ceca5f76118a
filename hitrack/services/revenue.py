"""Revenue in: record one event, fund it, settle it into the ledger, all or nothing.

A revenue event is money earned by one work (DESIGN sections 1, 3 and 4). It is
accepted for finalized productions and registered models, and for records
when an admin (or the system: CSV import, Stripe) sends it. Recording it:

1. validates the fields and who may send them;
2. is idempotent on ``external_id``: the same payload (hash of its canonical
   JSON) returns the original event, another payload raises
   :class:`~hitrack.domain.errors.IdempotencyConflict`. A replay is answered
   only to someone who may see the event; to anyone else another's id answers
   exactly like an unknown one (the sender's permission is checked first);
3. follows the event's state. Events from an admin, a CSV import or a Stripe
   sale are *funded on arrival*: one transaction takes the cash in as
   unsettled revenue (:func:`fund_into`), a second settles it
   (:func:`settle_funded`): the credit engine over the work's ancestry as it
   stands (the finalized split, the frozen manifest), one allocation row per
   creator (``earning``) and per owner who fronted costs (``recoup``), each
   with its exact entitlement, and the postings from unsettled revenue to the fee
   and each creator's payable. An event a model's operator reports is stored
   ``reported``: it moves no money and pays nobody until it is funded
   (:mod:`hitrack.services.funding`).

Each step runs in one database transaction. Two requests with one
``external_id`` at once produce one event: the unique constraint decides, and
the loser returns the winner's event.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hitrack.db.base import utcnow
from hitrack.db.models import Allocation, Citation, Creator, RevenueEvent, Work
from hitrack.domain import credit, fast
from hitrack.domain.errors import (
    Conflict,
    HitrackError,
    IdempotencyConflict,
    InvalidEvent,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hitrack.domain.fast.event import CompactEvents
from hitrack.domain.ledger import Posting, payload_hash
from hitrack.domain.money import (
    check_event_micros,
    format_micros,
    parse_currency,
    parse_major_units,
)
from hitrack.domain.settlement import prepare_event
from hitrack.domain.shares import format_share, loads_json, parse_share
from hitrack.jobs.base import JobQueue
from hitrack.services import compact_graph, credits, ledger
from hitrack.services.ai_models import validate_attribution
from hitrack.services.graph import get_work
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "RevenueInput",
    "Recorded",
    "ImportResult",
    "ImportError_",
    "parse_revenue",
    "check_permission",
    "check_sender",
    "record_revenue",
    "funded_on_arrival",
    "settle_into",
    "fund_into",
    "settle_funded",
    "settle_or_hold",
    "settlement_mode",
    "validate_entry",
    "creator_ids",
    "insert_allocations",
    "exact_text",
    "DEFAULT_PERIOD_MIN_SOURCES",
    "require_reported",
    "domain_event",
    "settlement_parts",
    "Part",
    "may_see",
    "import_csv",
    "amounts_from_units",
    "get_event",
    "visible_event",
    "CSV_COLUMNS",
]

_DIGITS = re.compile(r"^[+-]?\d+$")
DEFAULT_PERIOD_MIN_SOURCES = 10_000
"""A model whose manifest has at least this many works settles per period by default."""
ORIGINS = ("api", "csv", "stripe")


@dataclass(frozen=True)
class RevenueInput:
    """A revenue event's fields, validated and exact."""

    external_id: str
    work: str
    amount: int
    currency: str
    costs: int
    fee_rate: Fraction
    attribution: dict[str, Fraction] | None
    output: str | None = None  # an attributed output; check_sender turns it into `attribution`

    def payload(self) -> dict[str, object]:
        """What makes two requests "the same event" (the hash covers exactly this)."""
        return {
            **({"output": self.output} if self.output is not None else {}),
            "work": self.work,
            "amount": self.amount,
            "currency": self.currency,
            "costs": self.costs,
            "fee_rate": format_share(self.fee_rate),
            "attribution": None
            if self.attribution is None or self.output is not None
            else {k: format_share(v) for k, v in sorted(self.attribution.items())},
        }

    def payload_hash(self) -> str:
        return payload_hash(self.payload())


class Recorded(NamedTuple):
    """The event, and whether this call created it (False: an idempotent replay)."""

    event: RevenueEvent
    created: bool


def _micros(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name}: expected an integer number of micros")
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInput(
            f"{name}: expected an integer number of micros (1 USD = 1000000), got {value!r}"
        )
    return check_event_micros(value, name)  # the one cap per event (hitrack.domain.money)


def parse_revenue(data: Mapping[str, Any], *, default_fee_rate: Fraction) -> RevenueInput:
    """Validate the fields of a revenue event (as sent to the API or read from a CSV row).

    ``fee_rate`` defaults to ``default_fee_rate`` (a setting, passed as a plain value).
    """
    unknown = set(data) - {
        "external_id",
        "work",
        "amount",
        "currency",
        "costs",
        "fee_rate",
        "attribution",
        "output",
    }
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    external_id = data.get("external_id")
    if (
        not isinstance(external_id, str)
        or not external_id.strip()
        or len(external_id.strip()) > 200
    ):
        raise InvalidInput("external_id: required, 1 to 200 characters")
    work = data.get("work")
    if not isinstance(work, str) or not work.strip():
        raise InvalidInput("work: required, a work id")
    if "amount" not in data or data["amount"] in (None, ""):
        raise InvalidInput("amount: required, an integer number of micros")
    amount = _micros(data["amount"], "amount")
    costs = _micros(data.get("costs") if data.get("costs") not in (None, "") else 0, "costs")
    currency = parse_currency(data.get("currency"))  # the ISO 4217 table refuses unknown codes
    raw_fee = data.get("fee_rate")
    fee_rate = default_fee_rate if raw_fee in (None, "") else parse_share(raw_fee, what="fee_rate")
    if not 0 <= fee_rate <= 1:
        raise InvalidInput(f"fee_rate: {format_share(fee_rate)} is outside [0, 1]")
    attribution = _attribution(data.get("attribution"))
    output = data.get("output") or None
    if output is not None and (attribution is not None or not isinstance(output, str)):
        raise InvalidInput("output: an output id, instead of (not with) an inline attribution")
    return RevenueInput(
        external_id.strip(),
        work.strip(),
        amount,
        currency.strip().upper(),
        costs,
        fee_rate,
        attribution,
        output.strip() if output else None,
    )


def _attribution(raw: object) -> dict[str, Fraction] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        raw = loads_json(raw)
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput("attribution: expected an object of work id -> score")
    result: dict[str, Fraction] = {}
    for key, score in raw.items():
        if not isinstance(key, str):
            raise InvalidInput("attribution: keys are work ids")
        value = parse_share(score, what=f"attribution score of {key}")
        if value < 0:
            raise InvalidInput(f"attribution score of {key} is negative", ids=(key,))
        result[key] = value
    if sum(result.values(), Fraction(0)) <= 0:
        raise InvalidInput("attribution: the scores sum to 0")
    return result


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
    if work.kind == "production" and work.status != "finalized":
        raise InvalidEvent(
            f"production {work.public_id} is {work.status}: only a finalized split earns money",
            ids=(work.public_id,),
        )
    if work.kind == "model" and work.status != "active":
        raise InvalidEvent(
            f"model {work.public_id} is {work.status}, not registered", ids=(work.public_id,)
        )
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


def get_event(db: Session, external_id: str, *, lock: bool = False) -> RevenueEvent:
    """The event with its allocations; ``lock`` holds its row until the transaction ends."""
    query = (
        select(RevenueEvent)
        .where(RevenueEvent.external_id == external_id)
        .options(
            selectinload(RevenueEvent.allocations).selectinload(Allocation.creator),
            selectinload(RevenueEvent.work),
        )
    )
    if lock:
        query = query.with_for_update(of=RevenueEvent).execution_options(populate_existing=True)
    event = db.scalar(query)
    if event is None:
        raise NotFound(f"revenue event {external_id} not found", ids=(external_id,))
    return event


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


def _replay(db: Session, actor: Creator | None, entry: RevenueInput) -> RevenueEvent | None:
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
        existing = _replay(db, actor, entry)
        if existing is not None:
            db.rollback()
            return Recorded(existing, False)
        entry = check_sender(db, actor, work, entry)
        try:
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
            # A concurrent request with the same external_id won the unique constraint.
            db.rollback()
            existing = _replay(db, actor, entry)
            if existing is None:
                raise
            db.rollback()
            return Recorded(existing, False)
    return Recorded(event, True)


def _engine_event(entry: RevenueInput) -> credit.RevenueEvent:
    return credit.RevenueEvent(
        entry.external_id,
        entry.work,
        entry.amount,
        entry.costs,
        entry.fee_rate,
        entry.attribution,
    )


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


def _new_event(
    db: Session,
    actor: Creator | None,
    work: Work,
    entry: RevenueInput,
    *,
    origin: str,
    state: str,
) -> RevenueEvent:
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
    db.flush()  # the unique external_id decides between concurrent requests here
    return event


def report_into(
    db: Session, actor: Creator | None, work: Work, entry: RevenueInput, *, origin: str
) -> RevenueEvent:
    """Store a validated event as ``reported`` (no commit): no allocation, no posting.

    The credit engine checks it now (an attribution within the manifest, ...),
    so funding it later cannot fail on its fields.
    """
    validate_entry(db, work, entry)
    return _new_event(db, actor, work, entry, origin=origin, state="reported")


def validate_entry(
    db: Session, work: Work, entry: RevenueInput, *, queue: JobQueue | None = None
) -> None:
    """The engines' own checks of an event (an attribution within the manifest, ...)."""
    graph = compact_graph.settlement_graph(db, {work.id}, queue=queue)
    prepare_event(CompactEvents(graph.graph), _engine_event(entry))


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
    event = _new_event(db, actor, work, entry, origin=origin, state="reported")
    fund_into(db, event, method="on_arrival")
    return settle_or_hold(db, event, queue=queue, period_min_sources=period_min_sources)


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


# --- CSV import ----------------------------------------------------------------------

CSV_COLUMNS = ("external_id", "work", "amount", "currency", "costs", "fee_rate", "attribution")
REQUIRED_COLUMNS = ("external_id", "work", "amount", "currency")


class ImportError_(InvalidInput):  # noqa: N801 - "ImportError" is Python's own
    """A CSV import refused as a whole; ``errors`` lists every bad line."""

    code = "invalid_import"

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {line}: {message}" for line, message in errors[:20])
        more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"{len(errors)} bad line{'s' if len(errors) != 1 else ''}, nothing imported: "
            f"{shown}{more}"
        )


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    replayed: int
    amount: dict[str, int]

    def summary(self) -> str:
        money = (
            ", ".join(f"{format_micros(v, c)} {c}" for c, v in sorted(self.amount.items()))
            or "nothing"
        )
        return (
            f"imported {self.rows} rows: {self.created} new events, {self.replayed} already recorded; "
            f"new revenue {money}"
        )


def amounts_from_units(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with ``amount`` and ``costs`` read in the currency's units, as micros.

    People and spreadsheets write ``12.34`` USD, not ``12340000``; the event
    itself stays in micros. An amount finer than the currency's minor unit is
    refused (:func:`hitrack.domain.money.parse_major_units`).
    """
    converted = dict(values)
    raw_currency = values.get("currency")
    if raw_currency in (None, ""):
        return converted  # parse_revenue says the currency is missing
    currency = parse_currency(raw_currency)
    for name in ("amount", "costs"):
        raw = values.get(name)
        if raw not in (None, ""):
            converted[name] = parse_major_units(str(raw), currency, name)
    return converted


def import_csv(
    db: Session,
    text: str,
    actor: Creator | None,
    *,
    default_fee_rate: Fraction,
    progress: Callable[[int], None] | None = None,
    amounts_in_units: bool = False,
) -> ImportResult:
    """Import revenue events from CSV text; every row is validated before any is written.

    Columns: ``external_id,work,amount,currency`` and optionally ``costs``,
    ``fee_rate`` and ``attribution`` (a JSON object); amounts in micros, or in
    the currency's units (``12.34``) with ``amounts_in_units``. Any bad
    row raises :class:`ImportError_` naming every bad line, and nothing is
    written. Rows whose external id is already recorded with the same payload
    are skipped (idempotent). ``actor`` must be an admin, or None for the
    system. ``progress(n)`` is called as rows are settled.
    """
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("only admins import revenue")
    entries, errors = _read_rows(db, text, actor, default_fee_rate, amounts_in_units)
    if errors:
        db.rollback()
        raise ImportError_(errors)
    created = replayed = 0
    amount: dict[str, int] = {}
    with unit_of_work(db):
        for line, entry, work in entries:
            if work is None:
                replayed += 1
            else:
                try:
                    with db.begin_nested():
                        settle_into(db, actor, work, entry, origin="csv")
                except IntegrityError:
                    raise ImportError_(
                        [
                            (
                                line,
                                f"revenue event {entry.external_id} was recorded "
                                "meanwhile; run the import again",
                            )
                        ]
                    ) from None
                except HitrackError as error:
                    raise ImportError_([(line, error.message)]) from None
                created += 1
                amount[entry.currency] = amount.get(entry.currency, 0) + entry.amount
            if progress is not None:
                progress(1)
    return ImportResult(len(entries), created, replayed, amount)


def _read_rows(
    db: Session,
    text: str,
    actor: Creator | None,
    default_fee_rate: Fraction,
    amounts_in_units: bool = False,
) -> tuple[list[tuple[int, RevenueInput, Work | None]], list[tuple[int, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        problems = ([f"missing columns: {', '.join(missing)}"] if missing else []) + (
            [f"unknown columns: {', '.join(unknown)}"] if unknown else []
        )
        raise ImportError_([(1, "; ".join(problems) + f" (expected {','.join(CSV_COLUMNS)})")])
    reader.fieldnames = header
    entries: list[tuple[int, RevenueInput, Work | None]] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, tuple[int, str]] = {}
    works: dict[str, Work] = {}
    graphs: dict[str, CompactEvents] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                errors.append((line, "more fields than columns"))
                continue
            values = {k: (v or "").strip() for k, v in row.items() if (v or "").strip()}
            if not values:
                continue  # a blank line
            try:
                if amounts_in_units:
                    values = amounts_from_units(values)
                entry = parse_revenue(values, default_fee_rate=default_fee_rate)
                previous = seen.get(entry.external_id)
                if previous is not None:
                    if previous[1] != entry.payload_hash():
                        raise IdempotencyConflict(
                            f"external_id {entry.external_id} also on line {previous[0]} with another payload"
                        )
                    continue
                seen[entry.external_id] = (line, entry.payload_hash())
                if _replay(db, actor, entry) is not None:
                    entries.append((line, entry, None))
                    continue
                if entry.work not in works:
                    works[entry.work] = get_work(db, entry.work)
                entry = check_sender(db, actor, works[entry.work], entry)
                # The engine's own checks (attribution within the manifest, ...).
                if entry.work not in graphs:
                    graphs[entry.work] = CompactEvents(
                        compact_graph.settlement_graph(db, {works[entry.work].id}).graph
                    )
                prepare_event(graphs[entry.work], _engine_event(entry))
                entries.append((line, entry, works[entry.work]))
            except HitrackError as error:
                errors.append((line, error.message))
    except csv.Error as error:
        errors.append((reader.line_num, f"not valid CSV: {error}"))
    return entries, errors
