"""Revenue in: record one event and settle it into the ledger, all or nothing.

A revenue event is money earned by one work (DESIGN sections 3 and 4). It is
accepted for finalized productions and registered models, and for records
when an admin (or the system: CSV import, Stripe) sends it. Recording it:

1. validates the fields and who may send them;
2. is idempotent on ``external_id``: the same payload (hash of its canonical
   JSON) returns the original event, another payload raises
   :class:`~hitrack.domain.errors.IdempotencyConflict`;
3. settles it with the credit engine over the work's ancestry as it stands
   (the finalized split, the frozen manifest), stores one allocation row per
   creator (``earning``) and per owner who fronted costs (``recoup``), each with
   its explanation, and posts one balanced ledger transaction (cash in; fee;
   each creator's payable) — in one database transaction.

Two requests with one ``external_id`` at once produce one event: the unique
constraint decides, and the loser returns the winner's event.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

import networkx as nx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Allocation, Creator, RevenueEvent, Work
from hitrack.domain import credit
from hitrack.domain.errors import (
    HitrackError,
    IdempotencyConflict,
    InvalidEvent,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hitrack.domain.ledger import Posting, payload_hash
from hitrack.domain.money import format_micros
from hitrack.domain.shares import format_share, loads_json, parse_share
from hitrack.services import ledger
from hitrack.services.graph import ancestry_ids, get_work, load_graph
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "RevenueInput",
    "Recorded",
    "ImportResult",
    "ImportError_",
    "parse_revenue",
    "check_sender",
    "record_revenue",
    "import_csv",
    "get_event",
    "visible_event",
    "explanation_lines",
    "CSV_COLUMNS",
]

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_DIGITS = re.compile(r"^[+-]?\d+$")
_MAX_MICROS = 2**63 - 1
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
    if value < 0:
        raise InvalidInput(f"{name}: {value} is negative")
    if value > _MAX_MICROS:
        raise InvalidInput(f"{name}: {value} is too large")
    return value


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
    currency = data.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency.strip()):
        raise InvalidInput("currency: a 3-letter code such as USD")
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


def check_sender(
    db: Session, actor: Creator | None, work: Work, entry: RevenueInput
) -> RevenueInput:
    """May ``actor`` (None: the system) send this event for ``work``, and may ``work`` earn?

    Returns the entry with a named output's vector as its attribution.
    """
    if work.kind == "production" and work.status != "finalized":
        raise InvalidEvent(
            f"production {work.public_id} is {work.status}: only a finalized split earns money",
            ids=(work.public_id,),
        )
    if work.kind == "model" and work.status != "active":
        raise InvalidEvent(
            f"model {work.public_id} is {work.status}, not registered", ids=(work.public_id,)
        )
    operator = work.kind == "model" and actor is not None and work.is_owned_by(actor.id)
    if actor is not None and not actor.is_admin and not operator:
        raise PermissionDenied(
            "revenue is sent by admins; a model's operator may send it for their own model",
            ids=(work.public_id,),
        )
    if entry.attribution is not None:
        if work.kind != "model":
            raise InvalidEvent(
                f"attribution is only for models, and {work.public_id} is a {work.kind}",
                ids=(work.public_id,),
            )
        _validate_attribution(db, work, entry.attribution)
    if entry.output is not None:
        from hitrack.services.attribution import output_vector

        return replace(entry, attribution=output_vector(db, work, entry.output))
    return entry


def _validate_attribution(db: Session, model: Work, attribution: Mapping[str, Fraction]) -> None:
    try:
        from hitrack.services.ai_models import validate_attribution
    except ImportError:  # models are not registered in this build: check against the manifest here
        manifest = {c.source.public_id for c in model.sources}
        for key in attribution:
            if key not in manifest:
                raise InvalidEvent(
                    f"attribution names {key}, which is not in the manifest of model {model.public_id}",
                    ids=(key,),
                ) from None
        return
    validate_attribution(db, model, dict(attribution))


def get_event(db: Session, external_id: str) -> RevenueEvent:
    event = db.scalar(
        select(RevenueEvent)
        .where(RevenueEvent.external_id == external_id)
        .options(
            selectinload(RevenueEvent.allocations).selectinload(Allocation.creator),
            selectinload(RevenueEvent.work),
        )
    )
    if event is None:
        raise NotFound(f"revenue event {external_id} not found", ids=(external_id,))
    return event


def visible_event(db: Session, actor: Creator, external_id: str) -> RevenueEvent:
    """The event for admins, its sender and the owners of its work; NotFound for anyone else."""
    event = get_event(db, external_id)
    if not (actor.is_admin or event.created_by_id == actor.id or event.work.is_owned_by(actor.id)):
        raise NotFound(f"revenue event {external_id} not found", ids=(external_id,))
    return event


def _existing(db: Session, entry: RevenueInput) -> RevenueEvent | None:
    event = db.scalar(select(RevenueEvent).where(RevenueEvent.external_id == entry.external_id))
    if event is not None and event.payload_hash != entry.payload_hash():
        raise IdempotencyConflict(
            f"revenue event {entry.external_id} was already recorded with another payload",
            ids=(entry.external_id,),
        )
    return event


def record_revenue(
    db: Session,
    actor: Creator | None,
    data: Mapping[str, Any] | RevenueInput,
    *,
    default_fee_rate: Fraction,
    origin: str = "api",
) -> Recorded:
    """Record and settle one revenue event; ``actor`` None is the system (CSV, Stripe).

    Raises InvalidInput/InvalidEvent (bad fields, a work that may not earn),
    NotFound, PermissionDenied or IdempotencyConflict; nothing is written then.
    """
    entry = (
        data
        if isinstance(data, RevenueInput)
        else parse_revenue(data, default_fee_rate=default_fee_rate)
    )
    with unit_of_work(db):
        existing = _existing(db, entry)
        if existing is not None:
            db.rollback()
            return Recorded(existing, False)
        work = get_work(db, entry.work)
        if (
            actor is not None
            and not actor.is_admin
            and work.visibility == "private"
            and not work.is_owned_by(actor.id)
        ):
            raise NotFound(f"work {entry.work} not found", ids=(entry.work,))
        entry = check_sender(db, actor, work, entry)
        try:
            event = settle_into(db, actor, work, entry, origin=origin)
        except IntegrityError:
            # A concurrent request with the same external_id won the unique constraint.
            db.rollback()
            existing = _existing(db, entry)
            if existing is None:
                raise
            db.rollback()
            return Recorded(existing, False)
    return Recorded(event, True)


def _read_graph_lock(db: Session) -> None:
    # Graph writers hold the exclusive advisory lock (services.graph.lock_graph);
    # settlements share it, so an event never sees a citation half-written and
    # many events still settle at once. SQLite serialises at BEGIN IMMEDIATE.
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock_shared(0x4_1712_ACC)))


def settle_into(
    db: Session, actor: Creator | None, work: Work, entry: RevenueInput, *, origin: str
) -> RevenueEvent:
    """Settle a validated event into the session (no commit): event, allocations, ledger.

    Raises IntegrityError (from the flush) when the external id exists already.
    """
    if origin not in ORIGINS:
        raise InvalidInput(f"origin must be one of {', '.join(ORIGINS)}")
    _read_graph_lock(db)
    G = load_graph(db, ancestry_ids(db, [work.id]))
    domain_event = credit.RevenueEvent(
        entry.external_id,
        work.public_id,
        entry.amount,
        entry.costs,
        entry.fee_rate,
        entry.attribution,
    )
    settlement = credit.settle_event(G, domain_event)
    handles = {h for node in G for h in G.nodes[node]["owners"]}
    creators = {c.handle: c for c in db.scalars(select(Creator).where(Creator.handle.in_(handles)))}

    event = RevenueEvent(
        external_id=entry.external_id,
        payload_hash=entry.payload_hash(),
        origin=origin,
        work_id=work.id,
        currency=entry.currency,
        amount=entry.amount,
        costs=entry.costs,
        attribution=None
        if entry.attribution is None
        else {k: format_share(v) for k, v in sorted(entry.attribution.items())},
        output=entry.output,
        fee=settlement.fee,
        recouped=sum(settlement.recouped.values()),
        distributable=settlement.distributable,
        created_by_id=actor.id if actor else None,
    )
    event.fee_rate = entry.fee_rate
    db.add(event)
    db.flush()  # the unique external_id decides between concurrent requests here

    names = {h: c.display_name for h, c in creators.items()}
    allocations: list[Allocation] = []
    for handle, exact in settlement.entitlements.items():
        allocations.append(
            Allocation(
                event_id=event.id,
                creator_id=creators[handle].id,
                kind="earning",
                amount=settlement.creators.get(handle, 0),
                exact=_exact(exact),
                explanation=[_explanation_json(G, names, e) for e in settlement.explain(handle)],
            )
        )
    owners = G.nodes[work.public_id]["owners"]
    for handle, micros in settlement.recouped.items():
        allocations.append(
            Allocation(
                event_id=event.id,
                creator_id=creators[handle].id,
                kind="recoup",
                amount=micros,
                exact=_exact(event.recouped * owners[handle]),
                explanation=[
                    {
                        "recoup": True,
                        **_node(G, names, work.public_id),
                        "costs": entry.costs,
                        "recouped": event.recouped,
                        "ownership": format_share(owners[handle]),
                    }
                ],
            )
        )
    db.add_all(allocations)

    cur = entry.currency
    postings = [
        Posting(ledger.cash_account(cur), cur, entry.amount),
        Posting(ledger.fees_account(cur), cur, -settlement.fee),
    ]
    postings += [
        Posting(ledger.payable_account(a.creator_id, cur), cur, -a.amount) for a in allocations
    ]
    transaction = ledger.post_transaction(
        db,
        f"revenue:{entry.external_id}",
        "revenue",
        postings,
        f"{format_micros(entry.amount)} {cur} earned by {work.title} ({work.kind} {work.public_id})",
        commit=False,
    )
    event.transaction_id = transaction.id
    db.flush()
    return event


def _exact(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _by(G: nx.DiGraph, names: Mapping[str, str], work: str) -> str:
    return ", ".join(names.get(h, h) for h in sorted(G.nodes[work]["owners"]))


def _node(G: nx.DiGraph, names: Mapping[str, str], work: str) -> dict[str, object]:
    node = G.nodes[work]
    label = "remix" if node["kind"] == "record" and G.out_degree(work) else node["kind"]
    return {
        "work": work,
        "title": node["title"] or work,
        "kind": node["kind"],
        "label": label,
        "by": _by(G, names, work),
    }


def _explanation_json(
    G: nx.DiGraph, names: Mapping[str, str], e: credit.Explanation
) -> dict[str, object]:
    return {
        **_node(G, names, e.work),
        "event_work": _node(G, names, e.event_work),
        "entering": _exact(e.entering),
        "value": _exact(e.value),
        "retained": format_share(e.retained),
        "ownership": format_share(e.ownership),
        "amount": _exact(e.amount),
        "routes": [
            {
                "steps": [
                    {**_node(G, names, s.source), "share": format_share(s.share)} for s in r.steps
                ],
                "value": _exact(r.value),
                "amount": _exact(r.amount),
            }
            for r in e.routes
        ],
        "more_routes": e.more_routes,
    }


# --- explanations for people -------------------------------------------------------


def _percent(share: Fraction) -> str:
    text = format_share(share * 100)
    return f"{text}%" if "/" not in text else f"{format_share(share)} of it"


def _money(exact: str) -> str:
    value = Fraction(exact)
    return format_micros(value.numerator // value.denominator)


def explanation_lines(explanation: list[dict[str, Any]]) -> list[str]:
    """The stored explanation of an allocation as sentences, one per path.

    e.g. ``100.00 earned by Night Swim (production) -> 60% to Tide (remix by Bo)
    -> 40% to your record Shoreline, retained 100%: 24.00``.
    """
    lines: list[str] = []
    for entry in explanation:
        if entry.get("recoup"):
            lines.append(
                f"Costs of {format_micros(int(entry['costs']))} fronted for your {entry['kind']} "
                f"{entry['title']}: {format_micros(int(entry['recouped']))} recouped"
                + (
                    ""
                    if entry["ownership"] == "1"
                    else f", your part {_percent(Fraction(entry['ownership']))}"
                )
            )
            continue
        start = entry["event_work"]
        own = f"your {entry['kind']} {entry['title']}"
        tail = f", retained {_percent(Fraction(entry['retained']))}"
        if entry["ownership"] != "1":
            tail += f", your part {_percent(Fraction(entry['ownership']))}"
        for route in entry["routes"]:
            steps = route["steps"]
            if not steps:
                lines.append(
                    f"{_money(entry['entering'])} earned by {own}{tail}: {_money(route['amount'])}"
                )
                continue
            parts = [f"{_money(entry['entering'])} earned by {start['title']} ({start['label']})"]
            for step in steps[:-1]:
                parts.append(
                    f"{_percent(Fraction(step['share']))} to {step['title']} "
                    f"({step['label']} by {step['by']})"
                )
            parts.append(f"{_percent(Fraction(steps[-1]['share']))} to {own}")
            lines.append(" -> ".join(parts) + f"{tail}: {_money(route['amount'])}")
        if entry.get("more_routes"):
            lines.append(f"... and {entry['more_routes']} more paths")
    return lines


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
            ", ".join(f"{format_micros(v)} {c}" for c, v in sorted(self.amount.items()))
            or "nothing"
        )
        return (
            f"imported {self.rows} rows: {self.created} new events, {self.replayed} already recorded; "
            f"new revenue {money}"
        )


def import_csv(
    db: Session,
    text: str,
    actor: Creator | None,
    *,
    default_fee_rate: Fraction,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import revenue events from CSV text; every row is validated before any is written.

    Columns: ``external_id,work,amount,currency`` and optionally ``costs``,
    ``fee_rate`` and ``attribution`` (a JSON object); amounts in micros. Any bad
    row raises :class:`ImportError_` naming every bad line, and nothing is
    written. Rows whose external id is already recorded with the same payload
    are skipped (idempotent). ``actor`` must be an admin, or None for the
    system. ``progress(n)`` is called as rows are settled.
    """
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("only admins import revenue")
    entries, errors = _read_rows(db, text, actor, default_fee_rate)
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
    db: Session, text: str, actor: Creator | None, default_fee_rate: Fraction
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
    graphs: dict[str, nx.DiGraph] = {}
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
                entry = parse_revenue(values, default_fee_rate=default_fee_rate)
                previous = seen.get(entry.external_id)
                if previous is not None:
                    if previous[1] != entry.payload_hash():
                        raise IdempotencyConflict(
                            f"external_id {entry.external_id} also on line {previous[0]} with another payload"
                        )
                    continue
                seen[entry.external_id] = (line, entry.payload_hash())
                if _existing(db, entry) is not None:
                    entries.append((line, entry, None))
                    continue
                if entry.work not in works:
                    works[entry.work] = get_work(db, entry.work)
                entry = check_sender(db, actor, works[entry.work], entry)
                # The engine's own checks (attribution within the manifest, ...).
                if entry.work not in graphs:
                    graphs[entry.work] = load_graph(db, ancestry_ids(db, [works[entry.work].id]))
                credit.validate_event(
                    graphs[entry.work],
                    credit.RevenueEvent(
                        entry.external_id,
                        entry.work,
                        entry.amount,
                        entry.costs,
                        entry.fee_rate,
                        entry.attribution,
                    ),
                )
                entries.append((line, entry, works[entry.work]))
            except HitrackError as error:
                errors.append((line, error.message))
    except csv.Error as error:
        errors.append((reader.line_num, f"not valid CSV: {error}"))
    return entries, errors
