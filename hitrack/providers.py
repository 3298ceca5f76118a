"""Build the configured providers from settings.

The composition root shared by the web app and the CLI: each provider's
constructor takes plain values; this is the one place that reads them off
:class:`~hitrack.settings.Settings`.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from hitrack.jobs import JobQueue, make_job_queue
from hitrack.mail import Mailer, make_mailer
from hitrack.payments import PayoutProvider, make_payout_provider
from hitrack.payments.stripe_connect import StripeConnectProvider
from hitrack.provenance import ProvenanceSigner, read_credentials
from hitrack.provenance.identity import SigningIdentity, local_identity
from hitrack.services.jobs import JobResources, JobRunner
from hitrack.services.provenance import CredentialsReader
from hitrack.settings import Settings
from hitrack.storage import MediaStorage, make_storage

__all__ = [
    "mailer",
    "media_storage",
    "payout_provider",
    "stripe_webhook_verifier",
    "job_resources",
    "job_runner",
    "job_queue",
    "provenance_signer",
    "trust_anchors",
    "credentials_reader",
]


def media_storage(settings: Settings) -> MediaStorage:
    return make_storage(
        settings.storage,
        local_root=settings.media_root,
        s3_bucket=settings.s3_bucket,
        s3_prefix=settings.s3_prefix,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        s3_access_key=settings.s3_access_key_id,
        s3_secret_key=settings.s3_secret_access_key,
    )


def payout_provider(settings: Settings) -> PayoutProvider:
    """The payout provider the settings name (the manual one reads verification from rows)."""
    return make_payout_provider(
        settings.payout_provider,
        stripe_secret_key=settings.stripe_secret_key,
        stripe_webhook_secret=settings.stripe_webhook_secret,
        stripe_api_base=settings.stripe_api_base,
    )


def stripe_webhook_verifier(settings: Settings) -> PayoutProvider | None:
    """What checks Stripe's webhook signatures, or None when no signing secret is set.

    Stripe checkout sales can arrive even when payouts are manual, so this does
    not depend on ``HITRACK_PAYOUT_PROVIDER``; verifying needs only the secret.
    """
    if not settings.stripe_webhook_secret:
        return None
    return StripeConnectProvider(
        settings.stripe_secret_key or "sk_unused_by_webhooks",
        settings.stripe_webhook_secret,
        api_base=settings.stripe_api_base,
    )


def job_resources(settings: Settings) -> JobResources:
    """What job handlers may use, each provider built on first use and kept."""
    return JobResources(
        settings=settings,
        payout_provider=cache(lambda: payout_provider(settings)),
        storage=cache(lambda: media_storage(settings)),
    )


def job_runner(settings: Settings, sessions: sessionmaker[Session]) -> JobRunner:
    return JobRunner(sessions, resources=job_resources(settings))


def job_queue(settings: Settings, runner: JobRunner) -> JobQueue:
    """The queue ``HITRACK_JOBS`` names; the inline one runs jobs with ``runner``."""
    return make_job_queue(
        settings.jobs, runner=runner, redis_url=settings.redis_url, rq_queue=settings.rq_queue
    )


def _signing_identity(settings: Settings) -> SigningIdentity:
    if settings.c2pa_cert_file is not None and settings.c2pa_key_file is not None:
        anchors = settings.c2pa_trust_anchors_file
        return SigningIdentity(
            settings.c2pa_cert_file.read_bytes(),
            settings.c2pa_key_file.read_bytes(),
            anchors.read_bytes() if anchors is not None else b"",
        )
    return local_identity(settings.data_dir / "c2pa")


def provenance_signer(settings: Settings) -> ProvenanceSigner:
    """The operator's certificate and key when configured, else the generated local identity."""
    identity = _signing_identity(settings)
    return ProvenanceSigner(identity.certificate_chain, identity.private_key)


def trust_anchors(settings: Settings) -> bytes | None:
    """The CAs whose signatures read as ``Trusted``: the configured file, or the local CA."""
    if settings.c2pa_trust_anchors_file is not None:
        return settings.c2pa_trust_anchors_file.read_bytes()
    if settings.c2pa_cert_file is not None:
        return None
    return local_identity(settings.data_dir / "c2pa").trust_anchor


def credentials_reader(settings: Settings) -> CredentialsReader:
    anchors = trust_anchors(settings)
    return lambda stream, media_type: read_credentials(stream, media_type, trust_anchors=anchors)


def mailer(settings: Settings) -> Mailer:
    """The mailer the settings name: the development mailbox, or SMTP at ``HITRACK_SMTP_URL``."""
    return make_mailer(
        settings.mail_transport,
        mailbox_dir=settings.mailbox_dir,
        smtp_url=settings.smtp_url,
        sender=settings.mail_from,
        base_url=settings.base_url,
    )
