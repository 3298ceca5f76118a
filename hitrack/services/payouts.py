"""Payouts: creators' payout accounts, payout runs, reconciliation and provider webhooks.

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

import logging
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from hitrack.db.models import (
    Creator,
    CreatorVerification,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Payout,
    PayoutAccount,
    PayoutRun,
)
from hitrack.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hitrack.domain.ledger import Posting
from hitrack.domain.money import (
    MAX_ACCOUNT_MICROS,
    format_micros,
    from_minor_units,
    parse_currency,
    to_minor_units,
    whole_minor_units,
)
from hitrack.payments.base import PayoutAccount as ProviderAccount
from hitrack.payments.base import (
    PayoutProvider,
    ProviderEvent,
    TransferOutcome,
    TransferRequest,
    TransferResult,
)
from hitrack.payments.manual import ManualPayout
from hitrack.payments.manual import export_csv as manual_csv
from hitrack.services import ledger, verification
from hitrack.services.notifications import Mailer, notify
from hitrack.services.unit_of_work import unit_of_work

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
    "send_run",
    "finish_run",
    "fail_run",
    "run_payouts",
    "run_summary_line",
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
]

log = logging.getLogger("hitrack.payouts")

PAYOUTS_PATH = "/me/payouts"
#: A pending payout younger than this may still be in the middle of its
#: provider call (claimed by a run that is sending it); reconciling it then
#: could void a hold whose transfer is about to succeed.
SETTLE_GRACE = timedelta(minutes=10)
REVERSAL_KIND = "payout_reversal"


@dataclass(frozen=True)
class Candidate:
    """A creator and currency a run would pay, and how much (whole minor units, in micros)."""

    creator_id: int
    currency: str
    amount: int
    #: Why the run may not pay this one ("" when it may): recorded on the run.
    refused: str = ""


@dataclass
class ReconcileSummary:
    checked: int = 0
    paid: int = 0
    failed: int = 0
    pending: int = 0

    def __str__(self) -> str:
        return (
            f"reconciled {self.checked} pending payouts: {self.paid} paid, "
            f"{self.failed} failed, {self.pending} still pending"
        )


DISCONNECTED = "disconnected from hitrack at Stripe"


def payout_key(run: PayoutRun, creator_id: int, currency: str) -> str:
    """The payout's idempotency key, here and at the provider."""
    return f"{run.public_id}:{creator_id}:{currency}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def require_admin(actor: Creator | None, what: str) -> None:
    if actor is None or not actor.is_admin:
        raise PermissionDenied(f"only an admin may {what}")


def _admin_ids(db: Session) -> list[int]:
    return list(db.scalars(select(Creator.id).where(Creator.role == "admin")))


def _creator(db: Session, handle: str) -> Creator:
    creator = db.scalar(select(Creator).where(Creator.handle == handle))
    if creator is None:
        raise NotFound(f"no creator {handle!r}", ids=(handle,))
    return creator


# --- payout accounts --------------------------------------------------------------


def payout_account(db: Session, creator_id: int, provider: str) -> PayoutAccount | None:
    """The creator's payout account with ``provider`` (``"manual"`` or ``"stripe"``), if any."""
    return db.scalar(
        select(PayoutAccount).where(
            PayoutAccount.creator_id == creator_id, PayoutAccount.provider == provider
        )
    )


def _apply_status(row: PayoutAccount, status: ProviderAccount, seen_at: datetime) -> None:
    row.payable = status.payable
    row.status_reason = status.details
    # updated_at doubles as "the moment of the provider state we last applied":
    # a webhook older than it is stale (see account_updated).
    row.updated_at = seen_at
    if status.payable and row.provider == "stripe" and (db := object_session(row)) is not None:
        verification.verify_from_provider(db, row.creator_id, "Stripe", now=seen_at)


def connect_account(
    db: Session,
    provider: PayoutProvider,
    creator: Creator,
    *,
    country: str = "US",
    now: datetime | None = None,
) -> PayoutAccount:
    """The creator's account at ``provider``, created there on first use (not yet payable).

    An account the creator disconnected at the provider is replaced by a new one.
    """
    row = payout_account(db, creator.id, provider.name)
    if row is not None and row.status_reason.startswith(DISCONNECTED):
        with unit_of_work(db):
            status = provider.create_account(
                creator_id=str(creator.id),
                email=creator.email or "",
                country=country,
                replaces=row.provider_account_id,
            )
            row.provider_account_id = status.provider_account_id
            _apply_status(row, status, _now(now))
        return row
    if row is not None:
        return row
    try:
        status = provider.create_account(
            creator_id=str(creator.id), email=creator.email or "", country=country
        )
        row = PayoutAccount(
            creator_id=creator.id,
            provider=provider.name,
            provider_account_id=status.provider_account_id,
        )
        _apply_status(row, status, _now(now))
        db.add(row)
        db.commit()
    except IntegrityError:
        # A second tab connected at the same time; the provider's idempotency
        # key gave both the same account.
        db.rollback()
        row = payout_account(db, creator.id, provider.name)
        if row is None:
            raise
    except BaseException:
        db.rollback()
        raise
    return row


def onboarding_link(
    db: Session,
    provider: PayoutProvider,
    creator: Creator,
    *,
    base_url: str,
    now: datetime | None = None,
) -> str:
    """A fresh onboarding URL for the signed-in creator (their account is created if needed).

    The refresh URL (an expired or used link) and the return URL are on this
    site and act on the signed-in creator only, so a link never carries an
    account id another creator could swap in.
    """
    row = connect_account(db, provider, creator, now=now)
    base = base_url.rstrip("/")
    link = provider.onboarding_link(
        row.provider_account_id,
        refresh_url=f"{base}{PAYOUTS_PATH}/refresh",
        return_url=f"{base}{PAYOUTS_PATH}/return",
    )
    if link is None:
        raise InvalidInput(
            f"the {provider.name} payout provider has no hosted onboarding; "
            "an admin records and verifies your payout method"
        )
    return link


def refresh_account(
    db: Session, provider: PayoutProvider, creator: Creator, *, now: datetime | None = None
) -> PayoutAccount | None:
    """Ask the provider whether the creator's account is payable now, and store the answer."""
    row = payout_account(db, creator.id, provider.name)
    if row is None or provider.name == "manual":
        return row  # a manual method is payable when an admin verified it, nothing to ask
    with unit_of_work(db):
        _apply_status(row, provider.account_status(row.provider_account_id), _now(now))
    return row


def _clean_details(details: object) -> str:
    if not isinstance(details, str) or not details.strip():
        raise InvalidInput(
            "payout method: describe where to pay (bank account, IBAN, PayPal address)"
        )
    text = " ".join(details.split())
    if len(text) > 500:
        raise InvalidInput("payout method: at most 500 characters")
    return text


def _set_manual_method(
    db: Session, creator: Creator, details: str, *, verified_by: Creator | None, now: datetime
) -> PayoutAccount:
    row = payout_account(db, creator.id, "manual")
    if row is None:
        row = PayoutAccount(
            creator_id=creator.id, provider="manual", provider_account_id=f"manual:{creator.id}"
        )
        db.add(row)
    if row.details != details or verified_by is not None:
        row.details = details
        # New details are unverified until an admin checks them: a stolen
        # session cannot redirect payouts to an attacker's account.
        row.payable = verified_by is not None
        row.verified_by_id = verified_by.id if verified_by else None
        row.status_reason = (
            f"verified by {verified_by.display_name}"
            if verified_by
            else "awaiting admin verification"
        )
        row.updated_at = now
        if verified_by is not None:
            verification.verify_with_payout_method(db, creator.id, verified_by.id)
    return row


def submit_manual_method(
    db: Session, creator: Creator, details: object, *, now: datetime | None = None
) -> PayoutAccount:
    """A creator enters (or changes) their payout method; it waits for an admin to verify it."""
    text = _clean_details(details)
    with unit_of_work(db):
        row = _set_manual_method(db, creator, text, verified_by=None, now=_now(now))
        notify(
            db,
            [i for i in _admin_ids(db) if i != creator.id],
            "payout_method",
            f"{creator.display_name} entered a payout method to verify",
            "/admin/payouts",
            None,
        )
    return row


def record_manual_method(
    db: Session,
    admin: Creator,
    handle: str,
    details: object,
    *,
    verified: bool = True,
    now: datetime | None = None,
) -> PayoutAccount:
    """An admin records a creator's payout method, verified by that admin unless ``verified=False``."""
    require_admin(admin, "record payout methods")
    text = _clean_details(details)
    creator = _creator(db, handle)
    with unit_of_work(db):
        row = _set_manual_method(
            db, creator, text, verified_by=admin if verified else None, now=_now(now)
        )
    return row


def verify_manual_method(
    db: Session, admin: Creator, handle: str, *, now: datetime | None = None
) -> PayoutAccount:
    """An admin confirms the payout method a creator entered."""
    require_admin(admin, "verify payout methods")
    creator = _creator(db, handle)
    row = payout_account(db, creator.id, "manual")
    if row is None or not row.details:
        raise InvalidInput(f"{creator.display_name} has no payout method to verify", ids=(handle,))
    with unit_of_work(db):
        _set_manual_method(db, creator, row.details, verified_by=admin, now=_now(now))
        notify(
            db, [creator.id], "payout_method", "Your payout method was verified", PAYOUTS_PATH, None
        )
    return row


# --- runs: hold, send, settle -----------------------------------------------------


def candidates(db: Session, provider: str, minimums: Mapping[str, int]) -> list[Candidate]:
    """Who a run would pay now: a payable account with ``provider`` and a balance at the minimum.

    A balance beyond the account cap (left by an earlier version that had no
    cap) is not paid: the candidate carries the reason, the run records it,
    and ``hitrack ledger check`` reports the account.
    """
    payable_creators = select(PayoutAccount.creator_id).where(
        PayoutAccount.provider == provider,
        PayoutAccount.payable.is_(True),
        # Only verified creators are paid (DESIGN section 1); the others' balances wait.
        PayoutAccount.creator_id.in_(select(CreatorVerification.creator_id)),
    )
    rows = db.execute(
        select(LedgerAccount.creator_id, LedgerAccount.currency, LedgerAccount.balance)
        .where(
            LedgerAccount.kind == "creator_payable", LedgerAccount.creator_id.in_(payable_creators)
        )
        .order_by(LedgerAccount.creator_id, LedgerAccount.currency)
    )
    found = []
    for creator_id, currency, balance in rows:
        minimum = minimums.get(currency)
        if creator_id is None or minimum is None:
            continue  # only currencies with a minimum (so in the currency table) are paid
        owed = -int(balance)
        if abs(owed) > MAX_ACCOUNT_MICROS:
            reason = (
                f"balance beyond the account cap of {MAX_ACCOUNT_MICROS} micros; not paid "
                "until an admin corrects the account (hitrack ledger check lists it)"
            )
            found.append(Candidate(int(creator_id), currency, 0, reason))
            continue
        amount = whole_minor_units(owed, currency)
        if amount > 0 and amount >= minimum:
            found.append(Candidate(int(creator_id), currency, amount))
    return found


def new_run_id(now: datetime) -> str:
    return f"run_{now:%Y%m%d%H%M%S}_{secrets.token_hex(4)}"


def _lock_payable(db: Session, creator_id: int, currency: str) -> None:
    account = ledger.get_account(db, ledger.payable_account(creator_id, currency))
    if db.get_bind().dialect.name == "postgresql":
        # Serialises runs per creator and currency: the second waits here and
        # then reads the balance the first one's hold already reduced.
        db.execute(select(LedgerAccount.id).where(LedgerAccount.id == account.id).with_for_update())


def _hold(db: Session, run: PayoutRun, candidate: Candidate, minimum: int) -> Payout | None:
    """Payout row and ledger hold in one committed transaction; None when nothing is to hold."""
    creator_id, currency = candidate.creator_id, candidate.currency
    with unit_of_work(db):
        _lock_payable(db, creator_id, currency)
        # Read again under the lock: another run may have held it meanwhile.
        amount = whole_minor_units(
            ledger.creator_balances(db, creator_id).get(currency, 0), currency
        )
        if amount <= 0 or amount < minimum:
            db.rollback()
            return None
        key = payout_key(run, creator_id, currency)
        try:
            with db.begin_nested():
                payout = Payout(
                    run_id=run.id,
                    creator_id=creator_id,
                    currency=currency,
                    amount=amount,
                    idempotency_key=key,
                    status="pending",
                )
                db.add(payout)
                db.flush()
        except IntegrityError:
            db.rollback()  # a payout for this creator and currency is already in flight
            return None
        hold = ledger.post_transaction(
            db,
            f"payout-hold:{key}",
            "payout_hold",
            ledger.payout_hold_postings(creator_id, currency, amount),
            f"Payout {format_micros(amount, currency)} {currency} held while the transfer is sent (run {run.public_id})",
            commit=False,
        )
        payout.hold_transaction_id = hold.id
    return payout


def _skip(db: Session, run: PayoutRun, candidate: Candidate, reason: str) -> None:
    """Record on the run that a creator was not paid, and why (there is no payout row to carry it)."""
    skipped = _skipped(run)
    skipped.append(
        {"creator_id": candidate.creator_id, "currency": candidate.currency, "reason": reason}
    )
    with unit_of_work(db):
        run.summary = {**run.summary, "skipped": skipped}


def _skipped(run: PayoutRun) -> list[dict[str, object]]:
    raw = run.summary.get("skipped")
    return [dict(item) for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _problem(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def open_run(
    db: Session,
    provider: PayoutProvider,
    *,
    started_by: Creator | None,
    minimums: Mapping[str, int],
    now: datetime | None = None,
    run_id: str | None = None,
) -> PayoutRun:
    """Start a run: record it, reconcile what earlier runs left pending, then hold every payout.

    ``started_by`` must be an admin (``None``: the system, e.g. the CLI).
    Each payout is committed with its hold before :func:`send_run` calls the
    provider. A hold that cannot be made (one creator's trouble) is recorded
    in the run's summary under ``skipped`` and the others are still held.
    Use :func:`run_payouts`, which also ends a run that crashes as ``failed``.
    """
    run = _start_run(db, provider, started_by, _now(now), run_id)
    _hold_all(db, provider, run, minimums, run.started_at)
    return run


def _start_run(
    db: Session,
    provider: PayoutProvider,
    started_by: Creator | None,
    at: datetime,
    run_id: str | None = None,
) -> PayoutRun:
    if started_by is not None:
        require_admin(started_by, "start a payout run")
    run = PayoutRun(
        public_id=run_id or new_run_id(at),
        provider=provider.name,
        status="running",
        started_by_id=started_by.id if started_by else None,
        started_at=at,
        summary={},
    )
    with unit_of_work(db):
        db.add(run)
    return run


def _hold_all(
    db: Session,
    provider: PayoutProvider,
    run: PayoutRun,
    minimums: Mapping[str, int],
    at: datetime,
) -> None:
    reconcile(db, provider, now=at)
    found = candidates(db, provider.name, minimums)
    db.rollback()  # end the read; each hold below is its own transaction
    for candidate in found:
        if candidate.refused:
            _skip(db, run, candidate, candidate.refused)
            continue
        try:
            _hold(db, run, candidate, minimums[candidate.currency])
        except Exception as error:  # one creator's hold must not stop the others
            db.rollback()
            log.exception("payout run %s: hold for creator %s failed", run.public_id, candidate)
            _skip(db, run, candidate, f"could not hold the payout: {_problem(error)}")


def _claim(db: Session, payout: Payout, now: datetime) -> bool:
    """Mark the payout as being sent now (reconcile leaves it alone for SETTLE_GRACE)."""
    result = db.execute(
        update(Payout)
        .where(Payout.id == payout.id, Payout.status == "pending")
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return bool(getattr(result, "rowcount", 0))


def transfer_request(db: Session, payout: Payout, run: PayoutRun) -> TransferRequest:
    """What the provider is asked for this payout (minor units only here, at the boundary)."""
    account = payout_account(db, payout.creator_id, run.provider)
    if account is None:
        raise NotFound(f"creator {payout.creator_id} has no {run.provider} payout account")
    return TransferRequest(
        idempotency_key=payout.idempotency_key,
        amount_minor=to_minor_units(payout.amount, payout.currency),
        currency=payout.currency.lower(),
        destination=account.provider_account_id,
        transfer_group=run.public_id,
        metadata={"payout_id": str(payout.id), "creator_id": str(payout.creator_id)},
    )


def send_run(
    db: Session,
    provider: PayoutProvider,
    run: PayoutRun,
    *,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> Iterator[Payout]:
    """Send each pending payout of the run and settle it; yields each payout once handled.

    One payout's failure never stops the run. Before the provider is called
    (no payout account, a request that cannot be built) the hold is voided
    and the payout ends ``failed`` with the reason; if the provider call or
    the settling raises, nobody knows whether money moved, so the payout
    stays ``pending`` with the reason and :func:`reconcile` settles it by
    looking the transfer up, never by sending again.
    """
    ids = list(
        db.scalars(
            select(Payout.id)
            .where(Payout.run_id == run.id, Payout.status == "pending")
            .order_by(Payout.id)
        )
    )
    db.rollback()
    for payout_id in ids:
        payout = db.get(Payout, payout_id)
        if payout is None or not _claim(db, payout, _now(now)):
            continue  # settled meanwhile (a webhook, a reconcile)
        yield _send_one(db, provider, run, payout, mailer)


def _send_one(
    db: Session, provider: PayoutProvider, run: PayoutRun, payout: Payout, mailer: Mailer | None
) -> Payout:
    try:
        request = transfer_request(db, payout, run)
    except Exception as error:
        db.rollback()
        log.exception("payout %s: no transfer request", payout.idempotency_key)
        failed = TransferResult(
            TransferOutcome.FAILED, None, f"not sent: {_problem(error)}"
        )  # the provider was never called: the money goes back to the balance
        return apply_result(db, payout, failed, mailer=mailer)
    try:
        result = provider.send_transfer(request)
    except Exception as error:
        db.rollback()
        log.exception("payout %s: the provider call raised", payout.idempotency_key)
        result = TransferResult(
            TransferOutcome.UNKNOWN,
            None,
            f"the provider call raised {_problem(error)}; reconcile looks the transfer up",
        )
    try:
        return apply_result(db, payout, result, mailer=mailer)
    except Exception as error:
        db.rollback()
        log.exception("payout %s: settling the provider's answer failed", payout.idempotency_key)
        return _note(db, payout, f"settling the provider's answer failed: {_problem(error)}")


def _note(db: Session, payout: Payout, reason: str) -> Payout:
    """Keep the payout pending with ``reason``: reconcile settles it from the provider's records."""
    with unit_of_work(db):
        payout = _lock_payout(db, payout)
        if payout.status == "pending":
            payout.failure_reason = reason[:1000]
    return payout


def _summary(db: Session, run: PayoutRun) -> dict[str, object]:
    counts: dict[str, int] = {}
    amounts: dict[str, dict[str, int]] = {}
    # Added up in Python: a run's total need not fit in 64 bits.
    for status, currency, amount in db.execute(
        select(Payout.status, Payout.currency, Payout.amount).where(Payout.run_id == run.id)
    ):
        counts[status] = counts.get(status, 0) + 1
        per_currency = amounts.setdefault(status, {})
        per_currency[currency] = per_currency.get(currency, 0) + int(amount)
    summary: dict[str, object] = {"counts": counts, "amounts": amounts}
    if _skipped(run):
        summary["skipped"] = _skipped(run)
    return summary


def finish_run(db: Session, run: PayoutRun, *, now: datetime | None = None) -> PayoutRun:
    """Close the run with its summary: counts and amounts per status and currency."""
    summary = _summary(db, run)
    with unit_of_work(db):
        run.summary = summary
        counts = summary["counts"]
        run.status = (
            "awaiting" if isinstance(counts, dict) and counts.get("pending") else "finished"
        )
        run.finished_at = _now(now)
    return run


def fail_run(db: Session, run: PayoutRun, reason: str, *, now: datetime | None = None) -> PayoutRun:
    """End a run that stopped half-way as ``failed`` with ``reason`` (its payouts keep their states).

    Pending payouts of a failed run are settled by :func:`reconcile` like any others.
    """
    db.rollback()
    summary = _summary(db, run)
    with unit_of_work(db):
        run.summary = summary
        run.status = "failed"
        run.failure_reason = reason[:1000]
        run.finished_at = _now(now)
    return run


def _close_interrupted_runs(db: Session, provider: str, now: datetime) -> None:
    """Runs still ``running`` that made no progress for SETTLE_GRACE: their process died."""
    cutoff = now - SETTLE_GRACE
    active = (
        select(Payout.id).where(Payout.run_id == PayoutRun.id, Payout.updated_at > cutoff).exists()
    )
    stale = list(
        db.scalars(
            select(PayoutRun).where(
                PayoutRun.provider == provider,
                PayoutRun.status == "running",
                PayoutRun.started_at <= cutoff,
                ~active,
            )
        )
    )
    for run in stale:
        fail_run(
            db,
            run,
            f"interrupted: no progress for {int(SETTLE_GRACE.total_seconds() // 60)} minutes "
            "(the process running it stopped); its pending payouts are reconciled",
            now=now,
        )


def run_summary_line(run: PayoutRun) -> str:
    """One line: how many payouts, per status, and the amounts paid."""
    counts = _int_map(run.summary.get("counts"))
    raw_amounts = run.summary.get("amounts")
    amounts = (
        {k: _int_map(v) for k, v in raw_amounts.items()} if isinstance(raw_amounts, dict) else {}
    )
    total = sum(counts.values())
    parts = [
        f"{counts.get(s, 0)} {s}"
        for s in ("paid", "pending", "failed", "reversed")
        if counts.get(s)
    ]
    skipped = len(_skipped(run))
    paid = ", ".join(
        f"{format_micros(v, c)} {c}" for c, v in sorted((amounts.get("paid") or {}).items())
    )
    return (
        f"payout run {run.public_id}: {total} payouts"
        + (f" ({', '.join(parts)})" if parts else "")
        + (f"; paid {paid}" if paid else "")
        + (f"; {skipped} not paid (see the run)" if skipped else "")
        + (f"; FAILED: {run.failure_reason}" if run.status == "failed" else "")
    )


def _int_map(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}


def run_payouts(
    db: Session,
    provider: PayoutProvider,
    *,
    started_by: Creator | None,
    minimums: Mapping[str, int],
    mailer: Mailer | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
) -> PayoutRun:
    """Open, send and finish a run in one call; the one way to run payouts.

    ``run_id`` names the run (a job chooses it before starting, as its
    checkpoint): when a run of that id exists and is still ``running``, it is
    resumed — what was held is not held again, what was sent is reconciled,
    never sent twice; when it has ended, it is returned as it is.

    ``progress(done, total)`` is called once the payouts are held (``done``
    0) and after each one is handled. A run that crashes half-way ends
    ``failed`` with the reason (never ``running``): an ordinary error is
    recorded and the failed run returned; an interruption (``KeyboardInterrupt``,
    the process being stopped) is recorded as far as possible and re-raised.
    A run whose process died without a word is closed as failed by the next
    run or reconcile.
    """
    existing = db.scalar(select(PayoutRun).where(PayoutRun.public_id == run_id)) if run_id else None
    db.rollback()
    if existing is not None and existing.status != "running":
        return existing  # it ended before (or was closed as interrupted): nothing to resume
    run = existing or _start_run(db, provider, started_by, _now(now), run_id)
    try:
        _hold_all(db, provider, run, minimums, _now(now))
        total = db.scalar(
            select(func.count()).where(Payout.run_id == run.id, Payout.status == "pending")
        )
        db.rollback()
        done = 0
        if progress is not None:
            progress(done, int(total or 0))
        for _ in send_run(db, provider, run, mailer=mailer, now=now):
            done += 1
            if progress is not None:
                progress(done, int(total or 0))
        return finish_run(db, run, now=now)
    except Exception as error:
        log.exception("payout run %s failed", run.public_id)
        return fail_run(db, run, _problem(error), now=now)
    except BaseException as error:
        try:
            fail_run(db, run, f"interrupted: {_problem(error)}", now=now)
        except Exception:  # the database may be what went away
            log.exception("payout run %s: could not record the interruption", run.public_id)
        raise


def _lock_payout(db: Session, payout: Payout) -> Payout:
    """The payout re-read under a row lock (PostgreSQL; SQLite serialises writers already)."""
    query = select(Payout).where(Payout.id == payout.id).execution_options(populate_existing=True)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalars(query).one()


def _post_paid(db: Session, payout: Payout, transfer_id: str | None) -> None:
    ledger.post_transaction(
        db,
        f"payout-paid:{payout.idempotency_key}",
        "payout_paid",
        ledger.payout_paid_postings(payout.creator_id, payout.currency, payout.amount),
        f"Payout {format_micros(payout.amount, payout.currency)} {payout.currency} sent"
        + (f" (transfer {transfer_id})" if transfer_id else ""),
        commit=False,
    )
    payout.status, payout.provider_transfer_id, payout.failure_reason = "paid", transfer_id, ""


def apply_result(
    db: Session, payout: Payout, result: TransferResult, *, mailer: Mailer | None = None
) -> Payout:
    """Settle a pending payout from a provider answer, exactly once.

    ``SENT`` posts the hold, ``FAILED`` voids it (the money is back in the
    creator's balance), ``UNKNOWN`` keeps it pending with the provider's note.
    A payout that is no longer pending is returned unchanged.
    """
    with unit_of_work(db):
        payout = _lock_payout(db, payout)
        if payout.status != "pending":
            db.rollback()
            return payout
        money = f"{format_micros(payout.amount, payout.currency)} {payout.currency}"
        if result.outcome is TransferOutcome.SENT:
            _post_paid(db, payout, result.transfer_id)
            notify(
                db,
                [payout.creator_id],
                "payout_paid",
                f"Payout of {money} sent",
                PAYOUTS_PATH,
                mailer,
            )
        elif result.outcome is TransferOutcome.FAILED:
            ledger.post_transaction(
                db,
                f"payout-void:{payout.idempotency_key}",
                "payout_void",
                ledger.payout_void_postings(payout.creator_id, payout.currency, payout.amount),
                f"Payout {money} failed, back in your balance: {result.message}",
                commit=False,
            )
            payout.status, payout.failure_reason = "failed", result.message
            payout.provider_transfer_id = result.transfer_id
            notify(
                db,
                [payout.creator_id],
                "payout_failed",
                f"Payout of {money} failed ({result.message}); the money is back in your balance",
                PAYOUTS_PATH,
                mailer,
            )
        elif payout.failure_reason != result.message:
            payout.failure_reason = result.message
    return payout


def reconcile(
    db: Session,
    provider: PayoutProvider,
    *,
    min_age: timedelta = SETTLE_GRACE,
    now: datetime | None = None,
    mailer: Mailer | None = None,
) -> ReconcileSummary:
    """Settle pending payouts of ``provider`` by looking their transfers up, never by resending.

    Only payouts untouched for ``min_age`` are asked about: a younger one may
    be inside a run's provider call right now. ``find_transfer`` answering
    ``None`` means the provider is certain no transfer exists: the hold is
    voided and the next run pays the balance under a new key. One payout's
    trouble (a lookup or a settlement that raises) leaves it pending with the
    reason and the others are still reconciled. Runs whose process died are
    closed as ``failed`` first.
    """
    _close_interrupted_runs(db, provider.name, _now(now))
    cutoff = _now(now) - min_age
    rows = db.execute(
        select(Payout.id, PayoutRun.public_id)
        .join(PayoutRun, Payout.run_id == PayoutRun.id)
        .where(
            Payout.status == "pending",
            PayoutRun.provider == provider.name,
            Payout.updated_at <= cutoff,
        )
        .order_by(Payout.id)
    ).all()
    db.rollback()
    summary = ReconcileSummary()
    for payout_id, run_id in rows:
        payout = db.get(Payout, payout_id)
        if payout is None:
            continue
        try:
            found = provider.find_transfer(transfer_group=run_id, payout_id=str(payout_id))
            if found is None:
                found = TransferResult(
                    TransferOutcome.FAILED, None, "the provider holds no transfer for this payout"
                )
            payout = apply_result(db, payout, found, mailer=mailer)
        except Exception as error:
            db.rollback()
            log.exception("reconcile: payout %s could not be settled", payout_id)
            payout = _note(db, payout, f"reconcile failed: {_problem(error)}")
        summary.checked += 1
        if payout.status == "pending":
            summary.pending += 1
        elif payout.status == "failed":
            summary.failed += 1
        else:
            summary.paid += 1
    return summary


# --- manual payouts ---------------------------------------------------------------


def mark_manual(
    db: Session,
    admin: Creator,
    payout_id: int,
    *,
    paid: bool,
    note: str = "",
    mailer: Mailer | None = None,
) -> Payout:
    """An admin marks a manual payout paid (posts the hold) or failed (voids it)."""
    require_admin(admin, "mark payouts")
    payout = db.get(Payout, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id}", ids=(str(payout_id),))
    if payout.run.provider != "manual":
        raise InvalidInput(
            "only manual payouts are marked by hand; the provider settles the others"
        )
    if payout.status != "pending":
        raise Conflict(f"payout {payout_id} is already {payout.status}", ids=(str(payout_id),))
    note = " ".join(note.split())[:300]
    if paid:
        result = TransferResult(
            TransferOutcome.SENT,
            f"manual:{payout.id}",
            f"paid by hand, marked by {admin.display_name}" + (f": {note}" if note else ""),
        )
    else:
        if not note:
            raise InvalidInput("say why the payout failed")
        result = TransferResult(TransferOutcome.FAILED, None, note)
    return apply_result(db, payout, result, mailer=mailer)


def export_run_csv(db: Session, admin: Creator, run_id: str) -> str:
    """The run's pending manual payouts as the CSV an admin pays from."""
    require_admin(admin, "export payout runs")
    run = get_run(db, run_id)
    if run.provider != "manual":
        raise InvalidInput("only manual runs are exported; the provider pays the others")
    rows = []
    for payout in run.payouts:
        if payout.status != "pending":
            continue
        account = payout_account(db, payout.creator_id, "manual")
        rows.append(
            ManualPayout(
                payee=payout.creator.display_name,
                method=account.details if account else "",
                amount_minor=to_minor_units(payout.amount, payout.currency),
                currency=payout.currency.lower(),
                reference=payout.idempotency_key,
            )
        )
    return manual_csv(rows)


# --- reading ----------------------------------------------------------------------


def get_run(db: Session, run_id: str) -> PayoutRun:
    run = db.scalar(select(PayoutRun).where(PayoutRun.public_id == run_id))
    if run is None:
        raise NotFound(f"no payout run {run_id!r}", ids=(run_id,))
    return run


def list_runs(db: Session, *, limit: int = 50) -> list[PayoutRun]:
    return list(
        db.scalars(
            select(PayoutRun)
            .order_by(PayoutRun.started_at.desc(), PayoutRun.id.desc())
            .limit(limit)
        )
    )


def all_accounts(db: Session) -> list[PayoutAccount]:
    """Every payout account, for the admin: provider, creator, payable and why."""
    return list(
        db.scalars(select(PayoutAccount).order_by(PayoutAccount.provider, PayoutAccount.creator_id))
    )


def needing_attention(db: Session, *, limit: int = 20) -> list[Payout]:
    """Payouts that failed or came back, newest first, for the admin."""
    return list(
        db.scalars(
            select(Payout)
            .where(Payout.status.in_(("failed", "reversed")))
            .order_by(Payout.updated_at.desc(), Payout.id.desc())
            .limit(limit)
        )
    )


def payouts_for(db: Session, creator_id: int, *, limit: int = 50) -> list[Payout]:
    """The creator's payouts, newest first."""
    return list(
        db.scalars(
            select(Payout)
            .where(Payout.creator_id == creator_id)
            .order_by(Payout.created_at.desc(), Payout.id.desc())
            .limit(limit)
        )
    )


# --- webhooks ---------------------------------------------------------------------


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
            commit=False,
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
        row, ProviderAccount(row.provider_account_id, False, reason), max(at, row.updated_at)
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
