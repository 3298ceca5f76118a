"""Submitting an output of a model: score it, keep the confident matches, store its vector."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.attribution import (
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
    Citation,
    Creator,
    Work,
)
from hitrack.domain.errors import (
    InvalidEvent,
    InvalidInput,
    PermissionDenied,
)
from hitrack.services import follows
from hitrack.services.ai_models import get_model
from hitrack.services.attribution.indexing import (
    index_is_complete,
    index_manifest,
    manifest_index,
)
from hitrack.services.records import new_public_id
from hitrack.services.unit_of_work import unit_of_work
from hitrack.storage import MediaStorage
from hitrack.storage.sniff import TEXT_PLAIN, sniff

#: The longest output text accepted, in characters (about 15,000 words).
MAX_TEXT_CHARS = 100_000
#: The largest output file accepted.
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_EXCERPT = 2000


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
        if not index_is_complete(db, model, content.kind, signals):
            index_manifest(db, storage, model.id, signals=signals)
        index = manifest_index(db, model, content.kind, signals)
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
        follows.matches_happened(db, model, output.public_id, list(ids.values()))
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
