"""Revenue events from a CSV file: every row validated before any is written.

Any bad row refuses the whole import, naming every bad line; rows already
recorded with the same payload are skipped (idempotent).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, Work
from hitrack.domain.errors import HitrackError, IdempotencyConflict, InvalidInput, PermissionDenied
from hitrack.domain.fast.event import CompactEvents
from hitrack.domain.money import format_micros
from hitrack.domain.settlement import prepare_event
from hitrack.services import compact_graph
from hitrack.services.graph import get_work
from hitrack.services.revenue.entries import RevenueInput, engine_event, parse_revenue
from hitrack.services.revenue.events import check_sender, replay
from hitrack.services.revenue.recording import settle_into
from hitrack.services.unit_of_work import unit_of_work

__all__ = ["CSV_COLUMNS", "ImportError_", "ImportResult", "import_csv"]

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
    created = replayed = 0
    amount: dict[str, int] = {}
    with unit_of_work(db):  # any refusal below rolls back everything, the reads included
        entries, errors = _read_rows(db, text, actor, default_fee_rate)
        if errors:
            raise ImportError_(errors)
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
                entry = parse_revenue(values, default_fee_rate=default_fee_rate)
                previous = seen.get(entry.external_id)
                if previous is not None:
                    if previous[1] != entry.payload_hash():
                        raise IdempotencyConflict(
                            f"external_id {entry.external_id} also on line {previous[0]} with another payload"
                        )
                    continue
                seen[entry.external_id] = (line, entry.payload_hash())
                if replay(db, actor, entry) is not None:
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
                prepare_event(graphs[entry.work], engine_event(entry))
                entries.append((line, entry, works[entry.work]))
            except HitrackError as error:
                errors.append((line, error.message))
    except csv.Error as error:
        errors.append((reader.line_num, f"not valid CSV: {error}"))
    return entries, errors
