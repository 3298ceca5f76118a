"""Errors to HTTP: the one place where hitrack's error tree meets status codes.

The API answers ``{"error": {"code", "message"}}``. A page answers 403 and 404
with the error page; any other error of a form it flashes, and sends the
visitor back to the page the form was on, but only when the ``Referer`` is a
page of this site (as a path: never to another site). Without such a page,
and for input the request guards refused, it renders the error page with the
error's status.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, flash, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from hitrack.domain import errors as e
from hitrack.web.auth import safe_next
from hitrack.web.guards import RequestRejected

STATUS: list[tuple[type[e.HitrackError], int]] = [
    (e.AuthenticationFailed, 401),
    (e.PermissionDenied, 403),
    (e.NotFound, 404),
    (e.UnknownWork, 404),
    (e.IdempotencyConflict, 409),
    (e.Conflict, 409),
    (e.InvalidSignature, 400),
    (e.ProviderUnavailable, 503),
    (e.InvalidInput, 422),
    (e.LedgerImbalance, 500),
    (e.HitrackError, 400),
]


def status_for(error: e.HitrackError) -> int:
    return next(status for cls, status in STATUS if isinstance(error, cls))


def json_error(code: str, message: str, status: int) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def came_from() -> str | None:
    """The page the request came from as a path, if that page is on this site."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def error_page(status: int, message: str | None) -> tuple[str, int]:
    return render_template("error.html", status=status, message=message, back=came_from()), status


def init_app(app: Flask) -> None:
    @app.errorhandler(e.HitrackError)
    def _hitrack_error(error: e.HitrackError) -> BaseResponse | tuple[str, int]:
        status = status_for(error)
        if wants_json():
            return json_error(error.code, error.message, status)
        back = came_from()
        if back is None or status in (403, 404) or isinstance(error, RequestRejected):
            return error_page(status, error.message)
        flash(error.message, "error")
        return redirect(back)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError) -> Response | tuple[str, int]:
        if wants_json():
            return json_error("csrf", error.description or "CSRF token missing or invalid", 400)
        return error_page(400, error.description)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> BaseResponse:
        status = error.code or 500
        response: BaseResponse
        if wants_json():
            response = json_error(
                (error.name or "error").lower().replace(" ", "_"),
                error.description or error.name,
                status,
            )
        else:
            response = app.make_response(error_page(status, error.description))
        # The exception's own headers: Allow on a 405, Retry-After, WWW-Authenticate.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
