"""The payout provider protocol: how hitrack moves whole minor units to creators.

Money here is an integer number of the currency's **minor unit** (ISO 4217:
cents for USD, yen for JPY, fils for KWD; the one table is
:data:`hitrack.domain.money.MINOR_UNIT_EXPONENTS`) with a lowercase ISO
currency code. The ledger works in micros; the payout run converts (floor to
whole minor units) before it builds a :class:`TransferRequest`, and the
remainder below the minor unit stays in the creator's balance.

How a payout run reads the answers
----------------------------------
``send_transfer`` and ``find_transfer`` never raise for provider or network
trouble; they answer with a :class:`TransferOutcome`:

``SENT``
    The provider holds the transfer (``transfer_id`` is set): post the hold.
``FAILED``
    The provider definitely did not move money for this request (declined,
    insufficient platform balance, invalid destination, idempotency key reused
    with other parameters): void the hold, the money returns to the creator.
``UNKNOWN``
    Nobody can tell yet (timeout, 5xx, dropped connection; or a manual payout
    waiting for an admin): keep the hold pending and reconcile later with
    :meth:`PayoutProvider.find_transfer`, never by sending again with a new
    idempotency key.

``find_transfer`` returns ``None`` only when the provider is certain that no
transfer exists for the payout, so a reconciler may void the hold (or resend
it under a new key). Provider idempotency keys expire (Stripe: 24 hours), so
reconciliation looks transfers up by ``transfer_group`` and
``metadata["payout_id"]``, which do not expire.

Account lookups (``create_account``, ``onboarding_link``, ``account_status``)
are interactive and do raise: :class:`~hitrack.domain.errors.InvalidInput`
for a request the provider rejects, :class:`~hitrack.domain.errors.NotFound`
for an unknown account and :class:`~hitrack.domain.errors.ProviderUnavailable`
when the provider cannot be reached.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "PayoutAccount",
    "PayoutProvider",
    "ProviderEvent",
    "TransferOutcome",
    "TransferRequest",
    "TransferResult",
]


@dataclass(frozen=True)
class PayoutAccount:
    """A creator's account at the provider and whether money may be sent to it.

    ``details`` is a short human-readable reason, e.g. what the provider still
    needs before the account becomes payable.
    """

    provider_account_id: str
    payable: bool
    details: str


@dataclass(frozen=True)
class TransferRequest:
    """One payout to one creator, as the provider sees it.

    ``idempotency_key`` must be stored (with the payout row) before the call so
    a retry sends the same key. ``transfer_group`` is the payout run id and
    ``metadata`` carries at least ``payout_id`` and ``creator_id``: together they
    let :meth:`PayoutProvider.find_transfer` find the transfer after the key
    has expired.
    """

    idempotency_key: str
    amount_minor: int
    currency: str
    destination: str
    transfer_group: str
    metadata: Mapping[str, str]

    def __post_init__(self) -> None:
        # Catch programming errors before any money moves; these are not
        # provider errors and therefore raise instead of returning FAILED.
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError(f"amount_minor must be an int, got {self.amount_minor!r}")
        if self.amount_minor <= 0:
            raise ValueError(f"amount_minor must be positive, got {self.amount_minor}")
        if not self.idempotency_key:
            raise ValueError("idempotency_key must not be empty")
        if self.currency != self.currency.lower() or len(self.currency) != 3:
            raise ValueError(f"currency must be a lowercase ISO code, got {self.currency!r}")
        if "payout_id" not in self.metadata:
            raise ValueError("metadata must carry payout_id (reconciliation looks it up)")


class TransferOutcome(enum.Enum):
    """What is known about a transfer; see the module docstring."""

    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TransferResult:
    """The answer to a transfer or a transfer lookup."""

    outcome: TransferOutcome
    transfer_id: str | None
    message: str


@dataclass(frozen=True)
class ProviderEvent:
    """A webhook event whose signature has been verified.

    ``object_id`` is the id of the resource the event is about (a transfer, an
    account, a checkout session, ...) and ``data`` that resource as the
    provider sent it. ``account_id`` names the connected account for Connect
    events (``account.application.deauthorized`` carries the application as
    its object, so the account is only here). ``created`` is the provider's
    Unix timestamp: events can arrive out of order and more than once, so a
    handler dedupes on ``id`` and re-reads state instead of trusting order.
    """

    id: str
    type: str
    object_id: str
    data: Mapping[str, Any]
    account_id: str | None = None
    created: int = 0


@runtime_checkable
class PayoutProvider(Protocol):
    """What a payout run, onboarding and the webhook endpoint need from a provider."""

    name: str

    def create_account(
        self, *, creator_id: str, email: str, country: str = "US", replaces: str | None = None
    ) -> PayoutAccount:
        """Create the creator's account at the provider (not yet payable).

        ``replaces`` names an account of the creator's that can no longer be used
        (disconnected): the provider must then make a new one, not return it.
        """
        ...

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str | None:
        """A single-use URL where the creator completes onboarding.

        ``None`` when the provider has no hosted onboarding (the platform's own
        form collects the payout method instead).
        """
        ...

    def account_status(self, account_id: str) -> PayoutAccount:
        """Whether money may be sent to the account now, and why not."""
        ...

    def send_transfer(self, request: TransferRequest) -> TransferResult:
        """Send one transfer; never raises for provider or network errors."""
        ...

    def find_transfer(self, *, transfer_group: str, payout_id: str) -> TransferResult | None:
        """Look a payout's transfer up by run and payout id (for reconciliation)."""
        ...

    def parse_webhook(self, payload: bytes, signature_header: str) -> ProviderEvent:
        """Verify and parse a webhook; raises ``InvalidSignature`` when it is not authentic."""
        ...


# --- funding: money paid in (Stripe Checkout) ------------------------------------------


@dataclass(frozen=True)
class CheckoutRequest:
    """A hosted payment page for one amount, e.g. an operator funding a reported event.

    ``amount_minor`` is in the currency's minor unit (cents for USD), ``currency``
    a lowercase ISO code. ``metadata`` comes back on the provider's completion
    webhook, so it names what is being paid (``revenue_event``).
    ``idempotency_key`` makes a retried request return the same session.
    """

    idempotency_key: str
    amount_minor: int
    currency: str
    description: str
    metadata: Mapping[str, str]
    success_url: str
    cancel_url: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError(f"amount_minor must be an int, got {self.amount_minor!r}")
        if self.amount_minor <= 0:
            raise ValueError(f"amount_minor must be positive, got {self.amount_minor}")
        if self.currency != self.currency.lower() or len(self.currency) != 3:
            raise ValueError(f"currency must be a lowercase ISO code, got {self.currency!r}")
        if not self.idempotency_key:
            raise ValueError("idempotency_key must not be empty")


@dataclass(frozen=True)
class CheckoutSession:
    """A hosted payment page at the provider: where to send the payer, and its status."""

    id: str
    url: str
    status: str


@runtime_checkable
class CheckoutProvider(Protocol):
    """A provider that takes payments on a hosted page (Stripe Checkout).

    Raises :class:`~hitrack.domain.errors.InvalidInput` for a request the
    provider rejects and :class:`~hitrack.domain.errors.ProviderUnavailable`
    when it cannot be reached. The payment itself is confirmed only by the
    provider's signed webhook, never by the payer coming back.
    """

    name: str

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Open (or, for the same idempotency key, return) a checkout session."""
        ...


__all__ += ["CheckoutProvider", "CheckoutRequest", "CheckoutSession"]
