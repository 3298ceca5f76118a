"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Kept next to the views and checked by a test that every API route appears
here and every path here is routed.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
SHARE = {"oneOf": [{"type": "string", "examples": ["0.25", "1/3"]}, {"type": "integer"}]}


def operation(
    summary: str,
    *,
    tag: str,
    auth: bool = True,
    body: dict[str, Any] | None = None,
    multipart: dict[str, Any] | None = None,
    ok: int = 200,
    response: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (401, 404, 422),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {
            str(ok): {
                "description": "OK",
                "content": {"application/json": {"schema": response or {"type": "object"}}},
            }
        },
    }
    for status in errors:
        op["responses"][str(status)] = {
            "description": "Error",
            "content": {"application/json": {"schema": ERROR}},
        }
    if not auth:
        op["security"] = []
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if multipart is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": multipart}},
        }
    if params:
        op["parameters"] = params
    return op


def object_schema(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


WORK_ID = {"name": "public_id", "in": "path", "required": True, "schema": {"type": "string"}}

_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/auth/register": {
        "post": operation(
            "Create a creator account",
            tag="auth",
            auth=False,
            ok=201,
            errors=(409, 422),
            body=object_schema(
                ["email", "password", "display_name"],
                email={"type": "string", "format": "email"},
                password={"type": "string", "minLength": 10},
                display_name={"type": "string"},
            ),
            response={"$ref": "#/components/schemas/Me"},
        )
    },
    "/api/v1/me": {
        "get": operation(
            "The signed-in creator: profile and roles",
            tag="creators",
            response={"$ref": "#/components/schemas/Me"},
            errors=(401,),
        )
    },
    "/api/v1/records": {
        "post": operation(
            "Upload a record (optionally a remix citing sources)",
            tag="records",
            ok=201,
            errors=(401, 404, 413, 422),
            multipart=object_schema(
                ["file", "title"],
                file={"type": "string", "format": "binary"},
                title={"type": "string"},
                description={"type": "string"},
                visibility={"enum": ["public", "private"]},
                consent_remix={"type": "boolean"},
                consent_ai_training={"type": "boolean"},
                sources={"type": "string", "description": "JSON object: work id -> share"},
            ),
            response={"$ref": "#/components/schemas/Work"},
        )
    },
    "/api/v1/records/{public_id}": {
        "get": operation(
            "A record's metadata",
            tag="records",
            auth=False,
            params=[WORK_ID],
            response={"$ref": "#/components/schemas/Work"},
            errors=(404,),
        )
    },
    "/api/v1/works/{public_id}": {
        "get": operation(
            "Any work's metadata",
            tag="works",
            auth=False,
            params=[WORK_ID],
            response={"$ref": "#/components/schemas/Work"},
            errors=(404,),
        )
    },
    "/api/v1/records/{public_id}/media": {
        "get": {
            "summary": "Download the record's media",
            "tags": ["records"],
            "security": [],
            "parameters": [WORK_ID],
            "responses": {
                "200": {"description": "The media", "content": {"application/octet-stream": {}}},
                "404": {"description": "Error", "content": {"application/json": {"schema": ERROR}}},
            },
        }
    },
    "/api/v1/records/{public_id}/consent": {
        "put": operation(
            "Owners set what the record may be used for",
            tag="records",
            params=[WORK_ID],
            errors=(401, 403, 404, 422),
            body={
                "type": "object",
                "properties": {"remix": {"type": "boolean"}, "ai_training": {"type": "boolean"}},
            },
            response={"$ref": "#/components/schemas/Work"},
        )
    },
    "/api/v1/works/{public_id}/sources": {
        "post": operation(
            "Cite a source with a share",
            tag="works",
            ok=201,
            params=[WORK_ID],
            errors=(401, 403, 404, 422),
            body=object_schema(["source", "share"], source={"type": "string"}, share=SHARE),
            response={"$ref": "#/components/schemas/Work"},
        )
    },
    "/api/v1/works/{public_id}/graph": {
        "get": operation(
            "The work's ancestry in the interchange format",
            tag="works",
            auth=False,
            params=[WORK_ID],
            errors=(404,),
            response={"$ref": "#/components/schemas/Interchange"},
        )
    },
}

_SCHEMAS: dict[str, Any] = {
    "Error": object_schema(
        ["error"],
        error=object_schema(
            ["code", "message"], code={"type": "string"}, message={"type": "string"}
        ),
    ),
    "Me": object_schema(
        ["id", "display_name"],
        id={"type": "string"},
        display_name={"type": "string"},
        email={"type": "string"},
        roles={"type": "array", "items": {"enum": ["creator", "admin"]}},
        payout=object_schema(
            ["provider", "payable"],
            provider={"enum": ["manual", "stripe"]},
            connected={"type": "boolean"},
            payable={"type": "boolean"},
            status={"type": "string"},
        ),
    ),
    "Work": object_schema(
        ["id", "kind", "title", "owners", "sources", "retained_share"],
        id={"type": "string"},
        kind={"enum": ["record", "production", "model"]},
        title={"type": "string"},
        description={"type": "string"},
        visibility={"enum": ["public", "private"]},
        owners={
            "type": "array",
            "items": object_schema(
                ["id", "fraction"],
                id={"type": "string"},
                display_name={"type": "string"},
                fraction={"type": "string"},
            ),
        },
        sources={
            "type": "array",
            "items": object_schema(
                ["work", "share"], work={"type": "string"}, share={"type": "string"}
            ),
        },
        retained_share={"type": "string"},
        consent=object_schema([], remix={"type": "boolean"}, ai_training={"type": "boolean"}),
        media=object_schema(
            [],
            type={"type": "string"},
            kind={"type": "string"},
            size={"type": "integer"},
            sha256={"type": "string"},
            url={"type": "string"},
        ),
    ),
    "Interchange": object_schema(
        ["currency", "works"],
        currency={"type": "string"},
        works={"type": "array", "items": {"type": "object"}},
        events={"type": "array", "items": {"type": "object"}},
    ),
}

_EXTRA_PATHS: dict[str, dict[str, Any]] = {}


def register_paths(paths: dict[str, dict[str, Any]], schemas: dict[str, Any] | None = None) -> None:
    """Let later API modules (productions, revenue, payouts) add their operations."""
    for path, ops in paths.items():
        _EXTRA_PATHS.setdefault(path, {}).update(ops)
    _SCHEMAS.update(schemas or {})


def openapi_document() -> dict[str, Any]:
    paths = {p: dict(ops) for p, ops in _PATHS.items()}
    for path, ops in _EXTRA_PATHS.items():
        paths.setdefault(path, {}).update(ops)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hitrack API",
            "version": "1",
            "description": "Works, remixes, productions, models and the money that flows back along them. "
            "Money is integer micro-units (1 USD = 1,000,000); shares are exact decimal or "
            "fraction strings.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": _SCHEMAS,
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }
