"""In-app notifications, and the e-mail that goes with them through a pluggable mailer.

:func:`notify` adds :class:`~hitrack.db.models.Notification` rows to the
caller's transaction (it never commits) and queues one e-mail per recipient
with an address. The queue is kept on the session and handed to the mailer
only after the transaction commits; a rollback drops it, so nobody is mailed
about something that did not happen. A mailer that fails is logged, never
raised: the state change has already been committed and the in-app
notification is there.

The default :class:`LogMailer` writes each e-mail to the ``hitrack.mail``
logger; a real SMTP or API mailer only has to implement :class:`Mailer`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from hitrack.db.models import Creator, Notification
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "Email",
    "Mailer",
    "LogMailer",
    "notify",
    "notifications_for",
    "unread_count",
    "mark_all_read",
]

mail_log = logging.getLogger("hitrack.mail")
_OUTBOX = "hitrack.outbox"


@dataclass(frozen=True)
class Email:
    """One e-mail: ``url`` is a path on the site, the mailer makes it absolute."""

    to: str
    subject: str
    body: str
    url: str | None = None


class Mailer(Protocol):
    """Sends one e-mail. Called after the transaction that caused it has committed."""

    def send(self, email: Email) -> None: ...


class LogMailer:
    """The embedded default: every e-mail becomes one line on the ``hitrack.mail`` logger."""

    def __init__(self, base_url: str = "", logger: logging.Logger | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.logger = logger or mail_log

    def send(self, email: Email) -> None:
        link = f" link={self.base_url}{email.url}" if email.url else ""
        self.logger.info(
            "mail to=%s subject=%r%s body=%r", email.to, email.subject, link, email.body
        )


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
    outbox: list[tuple[Mailer, Email]] = db.info.setdefault(_OUTBOX, [])
    for creator in db.scalars(select(Creator).where(Creator.id.in_(ids)).order_by(Creator.id)):
        row = Notification(
            creator_id=creator.id, kind=kind, message=message, url=url, created_at=at
        )
        db.add(row)
        rows.append(row)
        if mailer is not None and creator.email:
            outbox.append(
                (
                    mailer,
                    Email(to=creator.email, subject=f"hitrack: {message}", body=message, url=url),
                )
            )
    return rows


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    for mailer, email in session.info.pop(_OUTBOX, []):
        try:
            mailer.send(email)
        except Exception:  # the change is committed; a mail outage must not undo or hide it
            mail_log.exception("could not send mail to %s", email.to)


@event.listens_for(Session, "after_soft_rollback")
def _drop_outbox(session: Session, previous_transaction: SessionTransaction) -> None:
    session.info.pop(_OUTBOX, None)


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
