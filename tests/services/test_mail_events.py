"""The mail each event sends, delivered to a real SMTP server on loopback and read back.

Proposals reach the contributors, objections the producer, an answer the
objector, payouts the payee (paid or failed), credit invitations the invited
address; password resets are read back in tests/web/test_password_reset.py.
Mail leaves only after the commit: a use case that fails sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from fractions import Fraction

import pytest
from sqlalchemy.orm import Session

from hitrack.domain.errors import Conflict
from hitrack.mail import SmtpMailer
from hitrack.services import credits, payouts
from hitrack.services import productions as prod
from hitrack.services.credits import CreditEntry, CreditsInput
from tests.factories import MINIMUMS, ScriptedProvider, connect, fund, make_person, make_work, usd
from tests.mail_server import SmtpServer, smtp_server
from tests.services import test_productions as production_tests
from tests.services.test_productions import T0, WINDOW, draft

cast = production_tests.cast

BASE_URL = "https://hitrack.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server("plain") as server:
        yield server


@pytest.fixture
def mailer(smtp: SmtpServer) -> SmtpMailer:
    return SmtpMailer.from_url(
        smtp.url, sender="hitrack <no-reply@hitrack.example>", base_url=BASE_URL
    )


def only(smtp: SmtpServer, to: str) -> EmailMessage:
    """The one message the server received for ``to``."""
    [message] = [m for m in smtp.inbox.messages if m["To"] == to]
    return message


def test_publishing_a_proposal_mails_each_contributor_but_not_the_producer(
    db: Session, cast, smtp, mailer
):
    production = draft(db, cast)
    prod.publish_proposal(
        db, cast["dana"], production.public_id, window=WINDOW, mailer=mailer, now=T0
    )
    assert sorted(m["To"] for m in smtp.inbox.messages) == sorted(
        [cast["ana"].email, cast["bo"].email]
    )
    message = only(smtp, cast["ana"].email)
    assert "Dana proposed a split for “Night Swim”" in message["Subject"]
    body = message.get_content()
    assert f"{BASE_URL}/productions/{production.public_id}" in body
    assert "comments are open until 2026-03-15 12:00 UTC" in body


def test_an_objection_mails_the_producer_and_the_answer_mails_the_objector(
    db: Session, cast, smtp, mailer
):
    production = draft(db, cast)
    prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW, now=T0)
    objection = prod.add_comment(
        db, cast["ana"], production.public_id, "Too little", objection=True, mailer=mailer, now=T0
    )
    message = only(smtp, cast["dana"].email)
    assert "Ana objected to the split of “Night Swim”" in message["Subject"]
    prod.answer_objection(
        db,
        cast["dana"],
        production.public_id,
        objection.id,
        "Tide carries the melody",
        mailer=mailer,
        now=T0,
    )
    answer = only(smtp, cast["ana"].email)
    assert "Dana answered your objection" in answer["Subject"]
    assert "Tide carries the melody" in answer.get_content()
    assert f"/productions/{production.public_id}#comments" in answer.get_content()


def test_a_refused_change_sends_no_mail(db: Session, cast, smtp, mailer):
    production = draft(db, cast)
    prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW, now=T0)
    objection = prod.add_comment(
        db, cast["ana"], production.public_id, "Too little", objection=True, now=T0
    )
    prod.answer_objection(
        db, cast["dana"], production.public_id, objection.id, resolve=True, mailer=mailer, now=T0
    )
    assert len(smtp.inbox.messages) == 1
    with pytest.raises(Conflict):
        prod.answer_objection(
            db, cast["dana"], production.public_id, objection.id, "again", mailer=mailer
        )
    assert len(smtp.inbox.messages) == 1


def test_payouts_mail_the_payee_when_paid_and_when_failed(db: Session, smtp, mailer):
    admin, ana, bo = (make_person(db, n, admin=n == "Admin") for n in ("Admin", "Ana", "Bo"))
    for person in (ana, bo):
        connect(db, person)
    fund(db, ana, usd("25.00"))
    fund(db, bo, usd("30.00"))
    provider = ScriptedProvider(answers=["sent", "failed"])
    payouts.run_payouts(db, provider, started_by=admin, minimums=MINIMUMS, mailer=mailer)
    paid, failed = only(smtp, ana.email), only(smtp, bo.email)
    assert paid["Subject"] == "hitrack: Payout of 25.00 USD sent"
    assert f"{BASE_URL}/me/payouts" in paid.get_content()
    assert "Payout of 30.00 USD failed" in failed["Subject"]
    assert "the money is back in your balance" in failed.get_content()


def test_a_credit_invitation_is_mailed_to_the_invited_address(db: Session, smtp, mailer):
    studio = make_person(db, "Studio")
    work = make_work(db, "record", "Night Film", {studio: 1})
    credits.set_credits(
        db,
        studio,
        work.public_id,
        CreditsInput(
            (CreditEntry(name="Kim", role="sound mixer", weight="1", email="kim@film.test"),),
            "1/4",
        ),
        min_credit_pool=Fraction(1, 10),
        mailer=mailer,
    )
    invitation = only(smtp, "kim@film.test")
    assert "Night Film" in invitation["Subject"] + invitation.get_content()
    assert f"{BASE_URL}/credits/" in invitation.get_content()


def test_the_window_in_the_mail_follows_the_revision(db: Session, cast, smtp, mailer):
    production = draft(db, cast)
    prod.publish_proposal(
        db, cast["dana"], production.public_id, window=timedelta(days=1), mailer=mailer, now=T0
    )
    assert "until 2026-03-02 12:00 UTC" in only(smtp, cast["bo"].email).get_content()
