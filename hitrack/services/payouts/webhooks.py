"""Provider webhooks: account updates, reversed transfers, failed payouts, deauthorisation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Payout,
    PayoutAccount,
    PayoutAccountState,
)
from hitrack.domain.errors import InvalidInput
from hitrack.domain.ledger import Posting
from hitrack.domain.money import (
    format_micros,
    from_minor_units,
    parse_currency,
)
from hitrack.payments.base import PayoutAccount as ProviderAccount
from hitrack.payments.base import (
    ProviderEvent,
)
from hitrack.services import ledger
from hitrack.services.notifications import notify
from hitrack.services.payouts.accounts import _apply_status
from hitrack.services.payouts.core import DISCONNECTED, PAYOUTS_PATH, REVERSAL_KIND, _admin_ids
from hitrack.services.payouts.results import _lock_payout, _post_paid


def payout_reversal_postings(creator_id: int, currency: str, amount: int) -> list[Posting]:
    """A confirmed transfer came back: ``amount`` returns from ``platform:paid_out`` to the payable."""
    if amount <= 0:
        raise InvalidInput("a reversal amount must be positive")
    return [
        Posting(ledger.paid_out_account(currency), currency, amount),
        Posting(ledger.payable_account(creator_id, currency), currency, -amount),
    ]


def _event_time(event: ProviderEvent) -> datetime:
    return datetime.fromtimestamp(event.created, UTC)


def _stripe_account(db: Session, account_id: str | None) -> PayoutAccount | None:
    if not account_id:
        return None
    return db.scalar(
        select(PayoutAccount).where(
            PayoutAccount.provider == "stripe", PayoutAccount.provider_account_id == account_id
        )
    )


def account_updated(db: Session, event: ProviderEvent, _context: object) -> str:
    """Stripe says what the account may do now: payable when payouts and transfers are enabled.

    Events arrive out of order; one older than the state already applied is
    ignored. Of two in the same second, only the one that turns payouts off
    is applied (the order cannot be told, and off is the safe side).
    """
    row = _stripe_account(db, event.object_id or event.account_id)
    if row is None:
        return "ignored"
    data = event.data
    transfers = (data.get("capabilities") or {}).get("transfers", "inactive")
    payable = bool(data.get("payouts_enabled")) and transfers == "active"
    at = _event_time(event)
    if at < row.updated_at or (at == row.updated_at and payable):
        return "ignored"
    if payable:
        reason = "payouts enabled"
    else:
        due = list((data.get("requirements") or {}).get("currently_due") or [])
        reason = "payouts disabled by Stripe" + (f"; Stripe needs: {', '.join(due)}" if due else "")
    was_payable = row.payable
    _apply_status(row, ProviderAccount(row.provider_account_id, payable, reason), at)
    if was_payable != payable:
        message = (
            "Your payout account can receive payouts"
            if payable
            else f"Your payout account cannot receive payouts: {reason}"
        )
        notify(db, [row.creator_id], "payout_account", message, PAYOUTS_PATH, None)
    return "processed"


def _reversed_so_far(db: Session, payout: Payout) -> int:
    prefix = f"payout-reversal:{payout.idempotency_key}:"
    total = db.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount), 0))
        .join(LedgerTransaction, LedgerPosting.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerPosting.account_id == LedgerAccount.id)
        .where(
            LedgerTransaction.idempotency_key.startswith(prefix, autoescape=True),
            LedgerAccount.code == ledger.paid_out_account(payout.currency),
        )
    )
    return int(total or 0)


def transfer_reversed(db: Session, event: ProviderEvent, _context: object) -> str:
    """Money came back from the creator's Stripe account: it returns to their hitrack balance.

    The event carries the transfer's cumulative ``amount_reversed``; only the
    part not yet returned is posted (key ``payout-reversal:<payout>:<minor units>``),
    so replays and out-of-order partial reversals never return money twice.
    """
    transfer = event.data
    payout_id = str((transfer.get("metadata") or {}).get("payout_id") or "")
    payout = db.get(Payout, int(payout_id)) if payout_id.isdigit() else None
    if payout is None or payout.run.provider != "stripe":
        return "ignored"  # not a hitrack payout
    if payout.provider_transfer_id not in (None, event.object_id):
        return "ignored"  # a duplicate transfer of the payout; reconcile reports those
    payout = _lock_payout(db, payout)
    if payout.status == "pending":
        # The reversal is news that the transfer was made: settle it first.
        _post_paid(db, payout, event.object_id)
    if payout.status not in ("paid", "reversed"):
        return "ignored"  # voided already: the money never left the ledger
    reversed_minor = transfer.get("amount_reversed")  # in the currency's minor unit
    if (
        isinstance(reversed_minor, bool)
        or not isinstance(reversed_minor, int)
        or reversed_minor <= 0
    ):
        return "ignored"
    reversed_micros = min(from_minor_units(reversed_minor, payout.currency), payout.amount)
    new = reversed_micros - _reversed_so_far(db, payout)
    if new > 0:
        money = f"{format_micros(new, payout.currency)} {payout.currency}"
        ledger.post_transaction(
            db,
            f"payout-reversal:{payout.idempotency_key}:{reversed_minor}",
            REVERSAL_KIND,
            payout_reversal_postings(payout.creator_id, payout.currency, new),
            f"Transfer {event.object_id} reversed: {money} of payout {payout.idempotency_key} "
            "back in your balance",
        )
        if reversed_micros >= payout.amount:
            payout.status = "reversed"
        payout.failure_reason = (
            f"transfer reversed at Stripe: {format_micros(reversed_micros, payout.currency)} "
            f"of {format_micros(payout.amount, payout.currency)} {payout.currency} "
            "returned to the balance"
        )
        notify(
            db,
            [payout.creator_id],
            "payout_reversed",
            f"A payout transfer was reversed: {money} is back in your balance",
            PAYOUTS_PATH,
            None,
        )
        notify(
            db,
            _admin_ids(db),
            "payout_reversed",
            f"Transfer {event.object_id} to creator {payout.creator_id} reversed: {money}",
            "/admin/payouts",
            None,
        )
    return "processed"


def payout_failed(db: Session, event: ProviderEvent, _context: object) -> str:
    """The creator's bank refused Stripe's payout from their connected account.

    The money is back in the creator's Stripe balance (Stripe pays it again
    once the bank details are fixed), not in the platform's, so the ledger does
    not move: crediting the hitrack balance too would pay it twice. The
    account stops being payable until Stripe reports it healthy again.
    """
    row = _stripe_account(db, event.account_id)
    if row is None:
        return "ignored"
    data = event.data
    amount = data.get("amount")
    currency = str(data.get("currency") or "").upper()
    money = (
        f"{format_micros(from_minor_units(amount, currency), currency)} {currency}"
        if isinstance(amount, int) and not isinstance(amount, bool) and _known(currency)
        else "a payout"
    )
    code = str(data.get("failure_code") or "failed")
    reason = (
        f"your bank refused Stripe's payout of {money} ({code}); update your bank details at Stripe"
    )
    at = _event_time(event)
    _apply_status(
        row,
        ProviderAccount(row.provider_account_id, False, reason),
        max(at, row.updated_at),
        state=PayoutAccountState.PAUSED,
    )
    notify(
        db,
        [row.creator_id],
        "payout_failed",
        f"Your bank refused a payout of {money} ({code}). The money is in your Stripe balance; "
        "update your bank details at Stripe to receive it",
        PAYOUTS_PATH,
        None,
    )
    notify(
        db,
        _admin_ids(db),
        "payout_failed",
        f"Bank payout {event.object_id} of creator {row.creator_id} failed ({code}); account paused",
        "/admin/payouts",
        None,
    )
    return "processed"


def _known(currency: str) -> bool:
    try:
        parse_currency(currency)
    except InvalidInput:
        return False
    return True


def account_deauthorized(db: Session, event: ProviderEvent, _context: object) -> str:
    """The creator disconnected their Stripe account from hitrack: never pay it again.

    Payouts still pending for it are settled by :func:`reconcile` (a transfer
    that was made is posted, one that was not is voided back to the balance).
    """
    row = _stripe_account(db, event.account_id)
    if row is None:
        return "ignored"
    reason = f"{DISCONNECTED}; connect a payout account again to be paid"
    _apply_status(
        row,
        ProviderAccount(row.provider_account_id, False, reason),
        max(_event_time(event), row.updated_at),
        state=PayoutAccountState.DISCONNECTED,
    )
    notify(
        db,
        [row.creator_id],
        "payout_account",
        "Your Stripe account was disconnected from hitrack; your balance stays here until you "
        "connect a payout account again",
        PAYOUTS_PATH,
        None,
    )
    notify(
        db,
        _admin_ids(db),
        "payout_account",
        f"Creator {row.creator_id} disconnected Stripe account {row.provider_account_id}",
        "/admin/payouts",
        None,
    )
    return "processed"


WEBHOOK_HANDLERS = {
    "account.updated": account_updated,
    "transfer.reversed": transfer_reversed,
    "payout.failed": payout_failed,
    "account.application.deauthorized": account_deauthorized,
}
