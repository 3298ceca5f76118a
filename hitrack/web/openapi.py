"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

One builder for every operation (:func:`operation`), the schemas the API
modules share (``components/schemas``), and :func:`register_paths`, through
which each API module (``api.py``, ``api_productions.py``, ...) adds the
operations it routes, next to their views. A test checks that every API route
appears here and every path here is routed; the schemathesis test in
``tests/fuzz`` checks that the document tells the truth: a request it calls
valid is accepted, every answer has the shape it describes.

Request schemas state what the services enforce: lengths, patterns (text never
holds a NUL character and required text is not blank), closed objects,
integer bounds. Rules that span several values (shares that sum to at most 1,
a date range) are stated in the descriptions.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ANY_TEXT",
    "ERROR",
    "SHARE",
    "SPACE",
    "WORK_ID",
    "link",
    "nullable",
    "object_schema",
    "openapi_document",
    "operation",
    "path_param",
    "query_param",
    "ref",
    "register_paths",
    "text",
]

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to the shared schema ``name`` in ``components/schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or JSON ``null``."""
    return {"anyOf": [schema, {"type": "null"}]}


# Text: any characters but NUL; "required" text also holds one that is not white
# space (the services strip it and refuse what is left empty). White space is
# spelled out as the characters Python strips, since ``\s`` means fewer in the
# ECMA regular expressions of JSON Schema.
SPACE = r"\t-\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
ANY_TEXT = r"^[^\u0000]*$"
SOME_TEXT = rf"^[^\u0000]*[^\u0000{SPACE}][^\u0000]*$"


def text(max_length: int, *, required: bool = True, **extra: Any) -> Schema:
    """A text field: at most ``max_length`` characters, no NUL; not blank when ``required``."""
    return {
        "type": "string",
        "maxLength": max_length,
        "pattern": SOME_TEXT if required else ANY_TEXT,
        **({"minLength": 1} if required else {}),
        **extra,
    }


def object_schema(required: list[str], *, closed: bool = True, **props: Any) -> Schema:
    """An object with ``props``; ``closed`` (the default) refuses other properties."""
    schema: Schema = {"type": "object", "required": required, "properties": props}
    if closed:
        schema["additionalProperties"] = False
    return schema


def path_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or ref("Id"),
    }


def query_param(name: str, description: str, schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


WORK_ID = path_param("public_id", "a work id, e.g. r1a2b3c4d5e")
ERROR = ref("Error")
SHARE = ref("Share")

_ERRORS = {
    400: ("BadRequest", "The request is malformed, or a signed-in browser sent no CSRF token"),
    401: ("Unauthorized", "Not signed in: send Authorization: Bearer <token>"),
    403: ("Forbidden", "Signed in, but not allowed to do this"),
    404: ("NotFound", "No such resource, or not one you may see"),
    409: (
        "Conflict",
        "The request conflicts with the current state (taken, already done, too early)",
    ),
    413: ("TooLarge", "The upload is larger than the configured limit"),
    422: ("Unprocessable", "A field is missing or invalid; the message names it"),
    429: ("TooManyRequests", "Too many failed attempts: wait and try again"),
    503: ("Unavailable", "The payment provider is unavailable: try again later"),
}


def operation(
    summary: str,
    *,
    tag: str,
    operation_id: str | None = None,
    auth: bool = True,
    body: Schema | None = None,
    body_required: bool = True,
    multipart: Schema | None = None,
    encoding: dict[str, Any] | None = None,
    ok: int = 200,
    response: Schema | None = None,
    media: dict[str, Schema] | None = None,
    also: dict[int, Schema] | None = None,
    params: list[Schema] | None = None,
    errors: tuple[int, ...] = (401, 404, 422),
    links: dict[str, Schema] | None = None,
    description: str | None = None,
) -> Schema:
    """One operation of the document, the same way for every route.

    ``body`` is the JSON request body and ``multipart`` the form one; a route
    given both takes either. ``response`` is the JSON body of the ``ok`` answer (``media`` instead, or
    besides, maps other content types to their schemas); ``also`` adds other
    successful statuses with their JSON body. ``links`` (OpenAPI link objects
    by name) say which operations can follow the ``ok`` answer with a value
    from it. Each status in ``errors`` answers the shared ``Error`` body.
    """
    content: dict[str, Any] = {}
    if response is not None:
        content["application/json"] = {"schema": response}
    for media_type, schema in (media or {}).items():
        content[media_type] = {"schema": schema}
    success: Schema = {"description": summary, "content": content}
    if links:
        success["links"] = links
    responses: dict[str, Any] = {str(ok): success}
    for status, schema in (also or {}).items():
        responses[str(status)] = {
            "description": summary,
            "content": {"application/json": {"schema": schema}},
        }
    for status in errors:
        responses[str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
    op: Schema = {"summary": summary, "tags": [tag]}
    if operation_id:
        op["operationId"] = operation_id
    if description:
        op["description"] = description
    if not auth:
        op["security"] = []
    if params:
        op["parameters"] = params
    request_content: dict[str, Any] = {}
    if body is not None:
        request_content["application/json"] = {"schema": body}
    if multipart is not None:
        form: Schema = {"schema": multipart}
        if encoding:
            form["encoding"] = encoding
        request_content["multipart/form-data"] = form
    if request_content:
        # A file upload always needs its body; JSON alone may make it optional.
        required = body_required or multipart is not None
        op["requestBody"] = {"required": required, "content": request_content}
    op["responses"] = responses
    return op


def link(
    operation_id: str,
    description: str,
    *,
    request_body: dict[str, str] | None = None,
    **parameters: str,
) -> Schema:
    """A link to ``operation_id`` filling its ``parameters`` (and, with ``request_body``, the
    fields of its body) from runtime expressions."""
    result: Schema = {"operationId": operation_id, "description": description}
    if parameters or request_body is None:
        result["parameters"] = parameters
    if request_body is not None:
        result["requestBody"] = request_body
    return result


# --- Shared schemas ---------------------------------------------------------------

_DECIMAL_DIGITS = "{1,20}"
_DENOMINATOR = "[1-9][0-9]{0,8}"

_SCHEMAS: dict[str, Any] = {
    "Error": object_schema(
        ["error"],
        closed=False,
        error=object_schema(
            ["code", "message"], closed=False, code={"type": "string"}, message={"type": "string"}
        ),
    ),
    "Id": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": rf"^[^\u0000{SPACE}/](?:[^\u0000/]*[^\u0000{SPACE}/])?$",
        "description": "an identifier as the API gave it",
    },
    "Share": {
        "description": "A share in (0, 1], exact: a decimal or fraction string, or 1. "
        "The shares a work gives its sources sum to at most 1.",
        "anyOf": [
            {
                "type": "string",
                "pattern": rf"^(?:1(?:\.0{_DECIMAL_DIGITS})?|0?\.[0-9]{{0,19}}[1-9][0-9]{{0,19}}"
                rf"|1/{_DENOMINATOR})$",
                "examples": ["0.25", "1/3"],
            },
            {"type": "integer", "minimum": 1, "maximum": 1},
        ],
    },
    "UnitShare": {
        "description": "A value in [0, 1], exact: a decimal or fraction string, 0 or 1",
        "anyOf": [
            {
                "type": "string",
                "pattern": rf"^(?:[01](?:\.0{_DECIMAL_DIGITS})?|0?\.[0-9]{_DECIMAL_DIGITS}"
                rf"|[01]/{_DENOMINATOR})$",
                "examples": ["0", "0.1", "1/2"],
            },
            {"type": "integer", "minimum": 0, "maximum": 1},
        ],
    },
    "Weight": {
        "description": "A positive exact number: a decimal or fraction string, or an integer",
        "anyOf": [
            {
                "type": "string",
                "pattern": r"^(?:[0-9]{0,12}[1-9][0-9]{0,12}(?:\.[0-9]{0,12})?"
                r"|[0-9]{0,12}\.[0-9]{0,12}[1-9][0-9]{0,12}"
                rf"|[1-9][0-9]{{0,8}}/{_DENOMINATOR})$",
                "examples": ["3", "0.5", "2/3"],
            },
            {"type": "integer", "minimum": 1, "maximum": 10**15},
        ],
    },
    "ExactText": {
        "type": "string",
        "description": "an exact number printed as an integer, decimal or fraction",
        "pattern": r"^-?[0-9]+(?:\.[0-9]+|/[0-9]+)?$",
    },
    "Timestamp": {"type": "string", "format": "date-time"},
    "Creator": object_schema(
        ["id", "display_name"],
        closed=False,
        id={"type": "string", "description": "the creator's handle"},
        display_name={"type": "string"},
    ),
}


def _error_responses() -> dict[str, Any]:
    return {
        name: {"description": description, "content": {"application/json": {"schema": ERROR}}}
        for name, description in _ERRORS.values()
    }


_PATHS: dict[str, dict[str, Any]] = {}


def register_paths(paths: dict[str, dict[str, Any]], schemas: dict[str, Any] | None = None) -> None:
    """Add an API module's operations (path -> method -> operation) and the schemas they name."""
    for path, ops in paths.items():
        _PATHS.setdefault(path, {}).update(ops)
    _SCHEMAS.update(schemas or {})


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hitrack API",
            "version": "1",
            "description": "Works, remixes, productions, models and the money that flows back "
            "along them. Money is integer micro-units (1 USD = 1,000,000); shares are exact "
            "decimal or fraction strings. Errors are JSON {error: {code, message}}; a 5xx is "
            "always a bug.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": _SCHEMAS,
            "responses": _error_responses(),
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {path: dict(ops) for path, ops in _PATHS.items()},
    }
