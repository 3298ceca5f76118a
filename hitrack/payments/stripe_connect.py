"""Stripe Connect payouts: Express accounts, account links, transfers, webhooks.

Built from plain values; ``api_base`` points the official ``stripe`` library at
another server (the in-repo fake in tests). Transfers move money from the
platform's Stripe balance to a creator's connected account; Stripe pays the
creator's bank from there on its own schedule (a failed bank payout arrives as
a ``payout.failed`` webhook on the connected account).

Error mapping for transfers (see :mod:`hitrack.payments.base`): Stripe's
4xx answers other than rate limiting and lock conflicts are definite
(``FAILED``: nothing was created for this request); timeouts, dropped
connections, 5xx, 409 and 429 are ``UNKNOWN``. Stripe replays the stored
answer for an idempotency key for 24 hours, including a stored 500, so an
``UNKNOWN`` transfer is reconciled with :meth:`StripeConnectProvider.find_transfer`
(transfer group plus ``metadata.payout_id``), never with a new key.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import stripe

from hitrack.domain.errors import (
    HitrackError,
    InvalidInput,
    InvalidSignature,
    NotFound,
    PermissionDenied,
    ProviderUnavailable,
)
from hitrack.payments.base import (
    CheckoutRequest,
    CheckoutSession,
    PayoutAccount,
    ProviderEvent,
    TransferOutcome,
    TransferRequest,
    TransferResult,
)

__all__ = ["StripeConnectProvider"]

# Stripe's own default; a signed webhook older than this is refused so a
# captured request cannot be replayed later.
WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe signs with its own clock when it sends; a timestamp further ahead of
# ours than ordinary clock skew was not made by a delivery now (a signature
# made for a future time would otherwise stay replayable until then).
WEBHOOK_FUTURE_SKEW_SECONDS = 60


class StripeConnectProvider:
    """Payouts through Stripe Connect Express accounts.

    Parameters
    ----------
    api_key:
        The platform's secret key (``sk_test_...`` / ``sk_live_...``).
    webhook_secret:
        The signing secret of the webhook endpoint (``whsec_...``).
    api_base:
        Base URL of the API, for a fake or a proxy; Stripe's when ``None``.
    timeout_seconds:
        Connect and read timeout of each HTTP request.
    max_network_retries:
        Retries of timeouts, connection errors, 409 and 5xx by the ``stripe``
        library; they reuse the request's idempotency key, so they are safe.
    """

    name = "stripe"

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        timeout_seconds: float = 10,
        max_network_retries: int = 0,
    ) -> None:
        if not api_key:
            raise InvalidInput("a Stripe secret key is required")
        if not webhook_secret:
            raise InvalidInput("a Stripe webhook signing secret is required")
        self._webhook_secret = webhook_secret
        base_addresses: dict[str, str] = {}
        if api_base:
            # Account links and accounts are served from "api", OAuth from
            # "connect"; both go to the same server when overridden.
            base = api_base.rstrip("/")
            base_addresses = {"api": base, "connect": base, "files": base}
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,  # type: ignore[arg-type]
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
            max_network_retries=max_network_retries,
        )

    # -- accounts ---------------------------------------------------------

    def create_account(
        self, *, creator_id: str, email: str, country: str = "US", replaces: str | None = None
    ) -> PayoutAccount:
        params: dict[str, Any] = {
            "type": "express",
            "country": country,
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"creator_id": creator_id},
        }
        # A retried signup (same creator, same details) gets the same account
        # back instead of a second one; changed details, or replacing a
        # disconnected account, make a new key.
        digest = hashlib.sha256(f"{email}\n{country}\n{replaces or ''}".encode()).hexdigest()[:16]
        try:
            account = self._client.v1.accounts.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"hitrack-account-{creator_id}-{digest}"},
            )
        except stripe.StripeError as exc:
            raise _account_error(exc, None) from exc
        return _payout_account(account.to_dict())

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str | None:
        try:
            link = self._client.v1.account_links.create(
                {
                    "account": account_id,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                }
            )
        except stripe.StripeError as exc:
            raise _account_error(exc, account_id) from exc
        return str(link.url)

    def account_status(self, account_id: str) -> PayoutAccount:
        try:
            account = self._client.v1.accounts.retrieve(account_id)
        except stripe.StripeError as exc:
            error = _account_error(exc, account_id)
            if isinstance(error, PermissionDenied):
                # Stripe answers 403 once the creator has disconnected the
                # platform (account.application.deauthorized): not payable.
                return PayoutAccount(account_id, False, error.message)
            raise error from exc
        return _payout_account(account.to_dict())

    # -- transfers --------------------------------------------------------

    def send_transfer(self, request: TransferRequest) -> TransferResult:
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency,
            "destination": request.destination,
            "transfer_group": request.transfer_group,
            "metadata": dict(request.metadata),
        }
        try:
            transfer = self._client.v1.transfers.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            return _failed_or_unknown(exc)
        return TransferResult(TransferOutcome.SENT, transfer.id, "transfer created")

    def find_transfer(self, *, transfer_group: str, payout_id: str) -> TransferResult | None:
        try:
            page = self._client.v1.transfers.list({"transfer_group": transfer_group, "limit": 100})
            # Plain dicts: the library's objects are not mappings.
            transfers = [t.to_dict() for t in page.auto_paging_iter()]
        except stripe.StripeError as exc:
            return TransferResult(TransferOutcome.UNKNOWN, None, f"transfer lookup failed: {exc}")
        matches = [t for t in transfers if (t.get("metadata") or {}).get("payout_id") == payout_id]
        if not matches:
            return None
        # Stripe lists newest first; the oldest is the original. More than one
        # means the payout was sent twice, which the message makes visible.
        matches.sort(key=lambda t: (t["created"], t["id"]))
        first = matches[0]
        note = ""
        if len(matches) > 1:
            ids = ", ".join(str(t["id"]) for t in matches)
            note = f"; {len(matches)} transfers carry this payout: {ids}"
        if first.get("reversed"):
            return TransferResult(
                TransferOutcome.FAILED, first["id"], "transfer was reversed" + note
            )
        message = "transfer found"
        if first.get("amount_reversed"):
            message += f" ({first['amount_reversed']} of {first['amount']} reversed)"
        return TransferResult(TransferOutcome.SENT, first["id"], message + note)

    # -- checkout (money paid in) ------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """A Checkout session in payment mode for one line of ``request.amount_minor``."""
        params: dict[str, Any] = {
            "mode": "payment",
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": dict(request.metadata),
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency,
                        "unit_amount": request.amount_minor,
                        "product_data": {"name": request.description[:250] or "hitrack"},
                    },
                }
            ],
        }
        try:
            session = self._client.v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            text = exc.user_message or str(exc)
            raise InvalidInput(f"Stripe rejected the checkout: {text}") from exc
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"Stripe is unavailable: {exc.user_message or exc}") from exc
        return CheckoutSession(str(session.id), str(session.url), str(session.status))

    # -- webhooks ---------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature_header: str) -> ProviderEvent:
        """Verify the signature and its timestamp (neither too old nor ahead of us), then parse.

        The ``stripe`` library refuses only timestamps older than the
        tolerance; one more than :data:`WEBHOOK_FUTURE_SKEW_SECONDS` ahead of
        this server's clock is refused here.
        """
        signed_at = _signed_at(signature_header)
        now = time.time()
        if signed_at is not None and signed_at > now + WEBHOOK_FUTURE_SKEW_SECONDS:
            raise InvalidSignature(
                f"webhook signature rejected: signed {int(signed_at - now)} s in the future "
                f"(at most {WEBHOOK_FUTURE_SKEW_SECONDS} s of clock skew is accepted)"
            )
        try:
            event = self._client.construct_event(
                payload, signature_header, self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature(f"webhook signature rejected: {exc}") from exc
        except ValueError as exc:  # not JSON, or not an event
            raise InvalidInput(f"webhook body is not a Stripe event: {exc}") from exc
        body = event.to_dict()
        if not body.get("id") or not body.get("type"):
            raise InvalidInput("webhook body is not a Stripe event: no id or type")
        obj: Mapping[str, Any] = (body.get("data") or {}).get("object") or {}
        return ProviderEvent(
            id=str(body["id"]),
            type=str(body["type"]),
            object_id=str(obj.get("id", "")),
            data=obj,
            account_id=body.get("account"),
            created=int(body.get("created") or 0),
        )


def _signed_at(header: str) -> int | None:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header (None: none readable; the
    library then refuses the header itself)."""
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            return int(value) if value.isdigit() else None
    return None


def _payout_account(account: Mapping[str, Any]) -> PayoutAccount:
    capabilities = account.get("capabilities") or {}
    transfers = capabilities.get("transfers", "inactive")
    payouts_enabled = bool(account.get("payouts_enabled"))
    if payouts_enabled and transfers == "active":
        return PayoutAccount(account["id"], True, "payouts enabled")
    requirements = account.get("requirements") or {}
    reasons = [f"transfers capability {transfers}"] if transfers != "active" else []
    if not payouts_enabled:
        reasons.append("payouts disabled")
    if requirements.get("disabled_reason"):
        reasons.append(f"reason: {requirements['disabled_reason']}")
    due = list(requirements.get("currently_due") or [])
    if due:
        reasons.append("currently due: " + ", ".join(due))
    return PayoutAccount(account["id"], False, "; ".join(reasons))


def _failed_or_unknown(exc: stripe.StripeError) -> TransferResult:
    status = exc.http_status
    # The library's network messages span several lines; rows want one.
    text = " ".join((exc.user_message or str(exc)).split())
    if isinstance(exc, stripe.IdempotencyError):
        return TransferResult(
            TransferOutcome.FAILED,
            None,
            "idempotency key already used with different parameters; "
            f"this request was not executed: {text}",
        )
    # Any other 4xx is Stripe refusing this request before moving money
    # (declined, balance_insufficient, no such destination, bad key);
    # 409 (lock or concurrent use of the key) and 429 are worth retrying.
    definite = status is not None and 400 <= status < 500 and status not in (409, 429)
    if definite:
        code = f" [{exc.code}]" if exc.code else ""
        return TransferResult(TransferOutcome.FAILED, None, f"transfer rejected{code}: {text}")
    kind = "no answer" if status is None else f"HTTP {status}"
    return TransferResult(TransferOutcome.UNKNOWN, None, f"outcome unknown ({kind}): {text}")


def _account_error(exc: stripe.StripeError, account_id: str | None) -> HitrackError:
    """The error-tree equivalent of a Stripe error from an interactive account call."""
    ids = (account_id,) if account_id else ()
    text = exc.user_message or str(exc)
    if isinstance(exc, stripe.PermissionError) or exc.http_status == 403:
        return PermissionDenied(f"no access to payout account: {text}", ids=ids)
    if isinstance(exc, stripe.InvalidRequestError):
        if exc.http_status == 404 or exc.code == "resource_missing":
            return NotFound(f"no such payout account: {text}", ids=ids)
        return InvalidInput(f"Stripe rejected the request: {text}", ids=ids)
    return ProviderUnavailable(f"Stripe is unavailable: {text}", ids=ids)
