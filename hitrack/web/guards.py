"""What every request passes before a view reads it: body size, NUL characters, CSRF.

One hook, registered before any extension's, so nothing parses a body before
its size is bounded:

- **Body size.** A route marked :func:`takes_upload` accepts a
  ``multipart/form-data`` body up to the upload limit
  (``HITRACK_MAX_UPLOAD_BYTES`` plus room for the form fields); every other
  body (JSON, forms, anything else) is capped at ``HITRACK_MAX_BODY_BYTES``.
  A ``Content-Length`` over the cap is refused unread; a chunked body is read
  only up to the cap. Either way: 413.
- **NUL characters.** No text hitrack stores or looks up may hold U+0000
  (PostgreSQL refuses it in text): the path, the query string, form fields and
  file names, and every string (and key) of a JSON body are checked here, once,
  for every route: 422 ``invalid_input``.
- **CSRF.** Pages always need the token. The JSON API needs it (in
  ``X-CSRFToken``) only when a browser session authenticated the request;
  a request a valid bearer token authenticated carries no ambient credential
  and needs none. The mere presence of an ``Authorization`` header changes
  nothing. Outside the API, blueprints exempted with ``csrf.exempt`` (the
  signed webhooks) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from hitrack.domain.errors import InvalidInput
from hitrack.domain.shares import holds_nul
from hitrack.settings import Settings
from hitrack.web.context import settings
from hitrack.web.extensions import csrf
from hitrack.web.signed_in import is_signed_in

__all__ = ["RequestRejected", "init_app", "takes_upload", "upload_limit", "cookie_session"]

F = TypeVar("F", bound=Callable[..., Any])
API_PREFIX = "/api/"  # every JSON API route (hitrack.web.api_v1) starts with it
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# The form fields that travel with a file (title, description, sources) fit in this.
UPLOAD_FORM_ROOM = 1024 * 1024


class RequestRejected(InvalidInput):
    """Input refused before any view read it (pages answer it with the error page, 422)."""


def takes_upload(view: F) -> F:
    """Mark a view that accepts a file in a ``multipart/form-data`` body (put it under the route)."""
    view.takes_upload = True  # type: ignore[attr-defined]
    return view


def upload_limit(config: Settings) -> int:
    """The largest body an upload route accepts: the media limit and its form fields."""
    return config.max_upload_bytes + UPLOAD_FORM_ROOM


def cookie_session() -> bool:
    """Whether a browser session (not a bearer token) authenticated this request."""
    return is_signed_in() and g.get("auth_via") != "bearer"


def init_app(app: Flask) -> None:
    """Register the hook; call before the extensions so it runs before theirs."""
    # Flask-WTF's own hook would check every POST; the rule below replaces it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(guard_request)


def guard_request() -> None:
    limit_body()
    reject_nul()
    check_csrf()


def limit_body() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    upload = getattr(view, "takes_upload", False) and request.mimetype == "multipart/form-data"
    limit = upload_limit(settings()) if upload else settings().max_body_bytes
    too_large = RequestEntityTooLarge(f"the request body is larger than {limit} bytes")
    if request.content_length is not None:
        if request.content_length > limit:
            raise too_large
        request.max_content_length = limit
    elif upload:
        # A chunked upload: the multipart parser reads on past a body cut off at
        # the limit, looking for its closing boundary, and that read raises 413.
        request.max_content_length = limit
    else:
        # A chunked body: read it now, one byte past the limit, to tell a body
        # at the limit from one over it (the form parser reuses what was read).
        request.max_content_length = limit + 1
        if len(request.get_data()) > limit:
            raise too_large


def reject_nul() -> None:
    for where, text in _texts():
        if "\0" in text:
            raise RequestRejected(f"NUL characters are not allowed ({where})")


def _texts() -> Iterator[tuple[str, str]]:
    yield "in the path", request.path
    for key, value in request.args.items(multi=True):
        yield f"in the query parameter {key!r}", key + value
    if request.mimetype in FORM_TYPES:
        for key, value in request.form.items(multi=True):
            yield f"in the form field {key!r}", key + value
        for key, upload in request.files.items(multi=True):
            yield f"in the file field {key!r}", key + (upload.filename or "")
        return
    data = request.get_data()
    if not data:
        return
    if b"\0" in data:
        yield "in the request body", "\0"
        return
    if b"\\u0000" not in data:
        return  # the only other way to write NUL in JSON
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON: the view answers that
    if holds_nul(parsed):
        yield "in the JSON body", "\0"


def check_csrf() -> None:
    if request.path.startswith(API_PREFIX):
        # A bearer token or nobody: no ambient credential to forge. No exemption
        # applies here, so a ``csrf.exempt`` on an API blueprint cannot switch
        # the check off for cookie sessions.
        if request.url_rule is not None and cookie_session():
            csrf.protect()
        return
    csrf.protect(apply_exemptions=True)
