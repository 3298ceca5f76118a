"""Errors to HTTP: the one place where hitrack's error tree meets status codes."""

from __future__ import annotations

from flask import Flask, Response, flash, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hitrack.domain import errors as e

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


def init_app(app: Flask) -> None:
    @app.errorhandler(e.HitrackError)
    def _hitrack_error(error: e.HitrackError) -> Response | tuple[str, int]:
        status = status_for(error)
        if wants_json():
            return json_error(error.code, error.message, status)
        if status in (404, 403):
            return render_template("error.html", status=status, message=error.message), status
        flash(error.message, "error")
        return redirect(request.referrer or "/")

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError) -> Response | tuple[str, int]:
        if wants_json():
            return json_error("csrf", error.description or "CSRF token missing or invalid", 400)
        return render_template("error.html", status=400, message=error.description), 400

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response | tuple[str, int]:
        status = error.code or 500
        if wants_json():
            code = (error.name or "error").lower().replace(" ", "_")
            return json_error(code, error.description or error.name, status)
        return render_template("error.html", status=status, message=error.description), status
