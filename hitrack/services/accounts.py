"""Accounts: registration, passwords (Argon2), API tokens, admins.

Each function owns its transaction: it commits on success and leaves the
session clean on error, so callers (views, the CLI) never commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import ApiToken, Creator
from hitrack.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound

__all__ = [
    "register",
    "authenticate",
    "issue_token",
    "creator_for_token",
    "create_admin",
    "get_creator",
    "MIN_PASSWORD_LENGTH",
]

MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
# Verifying against a throwaway hash when the e-mail is unknown keeps the
# response time the same, so log-in does not reveal which e-mails exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def _normalise_email(email: object) -> str:
    if not isinstance(email, str) or not _EMAIL.match(email.strip()) or len(email) > 254:
        raise InvalidInput("email: enter a valid e-mail address")
    return email.strip().lower()


def _check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidInput("password: at most 1024 characters")
    return password


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:30] or "creator"


def unique_handle(db: Session, wanted: str) -> str:
    """A handle derived from ``wanted`` that no creator has yet."""
    base = _slug(wanted)
    handle, n = base, 1
    while db.scalar(select(func.count()).where(Creator.handle == handle)):
        n += 1
        handle = f"{base}-{n}"
    return handle


def register(
    db: Session, *, email: object, password: object, display_name: object, role: str = "creator"
) -> Creator:
    """Create a creator account. Raises ``InvalidInput`` or ``Conflict`` (e-mail taken)."""
    email_n = _normalise_email(email)
    password_s = _check_password(password)
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > 120:
        raise InvalidInput("display_name: enter a name of 1 to 120 characters")
    if db.scalar(select(Creator.id).where(Creator.email == email_n)) is not None:
        raise Conflict("email: an account with this e-mail already exists")
    creator = Creator(
        email=email_n,
        display_name=display_name.strip(),
        handle=unique_handle(db, display_name),
        password_hash=_hasher.hash(password_s),
        role=role,
    )
    db.add(creator)
    db.commit()
    return creator


def authenticate(db: Session, *, email: object, password: object) -> Creator:
    """The creator with these credentials, or ``AuthenticationFailed``."""
    if not isinstance(email, str) or not isinstance(password, str):
        raise AuthenticationFailed("wrong e-mail or password")
    creator = db.scalar(select(Creator).where(Creator.email == email.strip().lower()))
    try:
        if creator is None or creator.password_hash is None:
            _hasher.verify(_DUMMY_HASH, password)
            raise AuthenticationFailed("wrong e-mail or password")
        _hasher.verify(creator.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise AuthenticationFailed("wrong e-mail or password") from None
    if _hasher.check_needs_rehash(creator.password_hash):
        creator.password_hash = _hasher.hash(password)
        db.commit()
    return creator


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(db: Session, creator: Creator) -> str:
    """A new bearer token for ``creator``; only its hash is kept."""
    token = "htk_" + secrets.token_urlsafe(32)
    db.add(ApiToken(creator_id=creator.id, token_hash=_token_hash(token)))
    db.commit()
    return token


def creator_for_token(db: Session, token: str) -> Creator | None:
    """The creator a live bearer token belongs to, or None."""
    row = db.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None)
        )
    )
    return row.creator if row is not None else None


def get_creator(db: Session, creator_id: int) -> Creator:
    creator = db.get(Creator, creator_id)
    if creator is None:
        raise NotFound(f"creator {creator_id} not found")
    return creator


def create_admin(db: Session, *, email: object, password: object) -> Creator:
    """Make an admin: promote the account with this e-mail, or create one."""
    email_n = _normalise_email(email)
    creator = db.scalar(select(Creator).where(Creator.email == email_n))
    if creator is None:
        return register(
            db, email=email_n, password=password, display_name=email_n.split("@")[0], role="admin"
        )
    creator.password_hash = _hasher.hash(_check_password(password))
    creator.role = "admin"
    db.commit()
    return creator
