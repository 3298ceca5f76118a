"""Build the configured providers from settings.

The composition root shared by the web app and the CLI: each provider's
constructor takes plain values; this is the one place that reads them off
:class:`~hitrack.settings.Settings`.
"""

from __future__ import annotations

from hitrack.mail import Mailer, make_mailer
from hitrack.payments import PayoutProvider, make_payout_provider
from hitrack.payments.stripe_connect import StripeConnectProvider
from hitrack.settings import Settings
from hitrack.storage import MediaStorage, make_storage

__all__ = ["mailer", "media_storage", "payout_provider", "stripe_webhook_verifier"]


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


def mailer(settings: Settings) -> Mailer:
    """The mailer the settings name: the development mailbox, or SMTP at ``HITRACK_SMTP_URL``."""
    return make_mailer(
        settings.mail_transport,
        mailbox_dir=settings.mailbox_dir,
        smtp_url=settings.smtp_url,
        sender=settings.mail_from,
        base_url=settings.base_url,
    )
