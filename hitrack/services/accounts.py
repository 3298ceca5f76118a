"""Accounts: registration, passwords (Argon2), API tokens, sessions, password resets, admins.

Credentials end. An API token lives until its expiry (chosen at creation,
within :class:`TokenPolicy`) or until its owner revokes it. A log-in session
carries the creator's *session generation* (see ``Creator.get_id``): logging
out raises it, so every session cookie of that creator signed before, on any
device, stops working. Setting a password (change, reset, ``create-admin``)
raises it too, revokes every API token and voids open reset links; the
session that changed the password is signed again by the web layer.

Only SHA-256 digests of tokens and reset links are stored. Both are 256-bit
random strings, so a fast digest is enough (a password needs Argon2 because
people choose guessable ones).

Each function owns its transaction through
:func:`~hitrack.services.unit_of_work.unit_of_work`; callers (views, the CLI)
never commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hitrack.db.models import ApiToken, Creator, PasswordReset
from hitrack.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from hitrack.mail import Email, Mailer
from hitrack.services.notifications import send_after_commit
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "register",
    "authenticate",
    "TokenPolicy",
    "IssuedToken",
    "create_token",
    "issue_token",
    "creator_for_token",
    "list_tokens",
    "revoke_token",
    "end_sessions",
    "change_password",
    "request_password_reset",
    "password_reset_is_open",
    "reset_password",
    "create_admin",
    "get_creator",
    "unique_handle",
    "MIN_PASSWORD_LENGTH",
]

MAX_ROW_ID = 2**31 - 1
"""The largest id an INTEGER primary key holds (PostgreSQL); no row has a larger one."""

MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
# Verifying against a throwaway hash when the e-mail is unknown keeps the
# response time the same, so log-in does not reveal which e-mails exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
_TOKEN_PREFIX = "htk_"
_LONGEST_SECRET = 200  # longer "tokens" are refused before hashing
# Concurrent sign-ups with one display name race for its handle; after this many
# lost races the handle gets a random suffix, which cannot keep colliding.
_HANDLE_ATTEMPTS = 5


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _normalise_email(email: object) -> str:
    if not isinstance(email, str) or not _EMAIL.match(email.strip()) or len(email) > 254:
        raise InvalidInput("email: enter a valid e-mail address")
    return email.strip().lower()


def _check_password(password: object, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"{field}: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidInput(f"{field}: at most 1024 characters")
    return password


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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


def _email_taken(db: Session, email: str) -> bool:
    return db.scalar(select(Creator.id).where(Creator.email == email)) is not None


def register(
    db: Session, *, email: object, password: object, display_name: object, role: str = "creator"
) -> Creator:
    """Create a creator account. Raises ``InvalidInput`` or ``Conflict`` (e-mail taken).

    Two sign-ups at once with one e-mail end in one account and a ``Conflict``;
    with one display name, in two accounts with distinct handles. The unique
    constraints decide, so this holds across processes and servers.
    """
    email_n = _normalise_email(email)
    password_s = _check_password(password)
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > 120:
        raise InvalidInput("display_name: enter a name of 1 to 120 characters")
    # Hashed before the first query: on SQLite that query takes the write lock.
    password_hash = _hasher.hash(password_s)
    taken = Conflict("email: an account with this e-mail already exists")
    if _email_taken(db, email_n):
        raise taken
    for attempt in range(_HANDLE_ATTEMPTS + 1):
        handle = unique_handle(db, display_name)
        if attempt == _HANDLE_ATTEMPTS:
            handle = f"{handle[:50]}-{secrets.token_hex(3)}"
        creator = Creator(
            email=email_n,
            display_name=display_name.strip(),
            handle=handle,
            password_hash=password_hash,
            role=role,
            session_generation=0,
        )
        try:
            with unit_of_work(db):
                db.add(creator)
        except IntegrityError:
            if _email_taken(db, email_n):
                raise taken from None
            continue  # another sign-up took this handle a moment ago: pick the next
        return creator
    raise Conflict("display_name: too many sign-ups with this name at once; try again")


def _verify_password(creator: Creator | None, password: object) -> bool:
    if not isinstance(password, str):
        return False
    try:
        if creator is None or creator.password_hash is None:
            _hasher.verify(_DUMMY_HASH, password)
            return False
        return _hasher.verify(creator.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(db: Session, *, email: object, password: object) -> Creator:
    """The creator with these credentials, or ``AuthenticationFailed``."""
    if not isinstance(email, str) or not isinstance(password, str):
        raise AuthenticationFailed("wrong e-mail or password")
    creator = db.scalar(select(Creator).where(Creator.email == email.strip().lower()))
    if creator is None or not _verify_password(creator, password):
        raise AuthenticationFailed("wrong e-mail or password")
    assert creator.password_hash is not None
    if _hasher.check_needs_rehash(creator.password_hash):
        with unit_of_work(db):
            creator.password_hash = _hasher.hash(password)
    return creator


# --- API tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPolicy:
    """How long API tokens live: ``default_days`` unless the creator picks up to ``max_days``."""

    default_days: int = 90
    max_days: int = 365

    def lifetime(self, days: object = None) -> timedelta:
        if days is None:
            return timedelta(days=self.default_days)
        if isinstance(days, float) and days.is_integer():  # JSON's 30.0 is the number 30
            days = int(days)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= self.max_days:
            raise InvalidInput(f"expires_in_days: a whole number of days from 1 to {self.max_days}")
        return timedelta(days=days)


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``token`` is shown to its owner once; ``row`` is what is kept."""

    token: str
    row: ApiToken


def _token_name(name: object) -> str:
    if name is None:
        return ""
    if not isinstance(name, str) or len(name.strip()) > 100:
        raise InvalidInput("name: a label of at most 100 characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidInput("name: no control characters")
    return name.strip()


def create_token(
    db: Session,
    creator: Creator,
    *,
    policy: TokenPolicy = TokenPolicy(),
    days: object = None,
    name: object = "",
    now: datetime | None = None,
) -> IssuedToken:
    """A new bearer token for ``creator``, expiring after ``days`` (default: the policy's)."""
    lifetime = policy.lifetime(days)
    label = _token_name(name)
    at = _now(now)
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        creator_id=creator.id,
        token_hash=_digest(token),
        name=label,
        created_at=at,
        expires_at=at + lifetime,
    )
    with unit_of_work(db):
        db.add(row)
    return IssuedToken(token, row)


def issue_token(
    db: Session,
    creator: Creator,
    *,
    policy: TokenPolicy = TokenPolicy(),
    days: object = None,
    name: object = "",
    now: datetime | None = None,
) -> str:
    """The secret of :func:`create_token`, for callers that need nothing else."""
    return create_token(db, creator, policy=policy, days=days, name=name, now=now).token


def creator_for_token(db: Session, token: str, *, now: datetime | None = None) -> Creator | None:
    """The creator a live (unexpired, unrevoked) bearer token belongs to, or None."""
    if not isinstance(token, str) or not token or len(token) > _LONGEST_SECRET:
        return None
    row = db.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _digest(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > _now(now),
        )
    )
    return row.creator if row is not None else None


def list_tokens(
    db: Session,
    creator: Creator,
    *,
    before: int | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> list[ApiToken]:
    """The creator's live tokens, newest first, ``limit`` at a time (ids below ``before``)."""
    query = select(ApiToken).where(
        ApiToken.creator_id == creator.id,
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > _now(now),
    )
    if before is not None:  # beyond the id column's range every token is older
        query = query.where(ApiToken.id < min(before, MAX_ROW_ID))
    return list(db.scalars(query.order_by(ApiToken.id.desc()).limit(limit)))


def revoke_token(
    db: Session, creator: Creator, token_id: object, *, now: datetime | None = None
) -> ApiToken:
    """Revoke one of the creator's tokens (again is harmless); another's is ``NotFound``."""
    row = None
    if isinstance(token_id, int) and not isinstance(token_id, bool) and 0 < token_id <= MAX_ROW_ID:
        row = db.scalar(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.creator_id == creator.id)
        )
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        with unit_of_work(db):
            row.revoked_at = _now(now)
    return row


# --- Sessions and passwords ---------------------------------------------------------


def _bump_session_generation(db: Session, creator: Creator) -> None:
    db.execute(
        update(Creator)
        .where(Creator.id == creator.id)
        .values(session_generation=Creator.session_generation + 1)
        .execution_options(synchronize_session=False)
    )
    db.expire(creator, ["session_generation"])  # read back on next use: the new generation


def end_sessions(db: Session, creator: Creator) -> None:
    """Log the creator out everywhere: every session signed before stops working."""
    with unit_of_work(db):
        _bump_session_generation(db, creator)


def _set_password(db: Session, creator: Creator, password: str, at: datetime) -> None:
    """The new hash, and the end of every credential the old password stood behind."""
    creator.password_hash = _hasher.hash(password)
    _bump_session_generation(db, creator)
    db.execute(
        update(ApiToken)
        .where(ApiToken.creator_id == creator.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(PasswordReset)
        .where(PasswordReset.creator_id == creator.id, PasswordReset.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )


def change_password(
    db: Session,
    creator: Creator,
    *,
    current: object,
    new: object,
    now: datetime | None = None,
) -> None:
    """Set a new password after checking the current one.

    Ends the creator's other sessions and revokes their API tokens.
    """
    if not _verify_password(creator, current):
        raise AuthenticationFailed("current_password: that is not your current password")
    password = _check_password(new, "new_password")
    if password == current:
        raise InvalidInput("new_password: choose a password different from the current one")
    with unit_of_work(db):
        _set_password(db, creator, password, _now(now))


def request_password_reset(
    db: Session,
    email: object,
    *,
    mailer: Mailer,
    lifetime: timedelta,
    now: datetime | None = None,
) -> None:
    """Mail a single-use reset link to the account with ``email``, if there is one.

    Returns nothing either way, so that callers cannot tell whether the
    address has an account. The mail goes out once the link is committed.
    """
    email_n = _normalise_email(email)
    creator = db.scalar(select(Creator).where(Creator.email == email_n))
    if creator is None:
        return
    at = _now(now)
    token = secrets.token_urlsafe(32)
    minutes = int(lifetime.total_seconds() // 60)
    with unit_of_work(db):
        db.add(
            PasswordReset(
                creator_id=creator.id,
                token_hash=_digest(token),
                created_at=at,
                expires_at=at + lifetime,
            )
        )
        send_after_commit(
            db,
            mailer,
            Email(
                to=email_n,
                subject="hitrack: reset your password",
                body=(
                    f"Someone asked to reset the password of your hitrack account "
                    f"({creator.handle}). Open the link below within {minutes} minutes "
                    "to choose a new one; it works once.\n\n"
                    "If it was not you, ignore this e-mail: your password stays as it is."
                ),
                url=f"/password/reset/{token}",
            ),
        )


def _open_reset(db: Session, token: object, at: datetime) -> PasswordReset | None:
    if not isinstance(token, str) or not token or len(token) > _LONGEST_SECRET:
        return None
    return db.scalar(
        select(PasswordReset).where(
            PasswordReset.token_hash == _digest(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > at,
        )
    )


def password_reset_is_open(db: Session, token: object, *, now: datetime | None = None) -> bool:
    """Whether ``token`` is a reset link that is unused and unexpired."""
    return _open_reset(db, token, _now(now)) is not None


def reset_password(
    db: Session, token: object, new_password: object, *, now: datetime | None = None
) -> Creator:
    """Use a reset link to set a new password; the link then works no more.

    Like a password change, it ends every session and revokes every API token.
    """
    password = _check_password(new_password, "new_password")
    at = _now(now)
    expired = InvalidInput("this reset link has expired or was used already; ask for a new one")
    reset = _open_reset(db, token, at)
    if reset is None:
        raise expired
    with unit_of_work(db):
        # Claim the link in one statement, so two uses at once cannot both succeed.
        claimed = db.execute(
            update(PasswordReset)
            .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            raise expired
        creator = reset.creator
        _set_password(db, creator, password, at)
    return creator


# --- Lookup and admins ----------------------------------------------------------------


def get_creator(db: Session, creator_id: int) -> Creator:
    creator = db.get(Creator, creator_id)
    if creator is None:
        raise NotFound(f"creator {creator_id} not found")
    return creator


def create_admin(db: Session, *, email: object, password: object) -> Creator:
    """Make an admin: promote the account with this e-mail, or create one.

    Promoting sets the given password, with the same effect as a password change.
    """
    email_n = _normalise_email(email)
    creator = db.scalar(select(Creator).where(Creator.email == email_n))
    if creator is None:
        return register(
            db, email=email_n, password=password, display_name=email_n.split("@")[0], role="admin"
        )
    password_s = _check_password(password)
    with unit_of_work(db):
        _set_password(db, creator, password_s, _now(None))
        creator.role = "admin"
    return creator
