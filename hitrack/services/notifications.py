"""In-app notifications, and the e-mail that goes with them through the configured mailer.

:func:`notify` adds :class:`~hitrack.db.models.Notification` rows to the
caller's transaction (it never commits) and queues one e-mail per recipient
with an address. :func:`send_after_commit` is that queue, for any use case
that mails (a password reset too): the e-mails wait on the session and reach
the mailer only after the transaction commits; a rollback drops them, so
nobody is mailed about something that did not happen. A mailer that fails is
logged, never raised: the state change has already been committed.

The mailers themselves (:class:`Mailer`, the console default, SMTP) live in
:mod:`hitrack.mail`; their names are repeated here for the use cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from hitrack.db.bulk import insert_rows
from hitrack.db.models import Creator, Notification, NotificationPreference
from hitrack.domain.errors import InvalidInput, NotFound
from hitrack.mail import Email, LogMailer, Mailer
from hitrack.mail.console import mail_log
from hitrack.services.unit_of_work import after_commit, unit_of_work

__all__ = [
    "Email",
    "Mailer",
    "LogMailer",
    "notify",
    "send_after_commit",
    "notifications_for",
    "unread_count",
    "mark_all_read",
    "notify_in_bulk",
    "KINDS",
    "Preference",
    "preferences_for",
    "set_preferences",
    "open_notification",
]

#: Every kind of notification, with how the settings page names it. A creator
#: may turn each off in-app and by e-mail (:class:`NotificationPreference`).
KINDS: dict[str, str] = {
    "proposal_published": "A payment proposal that includes your work",
    "proposal_revised": "A proposal that includes your work is revised",
    "proposal_finalized": "A split that includes your work is final",
    "proposal_cancelled": "A production that includes your work is cancelled",
    "comment": "Comments on your proposals",
    "objection": "Objections to your proposals",
    "remixed": "Your work is remixed",
    "manifest": "Your work is used in a model's training manifest",
    "matched": "Your work is matched in a model's output",
    "earned": "Your work earns",
    "call_answer": "Answers to your open calls",
    "call_picked": "Your answer to an open call is picked",
    "followed": "Someone follows you",
    "credit_claimed": "A credit on your work is claimed",
    "credit_disputed": "A claim to a credit is disputed",
    "payout_paid": "A payout reaches you",
    "payout_failed": "A payout fails",
    "payout_reversed": "A payout is reversed",
    "payout_account": "Your payout account changes",
    "payout_method": "Your payout method is reviewed",
}


def send_after_commit(db: Session, mailer: Mailer, email: Email) -> None:
    """Hand ``email`` to ``mailer`` once the session's transaction commits (never if it rolls back).

    The queue is :func:`hitrack.services.unit_of_work.after_commit`, the one
    home of side effects that wait for the commit.
    """
    db.connection()  # begin the transaction now, so that its rollback is seen and drops the mail
    after_commit(db, partial(_deliver, mailer, email))


def _deliver(mailer: Mailer, email: Email) -> None:
    try:
        mailer.send(email)
    except Exception:  # the change is committed; a mail outage must not undo or hide it
        mail_log.exception("could not send mail to %s", email.to)


def notify(
    db: Session,
    creator_ids: Iterable[int],
    kind: str,
    message: str,
    url: str | None,
    mailer: Mailer | None,
    *,
    now: datetime | None = None,
) -> list[Notification]:
    """Notify each creator in-app, and by e-mail once the caller's transaction commits.

    A creator who turned ``kind`` off (in-app or by e-mail) is left out of that channel.
    """
    ids = sorted(set(creator_ids))
    if not ids:
        return []
    at = now or datetime.now(UTC)
    off = _turned_off(db, ids, kind)
    rows = []
    for creator in db.scalars(select(Creator).where(Creator.id.in_(ids)).order_by(Creator.id)):
        in_app, email = off.get(creator.id, (True, True))
        if in_app:
            row = Notification(
                creator_id=creator.id, kind=kind, message=message, url=url, created_at=at
            )
            db.add(row)
            rows.append(row)
        if email and mailer is not None and creator.email:
            send_after_commit(
                db,
                mailer,
                Email(to=creator.email, subject=f"hitrack: {message}", body=message, url=url),
            )
    return rows


def notify_in_bulk(
    db: Session,
    creator_ids: Iterable[int],
    kind: str,
    message: str,
    url: str | None,
    *,
    now: datetime | None = None,
) -> int:
    """Notify each creator in-app only, the rows written in bulk; the number written.

    For what reaches every earner of a settlement (a model trained on a
    hundred thousand works pays as many creators in one event): no ORM object
    and no mail per creator, one COPY or executemany for all of them.
    """
    ids = sorted(set(creator_ids))
    if not ids:
        return 0
    at = now or datetime.now(UTC)
    off = _turned_off(db, ids, kind)
    return insert_rows(
        db,
        cast(Table, Notification.__table__),
        ("creator_id", "kind", "message", "url", "created_at"),
        ((i, kind, message, url, at) for i in ids if off.get(i, (True, True))[0]),
    )


def _turned_off(db: Session, ids: list[int], kind: str) -> dict[int, tuple[bool, bool]]:
    """``{creator id: (in_app, email)}`` for the creators with a preference for ``kind``."""
    found: dict[int, tuple[bool, bool]] = {}
    for i in range(0, len(ids), 500):
        for creator_id, in_app, email in db.execute(
            select(
                NotificationPreference.creator_id,
                NotificationPreference.in_app,
                NotificationPreference.email,
            ).where(
                NotificationPreference.kind == kind,
                NotificationPreference.creator_id.in_(ids[i : i + 500]),
            )
        ):
            found[creator_id] = (in_app, email)
    return found


@dataclass(frozen=True)
class Preference:
    """One kind of notification, how it is named, and whether it reaches the creator."""

    kind: str
    label: str
    in_app: bool
    email: bool


def preferences_for(db: Session, actor: Creator) -> list[Preference]:
    """Every kind with the creator's choice (on unless they turned it off)."""
    chosen: dict[str, tuple[bool, bool]] = {
        kind: (in_app, email)
        for kind, in_app, email in db.execute(
            select(
                NotificationPreference.kind,
                NotificationPreference.in_app,
                NotificationPreference.email,
            ).where(NotificationPreference.creator_id == actor.id)
        )
    }
    return [
        Preference(kind, label, *chosen.get(kind, (True, True))) for kind, label in KINDS.items()
    ]


def set_preferences(
    db: Session, actor: Creator, choices: Mapping[str, tuple[bool, bool]]
) -> list[Preference]:
    """Replace the creator's choices: ``{kind: (in_app, email)}``; kinds left out are on."""
    unknown = sorted(set(choices) - set(KINDS))
    if unknown:
        raise InvalidInput(f"unknown notification kind {unknown[0]!r}")
    with unit_of_work(db):
        db.execute(
            delete(NotificationPreference).where(NotificationPreference.creator_id == actor.id)
        )
        db.add_all(
            NotificationPreference(creator_id=actor.id, kind=kind, in_app=in_app, email=email)
            for kind, (in_app, email) in sorted(choices.items())
            if not (in_app and email)
        )
    return preferences_for(db, actor)


def open_notification(
    db: Session, actor: Creator, notification_id: int, *, now: datetime | None = None
) -> str | None:
    """Mark one of the creator's notifications read and give the page it points to."""
    with unit_of_work(db):
        row = db.scalar(
            select(Notification).where(
                Notification.id == notification_id, Notification.creator_id == actor.id
            )
        )
        if row is None:
            raise NotFound("no such notification")
        if row.read_at is None:
            row.read_at = now or datetime.now(UTC)
        url = row.url
    return url


def notifications_for(db: Session, actor: Creator, *, limit: int = 100) -> list[Notification]:
    """The creator's newest notifications."""
    return list(
        db.scalars(
            select(Notification)
            .where(Notification.creator_id == actor.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def unread_count(db: Session, actor: Creator) -> int:
    count: Any = db.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.creator_id == actor.id, Notification.read_at.is_(None))
    )
    return int(count or 0)


def mark_all_read(db: Session, actor: Creator, *, now: datetime | None = None) -> int:
    """Mark every unread notification of the creator read; returns how many."""
    with unit_of_work(db):
        result = db.execute(
            update(Notification)
            .where(Notification.creator_id == actor.id, Notification.read_at.is_(None))
            .values(read_at=now or datetime.now(UTC))
        )
    return int(getattr(result, "rowcount", 0) or 0)
