"""Creator profiles: a creator's works, the credits they hold, their productions, and
(when they choose to show it) the AI models trained on their works.

Every list is bounded (:data:`PROFILE_LIST`) and filtered to what the viewer
may see; the setting that shows models is the creator's own
(:func:`set_show_models`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from hitrack.db.models import Citation, Creator, Credit, Work, WorkOwner
from hitrack.domain.errors import NotFound
from hitrack.services import follows
from hitrack.services.graph import visible_condition
from hitrack.services.unit_of_work import unit_of_work

__all__ = ["PROFILE_LIST", "Profile", "creator_by_handle", "profile", "set_show_models"]

PROFILE_LIST = 24


@dataclass(frozen=True)
class Profile:
    creator: Creator
    works: list[Work]
    credits: list[Credit]
    productions: list[Work]
    models: list[Work] | None  # None: the creator does not show them
    followers: int
    following: bool


def creator_by_handle(db: Session, handle: object) -> Creator:
    if not isinstance(handle, str) or not handle or len(handle) > 64:
        raise NotFound("no such creator")
    creator = db.scalar(select(Creator).where(Creator.handle == handle))
    if creator is None:
        raise NotFound(f"creator {handle} not found", ids=(handle,))
    return creator


def profile(db: Session, viewer: Creator | None, handle: object) -> Profile:
    creator = creator_by_handle(db, handle)
    seen = visible_condition(viewer)
    owned = select(WorkOwner.work_id).where(WorkOwner.creator_id == creator.id)
    works = list(
        db.scalars(
            select(Work)
            .where(Work.id.in_(owned), Work.kind == "record", seen)
            .options(selectinload(Work.owners).selectinload(WorkOwner.creator))
            .order_by(Work.created_at.desc(), Work.id.desc())
            .limit(PROFILE_LIST)
        )
    )
    credits = list(
        db.scalars(
            select(Credit)
            .join(Work, Work.id == Credit.work_id)
            .where(Credit.creator_id == creator.id, Credit.removed_at.is_(None), seen)
            .options(selectinload(Credit.work))
            .order_by(Credit.created_at.desc(), Credit.id.desc())
            .limit(PROFILE_LIST)
        )
    )
    productions = list(
        db.scalars(
            select(Work)
            .where(Work.kind == "production", Work.created_by_id == creator.id, seen)
            .order_by(Work.created_at.desc(), Work.id.desc())
            .limit(PROFILE_LIST)
        )
    )
    models = None
    if creator.show_models_on_profile:
        source = aliased(Work)
        trained = (
            select(Citation.work_id)
            .join(source, source.id == Citation.source_id)
            .where(Citation.source_id.in_(owned))
        )
        models = list(
            db.scalars(
                select(Work)
                .where(Work.kind == "model", Work.id.in_(trained), seen)
                .order_by(Work.created_at.desc(), Work.id.desc())
                .limit(PROFILE_LIST)
            )
        )
    return Profile(
        creator=creator,
        works=works,
        credits=credits,
        productions=productions,
        models=models,
        followers=follows.follower_count(db, creator),
        following=follows.is_following(db, viewer, creator_id=creator.id),
    )


def set_show_models(db: Session, actor: Creator, show: bool) -> None:
    """The creator chooses whether their profile lists the models trained on their works."""
    with unit_of_work(db):
        creator = db.get(Creator, actor.id)
        assert creator is not None
        creator.show_models_on_profile = show
        actor.show_models_on_profile = show
