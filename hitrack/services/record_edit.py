"""Owners edit their records: words (title, description, tags), hiding, and deleting.

The graph never loses a node that anything depends on. A record may be
deleted only while nothing refers to it: no work cites it (remixes,
productions, models' manifests), no proposal names it, it never earned and no
model output matched it. Otherwise its owners can only **hide** it: it leaves
the lists, keeps its page (marked hidden), its citations and its money.

Deleting removes the record's rows (its own citations, owners, credits,
subjects and attribution signatures) in one transaction, and its stored media
and thumbnail once that transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    AttributionMatch,
    AttributionSignature,
    Citation,
    Creator,
    Credit,
    ProposalLine,
    RecordSubject,
    RevenueEvent,
    Work,
)
from hitrack.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hitrack.services.graph import get_work, lock_graph, visible_work
from hitrack.services.records import clean_text
from hitrack.services.unit_of_work import after_commit, unit_of_work
from hitrack.storage import MediaStorage, delete_quietly

__all__ = ["MAX_TAGS", "RecordEdit", "parse_tags", "edit_record", "set_hidden", "delete_record"]

MAX_TAGS = 20
MAX_TAG_LENGTH = 40


@dataclass(frozen=True)
class RecordEdit:
    """What an owner may change of a record's words; None leaves a field as it is."""

    title: object = None
    description: object = None
    tags: object = None


def parse_tags(value: object) -> list[str]:
    """Tags from a list of words or one comma-separated text: trimmed, lower-case, unique.

    Examples
    --------
    >>> parse_tags("Night, swim ,night")
    ['night', 'swim']
    """
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = list(value)
    else:
        raise InvalidInput("tags: expected a list of words or a comma-separated text")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput("tags: each tag is text")
        words = " ".join(item.split())
        if not words:
            continue
        if len(words) > MAX_TAG_LENGTH or "\x00" in words:
            raise InvalidInput(
                f"tags: {words[:MAX_TAG_LENGTH]!r}… is longer than {MAX_TAG_LENGTH} characters"
            )
        tag = words.lower()
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"tags: at most {MAX_TAGS}")
    return tags


def _owned_record(db: Session, actor: Creator, work_id: object, doing: str) -> Work:
    work = visible_work(db, actor, work_id)
    if not work.is_owned_by(actor.id):
        raise PermissionDenied(
            f"only the owners of {work.public_id} {doing} it", ids=(work.public_id,)
        )
    if work.kind != "record":
        # Productions and models have their own pages and rules; as a record it does not exist.
        raise NotFound(f"record {work.public_id} not found", ids=(work.public_id,))
    return work


def edit_record(db: Session, actor: Creator, work_id: object, change: RecordEdit) -> Work:
    """An owner changes a record's title, description or tags; all checked before any write."""
    work = _owned_record(db, actor, work_id, "edit")
    title = None if change.title is None else clean_text(change.title, "title", max_length=200)
    description = (
        None
        if change.description is None
        else clean_text(change.description, "description", max_length=5000, required=False)
    )
    tags = None if change.tags is None else parse_tags(change.tags)
    with unit_of_work(db):
        if title is not None and title != work.title:
            lock_graph(db)  # titles are in explanations: a new title is a new graph version
            work.title = title
        if description is not None:
            work.description = description
        if tags is not None:
            work.tags = tags
    return work


def set_hidden(db: Session, actor: Creator, work_id: object, hidden: bool) -> Work:
    """An owner hides a record from the lists (or shows it again); the graph is unchanged."""
    work = _owned_record(db, actor, work_id, "hide")
    with unit_of_work(db):
        work.hidden = bool(hidden)
    return work


def _depended_on_by(db: Session, work: Work) -> str | None:
    """Why ``work`` cannot be deleted (what depends on it), or None."""
    checks = (
        (exists().where(Citation.source_id == work.id), "other works cite it"),
        (exists().where(ProposalLine.source_id == work.id), "a payment proposal names it"),
        (exists().where(RevenueEvent.work_id == work.id), "it has revenue"),
        (exists().where(AttributionMatch.work_id == work.id), "model outputs matched it"),
    )
    for condition, reason in checks:
        if db.scalar(select(condition)):
            return reason
    return None


def delete_record(db: Session, storage: MediaStorage, actor: Creator, work_id: object) -> str:
    """An owner deletes a record nothing depends on; its public id.

    Refused with :class:`~hitrack.domain.errors.Conflict` (nothing changed)
    when anything cites, names, paid or matched it: hide it instead.
    """
    work = _owned_record(db, actor, work_id, "delete")
    public_id = work.public_id
    with unit_of_work(db):
        lock_graph(db)
        work = get_work(db, public_id, lock=True)
        reason = _depended_on_by(db, work)
        if reason is not None:
            raise Conflict(
                f"{public_id} cannot be deleted: {reason}; hide it instead (the graph keeps it)",
                ids=(public_id,),
            )
        keys = [k for k in (work.media_key, work.thumbnail_key) if k]
        for table, column in (
            (Credit, Credit.work_id),
            (RecordSubject, RecordSubject.work_id),
            (AttributionSignature, AttributionSignature.work_id),
        ):
            db.execute(delete(table).where(column == work.id))
        # Through the session, so the graph version is bumped for what the graph loses.
        for citation in list(work.sources):
            db.delete(citation)
        db.delete(work)  # its owners go with it (cascade)
        for key in keys:
            after_commit(db, lambda key=key: delete_quietly(storage, key))  # type: ignore[misc]
    return public_id
