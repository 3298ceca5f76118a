"""Who is signed in: the one home of the signed-in helpers and the login decorators.

Flask-Login ships without type information, so its ``current_user`` proxy and
its decorators are ``Any`` to mypy. This module wraps them once with honest
signatures; views import ``me``, ``actor``, ``login_required`` and
``fresh_login_required`` from here and stay fully typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

import flask_login

from hitrack.db.models import Creator

__all__ = ["actor", "fresh_login_required", "is_signed_in", "login_required", "me"]

P = ParamSpec("P")
R = TypeVar("R")


def is_signed_in() -> bool:
    """Whether the request carries a signed-in creator (session or bearer token)."""
    return bool(flask_login.current_user.is_authenticated)


def me() -> Creator:
    """The signed-in creator; call it only behind a login check."""
    return cast(Creator, flask_login.current_user._get_current_object())


def actor() -> Creator | None:
    """The signed-in creator, or ``None`` for an anonymous visitor."""
    return me() if is_signed_in() else None


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Send anonymous visitors to the log-in page (Flask-Login's decorator, typed)."""
    return cast(Callable[P, R], flask_login.login_required(view))


def fresh_login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Also ask a session restored from the remember cookie for the password again."""
    return cast(Callable[P, R], flask_login.fresh_login_required(view))
