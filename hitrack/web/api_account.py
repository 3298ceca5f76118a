"""API tokens over the JSON API: get one with a password, list, create, revoke.

``POST /api/v1/auth/token`` trades e-mail and password for a token (throttled
like the log-in page). ``POST /api/v1/me/tokens`` needs a freshly signed-in browser session: a token
cannot make tokens (a stolen one could otherwise outlive its revocation);
scripts get theirs from ``POST /api/v1/auth/token`` with the password.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for
from flask_login import login_fresh

from hitrack.db.models import ApiToken
from hitrack.domain.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from hitrack.services import accounts
from hitrack.web.account import TOKENS_PER_PAGE, token_policy
from hitrack.web.api import auth_required, body
from hitrack.web.auth import login_throttle
from hitrack.web.context import db
from hitrack.web.openapi import object_schema, operation, path_param, register_paths, text
from hitrack.web.signed_in import me

bp = Blueprint("account", __name__)


def token_json(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
    }


def issued_json(issued: accounts.IssuedToken) -> dict[str, Any]:
    return {**token_json(issued.row), "token": issued.token, "token_type": "Bearer"}


def new_token_fields(
    data: dict[str, Any], *, also: frozenset[str] = frozenset()
) -> tuple[object, object]:
    """``expires_in_days`` and ``name`` of a new token; fields beyond these (and ``also``) are refused."""
    unknown = set(data) - {"name", "expires_in_days"} - also
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    return data.get("expires_in_days"), data.get("name", "")


@bp.post("/auth/token")
@login_throttle
def token() -> Response:
    data = body()
    days, name = new_token_fields(data, also=frozenset({"email", "password"}))
    creator = accounts.authenticate(db(), email=data.get("email"), password=data.get("password"))
    issued = accounts.create_token(db(), creator, policy=token_policy(), days=days, name=name)
    return jsonify(issued_json(issued))


@bp.get("/me/tokens")
@auth_required
def list_tokens() -> Response:
    before = request.args.get("before")
    if before is not None and not before.isdigit():
        raise InvalidInput("before: a token id")
    rows = accounts.list_tokens(
        db(), me(), before=int(before) if before else None, limit=TOKENS_PER_PAGE
    )
    more = len(rows) == TOKENS_PER_PAGE
    return jsonify(
        {
            "tokens": [token_json(row) for row in rows],
            "next": url_for("api.account.list_tokens", before=rows[-1].id) if more else None,
        }
    )


@bp.post("/me/tokens")
@auth_required
def create_token() -> tuple[Response, int]:
    if g.get("auth_via") == "bearer":
        raise PermissionDenied(
            "a token cannot create tokens: sign in, or use POST /api/v1/auth/token"
        )
    if not login_fresh():
        raise AuthenticationFailed("log in again with your password to create a token")
    days, name = new_token_fields(body())
    issued = accounts.create_token(db(), me(), policy=token_policy(), days=days, name=name)
    return jsonify(issued_json(issued)), 201


@bp.delete("/me/tokens/<token_id>")
@auth_required
def revoke_token(token_id: str) -> tuple[str, int]:
    if not token_id.isdigit():
        raise NotFound(f"token {token_id} not found")
    accounts.revoke_token(db(), me(), int(token_id))
    return "", 204


TOKEN = object_schema(
    ["id", "name", "created_at", "expires_at"],
    id={"type": "integer"},
    name={"type": "string", "maxLength": 100},
    created_at={"type": "string", "format": "date-time"},
    expires_at={"type": "string", "format": "date-time"},
)
NEW_TOKEN_FIELDS: dict[str, Any] = {
    "name": text(100, required=False, description="a label to recognise it by"),
    "expires_in_days": {
        "type": "integer",
        "minimum": 1,
        "maximum": 365,
        "description": "lifetime; default HITRACK_TOKEN_LIFETIME_DAYS (90), "
        "at most HITRACK_TOKEN_MAX_LIFETIME_DAYS (365)",
    },
}
TOKEN_ID = path_param("token_id", "the token's id", {"type": "string", "pattern": "^[0-9]{1,18}$"})

ISSUED = {
    "allOf": [
        {"$ref": "#/components/schemas/ApiToken"},
        object_schema(
            ["token", "token_type"], token={"type": "string"}, token_type={"const": "Bearer"}
        ),
    ]
}

register_paths(
    {
        "/api/v1/auth/token": {
            "post": operation(
                "Exchange e-mail and password for a bearer token that expires",
                tag="auth",
                operation_id="issueToken",
                auth=False,
                errors=(401, 422, 429),
                body={
                    "type": "object",
                    "required": ["email", "password"],
                    "properties": {
                        "email": text(254),
                        "password": text(1024),
                        **NEW_TOKEN_FIELDS,
                    },
                    "additionalProperties": False,
                },
                response=ISSUED,
            )
        },
        "/api/v1/me/tokens": {
            "get": operation(
                "The signed-in creator's live API tokens, newest first, 50 a page",
                tag="auth",
                operation_id="listTokens",
                errors=(401, 422),
                params=[
                    {
                        "name": "before",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                        "description": "the page of tokens older than this id (see `next`)",
                    }
                ],
                response=object_schema(
                    ["tokens", "next"],
                    tokens={"type": "array", "items": {"$ref": "#/components/schemas/ApiToken"}},
                    next={"type": ["string", "null"]},
                ),
            ),
            "post": operation(
                "Create an API token (freshly signed-in browser sessions only); "
                "the token is shown once",
                tag="auth",
                operation_id="createToken",
                ok=201,
                errors=(400, 401, 403, 422),
                body={
                    "type": "object",
                    "properties": NEW_TOKEN_FIELDS,
                    "additionalProperties": False,
                },
                response=ISSUED,
            ),
        },
        "/api/v1/me/tokens/{token_id}": {
            "delete": operation(
                "Revoke one of your API tokens; it authenticates nothing afterwards",
                tag="auth",
                operation_id="revokeToken",
                params=[TOKEN_ID],
                ok=204,
                errors=(400, 401, 404),
            )
        },
    },
    {"ApiToken": TOKEN},
)
