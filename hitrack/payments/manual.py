"""The embedded payout provider: payouts paid by hand by an admin.

Nothing leaves the platform automatically. A creator's "account" is a payout
method (bank details, PayPal address, ...) that an admin has checked; the
platform's database holds that verification, and this provider only reads it
through the ``is_verified`` callable it is built with.

A manual transfer means "exported for an admin to pay": :meth:`send_transfer`
answers ``UNKNOWN`` ("awaiting manual payment"), the payout stays pending, and
the admin marks it paid (the hold is posted) or failed (the hold is voided)
after paying from the CSV that :func:`export_csv` produces. Because this
provider keeps no record of what was exported, :meth:`find_transfer` also
answers ``UNKNOWN``: ``None`` would tell a reconciler that nothing was paid,
which only the admin can know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hitrack.domain.errors import InvalidInput, InvalidSignature
from hitrack.domain.money import format_minor_units
from hitrack.domain.spreadsheet import csv_text
from hitrack.payments.base import (
    PayoutAccount,
    ProviderEvent,
    TransferOutcome,
    TransferRequest,
    TransferResult,
)

__all__ = [
    "ACCOUNT_PREFIX",
    "AWAITING_MANUAL_PAYMENT",
    "ManualPayout",
    "ManualProvider",
    "export_csv",
]

ACCOUNT_PREFIX = "manual:"
AWAITING_MANUAL_PAYMENT = "awaiting manual payment"


def _never_verified(_creator_id: str) -> bool:
    return False


class ManualProvider:
    """Payouts exported as CSV and marked paid by an admin.

    Parameters
    ----------
    is_verified:
        ``creator_id -> bool``: whether an admin has verified the creator's
        payout method. Defaults to "never", for callers that read
        verification from the database themselves.
    """

    name = "manual"

    def __init__(self, is_verified: Callable[[str], bool] = _never_verified) -> None:
        self._is_verified = is_verified

    def create_account(
        self, *, creator_id: str, email: str, country: str = "US", replaces: str | None = None
    ) -> PayoutAccount:
        if not creator_id:
            raise InvalidInput("creator_id must not be empty")
        return self.account_status(ACCOUNT_PREFIX + creator_id)

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str | None:
        # The payout method is entered in hitrack's own form; there is no
        # hosted onboarding to send the creator to.
        return None

    def account_status(self, account_id: str) -> PayoutAccount:
        creator_id = _creator_id(account_id)
        if self._is_verified(creator_id):
            return PayoutAccount(account_id, True, "payout method verified by an admin")
        return PayoutAccount(account_id, False, "payout method awaiting admin verification")

    def send_transfer(self, request: TransferRequest) -> TransferResult:
        _creator_id(request.destination)
        return TransferResult(TransferOutcome.UNKNOWN, None, AWAITING_MANUAL_PAYMENT)

    def find_transfer(self, *, transfer_group: str, payout_id: str) -> TransferResult | None:
        return TransferResult(TransferOutcome.UNKNOWN, None, AWAITING_MANUAL_PAYMENT)

    def parse_webhook(self, payload: bytes, signature_header: str) -> ProviderEvent:
        raise InvalidSignature("the manual payout provider receives no webhooks")


def _creator_id(account_id: str) -> str:
    if not account_id.startswith(ACCOUNT_PREFIX) or len(account_id) == len(ACCOUNT_PREFIX):
        raise InvalidInput(f"not a manual payout account: {account_id!r}", ids=(account_id,))
    return account_id[len(ACCOUNT_PREFIX) :]


@dataclass(frozen=True)
class ManualPayout:
    """One line of a manual payout batch.

    ``amount_minor`` is in the currency's minor unit (cents, yen, fils).
    ``reference`` is the payout id: the admin quotes it on the payment so the
    payout can be marked paid against it.
    """

    payee: str
    method: str
    amount_minor: int
    currency: str
    reference: str


def export_csv(rows: Iterable[ManualPayout]) -> str:
    """The CSV an admin pays from: ``payee, method, amount, currency, reference``.

    ``amount`` is written in major units with the currency's decimals (ISO
    4217, :data:`~hitrack.domain.money.MINOR_UNIT_EXPONENTS`), from integers
    only; cells a spreadsheet would run as formulas are neutralised
    (:mod:`hitrack.domain.spreadsheet`).

    >>> print(export_csv([ManualPayout("Ada", "IBAN DE89...", 1234, "usd", "po_1"),
    ...                   ManualPayout("=Bo", "@x", 1234, "jpy", "po_2")]), end="")
    payee,method,amount,currency,reference
    Ada,IBAN DE89...,12.34,USD,po_1
    '=Bo,'@x,1234,JPY,po_2
    """
    return csv_text(
        ["payee", "method", "amount", "currency", "reference"],
        (
            [
                row.payee,
                row.method,
                format_minor_units(row.amount_minor, row.currency),
                row.currency.upper(),
                row.reference,
            ]
            for row in rows
        ),
    )
