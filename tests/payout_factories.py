"""Payout test helpers: balances and payable accounts straight from rows, and scripted providers.

``fund`` posts money into a creator's payable the way a revenue event would
(cash in, payable credited); ``connect`` gives a creator a payable account
with a provider. :class:`ScriptedProvider` is an in-memory provider whose
next answers a test chooses; :class:`CrashAfterSend` wraps a real provider
and dies right after the transfer call, before hitrack can commit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from hitrack.db.models import Creator, CreatorVerification, PayoutAccount, PayoutAccountState
from hitrack.domain.ledger import Posting
from hitrack.payments.base import PayoutAccount as ProviderAccount
from hitrack.payments.base import (
    PayoutProvider,
    ProviderEvent,
    TransferOutcome,
    TransferRequest,
    TransferResult,
)
from hitrack.services import ledger, verification
from hitrack.services.unit_of_work import unit_of_work

_keys = itertools.count(1)
MINIMUMS = {"USD": 10_000_000}


def fund(db: Session, creator: Creator, amount: int, currency: str = "USD") -> None:
    """``amount`` micros into the creator's payable (cash in), as revenue would."""
    with unit_of_work(db):
        ledger.post_transaction(
            db,
            f"test-fund-{next(_keys)}",
            "revenue",
            [
                Posting(ledger.cash_account(currency), currency, amount),
                Posting(ledger.payable_account(creator.id, currency), currency, -amount),
            ],
        )


def connect(
    db: Session,
    creator: Creator,
    provider: str = "stripe",
    *,
    account_id: str | None = None,
    payable: bool = True,
) -> PayoutAccount:
    """A payout account row for the creator, payable unless told otherwise.

    A payable account comes with the creator's verification (the provider or
    an admin verified them on the way), since only verified creators are paid.
    """
    row = PayoutAccount(
        creator_id=creator.id,
        provider=provider,
        provider_account_id=account_id or f"{provider}:{creator.id}",
        state=PayoutAccountState.PAYABLE if payable else PayoutAccountState.ONBOARDING,
        details="test account" if provider == "manual" else "",
    )
    db.add(row)
    if payable and not verification.is_verified(db, creator.id):
        db.add(
            CreatorVerification(
                creator_id=creator.id,
                source="stripe" if provider == "stripe" else "admin",
                reason="test payout account",
            )
        )
    db.commit()
    return row


@dataclass
class Transfer:
    request: TransferRequest
    transfer_id: str
    reversed_cents: int = 0


@dataclass
class ScriptedProvider:
    """An in-memory provider: transfers succeed unless ``answers`` says otherwise.

    ``answers`` is a queue of outcomes for the next ``send_transfer`` calls:
    ``"sent"``, ``"failed"`` (nothing moved), ``"unknown_sent"`` (moved, but the
    answer was lost) or ``"unknown_lost"`` (nothing moved, answer lost).
    """

    name: str = "stripe"
    answers: list[str] = field(default_factory=list)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    calls: int = 0

    def create_account(
        self, *, creator_id: str, email: str, country: str = "US", replaces: str | None = None
    ) -> ProviderAccount:
        return ProviderAccount(f"acct_{creator_id}", False, "onboarding needed")

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str | None:
        return f"https://provider.test/onboard/{account_id}"

    def account_status(self, account_id: str) -> ProviderAccount:
        return ProviderAccount(account_id, True, "payouts enabled")

    def send_transfer(self, request: TransferRequest) -> TransferResult:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else "sent"
        if request.idempotency_key in self.transfers:  # the provider's idempotency
            return TransferResult(
                TransferOutcome.SENT,
                self.transfers[request.idempotency_key].transfer_id,
                "replayed",
            )
        if answer in ("failed", "unknown_lost"):
            outcome = TransferOutcome.FAILED if answer == "failed" else TransferOutcome.UNKNOWN
            return TransferResult(outcome, None, answer)
        transfer = Transfer(request, f"tr_{len(self.transfers) + 1}")
        self.transfers[request.idempotency_key] = transfer
        if answer == "unknown_sent":
            return TransferResult(TransferOutcome.UNKNOWN, None, "timeout")
        return TransferResult(TransferOutcome.SENT, transfer.transfer_id, "transfer created")

    def find_transfer(self, *, transfer_group: str, payout_id: str) -> TransferResult | None:
        for t in self.transfers.values():
            if (
                t.request.transfer_group == transfer_group
                and t.request.metadata["payout_id"] == payout_id
            ):
                if t.reversed_cents >= t.request.amount_minor:
                    return TransferResult(
                        TransferOutcome.FAILED, t.transfer_id, "transfer was reversed"
                    )
                return TransferResult(TransferOutcome.SENT, t.transfer_id, "transfer found")
        return None

    def parse_webhook(self, payload: bytes, signature_header: str) -> ProviderEvent:
        raise NotImplementedError

    # -- test controls --

    def by_payout(self, payout_id: int) -> Transfer | None:
        return next(
            (
                t
                for t in self.transfers.values()
                if t.request.metadata["payout_id"] == str(payout_id)
            ),
            None,
        )

    def reversal_event(self, transfer: Transfer, cents: int, event_id: str) -> ProviderEvent:
        """Reverse ``cents`` more of ``transfer`` and return Stripe's ``transfer.reversed``."""
        transfer.reversed_cents = min(
            transfer.request.amount_minor, transfer.reversed_cents + cents
        )
        data = {
            "id": transfer.transfer_id,
            "object": "transfer",
            "amount": transfer.request.amount_minor,
            "amount_reversed": transfer.reversed_cents,
            "reversed": transfer.reversed_cents == transfer.request.amount_minor,
            "metadata": dict(transfer.request.metadata),
        }
        return ProviderEvent(event_id, "transfer.reversed", transfer.transfer_id, data)

    def sent_cents(self) -> int:
        return sum(t.request.amount_minor - t.reversed_cents for t in self.transfers.values())


class Crash(BaseException):
    """The process died (power cut, OOM kill) right after the provider call.

    A ``BaseException``, like ``KeyboardInterrupt`` and ``SystemExit``: the run
    does not carry on past it as it does past one payout's ordinary error.
    """


class CrashAfterSend:
    """A provider that makes the real transfer call, then dies before hitrack sees the answer."""

    def __init__(
        self,
        inner: PayoutProvider,
        *,
        should_crash: Callable[[TransferRequest], bool] | None = None,
    ):
        self.inner = inner
        self.name = inner.name
        self.should_crash = should_crash or (lambda _request: True)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def send_transfer(self, request: TransferRequest) -> TransferResult:
        result = self.inner.send_transfer(request)
        if self.should_crash(request):
            raise Crash("killed between the transfer and the database commit")
        return result
