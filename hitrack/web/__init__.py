"""The web application: the only package that imports Flask.

``create_app`` reads like a table of contents: settings, database, storage,
request guards, extensions, blueprints, error handlers, security headers.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from hitrack.db.session import make_engine, make_session_factory
from hitrack.providers import media_storage
from hitrack.settings import Settings
from hitrack.web import context, errors, filters, guards
from hitrack.web.extensions import csrf, limiter, login_manager

__all__ = ["create_app"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Outside development the site is served over HTTPS only (browsers ignore it over HTTP).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.data_dir.resolve()))
    _configure(app, settings)
    _trust_proxies(app, settings)

    engine = make_engine(
        settings.database_url,
        statement_timeout_ms=settings.statement_timeout_ms,
        lock_timeout_ms=settings.lock_timeout_ms,
    )
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

    guards.init_app(app)  # first: bounds every body before an extension reads one
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    errors.init_app(app)
    filters.init_app(app)

    import hitrack.services.job_kinds  # noqa: F401  (registers the handlers inline jobs run)
    from hitrack.web import (
        account,
        api_attribution,
        api_revenue,
        api_v1,
        auth,
        calls,
        credits,
        jobs,
        manifests,
        models,
        notifications,
        pages,
        payouts,
        productions,
        profiles,
        record_edit,
        revenue,
        search,
        settlement_modes,
        tdm,
    )

    for pages_bp in (
        auth.bp,
        pages.bp,
        productions.bp,
        models.bp,
        notifications.bp,
        tdm.bp,
        revenue.bp,
        payouts.bp,
        jobs.bp,
        account.bp,
        credits.bp,
        manifests.bp,
        settlement_modes.pages,
        record_edit.pages,
        api_attribution.pages,
        calls.bp,
        profiles.bp,
        search.bp,
    ):
        app.register_blueprint(pages_bp)
    app.register_blueprint(api_v1.bp)  # every JSON API module, nested under /api/v1
    app.register_blueprint(api_revenue.webhooks_bp)
    csrf.exempt(api_revenue.webhooks_bp)  # signed by the provider: no session, no CSRF token
    if settings.environment in ("development", "test"):
        from hitrack.web import mailbox

        app.register_blueprint(mailbox.bp)

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
        # The largest body of any route; hitrack.web.guards lowers it per request
        # to HITRACK_MAX_BODY_BYTES on every route that takes no upload.
        MAX_CONTENT_LENGTH=guards.upload_limit(settings),
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=secure,
    )


def _trust_proxies(app: Flask, settings: Settings) -> None:
    """Behind ``HITRACK_TRUSTED_PROXIES`` proxies, take the client's address, scheme and host
    from the ``X-Forwarded-*`` headers they add; with none (the default) those headers are
    ignored, so a client cannot pick the address the log-in throttle counts."""
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if not context.settings().is_development:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if request.path.startswith(guards.API_PREFIX) and guards.cookie_session():
        response.headers.setdefault("Cache-Control", "no-store")
    return response
