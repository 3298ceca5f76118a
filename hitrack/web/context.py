"""Per-application services and the per-request database session.

``create_app`` builds the engine, storage and providers once from settings and
keeps them in ``app.extensions["hitrack"]``; views reach them through the small
accessors here. One session per request, closed at teardown; views never
commit (services do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hitrack import providers
from hitrack.jobs import JobQueue
from hitrack.mail import Mailer
from hitrack.payments.base import PayoutProvider
from hitrack.provenance import ProvenanceSigner
from hitrack.services.provenance import CredentialsReader
from hitrack.settings import Settings
from hitrack.storage import MediaStorage


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    storage: MediaStorage
    extra: dict[str, Any]


def services() -> Services:
    return current_app.extensions["hitrack"]  # type: ignore[no-any-return]


def settings() -> Settings:
    return services().settings


def storage() -> MediaStorage:
    return services().storage


def payout_provider() -> PayoutProvider:
    """The configured payout provider, built once from settings (tests may put one in ``extra``)."""
    extra = services().extra
    if "payouts" not in extra:
        extra["payouts"] = providers.payout_provider(settings())
    provider: PayoutProvider = extra["payouts"]
    return provider


def mailer() -> Mailer:
    """The configured mailer, built once from settings (tests may put one in ``extra``)."""
    extra = services().extra
    if "mailer" not in extra:
        extra["mailer"] = providers.mailer(settings())
    built: Mailer = extra["mailer"]
    return built


def stripe_webhook_verifier() -> PayoutProvider | None:
    """Checks Stripe webhook signatures; None when no signing secret is configured."""
    extra = services().extra
    if "stripe_webhooks" not in extra:
        extra["stripe_webhooks"] = providers.stripe_webhook_verifier(settings())
    verifier: PayoutProvider | None = extra["stripe_webhooks"]
    return verifier


def job_queue() -> JobQueue:
    """Where submitted jobs run (``HITRACK_JOBS``), built once; inline runs them here."""
    extra = services().extra
    if "jobs" not in extra:
        svc = services()
        runner = providers.job_runner(svc.settings, svc.sessions)
        extra["jobs"] = providers.job_queue(svc.settings, runner)
    queue: JobQueue = extra["jobs"]
    return queue


def provenance_signer() -> ProvenanceSigner:
    """Signs downloaded media as the platform (C2PA), built once."""
    extra = services().extra
    if "c2pa_signer" not in extra:
        extra["c2pa_signer"] = providers.provenance_signer(settings())
    signer: ProvenanceSigner = extra["c2pa_signer"]
    return signer


def credentials_reader() -> CredentialsReader:
    """Reads and validates uploads' Content Credentials against the trust anchors, built once."""
    extra = services().extra
    if "c2pa_reader" not in extra:
        extra["c2pa_reader"] = providers.credentials_reader(settings())
    reader: CredentialsReader = extra["c2pa_reader"]
    return reader


def db() -> Session:
    """The request's session, opened on first use."""
    if "db" not in g:
        g.db = services().sessions()
    return g.db  # type: ignore[no-any-return]


def init_app(app: Flask, svc: Services) -> None:
    app.extensions["hitrack"] = svc

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()  # rolls back whatever no unit of work committed
