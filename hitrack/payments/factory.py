"""Build the payout provider a setting names, from plain values."""

from __future__ import annotations

from collections.abc import Callable

from hitrack.domain.errors import InvalidInput
from hitrack.payments.base import PayoutProvider
from hitrack.payments.manual import ManualProvider
from hitrack.payments.stripe_connect import StripeConnectProvider

__all__ = ["PAYOUT_PROVIDER_KINDS", "make_payout_provider"]

PAYOUT_PROVIDER_KINDS = ("manual", "stripe")


def make_payout_provider(
    kind: str,
    *,
    stripe_secret_key: str | None = None,
    stripe_webhook_secret: str | None = None,
    stripe_api_base: str | None = None,
    stripe_timeout_seconds: float = 10,
    stripe_max_network_retries: int = 2,
    manual_is_verified: Callable[[str], bool] | None = None,
) -> PayoutProvider:
    """The provider for ``kind`` (``"manual"`` or ``"stripe"``).

    ``manual_is_verified`` lets the manual provider read the admin's
    verification of a creator's payout method (``creator_id -> bool``).
    Stripe retries reuse the transfer's idempotency key, so the default of two
    network retries is safe.
    """
    if kind == "manual":
        return ManualProvider(manual_is_verified) if manual_is_verified else ManualProvider()
    if kind == "stripe":
        missing = [
            name
            for name, value in (
                ("stripe_secret_key", stripe_secret_key),
                ("stripe_webhook_secret", stripe_webhook_secret),
            )
            if not value
        ]
        if missing:
            raise InvalidInput("the stripe payout provider needs " + " and ".join(missing))
        assert stripe_secret_key and stripe_webhook_secret  # narrowed above
        return StripeConnectProvider(
            stripe_secret_key,
            stripe_webhook_secret,
            api_base=stripe_api_base or None,
            timeout_seconds=stripe_timeout_seconds,
            max_network_retries=stripe_max_network_retries,
        )
    raise InvalidInput(
        f"unknown payout provider {kind!r}; expected one of {', '.join(PAYOUT_PROVIDER_KINDS)}"
    )
