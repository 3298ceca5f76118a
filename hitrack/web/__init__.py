"""The web application: the only package that imports Flask.

``create_app`` reads like a table of contents: settings, database, storage,
extensions, blueprints, error handlers.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, g, request
from flask_login import current_user

from hitrack.db.session import make_engine, make_session_factory
from hitrack.providers import media_storage
from hitrack.settings import Settings
from hitrack.web import context, errors, filters
from hitrack.web.extensions import csrf, limiter, login_manager

__all__ = ["create_app"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.data_dir.resolve()))
    _configure(app, settings)

    engine = make_engine(settings.database_url)
    context.init_app(
        app,
        context.Services(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            storage=media_storage(settings),
            extra={},
        ),
    )

    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    errors.init_app(app)
    filters.init_app(app)

    from hitrack.web import api, auth, pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API checks CSRF itself for cookie sessions (see api.py)
    from hitrack.web import api_productions, productions

    app.register_blueprint(productions.bp)
    app.register_blueprint(api_productions.bp)
    csrf.exempt(api_productions.bp)  # same cookie-session CSRF check as api.bp

    from hitrack.web import api_revenue, revenue

    app.register_blueprint(revenue.bp)
    app.register_blueprint(api_revenue.bp)
    csrf.exempt(api_revenue.bp)  # same cookie-session CSRF check as api.bp
    app.register_blueprint(api_revenue.webhooks_bp)
    csrf.exempt(api_revenue.webhooks_bp)  # signed by the provider: no session, no CSRF token

    from hitrack.web import api_payouts, payouts

    app.register_blueprint(payouts.bp)
    app.register_blueprint(api_payouts.bp)
    csrf.exempt(api_payouts.bp)  # same cookie-session CSRF check as api.bp

    from hitrack.web import api_attribution

    app.register_blueprint(api_attribution.pages)
    app.register_blueprint(api_attribution.api)
    csrf.exempt(api_attribution.api)  # same cookie-session CSRF check as api.bp

    app.after_request(_security_headers)
    return app


def _configure(app: Flask, settings: Settings) -> None:
    secure = not settings.is_development and settings.environment != "test"
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        HITRACK_SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        # Uploads stream to a temporary file inside the request parser; this cap
        # stops a body far beyond the media limit before it is even read.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=secure,
    )


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if (
        request.path.startswith("/api/")
        and g.get("auth_via") != "bearer"
        and current_user.is_authenticated
    ):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
