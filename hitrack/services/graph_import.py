"""Import a catalogue in the interchange format: streamed, checked whole, written in bulk.

``hitrack graph import`` of a million works and 4.5 million citations must
neither hold the document as Python objects nor write it row by row. So:

1. The file is read as a stream (:mod:`hitrack.domain.interchange_stream`);
   each work is parsed and checked on its own rules as it arrives
   (:func:`hitrack.domain.graph.check_work`, the credit role vocabulary) and
   kept only as integers in compact arrays. Every bad work is collected with
   its line, so the user sees them all at once, not one per attempt.
2. The rules that need the whole graph are checked on the arrays: every cited
   work exists (in the document or already on the platform), the sources'
   consent (``remix``; for a model, a record with ``ai_training``), and no
   cycle. Work ids and unclaimed credit ids must be new.
3. Only when all of it passes is anything written, in one transaction under
   the graph lock, with PostgreSQL ``COPY`` (``executemany`` on SQLite):
   creators, works, owners, citations and credits, stamped with one new graph
   version. An error or an interruption anywhere rolls the whole import back:
   nothing half-imported is ever visible.
4. The search index is written in the same transaction (COPY bypasses the
   flush listener of :mod:`hitrack.services.search`): on PostgreSQL with one
   ``INSERT ... SELECT`` for the new works and creators, the very entries
   :func:`hitrack.services.search.reindex` writes; cited stored works get
   their count of remixes re-indexed.

An import that at least doubles ``citations`` or ``work_owners`` (a first load
of a catalogue) writes that table without its secondary indexes and its
unique and foreign-key constraints, and rebuilds them at the end of the same
transaction (:data:`REBUILD_ROWS`): one sorted index build and one set-based
anti-join per foreign key instead of several index insertions and two foreign-key
look-ups per row (and ``ANALYZE`` afterwards). Before anything is
written, the import locks those tables and the ones their foreign keys
reference (``creators``, ``works``: dropping a foreign key locks both ends)
``ACCESS EXCLUSIVE`` in one ``LOCK TABLE``, so no other transaction reads or
writes them until the import commits: readers and writers wait (a first load
of a catalogue is the platform's maintenance window), none ever sees a table
without its indexes, and since DDL is transactional in
PostgreSQL a failure or an interruption rolls the drop back with the rows:
the definitions are read from the catalogue (``pg_get_indexdef``,
``pg_get_constraintdef``) and re-created exactly, so a rebuilt constraint
checks every row, stored and imported.

Owners and credit payees are creator handles; unknown handles become
placeholder creators that cannot log in. A credit whose payee is
``credit:<id>`` is an unclaimed credit with that public id (its escrow). Events
in the document are not imported (revenue has its own import).
"""

from __future__ import annotations

import secrets
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm
from typing import Any, TextIO

import networkx as nx
import numpy as np
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.bulk import insert_rows, lookup, reserve_ids
from hitrack.db.models import Citation, Creator, Credit, SearchEntry, Work, WorkOwner
from hitrack.domain import interchange
from hitrack.domain.credit_roles import parse_role
from hitrack.domain.errors import HitrackError, InvalidInput
from hitrack.domain.graph import KINDS, check_work
from hitrack.domain.interchange_stream import stream_document
from hitrack.domain.payees import UNCLAIMED_PREFIX
from hitrack.domain.shares import parse_share
from hitrack.services import search
from hitrack.services.graph import bump_graph_version, lock_graph
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "GraphImportRefused",
    "ImportSummary",
    "Progress",
    "import_graph",
    "MAX_PROBLEMS",
    "REBUILD_ROWS",
]

MAX_PROBLEMS = 1_000
"""Problems reported one by one; beyond this only their number."""
REBUILD_ROWS = 100_000
"""Least rows written into a table for its indexes to be rebuilt rather than kept (PostgreSQL,
and only when the import also at least doubles the table)."""
_INT64 = 2**63 - 1
_RECORD, _MODEL = KINDS.index("record"), KINDS.index("model")
_ID_LENGTH, _TITLE_LENGTH, _HANDLE_LENGTH, _CREDIT_ID_LENGTH, _NAME_LENGTH = 64, 200, 64, 32, 120

Progress = Callable[[str], None]
"""Told what the import is doing, between its steps (for a command's progress line)."""


class GraphImportRefused(InvalidInput):
    """The document has problems; ``problems`` holds ``(line, message)`` for each (up to
    :data:`MAX_PROBLEMS`), ``total`` how many there were. Nothing was imported."""

    def __init__(self, problems: list[tuple[int, str]], total: int) -> None:
        line, message = problems[0]
        where = f"line {line}: " if line else ""
        more = f" (and {total - 1} more)" if total > 1 else ""
        super().__init__(f"{where}{message}{more}; nothing imported")
        self.problems = problems
        self.total = total


@dataclass(frozen=True)
class ImportSummary:
    works: int
    citations: int
    credits: int
    new_creators: int

    def __str__(self) -> str:
        return (
            f"imported {self.works} works, {self.citations} citations, "
            f"{self.credits} credits, {self.new_creators} new creators"
        )


def _ratio(value: Fraction, what: str) -> tuple[int, int]:
    if value.numerator > _INT64 or value.denominator > _INT64:
        raise InvalidInput(f"{what} {value} has too many digits to store")
    return value.numerator, value.denominator


def _text(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    if "\x00" in value:
        raise InvalidInput(f"{what} holds a NUL character")
    return value


@dataclass
class _Catalogue:
    """The document as integers: one index per work id (defined or only cited)."""

    min_credit_pool: Fraction
    index: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    line: array[int] = field(default_factory=lambda: array("q"))  # 0: only cited
    kind: bytearray = field(default_factory=bytearray)
    remix: bytearray = field(default_factory=bytearray)
    ai: bytearray = field(default_factory=bytearray)
    rows: list[tuple[Any, ...] | None] = field(default_factory=list)
    handles: dict[str, int] = field(default_factory=dict)
    owner_work: array[int] = field(default_factory=lambda: array("q"))
    owner_handle: array[int] = field(default_factory=lambda: array("q"))
    owner_num: array[int] = field(default_factory=lambda: array("q"))
    owner_den: array[int] = field(default_factory=lambda: array("q"))
    cit_work: array[int] = field(default_factory=lambda: array("q"))
    cit_source: array[int] = field(default_factory=lambda: array("q"))
    cit_num: array[int] = field(default_factory=lambda: array("q"))
    cit_den: array[int] = field(default_factory=lambda: array("q"))
    # (work index, position, handle index or -1, unclaimed id or None, name, role, num, den)
    credits: list[tuple[int, int, int, str | None, str | None, str, int, int]] = field(
        default_factory=list
    )
    credit_ids: dict[str, int] = field(default_factory=dict)  # unclaimed id -> line
    problems: list[tuple[int, str]] = field(default_factory=list)
    problem_count: int = 0
    works: int = 0
    seen_works: bool = False

    def problem(self, line: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((line, message))

    def _slot(self, work_id: str) -> int:
        slot = self.index.get(work_id)
        if slot is None:
            slot = len(self.ids)
            self.index[work_id] = slot
            self.ids.append(work_id)
            self.line.append(0)
            self.kind.append(0)
            self.remix.append(0)
            self.ai.append(0)
            self.rows.append(None)
        return slot

    def _handle(self, handle: str) -> int:
        slot = self.handles.get(handle)
        if slot is None:
            _text(handle, _HANDLE_LENGTH, f"creator id {handle[:40]}")
            slot = self.handles[handle] = len(self.handles)
        return slot

    def add(self, raw: Any, line: int, position: int) -> None:
        try:
            parsed = _quick(raw) or _parse(raw, position, self.min_credit_pool)
        except HitrackError as error:
            self.problem(line, str(error))
            return
        work_id, kind, row, owners, sources, credits = parsed
        slot = self._slot(work_id)
        if self.line[slot]:
            self.problem(line, f"duplicate work id {work_id} (first on line {self.line[slot]})")
            return
        for _, _, unclaimed, *_rest in credits:
            if unclaimed is not None:
                if unclaimed in self.credit_ids:
                    self.problem(
                        line,
                        f"work {work_id}: credit {UNCLAIMED_PREFIX}{unclaimed} is already "
                        f"listed on line {self.credit_ids[unclaimed]}",
                    )
                    return
                self.credit_ids[unclaimed] = line
        self.works += 1
        self.line[slot] = line
        self.kind[slot] = KINDS.index(kind)
        self.remix[slot] = row[1]
        self.ai[slot] = row[2]
        self.rows[slot] = (work_id, kind, *row)
        for handle, num, den in owners:
            self.owner_work.append(slot)
            self.owner_handle.append(self._handle(handle))
            self.owner_num.append(num)
            self.owner_den.append(den)
        for source, num, den in sources:
            self.cit_work.append(slot)
            self.cit_source.append(self._slot(source))
            self.cit_num.append(num)
            self.cit_den.append(den)
        for position_, payee, unclaimed, name, role, num, den in credits:
            who = -1 if payee is None else self._handle(payee)
            self.credits.append((slot, position_, who, unclaimed, name, role, num, den))


_Parsed = tuple[
    str,
    str,
    tuple[Any, ...],
    list[tuple[str, int, int]],
    list[tuple[str, int, int]],
    list[tuple[int, str | None, str | None, str | None, str, int, int]],
]
"""(id, kind, (title, remix, ai, weight num, den, pool num, den), owners, sources, credits)."""

_RATIOS: dict[str, tuple[int, int]] = {}
_RATIO_CACHE = 100_000
_QUICK_KEYS = frozenset(("id", "kind", "owners", "sources", "consent", "title"))


def _quick_ratio(text: Any) -> tuple[int, int] | None:
    """A share text's exact (numerator, denominator), remembered: a catalogue repeats few."""
    if not isinstance(text, str):
        return None
    ratio = _RATIOS.get(text)
    if ratio is None:
        try:
            value = parse_share(text)
        except HitrackError:
            return None
        if value.numerator > _INT64 or value.denominator > _INT64:
            return None
        ratio = (value.numerator, value.denominator)
        if len(_RATIOS) < _RATIO_CACHE:
            _RATIOS[text] = ratio
    return ratio


def _quick_total(ratios: list[tuple[int, int]]) -> tuple[int, int]:
    """Their exact sum as (numerator, common denominator), in integers."""
    common = lcm(*(d for _, d in ratios)) if ratios else 1
    return sum(n * (common // d) for n, d in ratios), common


def _quick(raw: Any) -> _Parsed | None:
    """The usual work (no credits, string shares), checked in integers without Fractions.

    Returns None whenever anything is unusual or wrong: the domain's exact path
    (:func:`_parse`) then decides, and words the error.
    """
    if not isinstance(raw, dict) or not _QUICK_KEYS.issuperset(raw):
        return None
    work_id, kind, title = raw.get("id"), raw.get("kind"), raw.get("title", "")
    owners_raw, sources_raw = raw.get("owners"), raw.get("sources", {})
    consent = raw.get("consent", {})
    if not (
        isinstance(work_id, str)
        and 0 < len(work_id) <= _ID_LENGTH
        and kind in KINDS
        and isinstance(title, str)
        and len(title or work_id) <= _TITLE_LENGTH
        and "\x00" not in work_id + title
        and isinstance(owners_raw, dict)
        and owners_raw
        and isinstance(sources_raw, dict)
        and isinstance(consent, dict)
    ):
        return None
    remix, ai = consent.get("remix", True), consent.get("ai_training", False)
    if not (isinstance(remix, bool) and isinstance(ai, bool)) or len(consent) > 2:
        return None
    owners = []
    for handle, text in owners_raw.items():
        ratio = _quick_ratio(text)
        if (
            ratio is None
            or not 0 < len(handle) <= _HANDLE_LENGTH
            or "\x00" in handle
            or ratio[0] <= 0
        ):
            return None
        owners.append((handle, *ratio))
    num, den = _quick_total([(n, d) for _, n, d in owners])
    if num != den:
        return None
    sources = []
    for source, text in sources_raw.items():
        ratio = _quick_ratio(text)
        if (
            ratio is None
            or source == work_id
            or not 0 < len(source) <= _ID_LENGTH
            or "\x00" in source
            or not 0 < ratio[0] <= ratio[1]
        ):
            return None
        sources.append((source, *ratio))
    num, den = _quick_total([(n, d) for _, n, d in sources])
    if num > den:
        return None
    owners.sort()
    sources.sort()
    return work_id, kind, (title or work_id, remix, ai, 0, 1, 0, 1), owners, sources, []


def _parse(raw: Any, position: int, min_credit_pool: Fraction) -> _Parsed:
    """Any work, through the domain's own parsing and rules: exact, every error worded there."""
    work = interchange.parse_work(raw, position)
    check_work(work, min_credit_pool=min_credit_pool)
    _text(work.id, _ID_LENGTH, f"work id {work.id[:40]}")
    title = _text(work.title or work.id, _TITLE_LENGTH, f"work {work.id}: title")
    owners = [
        (
            _text(h, _HANDLE_LENGTH, f"creator id {h[:40]}"),
            *_ratio(f, f"work {work.id}: ownership of {h}"),
        )
        for h, f in sorted(work.owners.items())
    ]
    sources = [
        (
            _text(s, _ID_LENGTH, f"work {work.id}: source id {s[:40]}"),
            *_ratio(f, f"work {work.id}: share of {s}"),
        )
        for s, f in sorted(work.sources.items())
    ]
    names = [c.get("name") for c in raw["credits"]] if work.credits else []
    credits: list[tuple[int, str | None, str | None, str | None, str, int, int]] = []
    for position_, credit in enumerate(work.credits):
        who = f"work {work.id}: credit of {credit.payee}"
        role = parse_role(credit.role, who=who)
        name = names[position_]
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidInput(f"{who}: name must be a non-empty string")
        if name is not None:
            name = _text(name.strip(), _NAME_LENGTH, f"{who}: name")
        payee: str | None = None
        unclaimed: str | None = None
        if credit.payee.startswith(UNCLAIMED_PREFIX):
            unclaimed = _text(
                credit.payee[len(UNCLAIMED_PREFIX) :], _CREDIT_ID_LENGTH, f"{who}: id"
            )
        else:
            payee = _text(credit.payee, _HANDLE_LENGTH, f"{who}: creator id")
        credits.append((position_, payee, unclaimed, name, role, *_ratio(credit.weight, who)))
    weight = _ratio(work.attribution_weight, f"work {work.id}: attribution_weight")
    pool = _ratio(work.credit_pool, f"work {work.id}: credit_pool")
    row = (title, work.consent_remix, work.consent_ai_training, *weight, *pool)
    return work.id, work.kind, row, owners, sources, credits


def _read(file: TextIO, catalogue: _Catalogue, progress: Progress) -> None:
    try:
        for item in stream_document(file):
            if item.key == "works":
                if item.position is None:
                    catalogue.problem(item.line, "works must be a list")
                    continue
                catalogue.seen_works = True
                catalogue.add(item.value, item.line, item.position)
                if catalogue.works % 100_000 == 0 and catalogue.works:
                    progress(f"read {catalogue.works} works")
            elif item.key == "currency" and (not isinstance(item.value, str) or not item.value):
                catalogue.problem(item.line, "currency must be a non-empty string")
            elif item.key == "events" and item.position is None:
                catalogue.problem(item.line, "events must be a list")
    except InvalidInput as error:  # malformed JSON: nothing after it can be read
        catalogue.problem(0, str(error))
        return
    if not catalogue.seen_works:
        catalogue.problem(0, "the document has no works list")


def _check_graph(db: Session, cat: _Catalogue) -> np.ndarray[Any, Any]:
    """The whole-graph rules; returns the database id of each index known to exist (else 0)."""
    n = len(cat.ids)
    db_id = np.zeros(n, dtype=np.int64)
    line = np.frombuffer(cat.line, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
    kind = np.frombuffer(bytes(cat.kind), dtype=np.uint8)
    remix = np.frombuffer(bytes(cat.remix), dtype=np.uint8).copy()
    ai = np.frombuffer(bytes(cat.ai), dtype=np.uint8).copy()
    kind = kind.copy()
    defined = np.flatnonzero(line > 0)
    cited_only = np.flatnonzero(line == 0)
    # Defined works must be new.
    for public_id, _ in lookup(db, Work.public_id, (cat.ids[i] for i in defined), Work.id):
        cat.problem(int(cat.line[cat.index[public_id]]), f"work {public_id} already exists")
    # Works only cited must exist on the platform: read their kind and consent.
    for public_id, work_id, kind_, remix_, ai_ in lookup(
        db,
        Work.public_id,
        (cat.ids[i] for i in cited_only),
        Work.id,
        Work.kind,
        Work.consent_remix,
        Work.consent_ai_training,
    ):
        slot = cat.index[public_id]
        db_id[slot] = work_id
        kind[slot] = KINDS.index(kind_)
        remix[slot] = bool(remix_)
        ai[slot] = bool(ai_)
    for unclaimed, _ in lookup(db, Credit.public_id, cat.credit_ids, Credit.id):
        cat.problem(
            cat.credit_ids[unclaimed], f"credit {UNCLAIMED_PREFIX}{unclaimed} already exists"
        )
    if not len(cat.cit_work):
        return db_id
    work = np.frombuffer(cat.cit_work, dtype=np.int64)
    source = np.frombuffer(cat.cit_source, dtype=np.int64)
    known = (line > 0) | (db_id > 0)
    model = kind[work] == _MODEL

    def report(mask: np.ndarray[Any, Any], message: Callable[[str, str], str]) -> None:
        for edge in np.flatnonzero(mask)[: MAX_PROBLEMS - len(cat.problems) + 1]:
            w, s = cat.ids[work[edge]], cat.ids[source[edge]]
            cat.problem(int(line[work[edge]]), message(w, s))
        cat.problem_count += max(0, int(mask.sum()) - MAX_PROBLEMS)

    unknown = ~known[source]
    report(unknown, lambda w, s: f"work {w} cites unknown work {s}")
    ok = known[source]
    report(
        ok & model & (kind[source] != _RECORD),
        lambda w, s: f"model {w} can only train on records, and {s} is not a record",
    )
    report(
        ok & model & (kind[source] == _RECORD) & (ai[source] == 0),
        lambda w, s: f"model {w} cannot train on {s}: its owners have not consented to AI training",
    )
    report(
        ok & ~model & (remix[source] == 0),
        lambda w, s: f"work {w} cannot cite {s}: its owners have not consented to remixes",
    )
    if not bool((source < work).all()):  # the order of the file is not already topological
        _check_acyclic(cat, work, source, n)
    return db_id


def _check_acyclic(
    cat: _Catalogue, work: np.ndarray[Any, Any], source: np.ndarray[Any, Any], n: int
) -> None:
    """Kahn's algorithm over the citation arrays; a cycle is named by its works."""
    order = np.argsort(work, kind="stable")
    starts = np.searchsorted(work[order], np.arange(n + 1)).tolist()
    sources = source[order].tolist()
    citing = np.bincount(source, minlength=n).tolist()
    stack = [i for i in range(n) if citing[i] == 0]
    done = 0
    while stack:
        v = stack.pop()
        done += 1
        for j in range(starts[v], starts[v + 1]):
            u = sources[j]
            citing[u] -= 1
            if citing[u] == 0:
                stack.append(u)
    if done == n:
        return
    left = {i for i in range(n) if citing[i] > 0}
    G = nx.DiGraph()
    G.add_edges_from(
        (int(w), int(s))
        for w, s in zip(work.tolist(), source.tolist(), strict=True)
        if w in left and s in left
    )
    cycle = [cat.ids[edge[0]] for edge in nx.find_cycle(G)]
    first = cat.index[cycle[0]]
    cat.problem(int(cat.line[first]), "citations form a cycle: " + " -> ".join([*cycle, cycle[0]]))


def import_graph(
    db: Session,
    file: TextIO,
    *,
    min_credit_pool: Fraction = Fraction(0),
    progress: Progress | None = None,
) -> ImportSummary:
    """Import the works, citations and credits of the interchange document in ``file``.

    Raises
    ------
    GraphImportRefused
        Every problem found, each with its line; nothing is written.
    """
    say = progress or (lambda _message: None)
    cat = _Catalogue(min_credit_pool=min_credit_pool)
    _read(file, cat, say)
    if cat.problem_count:
        raise GraphImportRefused(cat.problems, cat.problem_count)
    say(f"read {cat.works} works; checking the graph")
    with unit_of_work(db):
        lock_graph(db)
        db_id = _check_graph(db, cat)
        if cat.problem_count:
            cat.problems.sort(key=lambda p: p[0])
            raise GraphImportRefused(cat.problems, cat.problem_count)
        summary = _write(db, cat, db_id, say)
        say("committing")
    return summary


def _write(
    db: Session, cat: _Catalogue, db_id: np.ndarray[Any, Any], say: Progress
) -> ImportSummary:
    now = utcnow()
    chosen = _plan_rebuild(
        db,
        {WorkOwner.__tablename__: len(cat.owner_work), Citation.__tablename__: len(cat.cit_work)},
    )
    version = bump_graph_version(db)
    handles = list(cat.handles)
    creator_id = [0] * len(handles)
    display = [""] * len(handles)
    for handle, id_, name in lookup(
        db,
        Creator.handle,
        handles,
        Creator.id,
        Creator.display_name,
    ):
        creator_id[cat.handles[handle]] = id_
        display[cat.handles[handle]] = name
    missing = [i for i, id_ in enumerate(creator_id) if not id_]
    for i, id_ in zip(missing, reserve_ids(db, Creator.__table__, len(missing)), strict=True):
        creator_id[i] = id_
        display[i] = handles[i]
    say(f"writing {len(missing)} new creators")
    insert_rows(
        db,
        Creator.__table__,
        ("id", "handle", "display_name", "role", "created_at", "session_generation"),
        ((creator_id[i], handles[i], handles[i], "creator", now, 0) for i in missing),
    )
    line = np.frombuffer(cat.line, dtype=np.int64)
    defined = np.flatnonzero(line > 0)
    db_id[defined] = reserve_ids(db, Work.__table__, len(defined))
    ids = db_id.tolist()
    say(f"writing {len(defined)} works")
    insert_rows(
        db,
        Work.__table__,
        (
            "id",
            "public_id",
            "kind",
            "title",
            "consent_remix",
            "consent_ai_training",
            "attribution_weight_num",
            "attribution_weight_den",
            "credit_pool_num",
            "credit_pool_den",
            "description",
            "visibility",
            "created_at",
            "status",
        ),
        ((ids[i], *cat.rows[i], "", "public", now, "active") for i in defined.tolist()),  # type: ignore[misc]
    )
    say(f"writing {len(cat.owner_work)} owners")
    rebuild = _drop_indexes(db, WorkOwner.__tablename__, chosen)
    insert_rows(
        db,
        WorkOwner.__table__,
        ("work_id", "creator_id", "fraction_num", "fraction_den", "graph_version"),
        (
            (ids[w], creator_id[h], num, den, version)
            for w, h, num, den in zip(
                cat.owner_work, cat.owner_handle, cat.owner_num, cat.owner_den, strict=True
            )
        ),
    )
    _rebuild(db, rebuild, say)
    say(f"writing {len(cat.cit_work)} citations")
    rebuild = _drop_indexes(db, Citation.__tablename__, chosen)
    insert_rows(
        db,
        Citation.__table__,
        ("work_id", "source_id", "share_num", "share_den", "created_at", "graph_version"),
        (
            (ids[w], ids[s], num, den, now, version)
            for w, s, num, den in zip(
                cat.cit_work, cat.cit_source, cat.cit_num, cat.cit_den, strict=True
            )
        ),
    )
    _rebuild(db, rebuild, say)
    say(f"writing {len(cat.credits)} credits")
    insert_rows(
        db, Credit.__table__, _CREDIT_COLUMNS, _credit_rows(cat, ids, creator_id, display, now)
    )
    say("indexing for search")
    stored = np.flatnonzero(line == 0)
    _index_for_search(
        db,
        works=[ids[i] for i in defined.tolist()],
        creators=[creator_id[i] for i in missing],
        cited=[ids[i] for i in stored.tolist()],
    )
    if chosen:
        say("analyzing")
        _analyze(
            db,
            [
                Creator.__tablename__,
                Work.__tablename__,
                *sorted(chosen),
                Credit.__tablename__,
                SearchEntry.__tablename__,
            ],
        )
    return ImportSummary(cat.works, len(cat.cit_work), len(cat.credits), len(missing))


_CREDIT_COLUMNS = (
    "public_id",
    "work_id",
    "position",
    "name",
    "role",
    "weight_num",
    "weight_den",
    "creator_id",
    "status",
    "claimed_by_id",
    "claimed_at",
    "created_at",
)


def _credit_rows(
    cat: _Catalogue, ids: list[int], creator_id: list[int], display: list[str], now: Any
) -> Iterator[tuple[Any, ...]]:
    for slot, position, payee, unclaimed, name, role, num, den in cat.credits:
        if unclaimed is not None:
            yield (
                unclaimed,
                ids[slot],
                position,
                name or unclaimed,
                role,
                num,
                den,
                None,
                "unclaimed",
                None,
                None,
                now,
            )
        else:
            person = creator_id[payee]
            yield (
                "c" + secrets.token_hex(5),
                ids[slot],
                position,
                name or display[payee],
                role,
                num,
                den,
                person,
                "claimed",
                person,
                now,
                now,
            )


def _plan_rebuild(db: Session, incoming: dict[str, int]) -> set[str]:
    """The tables to write without their indexes: ``incoming`` rows are many and at least as
    many as the table holds. Locks them, and the tables their foreign keys reference, ``ACCESS
    EXCLUSIVE`` (dropping a foreign key locks both ends) before anything is written, in one
    statement, so no reader or writer of those tables runs until the import commits."""
    if db.connection().dialect.name != "postgresql":
        return set()
    held: dict[str, int] = dict(
        db.execute(
            sql(
                "SELECT relname, greatest(reltuples, 0)::bigint FROM pg_class "
                "WHERE oid = ANY(CAST(:tables AS regclass[]))"
            ),
            {"tables": list(incoming)},
        ).all()
    )
    chosen = {t for t, n in incoming.items() if n >= REBUILD_ROWS and int(held.get(t, 0)) <= n}
    if not chosen:
        return set()
    db.connection().exec_driver_sql(
        "LOCK TABLE creators, works, "
        + ", ".join(f'"{t}"' for t in sorted(chosen))
        + " IN ACCESS EXCLUSIVE MODE"
    )
    return {
        t for t in chosen if int(db.scalar(sql(f'SELECT count(*) FROM "{t}"')) or 0) <= incoming[t]
    }


def _drop_indexes(db: Session, table: str, chosen: set[str]) -> list[str]:
    """Drop the secondary indexes, unique and foreign-key constraints of ``table`` if it is
    one of ``chosen``; returns the DDL that re-creates them exactly (none dropped: empty)."""
    if table not in chosen:
        return []
    conn = db.connection()
    constraints = db.execute(
        sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('u', 'f') "
            "ORDER BY contype DESC, conname"
        ),
        {"t": table},
    ).all()
    indexes = db.execute(
        sql(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:t AS regclass) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
            "AND k.conrelid = i.indrelid) ORDER BY c.relname"
        ),
        {"t": table},
    ).all()
    ddl = []
    for name, definition in constraints:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        ddl.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
        ddl.append(definition)
    return ddl


def _rebuild(db: Session, ddl: list[str], say: Progress) -> None:
    """Re-create what :func:`_drop_indexes` dropped (every constraint checks every row)."""
    if not ddl:
        return
    conn = db.connection()
    say(f"rebuilding {len(ddl)} indexes and constraints")
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
    conn.exec_driver_sql("SET LOCAL max_parallel_maintenance_workers = 2")
    for statement in ddl:
        conn.exec_driver_sql(statement)


def _analyze(db: Session, tables: list[str]) -> None:
    """Fresh planner statistics for the tables a large import wrote (PostgreSQL).

    A rebuilt index tells the planner how many rows the table holds but not how
    they are spread; without ``ANALYZE`` (until autovacuum comes by) it plans the
    graph walks as if the columns were uniform, and a walk of the ancestry of a
    long chain could run for minutes. ``ANALYZE`` counts the transaction's own rows.
    """
    conn = db.connection()
    for table in tables:
        conn.exec_driver_sql(f'ANALYZE "{table}"')


_SEARCH_WORKS = """
INSERT INTO search_entries
    (entity, entity_id, kind, ref, media_kind, title, byline, body, listed, remixes,
     open_until, created_at)
SELECT 'work', w.id, w.kind, w.public_id, w.media_kind, left(w.title, 300),
       left(coalesce(o.byline, ''), 300),
       concat_ws(' · ', nullif(w.description, ''), nullif(o.byline, ''), c.credits),
       w.visibility = 'public' AND NOT (w.kind = 'production'
                                        AND w.status IN ('draft', 'cancelled')),
       coalesce(r.remixes, 0), NULL, w.created_at
FROM works w
LEFT JOIN (
    SELECT wo.work_id, string_agg(cr.display_name, ', ' ORDER BY cr.display_name) AS byline
    FROM work_owners wo JOIN creators cr ON cr.id = wo.creator_id
    WHERE wo.work_id BETWEEN :low AND :high AND wo.work_id = ANY(:ids)
    GROUP BY wo.work_id
) o ON o.work_id = w.id
LEFT JOIN (
    SELECT work_id, string_agg(name || ' (' || role || ')', '; ' ORDER BY position) AS credits
    FROM credits
    WHERE work_id BETWEEN :low AND :high AND work_id = ANY(:ids) AND removed_at IS NULL
    GROUP BY work_id
) c ON c.work_id = w.id
LEFT JOIN (
    SELECT source_id, count(*) AS remixes FROM citations
    WHERE source_id BETWEEN :low AND :high AND source_id = ANY(:ids)
    GROUP BY source_id
) r ON r.source_id = w.id
WHERE w.id = ANY(:ids)
"""

_SEARCH_CREATORS = """
INSERT INTO search_entries
    (entity, entity_id, kind, ref, media_kind, title, byline, body, listed, remixes,
     open_until, created_at)
SELECT 'creator', id, 'creator', handle, NULL, left(display_name, 300), '@' || handle, handle,
       true, 0, NULL, created_at
FROM creators WHERE id = ANY(:ids)
"""

_SEARCH_CHUNK = 1_000_000


def _index_for_search(
    db: Session, *, works: list[int], creators: list[int], cited: list[int]
) -> None:
    """Search entries of the new works and creators; stored works cited get their remixes.

    On PostgreSQL the new rows are written set-based; the entries are those
    :func:`hitrack.services.search.reindex` writes (the import gives its works
    no description, tags or media), which SQLite, and the cited stored works, go through.
    """
    conn = db.connection()
    if conn.dialect.name != "postgresql":
        search.reindex(conn, works=[*works, *cited], creators=creators)
        return
    for i in range(0, len(works), _SEARCH_CHUNK):
        chunk = sorted(works[i : i + _SEARCH_CHUNK])
        conn.execute(sql(_SEARCH_WORKS), {"ids": chunk, "low": chunk[0], "high": chunk[-1]})
    for i in range(0, len(creators), _SEARCH_CHUNK):
        conn.execute(sql(_SEARCH_CREATORS), {"ids": creators[i : i + _SEARCH_CHUNK]})
    search.reindex(conn, works=cited)
