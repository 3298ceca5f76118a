"""A model's training manifest uploaded as a file, checked as a job, registered in bulk.

A manifest of a million works does not fit a JSON request body, and checking
it row by row would take hours. So the operator uploads a file (CSV or JSON
lines, one training work per row) and :func:`submit_manifest` stores it and
queues a ``model_manifest`` job. The job reads the file as a stream, looks its
rows up a chunk at a time (a few queries per 50,000 rows), and refuses the
whole manifest, naming every refused row, when any row is

* malformed (no key, a bad weight, not CSV / JSON),
* unknown (no record with that id, or no visible record with that SHA-256),
* listed twice,
* not a record, or a record whose owners have not consented to AI training,
* a record with a subject who has not consented to AI training (likeness).

Only when every row passes is anything stored: a new version of the model
whose citations are the manifest (shares ``(1 - retained) * w / sum(w)``,
exactly, as :func:`hitrack.services.ai_models.manifest_shares`), written with
bulk inserts in one transaction.

File formats, one row per training work (``weight`` optional, default 1)::

    record,weight            {"record": "rec_ab12", "weight": "2"}
    rec_ab12,2               {"sha256": "9f86d0...", "weight": 1}
    sha256:9f86d0...,1
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import IO, Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from hitrack.db.bulk import insert_rows, lookup
from hitrack.db.models import (
    Citation,
    Creator,
    Job,
    RecordSubject,
    SearchEntry,
    Work,
    WorkOwner,
)
from hitrack.domain.errors import Conflict, HitrackError, InvalidInput, PermissionDenied
from hitrack.domain.shares import format_share, parse_share
from hitrack.jobs.base import JobQueue
from hitrack.services import follows, jobs
from hitrack.services.ai_models import HASH_PATTERN, get_model
from hitrack.services.graph import bump_graph_version, lock_graph
from hitrack.services.records import clean_text, new_public_id
from hitrack.services.unit_of_work import discard, on_rollback, unit_of_work
from hitrack.storage import MediaStorage

__all__ = [
    "KIND",
    "CHUNK",
    "MAX_NAMED",
    "ManifestRefused",
    "ManifestRow",
    "submit_manifest",
    "read_rows",
    "register_manifest",
]

KIND = "model_manifest"
CHUNK = 50_000
"""Rows looked up per round of queries."""
SEARCH_CHUNK = 500
"""Cited works whose search entries are re-counted per statement on SQLite."""
MAX_NAMED = 1_000
"""Refused rows named one by one in the job's error; beyond it only their number."""
_STORAGE_PREFIX = "manifests"
_INT64 = 2**63 - 1


class ManifestRefused(InvalidInput):
    """Some rows were refused: ``rows`` holds ``(row number, reason)``; nothing was stored."""

    def __init__(self, rows: list[tuple[int, str]], total: int) -> None:
        lines = "\n".join(f"row {n}: {reason}" for n, reason in rows)
        more = f"\n... and {total - len(rows)} more" if total > len(rows) else ""
        super().__init__(f"{total} manifest row(s) refused; nothing registered:\n{lines}{more}")
        self.rows = rows
        self.total = total


@dataclass(frozen=True)
class ManifestRow:
    """One row as read: its number (1-based, header included), key and weight, or the
    reason it is malformed."""

    number: int
    key: str = ""
    weight: Fraction = Fraction(1)
    problem: str = ""


def _weight(raw: object) -> Fraction | str:
    if raw is None or raw == "":
        return Fraction(1)
    if isinstance(raw, float):
        raw = Decimal(repr(raw))
    try:
        weight = parse_share(raw)  # type: ignore[arg-type]
    except HitrackError as error:
        return str(error)
    if weight <= 0:
        return f"weight must be positive, got {format_share(weight)}"
    if weight.numerator > _INT64 or weight.denominator > _INT64:
        return "weight has too many digits"
    return weight


def _row(number: int, key: object, weight: object) -> ManifestRow:
    if not isinstance(key, str) or not key.strip():
        return ManifestRow(number, problem="no record id or sha256")
    key = key.strip()
    if len(key) > 71 or "\x00" in key:
        return ManifestRow(number, problem="not a record id or sha256")
    parsed = _weight(weight)
    if isinstance(parsed, str):
        return ManifestRow(number, key, problem=f"{key}: {parsed}")
    return ManifestRow(number, key, parsed)


_HEADER_KEYS = ("record", "id", "work", "sha256", "digest", "key")


def read_rows(stream: IO[bytes]) -> Iterator[ManifestRow]:
    """The rows of a manifest file (CSV or JSON lines), one at a time."""
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
    try:
        first = text.readline()
    except UnicodeDecodeError:
        yield ManifestRow(1, problem="the file is not UTF-8 text")
        return
    if first.lstrip().startswith("{"):
        yield from _json_lines(first, text)
    else:
        yield from _csv_rows(first, text)


def _json_lines(first: str, text: io.TextIOWrapper) -> Iterator[ManifestRow]:
    def lines() -> Iterator[str]:
        yield first
        yield from text

    for number, line in enumerate(lines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError):
            yield ManifestRow(number, problem="not a JSON object")
            continue
        if not isinstance(item, dict):
            yield ManifestRow(number, problem="not a JSON object")
            continue
        key = item.get("record", item.get("sha256", item.get("id")))
        yield _row(number, key, item.get("weight"))


def _csv_rows(first: str, text: io.TextIOWrapper) -> Iterator[ManifestRow]:
    def lines() -> Iterator[str]:
        yield first
        yield from text

    reader = csv.reader(lines())
    try:
        for row in reader:
            number = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if number == 1 and row[0].strip().lower() in _HEADER_KEYS:
                continue
            if len(row) > 2:
                yield ManifestRow(number, problem="expected a record id or sha256 and a weight")
                continue
            yield _row(number, row[0], row[1] if len(row) == 2 else None)
    except (csv.Error, UnicodeDecodeError) as error:
        yield ManifestRow(reader.line_num, problem=f"malformed CSV: {error}")


@dataclass
class _Checked:
    refused: list[tuple[int, str]]
    refused_total: int
    work_ids: array[int]
    weight_num: list[int]
    weight_den: list[int]

    def refuse(self, number: int, reason: str) -> None:
        self.refused_total += 1
        if len(self.refused) < MAX_NAMED:
            self.refused.append((number, reason))


def _check_chunk(
    db: Session,
    actor: Creator,
    model_id: str,
    rows: list[ManifestRow],
    out: _Checked,
    seen: dict[int, int],
) -> None:
    """Look a chunk up in a few queries and refuse what must be refused."""
    ids = {r.key for r in rows if not r.problem and not HASH_PATTERN.fullmatch(r.key)}
    digests = {
        m.group(1).lower() for r in rows if not r.problem and (m := HASH_PATTERN.fullmatch(r.key))
    }
    cols = (Work.id, Work.kind, Work.consent_ai_training, Work.visibility, Work.title)
    by_id = {row[0]: row[1:] for row in lookup(db, Work.public_id, ids, *cols)}
    by_digest: dict[str, tuple[Any, ...]] = {}
    for digest, *rest in sorted(
        lookup(db, Work.media_sha256, digests, *cols, Work.created_at, Work.public_id),
        key=lambda r: (r[6], r[1]),
    ):
        if rest[1] == "record":
            by_digest.setdefault(digest, (*rest[:5], rest[6]))
    found = [v[0] for v in by_id.values()] + [v[0] for v in by_digest.values()]
    private = {v[0] for v in [*by_id.values(), *by_digest.values()] if v[3] != "public"}
    owned = (
        {
            work_id
            for work_id, creator_id in lookup(db, WorkOwner.work_id, private, WorkOwner.creator_id)
            if creator_id == actor.id
        }
        if private and not actor.is_admin
        else set()
    )
    waiting: dict[int, list[str]] = {}
    for work_id, name, consent in lookup(
        db,
        RecordSubject.work_id,
        found,
        RecordSubject.name,
        RecordSubject.consent_ai_training,
    ):
        if consent is not True:
            state = "refused" if consent is False else "not answered"
            waiting.setdefault(work_id, []).append(f"{name}: {state}")
    for row in rows:
        if row.problem:
            out.refuse(row.number, row.problem)
            continue
        match = HASH_PATTERN.fullmatch(row.key)
        if match:
            hit = by_digest.get(match.group(1).lower())
            public_id = hit[5] if hit else ""
        else:
            hit, public_id = by_id.get(row.key), row.key
        visible = hit is not None and (hit[3] == "public" or actor.is_admin or hit[0] in owned)
        if hit is None or not visible:
            what = "no record has the sha256" if match else "unknown record"
            out.refuse(row.number, f"{what} {row.key}")
            continue
        work_id, kind, consent, _visibility, title = hit[:5]
        if kind != "record":
            out.refuse(row.number, f"{public_id} is a {kind}: a model trains on records only")
        elif not consent:
            out.refuse(
                row.number,
                f"{public_id} ({title}): its owners have not consented to AI training",
            )
        elif work_id in waiting:
            out.refuse(
                row.number,
                f"{public_id} ({title}): its subjects have not all consented to AI training "
                f"({', '.join(waiting[work_id])})",
            )
        elif work_id in seen:
            out.refuse(row.number, f"{public_id} is listed twice (first on row {seen[work_id]})")
        else:
            seen[work_id] = row.number
            out.work_ids.append(work_id)
            out.weight_num.append(row.weight.numerator)
            out.weight_den.append(row.weight.denominator)


def _family(db: Session, actor: Creator, model_id: str, version: str) -> Work:
    earlier = get_model(db, actor, model_id)
    if not earlier.is_owned_by(actor.id):
        raise PermissionDenied(
            f"only the operator of {earlier.public_id} may register versions",
            ids=(earlier.public_id,),
        )
    root = earlier.family_id or earlier.id
    taken = db.scalar(
        select(Work.id).where((Work.id == root) | (Work.family_id == root), Work.version == version)
    )
    if taken is not None:
        raise Conflict(f"version {version} of this model is already registered")
    return earlier


def _fraction(raw: object, what: str) -> str:
    value = parse_share("0" if raw in (None, "") else raw, what=what)  # type: ignore[arg-type]
    if not 0 <= value <= 1:
        raise InvalidInput(f"{what} {format_share(value)} is outside [0, 1]")
    return format_share(value)


def submit_manifest(
    db: Session,
    queue: JobQueue,
    storage: MediaStorage,
    actor: Creator,
    model_id: object,
    stream: IO[bytes],
    *,
    version: object,
    retained: object = "0",
    attribution_weight: object = None,
    max_bytes: int,
) -> Job:
    """Store the manifest file and queue the job that checks and registers it as a new version."""
    with unit_of_work(db):
        version_s = clean_text(version, "version", max_length=40)
        earlier = _family(db, actor, str(model_id), version_s)
        params = {
            "model": earlier.public_id,
            "version": version_s,
            "retained": _fraction(retained, "retained share"),
            "attribution_weight": _fraction(
                format_share(earlier.attribution_weight)
                if attribution_weight in (None, "")
                else attribution_weight,
                "attribution_weight",
            ),
        }
        if params["retained"] == "1":
            raise InvalidInput("a retained share of 1 leaves nothing for the training manifest")
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        if size == 0:
            raise InvalidInput("the manifest file is empty")
        if size > max_bytes:
            raise InvalidInput(f"the manifest file is larger than {max_bytes} bytes")
        key = f"{_STORAGE_PREFIX}/{secrets.token_hex(16)}"
        storage.put(key, stream, size=size, content_type="text/plain")
        on_rollback(db, lambda: storage.delete(key))
        return jobs.submit(db, queue, KIND, {**params, "key": key}, actor=actor)


def register_manifest(
    db: Session,
    actor: Creator,
    stream: IO[bytes],
    params: Mapping[str, Any],
    *,
    progress: jobs.JobContext | None = None,
) -> dict[str, Any]:
    """Check every row of the manifest in ``stream``; register the version if all pass."""
    checked = _Checked([], 0, array("q"), [], [])
    seen: dict[int, int] = {}
    rows: list[ManifestRow] = []
    done = 0
    model_id = str(params["model"])
    for row in read_rows(stream):
        rows.append(row)
        if len(rows) == CHUNK:
            _check_chunk(db, actor, model_id, rows, checked, seen)
            done += len(rows)
            rows = []
            discard(db)  # end the read snapshot between chunks
            if progress is not None:
                progress.progress(done, None, "checking rows")
    if rows:
        _check_chunk(db, actor, model_id, rows, checked, seen)
        done += len(rows)
    discard(db)
    if checked.refused_total:
        raise ManifestRefused(checked.refused, checked.refused_total)
    if not checked.work_ids:
        raise InvalidInput("the manifest lists no record")
    if progress is not None:
        progress.progress(done, done, "registering")
    retained = parse_share(params["retained"])
    at = datetime.now(UTC)
    with unit_of_work(db):
        lock_graph(db)
        earlier = _family(db, actor, model_id, str(params["version"]))
        model = Work(
            public_id=new_public_id("model"),
            kind="model",
            status="active",
            title=earlier.title,
            description=earlier.description,
            created_by_id=actor.id,
            created_at=at,
            version=str(params["version"]),
            family_id=earlier.family_id or earlier.id,
        )
        model.attribution_weight = parse_share(params["attribution_weight"])
        model.owners.append(WorkOwner(creator_id=actor.id, fraction=Fraction(1)))
        db.add(model)
        db.flush()
        version = bump_graph_version(db)
        total = sum(
            (Fraction(n, d) for n, d in zip(checked.weight_num, checked.weight_den, strict=True)),
            Fraction(0),
        )
        scale = (1 - retained) / total

        def citations() -> Iterator[tuple[Any, ...]]:
            for work_id, n, d in zip(
                checked.work_ids, checked.weight_num, checked.weight_den, strict=True
            ):
                share = scale * n / d
                if share.numerator > _INT64 or share.denominator > _INT64:
                    raise InvalidInput(
                        "the manifest's weights make shares too precise to store; "
                        "use simpler weights"
                    )
                yield (
                    model.id,
                    work_id,
                    share.numerator,
                    share.denominator,
                    "training data",
                    at,
                    actor.id,
                    version,
                )

        insert_rows(
            db,
            Citation.__table__,
            (
                "work_id",
                "source_id",
                "share_num",
                "share_den",
                "credit_role",
                "created_at",
                "created_by_id",
                "graph_version",
            ),
            citations(),
        )
        _remixes_changed(db, checked.work_ids)
        follows.citations_happened(db, model, checked.work_ids)
        public_id = model.public_id
    return {
        "model": public_id,
        "version": str(params["version"]),
        "records": len(checked.work_ids),
        "summary": f"registered {public_id} (version {params['version']}) "
        f"trained on {len(checked.work_ids)} records",
    }


_RECOUNT = text(
    "UPDATE search_entries SET remixes = c.n "
    "FROM (SELECT source_id, count(*) AS n FROM citations "
    "WHERE source_id = ANY(:ids) GROUP BY source_id) AS c "
    "WHERE search_entries.entity = 'work' AND search_entries.entity_id = c.source_id"
)


def _remixes_changed(db: Session, work_ids: array[int]) -> None:
    """Re-count the remixes in the search entries of the works the manifest cites.

    Its citations are written with COPY, which the search index's flush
    listener never sees; only the count of remixes of a cited work changes.
    PostgreSQL gets one join per :data:`CHUNK` works (an array parameter);
    SQLite a correlated count per entry, :data:`SEARCH_CHUNK` at a time.
    """
    ids = sorted(work_ids)
    if db.get_bind().dialect.name == "postgresql":
        for i in range(0, len(ids), CHUNK):
            db.execute(_RECOUNT, {"ids": ids[i : i + CHUNK]})
        return
    count = (
        select(func.count())
        .where(Citation.source_id == SearchEntry.entity_id)
        .correlate(SearchEntry)
        .scalar_subquery()
    )
    for i in range(0, len(ids), SEARCH_CHUNK):
        db.execute(
            update(SearchEntry)
            .where(
                SearchEntry.entity == "work", SearchEntry.entity_id.in_(ids[i : i + SEARCH_CHUNK])
            )
            .values(remixes=count)
            .execution_options(synchronize_session=False)
        )


@jobs.job_kind(KIND)
def model_manifest_job(ctx: jobs.JobContext) -> Mapping[str, Any]:
    """Check the stored manifest file and register it; the file is deleted once registered."""
    assert ctx.resources is not None, "the manifest job reads the uploaded file from storage"
    storage = ctx.resources.storage()
    with ctx.sessions() as db:
        actor = db.get(Creator, ctx.created_by_id)
        if actor is None:
            raise PermissionDenied("the manifest's uploader no longer exists")
        with storage.open(str(ctx.params["key"])) as stream:
            result = register_manifest(db, actor, stream, ctx.params, progress=ctx)
    storage.delete(str(ctx.params["key"]))
    return result
