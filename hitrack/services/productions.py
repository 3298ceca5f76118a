"""Productions: a producer's finished piece, its contributions and its payment proposal.

A production is a :class:`~hitrack.db.models.Work` of kind ``production``
owned by its producer. Its contributions *are* its citations (each with a
credit role), so every graph rule applies to them through
:func:`hitrack.services.graph.check_new_citations`. The split moves through

    draft -> proposed -> finalized       (or cancelled, before finalizing)

Publishing snapshots the citations into a numbered
:class:`~hitrack.db.models.ProposalRevision` and opens (or restarts) the
comment window; every creator affected by the split is notified. Only after
the window of the latest revision has closed, and only if the citations
still equal that revision, may the producer finalize: the split is then
frozen and the production may earn. Every state change appends a
:class:`~hitrack.db.models.ProductionLog` row.

Time is a parameter (``now``), never read behind the caller's back, so the
window can be tested without sleeping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import (
    Citation,
    Comment,
    Creator,
    ProductionLog,
    ProposalLine,
    ProposalRevision,
    Work,
    WorkOwner,
)
from hitrack.domain.credit import Explanation, RevenueEvent, render_explanation, settle_event
from hitrack.domain.errors import (
    Conflict,
    HitrackError,
    InvalidCitation,
    InvalidEvent,
    InvalidInput,
    InvalidShare,
    NotFound,
    PermissionDenied,
)
from hitrack.domain.shares import format_share, parse_share
from hitrack.services.credits import unclaimed_payee_names
from hitrack.services.graph import (
    PRIVATE_TITLE,
    ancestry_ids,
    as_new_work,
    check_new_citations,
    domain_work,
    get_work,
    load_graph,
    lock_graph,
    visible_ids,
    visible_work,
)
from hitrack.services.notifications import Mailer, notify
from hitrack.services.records import clean_text, delete_media_on_rollback, new_public_id
from hitrack.services.unit_of_work import unit_of_work
from hitrack.storage import MediaStorage, store_upload

__all__ = [
    "CREDIT_ROLES",
    "PREVIEW_AMOUNT",
    "ContributionInput",
    "LineChange",
    "PreviewLine",
    "Preview",
    "ProductionView",
    "parse_contributions",
    "production_path",
    "create_production",
    "set_contributions",
    "apply_contributions",
    "current_contributions",
    "publish_proposal",
    "add_comment",
    "answer_objection",
    "open_objections",
    "finalize",
    "cancel",
    "get_production",
    "affected_creator_ids",
    "revision_diff",
    "preview",
    "production_view",
    "productions_of",
    "is_earning",
    "earning_refusal",
    "check_earning",
]

# Suggestions only: a credit role is free text.
CREDIT_ROLES = (
    "writer",
    "director",
    "producer",
    "performer",
    "voice",
    "singer",
    "musician",
    "composer",
    "camera operator",
    "photographer",
    "editor",
    "illustrator",
    "animator",
    "sound mixer",
    "costume designer",
    "production designer",
    "colorist",
)
# The preview answers "who gets what of 100.00 of revenue".
PREVIEW_AMOUNT = 100_000_000
EDITABLE = ("draft", "proposed")


def production_path(public_id: str) -> str:
    """Where a production's page lives (used in notifications)."""
    return f"/productions/{public_id}"


@dataclass(frozen=True)
class ContributionInput:
    """One contribution as given: a work id, its share (not yet parsed) and a credit role."""

    work: str
    share: object
    credit_role: str | None = None


def parse_contributions(raw: object) -> list[ContributionInput]:
    """Read contributions from ``{work id: share}``, ``{work id: {share, credit_role}}`` or a list.

    A list holds objects ``{"work", "share", "credit_role"}``. A work may be
    listed only once.
    """
    if raw is None:
        return []
    items: list[tuple[object, object]]
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = []
        for entry in raw:
            if not isinstance(entry, Mapping) or "work" not in entry:
                raise InvalidInput(
                    "contributions: each item must be an object with 'work' and 'share'"
                )
            items.append((entry["work"], {k: v for k, v in entry.items() if k != "work"}))
    else:
        raise InvalidInput("contributions: expected an object of work id -> share, or a list")
    result: list[ContributionInput] = []
    seen: set[str] = set()
    for work, value in items:
        if not isinstance(work, str) or not work.strip():
            raise InvalidInput("contributions: each work id must be a non-empty string")
        work = work.strip()
        if work in seen:
            raise InvalidInput(f"contributions: {work} is listed twice", ids=(work,))
        seen.add(work)
        role: object = None
        share = value
        if isinstance(value, Mapping):
            unknown = set(value) - {"share", "credit_role"}
            if unknown:
                raise InvalidInput(
                    f"contributions: unknown fields for {work}: {', '.join(sorted(unknown))}",
                    ids=(work,),
                )
            if "share" not in value:
                raise InvalidInput(f"contributions: give a share for {work}", ids=(work,))
            share, role = value["share"], value.get("credit_role")
        role_s = clean_text(role, f"credit role of {work}", max_length=80, required=False)
        result.append(ContributionInput(work, share, role_s or None))
    return result


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _log(
    db: Session,
    production: Work,
    actor: Creator | None,
    action: str,
    detail: dict[str, object],
    now: datetime,
) -> None:
    db.add(
        ProductionLog(
            production_id=production.id,
            actor_id=actor.id if actor else None,
            action=action,
            detail=detail,
            at=now,
        )
    )


def get_production(
    db: Session, viewer: Creator | None, public_id: object, *, lock: bool = False
) -> Work:
    """The production if ``viewer`` may see it; NotFound for anything else."""
    work = visible_work(db, viewer, public_id)
    if work.kind != "production":
        raise NotFound(f"{work.public_id} is not a production", ids=(work.public_id,))
    if lock:
        work = get_work(db, work.public_id, lock=True)
    return work


def _require_producer(production: Work, actor: Creator) -> None:
    if production.created_by_id != actor.id:
        raise PermissionDenied(
            f"only the producer of {production.public_id} may change its split",
            ids=(production.public_id,),
        )


def _require_editable(production: Work) -> None:
    if production.status not in EDITABLE:
        raise Conflict(
            f"{production.public_id} is {production.status}: its split never changes",
            ids=(production.public_id,),
        )


def _write_contributions(
    db: Session, actor: Creator, production: Work, contributions: Sequence[ContributionInput]
) -> None:
    """Replace the production's citations with ``contributions``, under every graph rule."""
    for citation in list(production.sources):
        db.delete(citation)
    db.flush()
    db.expire(production, ["sources"])
    resolved = check_new_citations(
        db,
        actor,
        domain_work(production),
        {c.work: c.share for c in contributions},
        existing=production,
    )
    for (source, share), given in zip(resolved, contributions, strict=True):
        if source.kind == "model":
            raise InvalidCitation(
                f"{source.public_id} is a model: contributions are records or productions",
                ids=(production.public_id, source.public_id),
            )
        if source.kind == "production" and source.status == "cancelled":
            raise InvalidCitation(
                f"{source.public_id} is a cancelled production",
                ids=(production.public_id, source.public_id),
            )
        db.add(
            Citation(
                work_id=production.id,
                source_id=source.id,
                share=share,
                credit_role=given.credit_role,
                created_by_id=actor.id,
            )
        )
    db.flush()
    db.expire(production, ["sources"])


def _contributions_detail(production: Work) -> dict[str, object]:
    return {
        c.source.public_id: {"share": format_share(c.share), "credit_role": c.credit_role}
        for c in production.sources
    }


def create_production(
    db: Session,
    actor: Creator,
    *,
    title: object,
    description: object = "",
    contributions: Sequence[ContributionInput] = (),
    storage: MediaStorage | None = None,
    stream: IO[bytes] | None = None,
    filename: str = "",
    max_bytes: int = 0,
    now: datetime | None = None,
) -> Work:
    """``actor`` starts a draft production, becoming its producer; the final media is optional."""
    at = _now(now)
    title_s = clean_text(title, "title", max_length=200)
    description_s = clean_text(description, "description", max_length=5000, required=False)
    if stream is not None and storage is None:
        raise InvalidInput("media: no storage to keep it in")
    media = (
        store_upload(storage, stream, filename=filename, max_bytes=max_bytes)
        if stream is not None and storage is not None
        else None
    )
    with unit_of_work(db):
        if media is not None and storage is not None:
            delete_media_on_rollback(db, storage, media.key)
        lock_graph(db)
        work = Work(
            public_id=new_public_id("production"),
            kind="production",
            status="draft",
            title=title_s,
            description=description_s,
            created_by_id=actor.id,
            created_at=at,
        )
        if media is not None:
            work.media_key, work.media_sha256, work.media_size = media.key, media.sha256, media.size
            work.media_type, work.media_kind = media.content_type, media.media_kind
            work.media_filename = media.original_filename
        work.owners.append(WorkOwner(creator_id=actor.id, fraction=Fraction(1)))
        db.add(work)
        db.flush()
        try:
            _write_contributions(db, actor, work, contributions)
        except HitrackError as error:  # the draft is never stored: do not name its id
            raise as_new_work(error, work.public_id, "production") from None
        _log(db, work, actor, "created", {"contributions": _contributions_detail(work)}, at)
    return work


def set_contributions(
    db: Session,
    actor: Creator,
    production_id: object,
    contributions: Sequence[ContributionInput],
    *,
    now: datetime | None = None,
) -> Work:
    """The producer replaces the split (while draft or proposed); publish again to propose it."""
    with unit_of_work(db):
        production = apply_contributions(db, actor, production_id, contributions, now=now)
    return production


def apply_contributions(
    db: Session,
    actor: Creator,
    production_id: object,
    contributions: Sequence[ContributionInput],
    *,
    now: datetime | None = None,
) -> Work:
    """:func:`set_contributions` inside the caller's unit of work (an open call's pick uses it)."""
    at = _now(now)
    lock_graph(db)
    production = get_production(db, actor, production_id, lock=True)
    _require_producer(production, actor)
    _require_editable(production)
    _write_contributions(db, actor, production, contributions)
    _log(
        db,
        production,
        actor,
        "contributions_set",
        {"contributions": _contributions_detail(production)},
        at,
    )
    return production


def current_contributions(production: Work) -> list[ContributionInput]:
    """The production's split as inputs, to extend it by one contribution."""
    return [
        ContributionInput(c.source.public_id, c.share, c.credit_role) for c in production.sources
    ]


def _revisions(db: Session, production: Work) -> list[ProposalRevision]:
    return list(
        db.scalars(
            select(ProposalRevision)
            .where(ProposalRevision.production_id == production.id)
            .options(selectinload(ProposalRevision.lines).selectinload(ProposalLine.source))
            .order_by(ProposalRevision.number)
        )
    )


def _latest(db: Session, production: Work) -> ProposalRevision | None:
    revisions = _revisions(db, production)
    return revisions[-1] if revisions else None


SplitKey = dict[int, tuple[Fraction, str | None]]


def _current_split(production: Work) -> SplitKey:
    return {c.source_id: (c.share, c.credit_role) for c in production.sources}


def _revision_split(revision: ProposalRevision) -> SplitKey:
    return {line.source_id: (line.share, line.credit_role) for line in revision.lines}


def _owner_ids(db: Session, work_ids: Iterable[int]) -> set[int]:
    ids = list(work_ids)
    if not ids:
        return set()
    return set(db.scalars(select(WorkOwner.creator_id).where(WorkOwner.work_id.in_(ids))))


def affected_creator_ids(db: Session, production: Work) -> set[int]:
    """Owners of every work the split reaches, now or in the latest published revision."""
    roots = {production.id}
    latest = _latest(db, production)
    if latest is not None:
        roots |= {line.source_id for line in latest.lines}
    return _owner_ids(db, ancestry_ids(db, roots))


def publish_proposal(
    db: Session,
    actor: Creator,
    production_id: object,
    *,
    window: timedelta,
    retained: object = "0",
    note: object = "",
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> ProposalRevision:
    """The producer publishes the current split as a new revision and (re)opens the comment window.

    The producer states their retained share; the contributions' shares plus
    it must make exactly 1, so a split never leaves money unassigned by accident.
    """
    at = _now(now)
    with unit_of_work(db):
        if window < timedelta(0):
            raise InvalidInput("the comment window cannot be negative")
        retained_f = parse_share(retained, what="retained share")  # type: ignore[arg-type]
        if not 0 <= retained_f <= 1:
            raise InvalidShare(f"retained share {format_share(retained_f)} is outside [0, 1]")
        note_s = clean_text(note, "note", max_length=2000, required=False)
        lock_graph(db)
        production = get_production(db, actor, production_id, lock=True)
        _require_producer(production, actor)
        _require_editable(production)
        citations = list(production.sources)
        # Both refusals below depend on the production's stored split, not on the
        # request alone: they are conflicts with its state (409), like a finalized one.
        if not citations:
            raise Conflict(
                f"{production.public_id} has no contributions yet: add some before publishing",
                ids=(production.public_id,),
            )
        total = sum((c.share for c in citations), Fraction(0))
        if total + retained_f != 1:
            raise Conflict(
                f"contributions sum to {format_share(total)} and the retained share is "
                f"{format_share(retained_f)}: together {format_share(total + retained_f)}, not 1 "
                f"(state a retained share of {format_share(1 - total)} or change the shares)",
                ids=(production.public_id,),
            )
        previous = _latest(db, production)
        if (
            previous is not None
            and production.status == "proposed"
            and _revision_split(previous) == _current_split(production)
        ):
            raise Conflict(
                f"revision {previous.number} already proposes this split: change it first",
                ids=(production.public_id,),
            )
        affected = affected_creator_ids(db, production)
        revision = ProposalRevision(
            production_id=production.id,
            number=(previous.number if previous else 0) + 1,
            published_by_id=actor.id,
            published_at=at,
            window_closes_at=at + window,
            note=note_s,
        )
        for c in citations:
            revision.lines.append(
                ProposalLine(source_id=c.source_id, credit_role=c.credit_role, share=c.share)
            )
        db.add(revision)
        production.status = "proposed"
        db.flush()
        _log(
            db,
            production,
            actor,
            "published" if previous is None else "revised",
            {
                "revision": revision.number,
                "retained": format_share(retained_f),
                "window_closes_at": revision.window_closes_at.isoformat(),
            },
            at,
        )
        verb = (
            "proposed a split for"
            if previous is None
            else f"revised the split (revision {revision.number}) of"
        )
        notify(
            db,
            affected - {actor.id},
            "proposal_published" if previous is None else "proposal_revised",
            f"{actor.display_name} {verb} “{production.title}”; comments are open until "
            f"{revision.window_closes_at:%Y-%m-%d %H:%M} UTC",
            production_path(production.public_id),
            mailer,
            now=at,
        )
    return revision


def add_comment(
    db: Session,
    actor: Creator,
    production_id: object,
    body: object,
    *,
    objection: bool = False,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> Comment:
    """Any creator comments on a proposed split; a creator it affects may file an objection."""
    at = _now(now)
    with unit_of_work(db):
        text = clean_text(body, "comment", max_length=5000)
        production = get_production(db, actor, production_id)
        if production.status != "proposed":
            reason = (
                "comments open when the producer publishes the proposal"
                if production.status == "draft"
                else "comments are closed"
            )
            raise Conflict(
                f"{production.public_id} is {production.status}: {reason}",
                ids=(production.public_id,),
            )
        if objection and actor.id not in affected_creator_ids(db, production):
            raise PermissionDenied(
                "only creators affected by the split may file an objection; you may still comment",
                ids=(production.public_id,),
            )
        latest = _latest(db, production)
        comment = Comment(
            production_id=production.id,
            revision_id=latest.id if latest else None,
            author_id=actor.id,
            body=text,
            is_objection=objection,
            created_at=at,
        )
        db.add(comment)
        if production.created_by_id is not None and production.created_by_id != actor.id:
            what = "objected to" if objection else "commented on"
            notify(
                db,
                [production.created_by_id],
                "objection" if objection else "comment",
                f"{actor.display_name} {what} the split of “{production.title}”",
                production_path(production.public_id),
                mailer,
                now=at,
            )
    return comment


def _objection_of(db: Session, production: Work, comment_id: object) -> Comment:
    number = (
        comment_id if isinstance(comment_id, int) and not isinstance(comment_id, bool) else None
    )
    if isinstance(comment_id, str) and comment_id.strip().isdigit():
        number = int(comment_id.strip())
    comment = (
        db.scalar(
            select(Comment)
            .where(Comment.id == number, Comment.production_id == production.id)
            .with_for_update()
        )
        if number is not None and 0 < number < 2**31
        else None
    )
    if comment is None:
        raise NotFound(
            f"{production.public_id} has no comment {comment_id}", ids=(production.public_id,)
        )
    return comment


def answer_objection(
    db: Session,
    actor: Creator,
    production_id: object,
    comment_id: object,
    answer: object = "",
    *,
    resolve: bool = False,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> Comment:
    """The producer answers an objection, resolves it, or both; its author is told.

    An answer may be given again (it replaces the earlier one) until the
    objection is resolved; a resolved objection stays as it was. Only while
    the split can still change: once it is final or cancelled the answer
    would change nothing.
    """
    at = _now(now)
    with unit_of_work(db):
        production = get_production(db, actor, production_id, lock=True)
        comment = _objection_of(db, production, comment_id)
        _require_producer(production, actor)
        text = clean_text(answer, "answer", max_length=5000, required=not resolve)
        if not comment.is_objection:
            raise Conflict(
                f"comment {comment.id} is a comment, not an objection: only objections are answered",
                ids=(production.public_id,),
            )
        if production.status != "proposed":
            raise Conflict(
                f"{production.public_id} is {production.status}: its objections are closed",
                ids=(production.public_id,),
            )
        if comment.resolved_at is not None:
            raise Conflict(
                f"objection {comment.id} was resolved {comment.resolved_at:%Y-%m-%d %H:%M} UTC",
                ids=(production.public_id,),
            )
        if text:
            comment.answer, comment.answered_at = text, at
        if resolve:
            comment.resolved_at = at
        _log(
            db,
            production,
            actor,
            "objection_resolved" if resolve else "objection_answered",
            {"comment": comment.id},
            at,
        )
        what = "resolved" if resolve else "answered"
        notify(
            db,
            [comment.author_id] if comment.author_id != actor.id else [],
            f"objection_{what}",
            f"{actor.display_name} {what} your objection to the split of “{production.title}”"
            + (f": {text}" if text else ""),
            production_path(production.public_id) + "#comments",
            mailer,
            now=at,
        )
    return comment


def open_objections(db: Session, production: Work) -> list[Comment]:
    """The production's objections the producer has not resolved, oldest first."""
    return list(
        db.scalars(
            select(Comment)
            .where(
                Comment.production_id == production.id,
                Comment.is_objection.is_(True),
                Comment.resolved_at.is_(None),
            )
            .options(selectinload(Comment.author))
            .order_by(Comment.created_at, Comment.id)
        )
    )


def finalize(
    db: Session,
    actor: Creator,
    production_id: object,
    *,
    confirm_open_objections: bool = False,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> Work:
    """After the comment window of the latest revision has closed, freeze the split.

    Objections still open are not a veto, but they are not overlooked either:
    finalizing over them needs ``confirm_open_objections``.
    """
    at = _now(now)
    with unit_of_work(db):
        production = get_production(db, actor, production_id, lock=True)
        _require_producer(production, actor)
        if production.status != "proposed":
            reason = {
                "draft": "publish a proposal first",
                "finalized": "it is already finalized",
                "cancelled": "it was cancelled",
            }.get(production.status, "")
            raise Conflict(
                f"{production.public_id} cannot be finalized: {reason}", ids=(production.public_id,)
            )
        latest = _latest(db, production)
        assert latest is not None  # a proposed production has a revision
        if at < latest.window_closes_at:
            raise Conflict(
                f"the comment window of revision {latest.number} closes at "
                f"{latest.window_closes_at:%Y-%m-%d %H:%M:%S} UTC: finalize after that",
                ids=(production.public_id,),
            )
        if _revision_split(latest) != _current_split(production):
            raise Conflict(
                f"the contributions changed after revision {latest.number}: "
                "publish them as a new revision first",
                ids=(production.public_id,),
            )
        still_open = open_objections(db, production)
        if still_open and not confirm_open_objections:
            raise Conflict(
                f"{len(still_open)} objection(s) are still open: answer or resolve them, "
                "or confirm that you finalize over them",
                ids=(production.public_id,),
            )
        production.status = "finalized"
        _log(
            db,
            production,
            actor,
            "finalized",
            {"revision": latest.number, "open_objections": [c.id for c in still_open]},
            at,
        )
        notify(
            db,
            affected_creator_ids(db, production) - {actor.id},
            "proposal_finalized",
            f"The split of “{production.title}” is final (revision {latest.number})",
            production_path(production.public_id),
            mailer,
            now=at,
        )
    return production


def cancel(
    db: Session,
    actor: Creator,
    production_id: object,
    *,
    reason: object = "",
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> Work:
    """The producer cancels a production that is not finalized; it will never earn."""
    at = _now(now)
    with unit_of_work(db):
        reason_s = clean_text(reason, "reason", max_length=2000, required=False)
        production = get_production(db, actor, production_id, lock=True)
        _require_producer(production, actor)
        _require_editable(production)
        was_proposed = production.status == "proposed"
        production.status = "cancelled"
        _log(db, production, actor, "cancelled", {"reason": reason_s}, at)
        if was_proposed:
            notify(
                db,
                affected_creator_ids(db, production) - {actor.id},
                "proposal_cancelled",
                f"{actor.display_name} cancelled “{production.title}”",
                production_path(production.public_id),
                mailer,
                now=at,
            )
    return production


def earning_refusal(work: Work) -> str | None:
    """Why revenue may not be booked on ``work`` now, or None when it may.

    The one rule of "may this work earn", for every kind: a production only
    once its split is finalized (never while draft or proposed, nor once
    cancelled); a record or a model while it is ``active`` (registered).
    """
    if work.kind == "production":
        if work.status != "finalized":
            return (
                f"production {work.public_id} is {work.status}: only a finalized split earns money"
            )
        return None
    if work.status != "active":
        return f"{work.kind} {work.public_id} is {work.status}, not registered"
    return None


def is_earning(work: Work) -> bool:
    """Whether revenue may be booked on ``work`` (:func:`earning_refusal`)."""
    return earning_refusal(work) is None


def check_earning(work: Work) -> None:
    """Raise :class:`~hitrack.domain.errors.InvalidEvent` unless revenue may be booked on ``work``."""
    refusal = earning_refusal(work)
    if refusal is not None:
        raise InvalidEvent(refusal, ids=(work.public_id,))


# --- Reading: diffs, the preview, the whole page --------------------------------


@dataclass(frozen=True)
class LineChange:
    """How one contribution differs between two revisions."""

    source: Work
    before: Fraction | None
    after: Fraction | None
    role_before: str | None
    role_after: str | None

    @property
    def change(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        if self.before != self.after or self.role_before != self.role_after:
            return "changed"
        return "unchanged"


def revision_diff(previous: ProposalRevision | None, current: ProposalRevision) -> list[LineChange]:
    """Line by line, what ``current`` changes from ``previous`` (everything is added for the first)."""
    before = {line.source_id: line for line in (previous.lines if previous else [])}
    after = {line.source_id: line for line in current.lines}
    changes = []
    for source_id in sorted(before.keys() | after.keys()):
        old, new = before.get(source_id), after.get(source_id)
        line = new or old
        assert line is not None
        changes.append(
            LineChange(
                source=line.source,
                before=old.share if old else None,
                after=new.share if new else None,
                role_before=old.credit_role if old else None,
                role_after=new.credit_role if new else None,
            )
        )
    changes.sort(key=lambda c: (c.source.title.lower(), c.source.public_id))
    return changes


@dataclass(frozen=True)
class PreviewLine:
    """One creator's part of 100.00 of revenue, and the paths it comes through."""

    creator: Creator
    micros: int
    exact: Fraction
    explanations: list[Explanation]
    paths: list[str]


@dataclass(frozen=True)
class Preview:
    amount: int
    lines: list[PreviewLine]

    def micros_by_handle(self) -> dict[str, int]:
        return {line.creator.handle: line.micros for line in self.lines}


def preview(db: Session, viewer: Creator | None, production: Work) -> Preview:
    """Settle a 100.00 event at the production with the credit engine, over its current split.

    Titles of works ``viewer`` may not see are left out of the paths.
    """
    ids = ancestry_ids(db, [production.id])
    G = load_graph(db, ids)
    shown = visible_ids(db, viewer, ids)
    for work_id, public_id in db.execute(select(Work.id, Work.public_id).where(Work.id.in_(ids))):
        if work_id not in shown:
            G.nodes[public_id]["title"] = PRIVATE_TITLE
    settlement = settle_event(
        G, RevenueEvent(id="preview", work=production.public_id, amount=PREVIEW_AMOUNT)
    )
    creators = {
        c.handle: c
        for c in db.scalars(select(Creator).where(Creator.handle.in_(settlement.creators)))
    }
    # Credits: an unclaimed credit is shown by its name (never stored as a creator).
    creators.update(unclaimed_payee_names(db, settlement.creators))
    lines = []
    for handle, micros in sorted(settlement.creators.items(), key=lambda kv: (-kv[1], kv[0])):
        explanations = settlement.explain(handle)
        paths = [text for e in explanations for text in render_explanation(G, e)]
        lines.append(
            PreviewLine(
                creators[handle], micros, settlement.entitlements[handle], explanations, paths
            )
        )
    return Preview(PREVIEW_AMOUNT, lines)


@dataclass(frozen=True)
class Credit:
    """A line of the credits: a contribution and the names behind it."""

    work: Work
    share: Fraction
    names: list[str]


@dataclass
class ProductionView:
    """Everything a production's page and API answer show."""

    production: Work
    producer: Creator | None
    credits: dict[str, list[Credit]]
    revisions: list[ProposalRevision]
    diffs: dict[int, list[LineChange]]
    comments: list[Comment]
    log: list[ProductionLog]
    preview: Preview
    now: datetime
    unpublished_changes: bool = False
    affected: set[int] = field(default_factory=set)
    # Works of the split (now or in a revision) the viewer may not see: shown as
    # "a private work", never by title (a producer may cite their own private record).
    hidden: set[int] = field(default_factory=set)

    def title_of(self, work: Work) -> str:
        return PRIVATE_TITLE if work.id in self.hidden else work.title

    @property
    def latest(self) -> ProposalRevision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def window_open(self) -> bool:
        latest = self.latest
        return (
            self.production.status == "proposed"
            and latest is not None
            and self.now < latest.window_closes_at
        )

    @property
    def can_finalize(self) -> bool:
        return (
            self.production.status == "proposed"
            and not self.window_open
            and not self.unpublished_changes
        )

    @property
    def retained_share(self) -> Fraction:
        return self.production.retained_share


def production_view(
    db: Session, viewer: Creator | None, public_id: object, *, now: datetime | None = None
) -> ProductionView:
    production = get_production(db, viewer, public_id)
    credits: dict[str, list[Credit]] = {}
    for c in production.sources:
        names = [o.creator.display_name for o in c.source.owners]
        credits.setdefault(c.credit_role or "contributor", []).append(
            Credit(c.source, c.share, names)
        )
    revisions = _revisions(db, production)
    diffs = {
        r.number: revision_diff(revisions[i - 1] if i else None, r) for i, r in enumerate(revisions)
    }
    comments = list(
        db.scalars(
            select(Comment)
            .where(Comment.production_id == production.id)
            .options(selectinload(Comment.author))
            .order_by(Comment.created_at, Comment.id)
        )
    )
    log = list(
        db.scalars(
            select(ProductionLog)
            .where(ProductionLog.production_id == production.id)
            .options(selectinload(ProductionLog.actor))
            .order_by(ProductionLog.at, ProductionLog.id)
        )
    )
    unpublished = (
        bool(revisions)
        and production.status == "proposed"
        and _revision_split(revisions[-1]) != _current_split(production)
    )
    cited = {c.source_id for c in production.sources} | {
        line.source_id for r in revisions for line in r.lines
    }
    return ProductionView(
        production=production,
        producer=production.created_by,
        credits=credits,
        revisions=revisions,
        diffs=diffs,
        comments=comments,
        log=log,
        preview=preview(db, viewer, production),
        now=_now(now),
        unpublished_changes=unpublished,
        affected=affected_creator_ids(db, production),
        hidden=cited - visible_ids(db, viewer, cited),
    )


def productions_of(db: Session, creator: Creator) -> list[Work]:
    """The productions ``creator`` produces, newest first."""
    return list(
        db.scalars(
            select(Work)
            .where(Work.kind == "production", Work.created_by_id == creator.id)
            .order_by(Work.created_at.desc(), Work.id.desc())
        )
    )
