"""Revenue events from a CSV file: every row validated before any is written.

Any bad row refuses the whole import, naming every bad line; rows already
recorded with the same payload are skipped (idempotent).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Creator, RevenueEvent, Work
from hitrack.domain.errors import (
    HitrackError,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hitrack.domain.fast.event import CompactEvents
from hitrack.domain.money import format_micros, parse_currency, parse_major_units
from hitrack.domain.settlement import prepare_event
from hitrack.services import compact_graph
from hitrack.services.revenue.entries import RevenueInput, engine_event, parse_revenue
from hitrack.services.revenue.events import check_sender, may_see
from hitrack.services.revenue.recording import new_event
from hitrack.services.revenue.settling import (
    DEFAULT_PERIOD_MIN_SOURCES,
    fund_events,
    settle_events,
    settlement_mode,
)
from hitrack.services.unit_of_work import unit_of_work

__all__ = ["CSV_COLUMNS", "ImportError_", "ImportResult", "amounts_from_units", "import_csv"]

CHUNK_ROWS = 5_000
"""Rows checked and written together: bounded memory and bind parameters per query."""
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
    source: str | TextIO,
    actor: Creator | None,
    *,
    default_fee_rate: Fraction,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    amounts_in_units: bool = False,
) -> ImportResult:
    """Import revenue events from CSV (text, or a text stream read row by row).

    Columns: ``external_id,work,amount,currency`` and optionally ``costs``,
    ``fee_rate`` and ``attribution`` (a JSON object); amounts in micros, or in
    the currency's units (``12.34``) with ``amounts_in_units``. Every
    row is validated; any bad row raises :class:`ImportError_` naming every
    bad line, and nothing is stored. Rows whose external id is already
    recorded with the same payload are skipped (idempotent). ``actor`` must be
    an admin, or None for the system. ``progress(1)`` is called per row stored.

    The input streams: ``chunk_rows`` rows at a time are checked (works,
    replays and the engine's checks looked up per chunk, not per row) and, as
    long as no row so far was bad, written in bulk inside the one unit of work
    (:func:`_write_chunk`); a bad row anywhere rolls all of it back. Memory
    holds one chunk and the file's external ids (to find duplicates), never
    the file.
    """
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("only admins import revenue")
    stream = io.StringIO(source) if isinstance(source, str) else source
    state = _ImportState()
    with unit_of_work(db):  # any refusal below rolls back everything written so far
        reader = _reader(stream)
        try:
            for chunk in _row_chunks(reader, chunk_rows):
                replayed = state.replayed
                checked = _check_chunk(db, chunk, actor, default_fee_rate, state, amounts_in_units)
                if state.errors:
                    continue  # keep checking, to name every bad line; write nothing more
                _write_chunk(db, actor, checked, state)
                for _ in range(len(checked) + state.replayed - replayed):
                    if progress is not None:
                        progress(1)  # one per row settled or found recorded
        except csv.Error as error:
            state.errors.append((reader.line_num, f"not valid CSV: {error}"))
        if state.errors:
            raise ImportError_(sorted(state.errors, key=lambda error: error[0]))
    return ImportResult(state.rows, state.created, state.replayed, state.amount)


@dataclass
class _ImportState:
    """What an import carries from chunk to chunk."""

    errors: list[tuple[int, str]] = field(default_factory=list)
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)
    works: dict[str, Work] = field(default_factory=dict)
    modes: dict[int, str] = field(default_factory=dict)
    checker: tuple[int, CompactEvents] | None = None
    rows: int = 0
    created: int = 0
    replayed: int = 0
    amount: dict[str, int] = field(default_factory=dict)


def _reader(stream: TextIO) -> csv.DictReader[str]:
    """A reader over the stream's lines (a byte-order mark dropped); the header checked."""
    first = stream.readline().lstrip("\ufeff")
    reader = csv.DictReader(itertools.chain([first], stream))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        problems = ([f"missing columns: {', '.join(missing)}"] if missing else []) + (
            [f"unknown columns: {', '.join(unknown)}"] if unknown else []
        )
        raise ImportError_([(1, "; ".join(problems) + f" (expected {','.join(CSV_COLUMNS)})")])
    reader.fieldnames = header
    return reader


def _row_chunks(
    reader: csv.DictReader[str], size: int
) -> Iterator[list[tuple[int, dict[str, str | None]]]]:
    chunk: list[tuple[int, dict[str, str | None]]] = []
    for row in reader:
        chunk.append((reader.line_num, dict(row)))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_chunk(
    db: Session,
    chunk: list[tuple[int, dict[str, str | None]]],
    actor: Creator | None,
    default_fee_rate: Fraction,
    state: _ImportState,
    amounts_in_units: bool = False,
) -> list[tuple[int, RevenueInput, Work]]:
    """Validate one chunk of rows; the new events to write (bad rows go to ``state.errors``)."""
    parsed: list[tuple[int, RevenueInput]] = []
    for line, row in chunk:
        if None in row:
            state.errors.append((line, "more fields than columns"))
            continue
        values = {k: (v or "").strip() for k, v in row.items() if (v or "").strip()}
        if not values:
            continue  # a blank line
        state.rows += 1
        try:
            if amounts_in_units:
                values = amounts_from_units(values)
            entry = parse_revenue(values, default_fee_rate=default_fee_rate)
        except HitrackError as error:
            state.errors.append((line, error.message))
            continue
        previous = state.seen.get(entry.external_id)
        if previous is not None:
            if previous[1] != entry.payload_hash():
                state.errors.append(
                    (
                        line,
                        f"external_id {entry.external_id} also on line {previous[0]} "
                        "with another payload",
                    )
                )
            state.rows -= 1  # the same event twice in one file is one row
            continue
        state.seen[entry.external_id] = (line, entry.payload_hash())
        parsed.append((line, entry))
    recorded = _recorded(db, [entry.external_id for _, entry in parsed])
    _load_works(db, {entry.work for _, entry in parsed}, state)
    checked: list[tuple[int, RevenueInput, Work]] = []
    for line, entry in parsed:
        try:
            event = recorded.get(entry.external_id)
            if event is not None:
                if not may_see(actor, event):
                    raise IdempotencyConflict(
                        f"external_id {entry.external_id} is already in use; "
                        "send the event under another id"
                    )
                if event.payload_hash != entry.payload_hash():
                    raise IdempotencyConflict(
                        f"revenue event {entry.external_id} was already recorded "
                        "with another payload"
                    )
                state.replayed += 1
                continue
            work = state.works.get(entry.work)
            if work is None:
                raise NotFound(f"work {entry.work} not found", ids=(entry.work,))
            entry = check_sender(db, actor, work, entry)
            # The engine's own checks (attribution within the manifest, ...).
            prepare_event(_checker(db, state, work), engine_event(entry))
            checked.append((line, entry, work))
        except HitrackError as error:
            state.errors.append((line, error.message))
    return checked


def _recorded(db: Session, external_ids: list[str]) -> dict[str, RevenueEvent]:
    """The events already recorded under any of ``external_ids``, in chunked queries."""
    found: dict[str, RevenueEvent] = {}
    for start in range(0, len(external_ids), CHUNK_ROWS):
        chunk = external_ids[start : start + CHUNK_ROWS]
        for event in db.scalars(
            select(RevenueEvent)
            .where(RevenueEvent.external_id.in_(chunk))
            .options(selectinload(RevenueEvent.work))
        ):
            found[event.external_id] = event
    return found


def _load_works(db: Session, public_ids: set[str], state: _ImportState) -> None:
    wanted = sorted(public_ids - set(state.works))
    for start in range(0, len(wanted), CHUNK_ROWS):
        for work in db.scalars(
            select(Work)
            .where(Work.public_id.in_(wanted[start : start + CHUNK_ROWS]))
            .options(selectinload(Work.owners))
        ):
            state.works[work.public_id] = work


def _checker(db: Session, state: _ImportState, work: Work) -> CompactEvents:
    """The engine's event checks over the settlement graph (one per graph version)."""
    graph = compact_graph.settlement_graph(db, {work.id})
    if state.checker is None or state.checker[0] != graph.version or not graph.whole:
        state.checker = (graph.version, CompactEvents(graph.graph))
        if not graph.whole:
            checker = state.checker[1]
            state.checker = None  # one ancestry only: not reusable for another work
            return checker
    return state.checker[1]


def _write_chunk(
    db: Session,
    actor: Creator | None,
    checked: list[tuple[int, RevenueInput, Work]],
    state: _ImportState,
) -> None:
    """Store one checked chunk: the events, their funding, their settlement, all in bulk."""
    if not checked:
        return
    events = [
        new_event(db, actor, work, entry, origin="csv", state="reported", flush=False)
        for _, entry, work in checked
    ]
    try:
        db.flush()
    except IntegrityError:
        raise ImportError_(
            [(checked[0][0], "an event of this import was recorded meanwhile; run it again")]
        ) from None
    fund_events(db, events, method="on_arrival")
    immediate = [
        event
        for event, (_, _, work) in zip(events, checked, strict=True)
        if _mode(db, work, state) == "immediate"
    ]
    if immediate:
        graph = compact_graph.settlement_graph(db, {event.work_id for event in immediate})
        settle_events(db, immediate, graph)
    state.created += len(events)
    for _, entry, _ in checked:
        state.amount[entry.currency] = state.amount.get(entry.currency, 0) + entry.amount


def _mode(db: Session, work: Work, state: _ImportState) -> str:
    if work.id not in state.modes:
        state.modes[work.id] = settlement_mode(
            db, work, period_min_sources=DEFAULT_PERIOD_MIN_SOURCES
        )
    return state.modes[work.id]
