"""Payout providers: the protocol, the manual default and Stripe Connect.

See :mod:`hitrack.payments.base` for how a payout run reads a provider's
answers (``SENT`` / ``FAILED`` / ``UNKNOWN``) and reconciles.
"""

from hitrack.payments.base import (
    PayoutAccount,
    PayoutProvider,
    ProviderEvent,
    TransferOutcome,
    TransferRequest,
    TransferResult,
)
from hitrack.payments.factory import make_payout_provider
from hitrack.payments.manual import ManualPayout, ManualProvider, export_csv
from hitrack.payments.stripe_connect import StripeConnectProvider

__all__ = [
    "ManualPayout",
    "ManualProvider",
    "PayoutAccount",
    "PayoutProvider",
    "ProviderEvent",
    "StripeConnectProvider",
    "TransferOutcome",
    "TransferRequest",
    "TransferResult",
    "export_csv",
    "make_payout_provider",
]
