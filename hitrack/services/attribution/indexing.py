"""Indexing a manifest: each record's signature parts, computed once, stored, stacked per model."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hitrack.attribution import (
    ManifestIndex,
    Signals,
    default_signals,
)
from hitrack.db.models import (
    AttributionSignature,
    Citation,
    Work,
)
from hitrack.domain.errors import (
    HitrackError,
    InvalidInput,
)
from hitrack.services.unit_of_work import discard, read_only, unit_of_work
from hitrack.storage import MediaStorage

logger = logging.getLogger(__name__)

#: The largest record media read for a signature (larger records are marked failed).
MAX_RECORD_BYTES = 512 * 1024 * 1024
_BATCH = 50
_CACHED_INDEXES = 8

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IndexResult:
    """What an index run did: records looked at, signatures computed, failures."""

    records: int
    computed: int
    failed: int


def _manifest_media(db: Session, model_id: int) -> list[tuple[int, str, str]]:
    """(work id, media kind, media key) of the manifest's records that have media."""
    rows = db.execute(
        select(Work.id, Work.media_kind, Work.media_key)
        .join(Citation, Citation.source_id == Work.id)
        .where(Citation.work_id == model_id, Work.media_key.is_not(None))
        .order_by(Work.id)
    ).all()
    return [(r[0], r[1] or "", r[2] or "") for r in rows]


def _stored_parts(db: Session, model_id: int) -> set[tuple[int, str, str]]:
    rows = db.execute(
        select(
            AttributionSignature.work_id, AttributionSignature.part, AttributionSignature.version
        )
        .join(Citation, Citation.source_id == AttributionSignature.work_id)
        .where(Citation.work_id == model_id)
    ).all()
    return {(r[0], r[1], r[2]) for r in rows}


def _read(storage: MediaStorage, key: str) -> bytes:
    with storage.open(key) as file:
        data = file.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidInput(f"the media is larger than {MAX_RECORD_BYTES} bytes")
    return data


def index_manifest(
    db: Session,
    storage: MediaStorage,
    model_id: int,
    *,
    signals: Signals | None = None,
    progress: Progress | None = None,
) -> IndexResult:
    """Compute and store the signatures the manifest of model ``model_id`` still lacks.

    Idempotent: a record that already has a signature part at the current
    version (stored by this model or any other) is skipped, so running it again,
    or after a killed run, only does what is left. Media a signal cannot read is
    stored as a ``failed`` part with the reason. Commits every few records;
    ``progress(done, total)`` is called after each record.
    """
    signals = signals or default_signals()
    with read_only(db):  # nothing is held open while media is read and signatures computed
        records = _manifest_media(db, model_id)
        stored = _stored_parts(db, model_id)
    computed = failed = 0
    pending: list[AttributionSignature] = []
    for done, (work_id, kind, key) in enumerate(records, start=1):
        missing = [
            part
            for part, version in signals.parts(kind).items()
            if (work_id, part, version) not in stored
        ]
        if missing:
            versions = signals.parts(kind)
            try:
                found = signals.signatures(kind, _read(storage, key), missing)
                pending += [
                    AttributionSignature(
                        work_id=work_id, part=p, version=versions[p], status="ok", data=data
                    )
                    for p, data in found.items()
                ]
                computed += len(found)
            except (HitrackError, OSError) as error:
                message = error.message if isinstance(error, HitrackError) else str(error)
                pending += [
                    AttributionSignature(
                        work_id=work_id, part=p, version=versions[p], status="failed", error=message
                    )
                    for p in missing
                ]
                failed += len(missing)
        if len(pending) >= _BATCH or (done == len(records) and pending):
            _store(db, pending)
            pending = []
        if progress is not None:
            progress(done, len(records))
    return IndexResult(len(records), computed, failed)


def _store(db: Session, rows: list[AttributionSignature]) -> None:
    try:
        with unit_of_work(db):
            db.add_all(rows)
    except IntegrityError:
        # Another run stored some of them meanwhile: keep each one that is still missing.
        for row in rows:
            try:
                with unit_of_work(db):
                    db.add(
                        AttributionSignature(
                            work_id=row.work_id,
                            part=row.part,
                            version=row.version,
                            status=row.status,
                            data=row.data,
                            error=row.error,
                        )
                    )
            except IntegrityError:
                pass


def index_after_registration(db: Session, storage: MediaStorage, model: Work) -> None:
    """Index a newly registered version's manifest, inline until a job queue runs it.

    The registration is already committed; a failure here is logged and the
    index completes when the first output is submitted.
    """
    try:
        index_manifest(db, storage, model.id)
    except Exception:
        discard(db)
        logger.exception(
            "indexing the manifest of %s failed; it resumes on first use", model.public_id
        )


_cache: OrderedDict[tuple[object, ...], ManifestIndex] = OrderedDict()
_cache_lock = threading.Lock()


def manifest_index(db: Session, model: Work, kind: str, signals: Signals) -> ManifestIndex:
    parts = signals.parts(kind)
    wanted = or_(
        *(
            and_(AttributionSignature.part == part, AttributionSignature.version == version)
            for part, version in parts.items()
        )
    )
    base = (
        select(AttributionSignature.id)
        .join(Citation, Citation.source_id == AttributionSignature.work_id)
        .join(Work, Work.id == AttributionSignature.work_id)
        .where(
            Citation.work_id == model.id,
            Work.media_kind == kind,
            AttributionSignature.status == "ok",
            wanted,
        )
    )
    stored = base.subquery()
    count, newest = db.execute(select(func.count(), func.max(stored.c.id))).one()
    key = (model.public_id, kind, id(signals), tuple(sorted(parts.items())), count, newest)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    rows: dict[str, dict[str, bytes]] = defaultdict(dict)
    for public_id, part, data in db.execute(
        select(Work.public_id, AttributionSignature.part, AttributionSignature.data)
        .join(Citation, Citation.source_id == AttributionSignature.work_id)
        .join(Work, Work.id == AttributionSignature.work_id)
        .where(
            Citation.work_id == model.id,
            Work.media_kind == kind,
            AttributionSignature.status == "ok",
            wanted,
        )
    ):
        if data is not None:
            rows[public_id][part] = data
    index = signals.build(kind, rows)
    with _cache_lock:
        _cache[key] = index
        while len(_cache) > _CACHED_INDEXES:
            _cache.popitem(last=False)
    return index


def index_is_complete(db: Session, model: Work, kind: str, signals: Signals) -> bool:
    records = db.scalar(
        select(func.count())
        .select_from(Work)
        .join(Citation, Citation.source_id == Work.id)
        .where(Citation.work_id == model.id, Work.media_kind == kind, Work.media_key.is_not(None))
    )
    for part, version in signals.parts(kind).items():
        done = db.scalar(
            select(func.count())
            .select_from(AttributionSignature)
            .join(Citation, Citation.source_id == AttributionSignature.work_id)
            .join(Work, Work.id == AttributionSignature.work_id)
            .where(
                Citation.work_id == model.id,
                Work.media_kind == kind,
                AttributionSignature.part == part,
                AttributionSignature.version == version,
            )
        )
        if done != records:
            return False
    return True
