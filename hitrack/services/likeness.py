"""The subjects of a record: people whose face, voice or body appears in it.

DESIGN section 1: a record with subjects enters a model's manifest only if
every subject consented to AI training too (:func:`check_subject_consent`,
called where a manifest is resolved, next to the owners' consent). An owner
lists the subjects (:func:`set_subjects`, replacing the list); a subject
linked to a creator answers as that creator, an invited one through the link
mailed to them (its token is kept only as a SHA-256). A subject confirms they
appear and gives or refuses consent (:func:`answer`); changing the answer
later affects future manifests only: models already registered keep theirs.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, RecordSubject, Work
from hitrack.domain.errors import ConsentRequired, InvalidInput, NotFound, PermissionDenied
from hitrack.services.accounts import _normalise_email as normalise_email
from hitrack.services.graph import get_work
from hitrack.services.notifications import Email, Mailer, send_after_commit
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "LIKENESS",
    "SubjectEntry",
    "parse_subjects_input",
    "set_subjects",
    "subjects_of",
    "get_subject",
    "answer",
    "check_subject_consent",
    "SUBJECT_URL",
]

LIKENESS = ("face", "voice", "body", "face and voice", "")
SUBJECT_URL = "/subjects/{subject}?token={token}"
MAX_SUBJECTS = 100


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SubjectEntry:
    """One subject of a record: a linked creator (handle) or a name invited by e-mail."""

    name: object = ""
    likeness: object = ""
    creator: object = None
    email: object = None
    id: object = None


def parse_subjects_input(data: Mapping[str, Any]) -> tuple[SubjectEntry, ...]:
    raw = data.get("subjects", [])
    if not isinstance(raw, list) or len(raw) > MAX_SUBJECTS:
        raise InvalidInput(f"subjects: expected a list of at most {MAX_SUBJECTS}")
    entries = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"subject {i}: expected an object")
        unknown = set(item) - {"id", "name", "likeness", "creator", "email"}
        if unknown:
            raise InvalidInput(f"subject {i}: unknown field {sorted(unknown)[0]!r}")
        entries.append(SubjectEntry(**{k: item[k] for k in item}))
    return tuple(entries)


def subjects_of(db: Session, work_id: int) -> list[RecordSubject]:
    return list(
        db.scalars(
            select(RecordSubject)
            .where(RecordSubject.work_id == work_id)
            .order_by(RecordSubject.id)
            .execution_options(populate_existing=True)
        )
    )


def set_subjects(
    db: Session,
    actor: Creator,
    work_id: str,
    entries: Sequence[SubjectEntry],
    *,
    mailer: Mailer | None = None,
) -> list[RecordSubject]:
    """Replace the subjects of a record (its owners only); kept ones (by ``id``) keep their answer."""
    work = get_work(db, work_id)
    if not work.is_owned_by(actor.id):
        raise PermissionDenied(f"only the owners of {work.public_id} list its subjects")
    if work.kind != "record":
        raise InvalidInput(f"{work.public_id} is a {work.kind}: only records have subjects")
    current = {s.public_id: s for s in subjects_of(db, work.id)}
    handles = {
        e.creator.strip() for e in entries if isinstance(e.creator, str) and e.creator.strip()
    }
    creators = {c.handle: c for c in db.scalars(select(Creator).where(Creator.handle.in_(handles)))}
    planned: list[tuple[RecordSubject | None, str, str, Creator | None, str | None]] = []
    for i, entry in enumerate(entries, 1):
        label = f"subject {i}"
        existing = None
        if entry.id not in (None, ""):
            if not isinstance(entry.id, str) or entry.id not in current:
                raise InvalidInput(f"{label}: {entry.id!r} is not a subject of this record")
            existing = current[entry.id]
        creator = None
        if isinstance(entry.creator, str) and entry.creator.strip():
            creator = creators.get(entry.creator.strip())
            if creator is None:
                raise InvalidInput(f"{label}: no creator {entry.creator.strip()!r}")
        email = None
        if entry.email not in (None, ""):
            try:
                email = normalise_email(entry.email)
            except InvalidInput:
                raise InvalidInput(f"{label}: {entry.email!r} is not an e-mail address") from None
        if existing is None and creator is None and email is None:
            raise InvalidInput(f"{label}: link a creator or invite the person by e-mail")
        name = (entry.name.strip() if isinstance(entry.name, str) else "") or (
            creator.display_name if creator else (existing.name if existing else "")
        )
        if not name or len(name) > 120:
            raise InvalidInput(f"{label}: a name of 1 to 120 characters is required")
        likeness = entry.likeness.strip().lower() if isinstance(entry.likeness, str) else ""
        if likeness not in LIKENESS:
            raise InvalidInput(
                f"{label} ({name}): likeness must be one of {', '.join(x for x in LIKENESS if x)}"
            )
        planned.append((existing, name, likeness, creator, email))
    invitations: list[tuple[str, str, RecordSubject]] = []
    with unit_of_work(db):
        kept = {p[0].id for p in planned if p[0] is not None}
        for subject in current.values():
            if subject.id not in kept:
                db.delete(subject)
        result = []
        for existing, name, likeness, creator, email in planned:
            subject = existing or RecordSubject(
                public_id="s" + secrets.token_hex(5), work_id=work.id
            )
            subject.name, subject.likeness = name, likeness
            if creator is not None:
                subject.creator_id = creator.id
            if email is not None and subject.invite_email != email and subject.creator_id is None:
                subject.invite_email = email
                token = secrets.token_urlsafe(32)
                subject.invite_token_hash = _digest(token)
                invitations.append((email, token, subject))
            if existing is None:
                db.add(subject)
            result.append(subject)
        db.flush()
        if mailer is not None:
            for email, token, subject in invitations:
                send_after_commit(
                    db,
                    mailer,
                    Email(
                        to=email,
                        subject=f"hitrack: do you appear in {work.title}?",
                        body=(
                            f"{actor.display_name} says {subject.name} appears in {work.title}. "
                            "Open the link to confirm, and to say whether it may be used to "
                            "train AI models (it will not be unless you agree)."
                        ),
                        url=SUBJECT_URL.format(subject=subject.public_id, token=token),
                    ),
                )
    return result


def get_subject(db: Session, public_id: object) -> RecordSubject:
    if not isinstance(public_id, str) or not public_id:
        raise NotFound("subject not found")
    subject = db.scalar(select(RecordSubject).where(RecordSubject.public_id == public_id))
    if subject is None:
        raise NotFound(f"subject {public_id} not found", ids=(public_id,))
    return subject


def _may_answer(subject: RecordSubject, actor: Creator | None, token: object) -> bool:
    if actor is not None and subject.creator_id == actor.id:
        return True
    return (
        isinstance(token, str)
        and subject.invite_token_hash is not None
        and secrets.compare_digest(_digest(token), subject.invite_token_hash)
    )


def answer(
    db: Session,
    actor: Creator | None,
    subject_id: str,
    *,
    confirm: bool,
    consent_ai_training: bool | None,
    token: object = None,
    now: datetime | None = None,
) -> RecordSubject:
    """The subject confirms they appear and gives (True) or refuses (False) AI-training consent.

    Only the subject answers: their linked account, or the holder of their
    invitation link (a signed-in creator answering by link is linked to it).
    """
    subject = get_subject(db, subject_id)
    if not _may_answer(subject, actor, token):
        raise PermissionDenied(f"only the subject {subject.public_id} answers for themselves")
    if not isinstance(confirm, bool) or not (
        consent_ai_training is None or isinstance(consent_ai_training, bool)
    ):
        raise InvalidInput("confirm and consent_ai_training: expected true or false")
    if consent_ai_training and not confirm:
        raise InvalidInput("consent_ai_training: confirm that you appear in the record first")
    at = now or datetime.now(UTC)
    with unit_of_work(db):
        if actor is not None and subject.creator_id is None:
            subject.creator_id = actor.id
        subject.confirmed_at = at if confirm else None
        if consent_ai_training is not None:
            subject.consent_ai_training = consent_ai_training
            subject.consent_updated_at = at
    return subject


def check_subject_consent(db: Session, model_id: str, records: Iterable[Work]) -> None:
    """Refuse a manifest with a record whose subjects have not all consented to AI training.

    Raises ConsentRequired naming each such record and its subjects waiting or refusing.
    """
    by_id = {r.id: r for r in records}
    if not by_id:
        return
    missing: dict[int, list[str]] = {}
    for subject in db.scalars(
        select(RecordSubject)
        .where(RecordSubject.work_id.in_(list(by_id)))
        .order_by(RecordSubject.work_id, RecordSubject.id)
    ):
        if subject.consent_ai_training is not True:
            state = "refused" if subject.consent_ai_training is False else "not answered"
            missing.setdefault(subject.work_id, []).append(f"{subject.name}: {state}")
    if missing:
        names = "; ".join(
            f"{by_id[i].public_id} ({by_id[i].title}; {', '.join(who)})"
            for i, who in missing.items()
        )
        raise ConsentRequired(
            f"model {model_id} cannot train on records whose subjects have not all "
            f"consented to AI training: {names}",
            ids=tuple(by_id[i].public_id for i in missing),
        )
