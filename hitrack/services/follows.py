"""Following creators and works, the feed of what they do, and the graph's notifications.

A creator follows another creator or a work (:class:`~hitrack.db.models.Follow`).
Their feed merges three streams, each read newest first and bounded: works
published by the creators they follow, remixes of the works they follow, and
public earnings of either (that a work earned, never how much).

The ``*_happened`` functions are the hooks the write paths call, inside their
own transaction, to tell owners what happened to their work: remixed (a
record cites it), used in a model's training manifest, matched in a model's
output, or earned. They notify through
:func:`hitrack.services.notifications.notify` in chunks, or (citations and
earnings) :func:`~hitrack.services.notifications.notify_in_bulk`, so a large
manifest or settlement never binds one parameter per creator in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.bulk import lookup
from hitrack.db.models import (
    Citation,
    Creator,
    Follow,
    RevenueEvent,
    Work,
    WorkOwner,
)
from hitrack.domain.errors import Conflict, InvalidInput, NotFound
from hitrack.services.graph import visible_condition, visible_work
from hitrack.services.notifications import notify, notify_in_bulk
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "FeedItem",
    "follow",
    "unfollow",
    "is_following",
    "follower_count",
    "feed",
    "citations_happened",
    "matches_happened",
    "earnings_happened",
]

FEED_SIZE = 30
_CHUNK = 500


def _creator(db: Session, handle: object) -> Creator:
    if not isinstance(handle, str) or len(handle) > 64:
        raise NotFound("no such creator")
    creator = db.scalar(select(Creator).where(Creator.handle == handle))
    if creator is None:
        raise NotFound(f"creator {handle} not found", ids=(handle,))
    return creator


def _target(db: Session, actor: Creator, *, creator: object = None, work: object = None) -> Follow:
    if (creator is None) == (work is None):
        raise InvalidInput("follow a creator or a work")
    if creator is not None:
        target = _creator(db, creator)
        if target.id == actor.id:
            raise InvalidInput("you cannot follow yourself")
        return Follow(follower_id=actor.id, creator_id=target.id)
    item = visible_work(db, actor, work)
    return Follow(follower_id=actor.id, work_id=item.id)


def _existing(db: Session, wanted: Follow) -> Follow | None:
    return db.scalar(
        select(Follow).where(
            Follow.follower_id == wanted.follower_id,
            Follow.creator_id.is_(None)
            if wanted.creator_id is None
            else Follow.creator_id == wanted.creator_id,
            Follow.work_id.is_(None)
            if wanted.work_id is None
            else Follow.work_id == wanted.work_id,
        )
    )


def follow(
    db: Session,
    actor: Creator,
    *,
    creator: object = None,
    work: object = None,
    now: datetime | None = None,
) -> Follow:
    """``actor`` follows a creator (by handle) or a work (by id); following twice is a conflict."""
    with unit_of_work(db):
        wanted = _target(db, actor, creator=creator, work=work)
        if _existing(db, wanted) is not None:
            raise Conflict("you already follow this")
        wanted.created_at = now or datetime.now(UTC)
        db.add(wanted)
        if wanted.creator_id is not None:
            notify(
                db,
                [wanted.creator_id],
                "followed",
                f"{actor.display_name} follows you",
                f"/@{actor.handle}",
                None,
            )
    return wanted


def unfollow(db: Session, actor: Creator, *, creator: object = None, work: object = None) -> None:
    with unit_of_work(db):
        found = _existing(db, _target(db, actor, creator=creator, work=work))
        if found is None:
            raise NotFound("you do not follow this")
        db.delete(found)


def is_following(
    db: Session, actor: Creator | None, *, creator_id: int | None = None, work_id: int | None = None
) -> bool:
    if actor is None:
        return False
    stmt = select(Follow.id).where(Follow.follower_id == actor.id)
    if creator_id is not None:
        stmt = stmt.where(Follow.creator_id == creator_id)
    else:
        stmt = stmt.where(Follow.work_id == work_id)
    return db.scalar(stmt.limit(1)) is not None


def follower_count(db: Session, creator: Creator) -> int:
    return int(db.scalar(select(func.count()).where(Follow.creator_id == creator.id)) or 0)


# --- The feed --------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    """One thing that happened: ``published``, ``remixed`` or ``earned``."""

    at: datetime
    kind: str
    work: Work
    by: Creator | None = None
    source: Work | None = None


def feed(
    db: Session, actor: Creator, *, before: datetime | None = None, limit: int = FEED_SIZE
) -> list[FeedItem]:
    """What the creators and works ``actor`` follows did, newest first, ``limit`` at a time."""
    limit = max(1, min(limit, FEED_SIZE))
    creators = select(Follow.creator_id).where(
        Follow.follower_id == actor.id, Follow.creator_id.is_not(None)
    )
    works = select(Follow.work_id).where(
        Follow.follower_id == actor.id, Follow.work_id.is_not(None)
    )
    seen = visible_condition(actor)
    items: list[FeedItem] = []

    published = (
        select(Work)
        .where(Work.created_by_id.in_(creators), seen)
        .options(selectinload(Work.created_by))
        .order_by(Work.created_at.desc(), Work.id.desc())
    )
    if before is not None:
        published = published.where(Work.created_at < before)
    for work in db.scalars(published.limit(limit)):
        items.append(FeedItem(work.created_at, "published", work, by=work.created_by))

    remixes = (
        select(Citation)
        .join(Work, Work.id == Citation.work_id)
        .where(Citation.source_id.in_(works), Work.kind == "record", seen)
        .options(selectinload(Citation.work).selectinload(Work.created_by))
        .options(selectinload(Citation.source))
        .order_by(Citation.created_at.desc(), Citation.id.desc())
    )
    if before is not None:
        remixes = remixes.where(Citation.created_at < before)
    for citation in db.scalars(remixes.limit(limit)):
        items.append(
            FeedItem(
                citation.created_at,
                "remixed",
                citation.work,
                by=citation.work.created_by,
                source=citation.source,
            )
        )

    earned = (
        select(RevenueEvent)
        .join(Work, Work.id == RevenueEvent.work_id)
        .where(
            RevenueEvent.state == "settled",
            (Work.id.in_(works)) | (Work.created_by_id.in_(creators)),
            Work.visibility == "public",
        )
        .options(selectinload(RevenueEvent.work))
        .order_by(RevenueEvent.occurred_at.desc(), RevenueEvent.id.desc())
    )
    if before is not None:
        earned = earned.where(RevenueEvent.occurred_at < before)
    for event in db.scalars(earned.limit(limit)):
        items.append(FeedItem(event.occurred_at, "earned", event.work))

    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


# --- What happened to your work: the hooks the write paths call ------------------------


def _owners_by_work(db: Session, work_ids: Sequence[int]) -> dict[int, set[int]]:
    owners: dict[int, set[int]] = {}
    for i in range(0, len(work_ids), _CHUNK):
        for work_id, creator_id in db.execute(
            select(WorkOwner.work_id, WorkOwner.creator_id).where(
                WorkOwner.work_id.in_(work_ids[i : i + _CHUNK])
            )
        ):
            owners.setdefault(work_id, set()).add(creator_id)
    return owners


def _notify_chunked(
    db: Session, creator_ids: Iterable[int], kind: str, message: str, url: str | None
) -> None:
    ids = sorted(set(creator_ids))
    for i in range(0, len(ids), _CHUNK):
        notify(db, ids[i : i + _CHUNK], kind, message, url, None)


def citations_happened(db: Session, citing: Work, source_ids: Iterable[int]) -> None:
    """A record remixed the sources, or a model put them in its manifest: tell their owners.

    Productions are left out: publishing a proposal notifies everyone it affects.
    Private works are left out: nobody else may learn they exist. A manifest of a
    million works has as many owners: they are looked up a chunk at a time and
    notified in bulk (in-app, one COPY), no object per owner.
    """
    kind = {"record": "remixed", "model": "manifest"}.get(citing.kind)
    if kind is None or citing.visibility != "public":
        return  # a private work is its owners' own business: its title never leaves them
    ids = sorted(set(source_ids))
    if not ids:
        return
    own = {o.creator_id for o in citing.owners}
    owners = {
        creator_id for _, creator_id in lookup(db, WorkOwner.work_id, ids, WorkOwner.creator_id)
    }
    message = (
        f"“{citing.title}” remixes your work"
        if kind == "remixed"
        else f"The model “{citing.title}” is trained on your work"
    )
    path = f"/models/{citing.public_id}" if citing.kind == "model" else f"/works/{citing.public_id}"
    notify_in_bulk(db, owners - own, kind, message, path)


def matches_happened(
    db: Session, model: Work, output_public_id: str, work_ids: Iterable[int]
) -> None:
    """An output of ``model`` matched these works: tell their owners."""
    ids = sorted(set(work_ids))
    if not ids:
        return
    owners = set().union(*_owners_by_work(db, ids).values())
    _notify_chunked(
        db,
        owners,
        "matched",
        f"An output of the model “{model.title}” matched your work",
        f"/outputs/{output_public_id}",
    )


def earnings_happened(db: Session, rows: Sequence[Mapping[str, object]]) -> None:
    """Allocations were written: tell each creator with a non-zero earning, once."""
    earners = {
        int(row["creator_id"])  # type: ignore[call-overload]
        for row in rows
        if row.get("kind") == "earning" and int(row.get("amount", 0)) > 0  # type: ignore[call-overload]
    }
    notify_in_bulk(db, earners, "earned", "Your work earned money", "/me/earnings")
