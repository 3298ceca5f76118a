"""Revenue events from a CSV file: every row validated before any is written, then settled.

Any bad row refuses the whole import, naming every bad line; rows already
recorded with the same payload are skipped (idempotent).

An import runs in two steps, in one unit of work (so a bad line anywhere, or
a refusal while settling, leaves nothing stored):

1. **Recording.** The file streams in chunks of :data:`CHUNK_ROWS` rows. Each
   chunk is checked with a few queries whatever its size (the works and the
   external ids already recorded looked up per chunk, the engine's checks over
   one settlement graph), then written in bulk without an ORM object per row:
   one funding transaction per event through
   :func:`hitrack.services.ledger.post_transactions`, and the event rows,
   already ``funded``, with COPY (:func:`hitrack.db.bulk.insert_rows`). Once a
   line is bad, the rest of the file is only checked, to name every bad line.
2. **Settling.** Only when the whole file has passed, the events whose work
   settles ``immediate`` (:func:`~hitrack.services.revenue.settling.settlement_mode`)
   are settled, in chunks of :data:`~hitrack.services.revenue.bulk_events.SETTLE_ROWS`. Each stays its own settlement,
   exactly as if it had arrived alone (DESIGN section 3: its allocations, its
   ledger transaction ``revenue:<external id>``), through
   :func:`~hitrack.services.revenue.settling.settle_events`, which writes the
   chunk's rows in bulk. Events whose work settles per period are left funded
   for the next settlement period, as any event of such a work is.

Why two steps: recording is a few statements per chunk and runs at the speed of
reading the file, while settling runs the credit engine once per event (its
fixed cost per event, some 0.15-0.2 ms even for a one-work ancestry, is by
itself most of the budget of a 5,000 events/s import) and writes a ledger
transaction per event; a bad line near the end of a large file is named after
the fast pass, before any event is settled, and the import's two rates are
reported apart (:attr:`ImportResult.recorded_seconds`,
:attr:`ImportResult.settled_seconds`). A large import of revenue that need not
be paid out at once belongs to works that settle per period.
"""

from __future__ import annotations

import csv
import io
import itertools
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NamedTuple, TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only, selectinload

from hitrack.db.bulk import among, chunks, lookup
from hitrack.db.models import Creator, RevenueEvent, Work, fraction_columns
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
from hitrack.services.revenue.bulk_events import (
    WORK_COLUMNS,
    CheckedEvent,
    record_funded,
    settle_recorded,
)
from hitrack.services.revenue.entries import RevenueInput, engine_event, parse_revenue
from hitrack.services.revenue.events import check_sender, may_see
from hitrack.services.revenue.settling import DEFAULT_PERIOD_MIN_SOURCES, settlement_mode
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
    """What an import did: rows read, events created (``settled`` now, ``held`` for a period).

    ``recorded_seconds`` and ``settled_seconds`` are the wall time of its two
    steps (checking and recording the whole file; settling the immediate events).
    """

    rows: int
    created: int
    replayed: int
    amount: dict[str, int]
    settled: int = 0
    held: int = 0
    recorded_seconds: float = 0.0
    settled_seconds: float = 0.0

    def summary(self) -> str:
        money = (
            ", ".join(f"{format_micros(v, c)} {c}" for c, v in sorted(self.amount.items()))
            or "nothing"
        )
        held = f", {self.held} held for the settlement period" if self.held else ""
        return (
            f"imported {self.rows} rows: {self.created} new events, {self.replayed} already "
            f"recorded; {self.settled} settled{held}; new revenue {money}"
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
    an admin, or None for the system. ``progress(1)`` is called per row done:
    found recorded, held for a period, or settled.

    The input streams, ``chunk_rows`` rows at a time, and is recorded in bulk;
    then the immediate events are settled, one settlement each (the module
    docstring). Memory holds one chunk, the file's external ids (to find
    duplicates) and the ids of the events to settle, never the file.
    """
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("only admins import revenue")
    stream = io.StringIO(source) if isinstance(source, str) else source
    state = _ImportState()
    started = time.perf_counter()
    with unit_of_work(db):  # any refusal below rolls back everything written so far
        reader = _reader(stream)
        try:
            for chunk in _row_chunks(reader, chunk_rows):
                replayed = state.replayed
                checked = _check_chunk(db, chunk, actor, default_fee_rate, state, amounts_in_units)
                if state.errors:
                    continue  # keep checking, to name every bad line; write nothing more
                held = _write_chunk(db, actor, checked, state)
                _progress(progress, state.replayed - replayed + held)
        except csv.Error as error:
            state.errors.append((reader.line_num, f"not valid CSV: {error}"))
        if state.errors:
            raise ImportError_(sorted(state.errors, key=lambda error: error[0]))
        recorded = time.perf_counter()
        settled = settle_recorded(db, state.immediate, lambda n: _progress(progress, n))
    return ImportResult(
        state.rows,
        state.created,
        state.replayed,
        state.amount,
        settled=settled,
        held=state.created - settled,
        recorded_seconds=recorded - started,
        settled_seconds=time.perf_counter() - recorded,
    )


class _Checked(NamedTuple):
    """A row that passed every check: its line and the event to record."""

    line: int
    event: CheckedEvent


@dataclass
class _ImportState:
    """What an import carries from chunk to chunk."""

    errors: list[tuple[int, str]] = field(default_factory=list)
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)
    model_modes: dict[int, str] = field(default_factory=dict)  # a count query per model, once
    immediate: array[int] = field(default_factory=lambda: array("q"))  # event ids to settle
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
) -> list[_Checked]:
    """Validate one chunk of rows; the new events to write (bad rows go to ``state.errors``).

    A few queries per chunk, whatever its size: the external ids already
    recorded, the chunk's works, the settlement graph for the engine's checks.
    """
    parsed: list[tuple[int, RevenueInput, str]] = []
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
        digest = entry.payload_hash()
        previous = state.seen.get(entry.external_id)
        if previous is not None:
            if previous[1] != digest:
                state.errors.append(
                    (
                        line,
                        f"external_id {entry.external_id} also on line {previous[0]} "
                        "with another payload",
                    )
                )
            state.rows -= 1  # the same event twice in one file is one row
            continue
        state.seen[entry.external_id] = (line, digest)
        parsed.append((line, entry, digest))
    if not parsed:
        return []
    recorded = _recorded(db, [entry.external_id for _, entry, _ in parsed])
    works = _works(db, {entry.work for _, entry, _ in parsed if entry.external_id not in recorded})
    checker = (
        CompactEvents(compact_graph.settlement_graph(db, {w.id for w in works.values()}).graph)
        if works
        else None
    )
    checked: list[_Checked] = []
    for line, entry, digest in parsed:
        try:
            event = recorded.get(entry.external_id)
            if event is not None:
                if not may_see(actor, event):
                    raise IdempotencyConflict(
                        f"external_id {entry.external_id} is already in use; "
                        "send the event under another id"
                    )
                if event.payload_hash != digest:
                    raise IdempotencyConflict(
                        f"revenue event {entry.external_id} was already recorded "
                        "with another payload"
                    )
                state.replayed += 1
                continue
            work = works.get(entry.work)
            if work is None:
                raise NotFound(f"work {entry.work} not found", ids=(entry.work,))
            entry = check_sender(db, actor, work, entry)
            assert checker is not None  # there are works
            # The engine's own checks (attribution within the manifest, ...).
            prepare_event(checker, engine_event(entry))
            checked.append(
                _Checked(
                    line,
                    CheckedEvent(
                        entry,
                        digest,
                        work.id,
                        fraction_columns(entry.fee_rate),
                        _mode(db, work, state) == "immediate",
                    ),
                )
            )
        except HitrackError as error:
            state.errors.append((line, error.message))
    return checked


def _recorded(db: Session, external_ids: list[str]) -> dict[str, RevenueEvent]:
    """The events already recorded under any of ``external_ids``.

    One array look-up per chunk finds them; only those found (replays, usually
    none) are loaded as events, to check who may see them and their payload.
    """
    found = [
        event_id
        for _, event_id in lookup(db, RevenueEvent.external_id, external_ids, RevenueEvent.id)
    ]
    events: dict[str, RevenueEvent] = {}
    for part in chunks(found, CHUNK_ROWS):
        for event in db.scalars(
            select(RevenueEvent)
            .where(among(db, RevenueEvent.id, part))
            .options(selectinload(RevenueEvent.work))
        ):
            events[event.external_id] = event
    return events


def _works(db: Session, public_ids: set[str]) -> dict[str, Work]:
    """The chunk's works by public id: one array query, only the columns the checks read."""
    works: dict[str, Work] = {}
    for part in chunks(sorted(public_ids), CHUNK_ROWS):
        for work in db.scalars(
            select(Work).where(among(db, Work.public_id, part)).options(load_only(*WORK_COLUMNS))
        ):
            works[work.public_id] = work
    return works


def _mode(db: Session, work: Work, state: _ImportState) -> str:
    """The work's settlement mode; only a model's needs a query, made once per import."""
    if work.kind != "model":
        return settlement_mode(db, work, period_min_sources=DEFAULT_PERIOD_MIN_SOURCES)
    if work.id not in state.model_modes:
        state.model_modes[work.id] = settlement_mode(
            db, work, period_min_sources=DEFAULT_PERIOD_MIN_SOURCES
        )
    return state.model_modes[work.id]


def _write_chunk(
    db: Session,
    actor: Creator | None,
    checked: list[_Checked],
    state: _ImportState,
) -> int:
    """Record one checked chunk, funded on arrival, in bulk; how many are held for a period.

    Immediate events are only noted, to be settled once the whole file has passed.
    """
    if not checked:
        return 0
    try:
        ids = record_funded(db, actor, [c.event for c in checked], origin="csv")
    except IntegrityError:
        raise ImportError_(
            [(checked[0].line, "an event of this import was recorded meanwhile; run it again")]
        ) from None
    state.immediate.extend(
        event_id for event_id, c in zip(ids, checked, strict=True) if c.event.immediate
    )
    state.created += len(checked)
    for c in checked:
        entry = c.event.entry
        state.amount[entry.currency] = state.amount.get(entry.currency, 0) + entry.amount
    return sum(1 for c in checked if not c.event.immediate)


def _progress(progress: Callable[[int], None] | None, rows: int) -> None:
    if progress is not None:
        for _ in range(rows):
            progress(1)
