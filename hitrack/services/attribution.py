"""Attribution use cases: index a manifest, score an output, report it, feed revenue.

- :func:`index_manifest` computes the signatures a model's manifest records
  lack (each record once, reused by every model that trains on it) and stores
  them; it is idempotent, reports progress, and is what a job runs. Until
  there is a job queue it runs inline right after a model version is
  registered (:func:`index_after_registration`, called from
  :mod:`hitrack.services.ai_models`).
- :func:`submit_output` lets a model's operator submit an output (a text, a
  file, or their own scores); the platform keeps the confident matches and
  stores the output with its exact vector (integers summing to 10^6).
- :func:`output_vector` is the one way a revenue event naming an output gets
  its attribution (:mod:`hitrack.services.revenue`).
- :func:`output_report` is the attribution report: matched works, scores,
  signals and what the output's revenue paid through each. The model's
  operator, admins and the owners of a matched work may read it.

A manifest's signatures are stacked into one in-memory index per media kind,
loaded once per process and cached under the state of its signatures (their
count and newest id): a finished index job, or a new signal version, makes a
new entry.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hitrack.attribution import (
    VECTOR_TOTAL,
    ManifestIndex,
    Match,
    Signals,
    attribution_vector,
    default_signals,
    operator_scores,
)
from hitrack.attribution.index import decode_text
from hitrack.attribution.vector import score_weight
from hitrack.db.models import (
    AttributionMatch,
    AttributionOutput,
    AttributionSignature,
    Citation,
    Creator,
    RevenueEvent,
    Work,
    WorkOwner,
)
from hitrack.domain.credit import blended_shares
from hitrack.domain.errors import (
    HitrackError,
    InvalidEvent,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hitrack.services.ai_models import get_model
from hitrack.services.records import new_public_id
from hitrack.services.unit_of_work import unit_of_work
from hitrack.storage import MediaStorage
from hitrack.storage.sniff import TEXT_PLAIN, sniff

__all__ = [
    "MAX_OUTPUT_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_TEXT_CHARS",
    "IndexResult",
    "MatchCount",
    "OutputReport",
    "OutputSubmission",
    "ReportLine",
    "index_after_registration",
    "index_manifest",
    "matched_in",
    "matches_for_creator",
    "output_report",
    "output_vector",
    "outputs_of_model",
    "read_output_upload",
    "submit_output",
]

logger = logging.getLogger(__name__)

#: The longest output text accepted, in characters (about 15,000 words).
MAX_TEXT_CHARS = 100_000
#: The largest output file accepted.
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
#: The largest record media read for a signature (larger records are marked failed).
MAX_RECORD_BYTES = 512 * 1024 * 1024
_EXCERPT = 2000
_BATCH = 50
_CACHED_INDEXES = 8

Progress = Callable[[int, int], None]


# --- index -------------------------------------------------------------------------


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
    records = _manifest_media(db, model_id)
    stored = _stored_parts(db, model_id)
    db.rollback()  # nothing is held open while media is read and signatures computed
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
        db.rollback()
        logger.exception(
            "indexing the manifest of %s failed; it resumes on first use", model.public_id
        )


_cache: OrderedDict[tuple[object, ...], ManifestIndex] = OrderedDict()
_cache_lock = threading.Lock()


def _manifest_index(db: Session, model: Work, kind: str, signals: Signals) -> ManifestIndex:
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


def _index_is_complete(db: Session, model: Work, kind: str, signals: Signals) -> bool:
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


# --- outputs -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSubmission:
    """An output to attribute: exactly one of a text, a file's bytes, or operator scores."""

    text: object = None
    content: bytes | None = None
    filename: str = ""
    scores: object = None


def read_output_upload(stream: object) -> bytes:
    """An uploaded output file's bytes, refusing more than :data:`MAX_OUTPUT_BYTES`."""
    read = getattr(stream, "read", None)
    if read is None:
        raise InvalidInput("file: attach the output as multipart field 'file'")
    data: bytes = read(MAX_OUTPUT_BYTES + 1)
    if len(data) > MAX_OUTPUT_BYTES:
        raise InvalidInput(f"file: an output file may be at most {MAX_OUTPUT_BYTES} bytes")
    return data


@dataclass(frozen=True)
class _Content:
    kind: str
    payload: bytes | str
    content_type: str
    sha256: str
    size: int
    excerpt: str


def _content(submission: OutputSubmission) -> _Content:
    if submission.content is not None:
        data = submission.content
        if not data:
            raise InvalidInput("file: the output file is empty")
        if len(data) > MAX_OUTPUT_BYTES:
            raise InvalidInput(f"file: an output file may be at most {MAX_OUTPUT_BYTES} bytes")
        sniffed = sniff(data[:8192])
        if sniffed is None:
            raise InvalidInput(
                "file: not a type hitrack accepts (audio, video, image or UTF-8 text)"
            )
        content_type, kind = sniffed
        digest = hashlib.sha256(data).hexdigest()
        if kind == "text":
            text = _checked_text(decode_text(data))
            return _Content("text", text, content_type, digest, len(data), text[:_EXCERPT])
        return _Content(kind, data, content_type, digest, len(data), "")
    text = _checked_text(submission.text)
    raw = text.encode()
    return _Content(
        "text", text, TEXT_PLAIN, hashlib.sha256(raw).hexdigest(), len(raw), text[:_EXCERPT]
    )


def _checked_text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("text: expected a string")
    text = value.strip()
    if not text:
        raise InvalidInput("text: the output text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(
            f"text: an output may be at most {MAX_TEXT_CHARS} characters, this one has {len(text)}"
        )
    return text


def _manifest_kinds(db: Session, model: Work) -> dict[str, str]:
    """Record public id -> media kind, for the manifest of ``model``."""
    rows = db.execute(
        select(Work.public_id, Work.media_kind)
        .join(Citation, Citation.source_id == Work.id)
        .where(Citation.work_id == model.id)
    ).all()
    return {r[0]: r[1] or "" for r in rows}


def _operated_model(db: Session, actor: Creator, model_id: object) -> Work:
    model = get_model(db, actor, model_id)
    if not model.is_owned_by(actor.id):
        raise PermissionDenied(
            f"only the operator of {model.public_id} may submit its outputs", ids=(model.public_id,)
        )
    return model


def submit_output(
    db: Session,
    storage: MediaStorage,
    actor: Creator,
    model_id: object,
    submission: OutputSubmission,
    *,
    signals: Signals | None = None,
) -> AttributionOutput:
    """Score an output of the actor's model against its manifest and store it with its vector.

    Raises PermissionDenied (not the operator), NotFound, or InvalidInput (not
    exactly one of text/file/scores; empty or too long text; a file type the
    manifest has no record of, or no signal reads; scores outside the manifest,
    all zero or not finite). Nothing is stored then.
    """
    signals = signals or default_signals()
    model = _operated_model(db, actor, model_id)
    given = [
        name
        for name, value in (
            ("text", submission.text),
            ("file", submission.content),
            ("scores", submission.scores),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise InvalidInput("give exactly one of text, file or scores")
    manifest = _manifest_kinds(db, model)
    if submission.scores is not None:
        scores = operator_scores(submission.scores, manifest)
        vector = attribution_vector(scores)
        matches = [
            Match(key, float(score), "operator") for key, score in scores.items() if score > 0
        ]
        matches.sort(key=lambda m: (-m.score, m.key))
        output = AttributionOutput(
            kind="scores", signal="operator", method="the operator's own scores", threshold=None
        )
    else:
        content = _content(submission)
        reason = signals.unavailable(content.kind)
        if reason:
            raise InvalidInput(f"{content.kind} output: {reason}")
        if content.kind not in manifest.values():
            raise InvalidInput(
                f"the manifest of {model.public_id} has no {content.kind} records, so a "
                f"{content.kind} output ({content.content_type}) cannot be attributed to it",
                ids=(model.public_id,),
            )
        if not _index_is_complete(db, model, content.kind, signals):
            index_manifest(db, storage, model.id, signals=signals)
        index = _manifest_index(db, model, content.kind, signals)
        matches = index.matches(content.payload)
        vector = attribution_vector({m.key: score_weight(m.score) for m in matches})
        output = AttributionOutput(
            kind=content.kind,
            signal=index.signal,
            method=signals.method(content.kind),
            threshold=index.threshold,
            content_type=content.content_type,
            content_sha256=content.sha256,
            content_size=content.size,
            excerpt=content.excerpt,
        )
    ids = dict(
        db.execute(
            select(Work.public_id, Work.id).where(Work.public_id.in_([m.key for m in matches]))
        ).all()
    )
    with unit_of_work(db):
        output.public_id = new_public_id("output")
        output.model_id = model.id
        output.created_by_id = actor.id
        db.add(output)
        db.flush()
        db.add_all(
            AttributionMatch(
                output_id=output.id,
                work_id=ids[m.key],
                score=m.score,
                signal=m.signal,
                share=vector.get(m.key, 0),
            )
            for m in matches
        )
    return output


def output_vector(db: Session, model: Work, output_id: object) -> dict[str, Fraction] | None:
    """The attribution a revenue event of ``model`` takes from the output it names.

    None when the output had no confident match (the manifest shares then apply
    alone). Raises InvalidEvent for an unknown output or one of another model.
    """
    if not isinstance(output_id, str) or not output_id.strip():
        raise InvalidEvent("output: expected an output id")
    output = db.scalar(select(AttributionOutput).where(AttributionOutput.public_id == output_id))
    if output is None:
        raise InvalidEvent(f"output {output_id} not found", ids=(output_id,))
    if model.kind != "model" or output.model_id != model.id:
        raise InvalidEvent(
            f"output {output_id} is an output of another model, not of {model.public_id}",
            ids=(output_id, model.public_id),
        )
    rows = db.execute(
        select(Work.public_id, AttributionMatch.share)
        .join(Work, Work.id == AttributionMatch.work_id)
        .where(AttributionMatch.output_id == output.id, AttributionMatch.share > 0)
    ).all()
    return {r[0]: Fraction(r[1]) for r in rows} or None


# --- reports -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    """A matched work: score, signal, its part of the vector and what it was paid, per currency.

    ``paid[currency]`` is the exact value the output's revenue passed to the
    work (the blended share of DESIGN section 3 step 5), ``by_attribution`` the
    part of it that came through the vector.
    """

    work: Work
    score: float
    signal: str
    share: int
    paid: dict[str, Fraction]
    by_attribution: dict[str, Fraction]

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.share, VECTOR_TOTAL)


@dataclass(frozen=True)
class OutputReport:
    output: AttributionOutput
    model: Work
    lines: list[ReportLine]
    events: dict[str, int]  # currency -> number of revenue events naming the output
    distributable: dict[str, int]  # currency -> what those events brought into the model
    attribution_weight: Fraction
    viewer_is_operator: bool = False
    viewer_works: set[int] = field(default_factory=set)

    @property
    def attributes(self) -> bool:
        return any(line.share for line in self.lines)


def _manifest_total(db: Session, model_id: int) -> Fraction:
    rows = db.execute(
        select(Citation.share_num, Citation.share_den).where(Citation.work_id == model_id)
    ).all()
    return sum((Fraction(n, d) for n, d in rows), Fraction(0))


def output_report(db: Session, viewer: Creator | None, output_id: object) -> OutputReport:
    """The attribution report of an output, for its model's operator, admins and matched owners."""
    output = db.scalar(
        select(AttributionOutput)
        .where(AttributionOutput.public_id == str(output_id))
        .options(
            selectinload(AttributionOutput.matches)
            .selectinload(AttributionMatch.work)
            .selectinload(Work.owners)
            .selectinload(WorkOwner.creator),
            selectinload(AttributionOutput.model).selectinload(Work.owners),
        )
    )
    if output is None or viewer is None:
        raise NotFound(f"output {output_id} not found", ids=(str(output_id),))
    model = output.model
    operator = model.is_owned_by(viewer.id)
    own = {m.work_id for m in output.matches if m.work.is_owned_by(viewer.id)}
    if not (viewer.is_admin or operator or own):
        raise NotFound(f"output {output_id} not found", ids=(str(output_id),))
    totals = db.execute(
        select(RevenueEvent.currency, func.count(), func.sum(RevenueEvent.distributable))
        .where(RevenueEvent.output == output.public_id)
        .group_by(RevenueEvent.currency)
        .order_by(RevenueEvent.currency)
    ).all()
    events = {r[0]: int(r[1]) for r in totals}
    distributable = {r[0]: int(r[2] or 0) for r in totals}
    weight = model.attribution_weight
    matched = {m.work.public_id: m for m in output.matches}
    shares = {
        key: Fraction(num, den)
        for key, num, den in db.execute(
            select(Work.public_id, Citation.share_num, Citation.share_den)
            .join(Work, Work.id == Citation.source_id)
            .where(Citation.work_id == model.id, Work.public_id.in_(list(matched)))
        )
    }
    vector = {key: Fraction(m.share) for key, m in matched.items() if m.share > 0} or None
    # The rest of the manifest as one entry keeps S (the manifest total) right
    # without loading every record; it has no score, so the blend is unchanged.
    rest = _manifest_total(db, model.id) - sum(shares.values(), Fraction(0))
    blended = blended_shares({**shares, "\0rest": rest}, weight, vector)
    lines = []
    for key, m in sorted(matched.items(), key=lambda kv: (-kv[1].score, kv[0])):
        paid = {c: d * blended.get(key, Fraction(0)) for c, d in distributable.items()}
        through_vector = {
            c: (paid[c] - d * (1 - weight) * shares.get(key, Fraction(0)))
            if vector is not None and weight
            else Fraction(0)
            for c, d in distributable.items()
        }
        lines.append(ReportLine(m.work, m.score, m.signal, m.share, paid, through_vector))
    return OutputReport(output, model, lines, events, distributable, weight, operator, own)


def outputs_of_model(
    db: Session, actor: Creator, model_id: object, *, limit: int = 50
) -> tuple[Work, list[AttributionOutput]]:
    """The newest outputs of a model, for its operator."""
    model = _operated_model(db, actor, model_id)
    outputs = list(
        db.scalars(
            select(AttributionOutput)
            .where(AttributionOutput.model_id == model.id)
            .order_by(AttributionOutput.created_at.desc(), AttributionOutput.id.desc())
            .limit(limit)
        )
    )
    return model, outputs


@dataclass(frozen=True)
class MatchCount:
    """``work`` was matched in ``outputs`` outputs of ``model`` (the newest is ``latest``)."""

    work: Work
    model: Work
    outputs: int
    latest: str


def _counts(db: Session, condition: object) -> list[MatchCount]:
    rows = db.execute(
        select(
            AttributionMatch.work_id,
            AttributionOutput.model_id,
            func.count(AttributionOutput.id),
            func.max(AttributionOutput.id),
        )
        .join(AttributionOutput, AttributionOutput.id == AttributionMatch.output_id)
        .where(condition)  # type: ignore[arg-type]
        .group_by(AttributionMatch.work_id, AttributionOutput.model_id)
    ).all()
    ids = {r[0] for r in rows} | {r[1] for r in rows}
    works = {w.id: w for w in db.scalars(select(Work).where(Work.id.in_(ids)))} if ids else {}
    latest = (
        dict(
            db.execute(
                select(AttributionOutput.id, AttributionOutput.public_id).where(
                    AttributionOutput.id.in_([r[3] for r in rows])
                )
            ).all()
        )
        if rows
        else {}
    )
    counts = [MatchCount(works[r[0]], works[r[1]], int(r[2]), latest[r[3]]) for r in rows]
    counts.sort(key=lambda c: (c.work.title, c.work.public_id, c.model.public_id))
    return counts


def matches_for_creator(db: Session, creator: Creator) -> list[MatchCount]:
    """For each of the creator's works and each model: in how many outputs it was matched."""
    owned = select(WorkOwner.work_id).where(WorkOwner.creator_id == creator.id)
    return _counts(db, AttributionMatch.work_id.in_(owned))


def matched_in(db: Session, viewer: Creator | None, work: Work) -> list[MatchCount]:
    """The same counts for one work, shown to its owners (empty for anyone else)."""
    if viewer is None or not work.is_owned_by(viewer.id):
        return []
    return _counts(db, AttributionMatch.work_id == work.id)
