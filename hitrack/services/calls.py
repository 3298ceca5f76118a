"""Open calls: a producer asks for contributions to a production, creators answer, one is picked.

A call names what is wanted (a title and description), by when (``deadline``)
and in which media (audio, video, image, text). An answer is an ordinary
record uploaded through :func:`hitrack.services.records.upload_record`, so
every upload and citation rule applies; it may cite the production's own
contributions (the call's context), and it is tied to the call by a
:class:`~hitrack.db.models.CallAnswer` in the same transaction. The producer
picks an answer into the production's split with a share and a credit role
(:func:`hitrack.services.productions.apply_contributions`), so the payment
proposal's preview shows it at once; the answerer is notified.

Refusals: a deadline in the past, a call on a production that no longer
changes, an answer to a closed call or in a media kind the call did not ask
for, a pick by anyone but the producer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import CallAnswer, Creator, OpenCall, Work
from hitrack.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hitrack.services import productions as prod
from hitrack.services.graph import visible_ids
from hitrack.services.notifications import Mailer, notify
from hitrack.services.records import clean_text, upload_record
from hitrack.services.unit_of_work import unit_of_work
from hitrack.storage import MediaStorage

__all__ = [
    "MEDIA_KINDS",
    "DeadlinePassed",
    "CallInput",
    "AnswerUpload",
    "CallView",
    "call_path",
    "parse_call_input",
    "parse_deadline",
    "open_call",
    "close_call",
    "get_call",
    "answer_call",
    "pick_answer",
    "call_view",
    "open_calls",
    "calls_of_production",
]

MEDIA_KINDS = ("audio", "video", "image", "text")
MAX_CALLS_LISTED = 50


def call_path(public_id: str) -> str:
    """Where a call's page lives (used in notifications)."""
    return f"/calls/{public_id}"


@dataclass(frozen=True)
class CallInput:
    """A call as the producer states it; the API and the page build the same object."""

    title: object
    description: object
    deadline: object
    media_kinds: Sequence[object]


@dataclass(frozen=True)
class AnswerUpload:
    """The record a creator answers with: the upload's file and fields."""

    stream: IO[bytes]
    filename: str
    title: object
    description: object = ""
    sources: Mapping[str, object] | None = None
    consent_ai_training: object = None


def parse_deadline(value: object) -> datetime:
    """An ISO date (end of that day, UTC) or date and time; without a zone it is UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if len(text) == 10:
                parsed = datetime.combine(date.fromisoformat(text), time(23, 59, 59))
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            raise InvalidInput(
                f"deadline: {text[:40]!r} is not a date (2027-01-31) or date and time"
            ) from None
    else:
        raise InvalidInput("deadline: required (a date like 2027-01-31)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("deadline: out of range") from None


def parse_call_input(data: Mapping[str, object]) -> CallInput:
    """The API body ``{title, description, deadline, media_kinds: [...]}``."""
    kinds = data.get("media_kinds", [])
    if not isinstance(kinds, list):
        raise InvalidInput('media_kinds: expected a list such as ["audio"]')
    return CallInput(
        title=data.get("title"),
        description=data.get("description", ""),
        deadline=data.get("deadline"),
        media_kinds=kinds,
    )


def _checked_kinds(kinds: Iterable[object]) -> list[str]:
    chosen: list[str] = []
    for kind in kinds:
        if kind not in MEDIA_KINDS:
            raise InvalidInput(f"media kind {kind!r}: one of {', '.join(MEDIA_KINDS)}")
        if kind not in chosen:
            chosen.append(str(kind))
    if not chosen:
        raise InvalidInput("media kinds: name at least one (audio, video, image or text)")
    return chosen


class DeadlinePassed(Conflict):
    """A deadline that is not in the future: the request conflicts with the clock (409),
    like a settlement period that has not closed yet."""

    code = "deadline_passed"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def open_call(
    db: Session,
    actor: Creator,
    production_id: object,
    data: CallInput,
    *,
    now: datetime | None = None,
) -> OpenCall:
    """The producer opens a call on their production (draft or proposed)."""
    at = _now(now)
    production = prod.get_production(db, actor, production_id)
    title = clean_text(data.title, "title", max_length=200)
    description = clean_text(data.description, "description", max_length=5000, required=False)
    deadline = parse_deadline(data.deadline)
    kinds = _checked_kinds(data.media_kinds)
    if production.created_by_id != actor.id:
        raise PermissionDenied(
            f"only the producer of {production.public_id} may open a call on it",
            ids=(production.public_id,),
        )
    if production.status not in ("draft", "proposed"):
        raise Conflict(
            f"{production.public_id} is {production.status}: its split no longer changes",
            ids=(production.public_id,),
        )
    if deadline <= at:
        raise DeadlinePassed(f"deadline: {deadline:%Y-%m-%d %H:%M} UTC is in the past")
    with unit_of_work(db):
        call = OpenCall(
            public_id="c" + secrets.token_hex(5),
            production_id=production.id,
            created_by_id=actor.id,
            title=title,
            description=description,
            media_kinds=kinds,
            deadline=deadline,
            status="open",
            created_at=at,
        )
        db.add(call)
    return call


def get_call(db: Session, viewer: Creator | None, public_id: object) -> OpenCall:
    """The call if its production is public (a draft too: opening a call shows it) or
    ``viewer`` may see it; NotFound otherwise."""
    if not isinstance(public_id, str) or len(public_id) > 32:
        raise NotFound("no such call")
    call = db.scalar(
        select(OpenCall)
        .where(OpenCall.public_id == public_id)
        .options(selectinload(OpenCall.production), selectinload(OpenCall.created_by))
    )
    if call is None or (
        call.production.visibility != "public" and not visible_ids(db, viewer, [call.production_id])
    ):
        raise NotFound(f"call {public_id} not found", ids=(public_id,))
    return call


def _require_open(call: OpenCall, at: datetime) -> None:
    if not call.is_open(at):
        raise Conflict(
            f"call {call.public_id} is closed: it took answers until "
            f"{call.deadline:%Y-%m-%d %H:%M} UTC",
            ids=(call.public_id,),
        )


def close_call(
    db: Session, actor: Creator, public_id: object, *, now: datetime | None = None
) -> OpenCall:
    """The producer stops taking answers before the deadline."""
    at = _now(now)
    with unit_of_work(db):
        call = get_call(db, actor, public_id)
        if call.created_by_id != actor.id:
            raise PermissionDenied(f"only the producer may close call {call.public_id}")
        _require_open(call, at)
        call.status = "closed"
        call.closed_at = at
    return call


def answer_call(
    db: Session,
    storage: MediaStorage,
    actor: Creator,
    public_id: object,
    upload: AnswerUpload,
    *,
    max_bytes: int,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> CallAnswer:
    """Upload a record in answer to an open call; the producer is notified."""
    at = _now(now)
    call = get_call(db, actor, public_id)
    _require_open(call, at)
    call_id = call.id
    producer_id, title = call.created_by_id, call.title
    answers: list[CallAnswer] = []

    def record_answer(record: Work) -> None:
        # Checked again in the upload's transaction: the call may have closed meanwhile.
        fresh = db.get(OpenCall, call_id)
        assert fresh is not None
        db.refresh(fresh)
        _require_open(fresh, at)
        if record.media_kind not in fresh.media_kinds:
            raise InvalidInput(
                f"call {fresh.public_id} asks for {' or '.join(fresh.media_kinds)}, "
                f"not {record.media_kind}",
                ids=(fresh.public_id,),
            )
        answer = CallAnswer(
            call_id=call_id, record_id=record.id, answered_by_id=actor.id, created_at=at
        )
        db.add(answer)
        answers.append(answer)
        notify(
            db,
            [producer_id] if producer_id != actor.id else [],
            "call_answer",
            f"{actor.display_name} answered your call “{title}” with “{record.title}”",
            call_path(fresh.public_id),
            mailer,
            now=at,
        )

    upload_record(
        db,
        storage,
        actor,
        stream=upload.stream,
        filename=upload.filename,
        title=upload.title,
        description=upload.description,
        consent_ai_training=upload.consent_ai_training,
        sources=upload.sources,
        max_bytes=max_bytes,
        before_commit=record_answer,
    )
    return answers[0]


def pick_answer(
    db: Session,
    actor: Creator,
    public_id: object,
    record_id: object,
    *,
    share: object,
    credit_role: object = None,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> CallAnswer:
    """The producer takes an answer into the production's split with ``share``.

    The split is extended by one contribution under every graph rule; the
    answerer is notified. A pick is allowed after the deadline too: the
    deadline closes answers, not the producer's choice.
    """
    at = _now(now)
    call = get_call(db, actor, public_id)
    if call.created_by_id != actor.id:
        raise PermissionDenied(
            f"only the producer may pick answers to call {call.public_id}", ids=(call.public_id,)
        )
    if not isinstance(record_id, str):
        raise NotFound("answer: expected the answer's record id")
    answer = db.scalar(
        select(CallAnswer)
        .join(Work, Work.id == CallAnswer.record_id)
        .where(CallAnswer.call_id == call.id, Work.public_id == record_id)
        .options(selectinload(CallAnswer.record))
    )
    if answer is None:
        raise NotFound(f"{record_id} is not an answer to call {call.public_id}", ids=(record_id,))
    if answer.status == "picked":
        raise Conflict(f"{record_id} is already picked", ids=(record_id,))
    role = clean_text(credit_role, "credit role", max_length=80, required=False) or None
    with unit_of_work(db):
        production = prod.get_production(db, actor, call.production.public_id, lock=True)
        contributions = prod.current_contributions(production)
        contributions.append(prod.ContributionInput(record_id, share, role))
        prod.apply_contributions(db, actor, production.public_id, contributions, now=at)
        answer.status = "picked"
        answer.picked_at = at
        notify(
            db,
            {o.creator_id for o in answer.record.owners} - {actor.id},
            "call_picked",
            f"{actor.display_name} picked “{answer.record.title}” for “{production.title}”",
            prod.production_path(production.public_id),
            mailer,
            now=at,
        )
    return answer


@dataclass(frozen=True)
class CallView:
    """A call's page: the call, its answers the viewer may see, and whether it is open."""

    call: OpenCall
    answers: list[CallAnswer]
    is_open: bool
    context: list[Work]


def call_view(
    db: Session, viewer: Creator | None, public_id: object, *, now: datetime | None = None
) -> CallView:
    call = get_call(db, viewer, public_id)
    answers = list(
        db.scalars(
            select(CallAnswer)
            .where(CallAnswer.call_id == call.id)
            .options(selectinload(CallAnswer.record), selectinload(CallAnswer.answered_by))
            .order_by(CallAnswer.created_at, CallAnswer.id)
            .limit(200)
        )
    )
    shown = visible_ids(db, viewer, [a.record_id for a in answers])
    context = [c.source for c in call.production.sources]
    context_shown = visible_ids(db, viewer, [w.id for w in context])
    return CallView(
        call=call,
        answers=[a for a in answers if a.record_id in shown],
        is_open=call.is_open(_now(now)),
        context=[w for w in context if w.id in context_shown],
    )


def open_calls(
    db: Session, viewer: Creator | None, *, limit: int = 12, now: datetime | None = None
) -> list[OpenCall]:
    """Calls still taking answers, closing soonest first (the home page lists them)."""
    return list(
        db.scalars(
            select(OpenCall)
            .join(Work, Work.id == OpenCall.production_id)
            .where(OpenCall.status == "open", OpenCall.deadline > _now(now))
            .where(Work.visibility == "public")
            .options(selectinload(OpenCall.production))
            .order_by(OpenCall.deadline, OpenCall.id)
            .limit(min(limit, MAX_CALLS_LISTED))
        )
    )


def calls_of_production(db: Session, production: Work) -> list[OpenCall]:
    return list(
        db.scalars(
            select(OpenCall)
            .where(OpenCall.production_id == production.id)
            .order_by(OpenCall.created_at.desc(), OpenCall.id.desc())
            .limit(MAX_CALLS_LISTED)
        )
    )
