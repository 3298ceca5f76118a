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

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, Notification
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
]


def send_after_commit(db: Session, mailer: Mailer, email: Email) -> None:
    """Hand ``email`` to ``mailer`` once the session's transaction commits (never if it rolls back)."""

    def send() -> None:
        try:
            mailer.send(email)
        except Exception:  # the change is committed; a mail outage must not undo or hide it
            mail_log.exception("could not send mail to %s", email.to)

    after_commit(db, send)


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
    """Notify each creator in-app, and by e-mail once the caller's transaction commits."""
    ids = sorted(set(creator_ids))
    if not ids:
        return []
    at = now or datetime.now(UTC)
    rows = []
    for creator in db.scalars(select(Creator).where(Creator.id.in_(ids)).order_by(Creator.id)):
        row = Notification(
            creator_id=creator.id, kind=kind, message=message, url=url, created_at=at
        )
        db.add(row)
        rows.append(row)
        if mailer is not None and creator.email:
            send_after_commit(
                db,
                mailer,
                Email(to=creator.email, subject=f"hitrack: {message}", body=message, url=url),
            )
    return rows


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
