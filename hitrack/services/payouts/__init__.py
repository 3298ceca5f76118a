"""Payouts: creators' payout accounts, payout runs, reconciliation and provider webhooks.

The package is split by concept (``accounts``, ``methods``, ``runs``,
``results``, ``closing``, ``reconcile``, ``batch``, ``manual``, ``queries``,
``webhooks``; ``core`` holds the shared keys); callers keep using
``from hitrack.services import payouts`` and the names re-exported here.

Balances become money in creators' hands through a
:class:`~hitrack.payments.base.PayoutProvider` (the manual default or Stripe
Connect). Nothing may pay twice and no money may be lost half-way, so every
payout follows the same two-phase path (DESIGN section 4):

1. **Hold** — in one committed database transaction, a :class:`Payout` row
   with a deterministic idempotency key (``<run id>:<creator id>:<currency>``)
   and a ledger hold (payable -> payout hold, key ``payout-hold:<payout key>``).
   The creator's payable account is locked first (``SELECT ... FOR UPDATE`` on
   PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers) and the
   partial unique index ``uq_payouts_one_pending`` allows one pending payout
   per creator and currency, so two runs at once cannot both hold one balance.
2. **Send** — only then is the provider called, with that key as its
   idempotency key and the run id as ``transfer_group``.
3. **Settle** — ``SENT`` posts the hold to ``platform:paid_out`` (status
   ``paid``); ``FAILED`` voids it back to the creator's payable (``failed``);
   ``UNKNOWN`` leaves it ``pending``. :func:`reconcile` (and the next run)
   asks :meth:`~hitrack.payments.base.PayoutProvider.find_transfer` by run id
   and payout id — never a resend under a new key — and settles exactly once:
   the ledger's idempotency keys make a second post impossible.

Amounts are integer micros; a payout moves whole minor units of its currency
(ISO 4217, :data:`~hitrack.domain.money.MINOR_UNIT_EXPONENTS`: cents for USD,
yen for JPY, fils for KWD) and the remainder below the minor unit stays in the
balance. The provider is asked for the amount in that minor unit. Only
creators whose payout account is payable and whose balance reaches the
currency's minimum are paid; currencies without a configured minimum are not
paid out at all.

Webhooks (registered in :mod:`hitrack.services.webhooks`):
``account.updated`` marks the Stripe account payable or not (events older
than the state already seen are ignored); ``transfer.reversed`` returns the
reversed amount to the creator's payable with a ``payout_reversal``
transaction; ``payout.failed`` (the creator's bank refused Stripe's payout:
the money is back in the creator's *Stripe* balance, not the platform's, so
the ledger does not move) and ``account.application.deauthorized`` make the
account not payable. Creators and admins are notified of each.
"""

from __future__ import annotations

from hitrack.services.payouts.accounts import (
    connect_account,
    onboarding_link,
    payout_account,
    refresh_account,
)
from hitrack.services.payouts.batch import open_run, run_payouts
from hitrack.services.payouts.closing import fail_run, finish_run
from hitrack.services.payouts.core import PAYOUTS_PATH, SETTLE_GRACE, payout_key, require_admin
from hitrack.services.payouts.manual import export_run_csv, mark_manual
from hitrack.services.payouts.methods import (
    record_manual_method,
    submit_manual_method,
    verify_manual_method,
)
from hitrack.services.payouts.queries import (
    all_accounts,
    get_run,
    list_runs,
    needing_attention,
    payouts_for,
)
from hitrack.services.payouts.reconcile import ReconcileSummary, reconcile
from hitrack.services.payouts.results import apply_result
from hitrack.services.payouts.runs import (
    Candidate,
    candidates,
    new_run_id,
    run_summary_line,
    transfer_request,
    unpaid_currencies,
)
from hitrack.services.payouts.webhooks import (
    WEBHOOK_HANDLERS,
    account_deauthorized,
    account_updated,
    payout_failed,
    payout_reversal_postings,
    transfer_reversed,
)

__all__ = [
    "PAYOUTS_PATH",
    "SETTLE_GRACE",
    "Candidate",
    "ReconcileSummary",
    "payout_key",
    "payout_account",
    "connect_account",
    "onboarding_link",
    "refresh_account",
    "submit_manual_method",
    "record_manual_method",
    "verify_manual_method",
    "candidates",
    "open_run",
    "finish_run",
    "fail_run",
    "run_payouts",
    "run_summary_line",
    "unpaid_currencies",
    "transfer_request",
    "apply_result",
    "reconcile",
    "mark_manual",
    "export_run_csv",
    "get_run",
    "list_runs",
    "payouts_for",
    "all_accounts",
    "needing_attention",
    "payout_reversal_postings",
    "account_updated",
    "transfer_reversed",
    "payout_failed",
    "account_deauthorized",
    "WEBHOOK_HANDLERS",
    "require_admin",
    "new_run_id",
]
