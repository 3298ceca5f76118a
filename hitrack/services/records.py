"""Records: upload a piece of media, cite its sources, set what its owners consent to."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Citation, Creator, Work, WorkOwner
from hitrack.domain import graph as graph_rules
from hitrack.domain.errors import InvalidInput, PermissionDenied
from hitrack.services import follows, provenance
from hitrack.services.graph import (
    check_new_citations,
    lock_graph,
    visible_condition,
    visible_work,
)
from hitrack.services.media import store_thumbnail
from hitrack.services.provenance import CredentialsReader
from hitrack.services.unit_of_work import on_rollback, read_only, unit_of_work
from hitrack.storage import MediaStorage, delete_quietly, store_upload
from hitrack.storage.upload import StoredMedia

__all__ = [
    "new_public_id",
    "upload_record",
    "delete_media_on_rollback",
    "set_consent",
    "recent_works",
    "parse_flag",
    "clean_text",
]


def new_public_id(kind: str) -> str:
    """A short random id, prefixed by the kind's initial (``r``, ``p``, ``m``)."""
    return kind[0] + secrets.token_hex(5)


def parse_flag(value: object, name: str, default: bool) -> bool:
    """Booleans from JSON (true/false) or forms ("1", "true", "on", "0", "false", "off")."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"1", "true", "on", "yes"}:
        return True
    if isinstance(value, str) and value.lower() in {"0", "false", "off", "no"}:
        return False
    raise InvalidInput(f"{name}: expected true or false, not {value!r}")


def clean_text(value: object, name: str, *, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{name}: required")
    if len(value) > max_length:
        raise InvalidInput(f"{name}: at most {max_length} characters")
    return value


def upload_record(
    db: Session,
    storage: MediaStorage,
    actor: Creator,
    *,
    stream: IO[bytes],
    filename: str,
    title: object,
    description: object = "",
    consent_remix: object = None,
    consent_ai_training: object = None,
    visibility: object = "public",
    sources: Mapping[str, object] | None = None,
    max_bytes: int,
    credentials_reader: CredentialsReader | None = None,
    before_commit: Callable[[Work], None] | None = None,
) -> Work:
    """Store the media and create the record with its citations, all or nothing.

    Cheap checks (fields, graph rules) run before the media is written; if
    anything fails after the write, the stored object is deleted again. With a
    ``credentials_reader``, the file's own C2PA manifest is validated and kept
    on the record (``media_provenance``) with the works it names as proposed
    sources (:mod:`hitrack.services.provenance`). ``before_commit`` runs in the
    same transaction once the record and its citations are written (an answer
    to an open call checks its media kind and records itself there); what it
    raises undoes the whole upload.
    """
    title_s = clean_text(title, "title", max_length=200)
    description_s = clean_text(description, "description", max_length=5000, required=False)
    remix = parse_flag(consent_remix, "consent_remix", True)
    ai = parse_flag(consent_ai_training, "consent_ai_training", False)
    if visibility not in ("public", "private"):
        raise InvalidInput("visibility: public or private")
    if sources is not None and not isinstance(sources, Mapping):
        raise InvalidInput("sources: expected an object of work id -> share")
    citing = graph_rules.Work(
        id=new_public_id("record"),
        kind="record",
        owners={actor.handle: Fraction(1)},
        title=title_s,
        consent_remix=remix,
        consent_ai_training=ai,
    )
    with read_only(db):
        # Checked before the (possibly long) upload, with the graph lock
        # released while it runs; checked again once the media is in place.
        lock_graph(db)
        check_new_citations(db, actor, citing, sources or {})
    media = store_upload(storage, stream, filename=filename, max_bytes=max_bytes)
    with unit_of_work(db):
        delete_media_on_rollback(db, storage, media.key)
        thumbnail = store_thumbnail(storage, media, max_bytes=max_bytes)
        if thumbnail is not None:
            delete_media_on_rollback(db, storage, thumbnail)
        lock_graph(db)
        resolved = check_new_citations(db, actor, citing, sources or {})
        now = datetime.now(UTC)
        work = Work(
            public_id=citing.id,
            kind="record",
            title=title_s,
            description=description_s,
            visibility=visibility,
            created_by_id=actor.id,
            consent_remix=remix,
            consent_ai_training=ai,
            consent_updated_at=now,
            media_key=media.key,
            media_sha256=media.sha256,
            media_size=media.size,
            media_type=media.content_type,
            media_kind=media.media_kind,
            media_filename=media.original_filename,
            thumbnail_key=thumbnail,
        )
        if credentials_reader is not None:
            work.media_provenance = _provenance(db, storage, actor, media, credentials_reader)
        work.owners.append(WorkOwner(creator_id=actor.id, fraction=Fraction(1)))
        db.add(work)
        db.flush()
        for source, share in resolved:
            work.sources.append(Citation(source=source, share=share, created_by_id=actor.id))
        follows.citations_happened(db, work, [source.id for source, _ in resolved])
        if before_commit is not None:
            db.flush()
            before_commit(work)
    return work


def delete_media_on_rollback(db: Session, storage: MediaStorage, key: str) -> None:
    """Delete the stored media ``key`` if the unit of work that will refer to it rolls back.

    Media is stored before the row naming it is written (a row never names
    missing media); this hook removes the then orphaned object.
    """
    on_rollback(db, lambda: delete_quietly(storage, key))


def _provenance(
    db: Session,
    storage: MediaStorage,
    actor: Creator,
    media: StoredMedia,
    reader: CredentialsReader,
) -> dict[str, object] | None:
    report = provenance.read_upload(storage, media.key, media.content_type, reader)
    if report.state == "none":
        return None
    return {**report.as_json(), "proposed_sources": provenance.propose_sources(db, actor, report)}


def set_consent(
    db: Session,
    actor: Creator,
    work_id: object,
    *,
    remix: object = None,
    ai_training: object = None,
) -> Work:
    """Owners change what their record may be used for; the past is never rewritten."""
    with unit_of_work(db):
        work = visible_work(db, actor, work_id)
        if not work.is_owned_by(actor.id):
            raise PermissionDenied(
                f"only the owners of {work.public_id} may change its consent", ids=(work.public_id,)
            )
        if work.kind != "record":
            raise InvalidInput(f"{work.public_id} is a {work.kind}: consent applies to records")
        work.consent_remix = parse_flag(remix, "remix", work.consent_remix)
        work.consent_ai_training = parse_flag(ai_training, "ai_training", work.consent_ai_training)
        work.consent_updated_at = datetime.now(UTC)
    return work


def recent_works(
    db: Session, actor: Creator | None, *, kind: str | None = None, limit: int = 24
) -> list[Work]:
    """Newest works ``actor`` may see (:func:`hitrack.services.graph.can_see`), not hidden."""
    stmt = (
        select(Work)
        .where(visible_condition(actor), Work.hidden.is_(False))
        .options(selectinload(Work.owners).selectinload(WorkOwner.creator))
    )
    if kind is not None:
        stmt = stmt.where(Work.kind == kind)
    return list(db.scalars(stmt.order_by(Work.created_at.desc(), Work.id.desc()).limit(limit)))
