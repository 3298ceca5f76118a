"""Accounts: registration, Argon2 passwords, tokens, admins."""

from __future__ import annotations

import pytest

from hitrack.domain.errors import AuthenticationFailed, Conflict, InvalidInput
from hitrack.services import accounts


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
    from hitrack.db.models import ApiToken

    assert all(token not in row.token_hash for row in db.query(ApiToken))


def test_create_admin_promotes_or_creates(db):
    admin = accounts.create_admin(db, email="root@example.test", password="a long password")
    assert admin.is_admin
    user = accounts.register(
        db, email="u@example.test", password="a long password", display_name="U"
    )
    assert accounts.create_admin(db, email="u@example.test", password="new long password") is user
    assert user.is_admin
