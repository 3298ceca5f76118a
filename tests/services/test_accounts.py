"""Accounts: registration, Argon2 passwords, tokens that end, sessions, resets, admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from hitrack.db.models import ApiToken, Creator, PasswordReset
from hitrack.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from hitrack.mail import Email
from hitrack.services import accounts, notifications
from hitrack.services.unit_of_work import unit_of_work


def test_register_hashes_the_password_with_argon2(db):
    ana = accounts.register(
        db, email="Ana@Example.test", password="a long password", display_name="Ana"
    )
    assert ana.email == "ana@example.test" and ana.handle == "ana" and ana.role == "creator"
    assert ana.password_hash.startswith("$argon2id$") and "a long password" not in ana.password_hash
    assert accounts.authenticate(db, email="ana@example.test", password="a long password") is ana


def test_handles_are_unique(db):
    a = accounts.register(
        db, email="a1@example.test", password="a long password", display_name="Ana"
    )
    b = accounts.register(
        db, email="a2@example.test", password="a long password", display_name="Ana"
    )
    assert (a.handle, b.handle) == ("ana", "ana-2")


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not-an-email", "password": "a long password", "display_name": "X"},
        {"email": "x@example.test", "password": "short", "display_name": "X"},
        {"email": "x@example.test", "password": "a long password", "display_name": ""},
        {"email": 5, "password": "a long password", "display_name": "X"},
        {"email": "x@example.test", "password": None, "display_name": "X"},
    ],
)
def test_bad_registration_is_refused(db, fields):
    with pytest.raises(InvalidInput):
        accounts.register(db, **fields)


def test_an_email_registers_once(db):
    accounts.register(db, email="x@example.test", password="a long password", display_name="X")
    with pytest.raises(Conflict):
        accounts.register(db, email="X@example.test", password="another password", display_name="Y")


def test_wrong_password_or_unknown_email_fails_the_same_way(db):
    accounts.register(db, email="x@example.test", password="a long password", display_name="X")
    for email, password in [
        ("x@example.test", "wrong password"),
        ("nobody@example.test", "whatever12"),
    ]:
        with pytest.raises(AuthenticationFailed, match="wrong e-mail or password"):
            accounts.authenticate(db, email=email, password=password)


def test_tokens_identify_their_creator_and_only_hashes_are_stored(db):
    ana = accounts.register(
        db, email="x@example.test", password="a long password", display_name="X"
    )
    token = accounts.issue_token(db, ana)
    assert accounts.creator_for_token(db, token) is ana
    assert accounts.creator_for_token(db, token + "x") is None
    assert all(token not in row.token_hash for row in db.query(ApiToken))


def test_create_admin_promotes_or_creates(db):
    admin = accounts.create_admin(db, email="root@example.test", password="a long password")
    assert admin.is_admin
    user = accounts.register(
        db, email="u@example.test", password="a long password", display_name="U"
    )
    assert accounts.create_admin(db, email="u@example.test", password="new long password") is user
    assert user.is_admin


# --- Credentials that end -------------------------------------------------------------

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = accounts.TokenPolicy(default_days=90, max_days=365)


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> None:
        self.sent.append(email)


@pytest.fixture
def ana(db):
    return accounts.register(
        db, email="ana@example.test", password="a long password", display_name="Ana"
    )


def test_a_token_works_until_its_expiry_and_not_a_moment_after(db, ana):
    issued = accounts.create_token(db, ana, policy=POLICY, now=T0)
    assert issued.row.expires_at == T0 + timedelta(days=90)
    assert accounts.creator_for_token(db, issued.token, now=T0 + timedelta(days=89)) is ana
    assert accounts.creator_for_token(db, issued.token, now=T0 + timedelta(days=90)) is None

    short = accounts.create_token(db, ana, policy=POLICY, days=7, name="ci", now=T0)
    assert (short.row.name, short.row.expires_at) == ("ci", T0 + timedelta(days=7))
    assert accounts.creator_for_token(db, short.token, now=T0 + timedelta(days=8)) is None


@pytest.mark.parametrize("days", [0, -1, 366, "30", 1.5, True, [30]])
def test_a_token_lifetime_outside_the_policy_is_refused_and_nothing_is_stored(db, ana, days):
    with pytest.raises(InvalidInput, match="expires_in_days: a whole number of days from 1 to 365"):
        accounts.create_token(db, ana, policy=POLICY, days=days)
    assert db.query(ApiToken).count() == 0


@pytest.mark.parametrize("name", ["x" * 101, 5, "tab\there"])
def test_a_bad_token_label_is_refused(db, ana, name):
    with pytest.raises(InvalidInput, match="name:"):
        accounts.create_token(db, ana, name=name)


def test_a_revoked_token_authenticates_nothing_and_only_its_owner_can_revoke_it(db, ana):
    bo = accounts.register(
        db, email="bo@example.test", password="a long password", display_name="Bo"
    )
    issued = accounts.create_token(db, ana, now=T0)
    with pytest.raises(NotFound):
        accounts.revoke_token(db, bo, issued.row.id)
    with pytest.raises(NotFound):
        accounts.revoke_token(db, ana, "1")
    assert accounts.creator_for_token(db, issued.token, now=T0) is ana
    accounts.revoke_token(db, ana, issued.row.id, now=T0)
    assert accounts.revoke_token(db, ana, issued.row.id).revoked_at == T0  # again: no change
    assert accounts.creator_for_token(db, issued.token, now=T0) is None


def test_the_token_list_shows_live_tokens_newest_first_a_page_at_a_time(db, ana):
    rows = [accounts.create_token(db, ana, name=f"t{n}", now=T0).row for n in range(5)]
    accounts.create_token(db, ana, days=1, name="expired", now=T0 - timedelta(days=2))
    accounts.revoke_token(db, ana, rows[2].id)
    bo = accounts.register(
        db, email="bo@example.test", password="a long password", display_name="Bo"
    )
    accounts.create_token(db, bo, name="bo's", now=T0)

    first = accounts.list_tokens(db, ana, limit=2, now=T0)
    assert [t.name for t in first] == ["t4", "t3"]
    rest = accounts.list_tokens(db, ana, before=first[-1].id, limit=2, now=T0)
    assert [t.name for t in rest] == ["t1", "t0"]


def test_ending_sessions_raises_the_generation_in_the_session_id(db, ana):
    before = ana.get_id()
    accounts.end_sessions(db, ana)
    assert before == f"{ana.id}:0" and ana.get_id() == f"{ana.id}:1"


def test_changing_the_password_needs_the_current_one_and_ends_every_credential(db, ana):
    token = accounts.issue_token(db, ana)
    with pytest.raises(AuthenticationFailed, match="current_password"):
        accounts.change_password(db, ana, current="wrong password", new="a new long password")
    with pytest.raises(InvalidInput, match="new_password: use at least 10"):
        accounts.change_password(db, ana, current="a long password", new="short")
    with pytest.raises(InvalidInput, match="different"):
        accounts.change_password(db, ana, current="a long password", new="a long password")
    assert ana.get_id().endswith(":0") and accounts.creator_for_token(db, token) is ana

    accounts.change_password(db, ana, current="a long password", new="a new long password")
    assert ana.get_id().endswith(":1")
    assert accounts.creator_for_token(db, token) is None
    assert accounts.authenticate(db, email=ana.email, password="a new long password") is ana
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate(db, email=ana.email, password="a long password")


def reset_token_of(email: Email) -> str:
    assert email.url and email.url.startswith("/password/reset/")
    return email.url.rsplit("/", 1)[1]


def test_a_reset_for_an_unknown_address_stores_and_mails_nothing(db, ana):
    mailer = RecordingMailer()
    assert (
        accounts.request_password_reset(
            db, "nobody@example.test", mailer=mailer, lifetime=timedelta(hours=1)
        )
        is None
    )
    db.commit()
    assert mailer.sent == [] and db.query(PasswordReset).count() == 0
    with pytest.raises(InvalidInput, match="email"):
        accounts.request_password_reset(
            db, "not an address", mailer=mailer, lifetime=timedelta(hours=1)
        )


def test_a_reset_link_is_mailed_after_commit_stored_hashed_and_works_once(db, ana):
    mailer = RecordingMailer()
    token = accounts.issue_token(db, ana)
    accounts.request_password_reset(
        db, " ANA@example.test ", mailer=mailer, lifetime=timedelta(hours=1), now=T0
    )
    [mail] = mailer.sent
    assert mail.to == "ana@example.test" and "60 minutes" in mail.body
    secret = reset_token_of(mail)
    [row] = db.query(PasswordReset).all()
    assert secret not in row.token_hash and row.expires_at == T0 + timedelta(hours=1)

    later = T0 + timedelta(minutes=30)
    assert accounts.password_reset_is_open(db, secret, now=later)
    with pytest.raises(InvalidInput, match="new_password"):
        accounts.reset_password(db, secret, "short", now=later)
    assert accounts.password_reset_is_open(db, secret, now=later)  # a refused try uses nothing

    assert accounts.reset_password(db, secret, "a brand new password", now=later) is ana
    assert accounts.authenticate(db, email=ana.email, password="a brand new password") is ana
    assert ana.get_id().endswith(":1") and accounts.creator_for_token(db, token) is None
    assert not accounts.password_reset_is_open(db, secret, now=later)
    with pytest.raises(InvalidInput, match="expired or was used already"):
        accounts.reset_password(db, secret, "yet another password", now=later)


def test_a_reset_link_expires_and_a_new_password_voids_the_other_links(db, ana):
    mailer = RecordingMailer()
    for _ in range(3):
        accounts.request_password_reset(
            db, ana.email, mailer=mailer, lifetime=timedelta(hours=1), now=T0
        )
    first, second, third = (reset_token_of(mail) for mail in mailer.sent)
    with pytest.raises(InvalidInput, match="expired"):
        accounts.reset_password(db, first, "a brand new password", now=T0 + timedelta(hours=1))
    accounts.reset_password(db, second, "a brand new password", now=T0 + timedelta(minutes=5))
    assert not accounts.password_reset_is_open(db, third, now=T0 + timedelta(minutes=6))
    for junk in ("", "x" * 500, None, 7):
        assert not accounts.password_reset_is_open(db, junk)


def test_mail_queued_by_a_use_case_that_fails_never_leaves(db, ana):
    mailer = RecordingMailer()
    with pytest.raises(RuntimeError), unit_of_work(db):
        notifications.send_after_commit(db, mailer, Email(ana.email, "never", "never"))
        raise RuntimeError("the use case failed")
    db.commit()
    assert mailer.sent == []


def test_promoting_an_admin_sets_the_password_like_a_change(db, ana):
    token = accounts.issue_token(db, ana)
    accounts.create_admin(db, email=ana.email, password="the admin password")
    assert ana.is_admin and ana.get_id().endswith(":1")
    assert accounts.creator_for_token(db, token) is None


# --- Sign-ups that race (PostgreSQL: a rival commits between the check and the insert) ---


@pytest.fixture(scope="module")
def committed_pg():  # type: ignore[no-untyped-def]
    """A PostgreSQL schema where commits are real, so that two sessions can race."""
    from hitrack.db.session import make_engine
    from tests.conftest import migrated_postgres_schema

    with migrated_postgres_schema("hitrack_race") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def rival_signs_up_first(session, engine, **fields):  # type: ignore[no-untyped-def]
    """Just before ``session`` writes its new creator, another connection commits this one."""

    @event.listens_for(session, "before_flush", once=True)
    def _rival(*_args: object) -> None:
        with Session(engine) as other, unit_of_work(other):
            other.add(Creator(password_hash="x", **fields))


@pytest.mark.postgres
def test_a_sign_up_that_loses_the_race_for_its_email_is_a_conflict(committed_pg):
    with Session(committed_pg, expire_on_commit=False) as db:
        rival_signs_up_first(
            db, committed_pg, email="race@example.test", handle="rival", display_name="Rival"
        )
        with pytest.raises(Conflict, match="email: an account with this e-mail already exists"):
            accounts.register(
                db, email="race@example.test", password="a long password", display_name="Racer"
            )
        assert db.scalar(select(func.count()).where(Creator.email == "race@example.test")) == 1


@pytest.mark.postgres
def test_a_sign_up_that_loses_the_race_for_its_handle_takes_the_next(committed_pg):
    with Session(committed_pg, expire_on_commit=False) as db:
        rival_signs_up_first(
            db, committed_pg, email="sam1@example.test", handle="sam", display_name="Sam"
        )
        sam = accounts.register(
            db, email="sam2@example.test", password="a long password", display_name="Sam"
        )
        assert sam.handle == "sam-2"
