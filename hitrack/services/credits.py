"""Credits on works as stored: the editor's rules, invitations, escrow and claims.

DESIGN sections 1 and 4. An owner lists a work's credits and sets its credit
pool (:func:`set_credits`); an unclaimed credit is a name and an invitation
by e-mail, whose money waits in the credit's escrow account
(``credit:<id>:escrow:<CUR>``, :func:`hitrack.services.ledger.escrow_account`).

Claims (:func:`claim_credit`): the invited person, signed in with the invited
address and verified (:mod:`hitrack.services.verification`), claims with the
link's token. The claim is then **pending** for ``HITRACK_CLAIM_DISPUTE_DAYS``
days, during which the work's owners may dispute it (the claim is voided and
the invitation withdrawn: the owners invite again) or confirm it (final at
once). While pending, money still goes to the escrow. When the claim becomes
final (confirmed by an owner; or, once the window has passed, claimed again
by the claimant, or made final by :func:`finalize_due_claims`, which a
scheduled job or the settlement path runs) the credit
is linked to the claimant and the whole escrow, every currency, moves to
their payable in **one** ledger transaction; later money is paid to them
directly. With ``HITRACK_CLAIM_DISPUTE_DAYS=0`` a claim is final at once.
Escrow never flows back to the owners: a credit taken off a work keeps its
escrow, still claimable through its invitation.

Settlement (:func:`payee_accounts`, :func:`record_escrow_earnings`): a payee
string from the engines is a creator handle (their payable) or
``credit:<public id>`` (that credit's escrow).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Creator, Credit, CreditEarning, LedgerAccount, RevenueEvent, Work
from hitrack.domain.credit_roles import parse_role
from hitrack.domain.errors import Conflict, InvalidInput, InvalidShare, NotFound, PermissionDenied
from hitrack.domain.ledger import Posting
from hitrack.domain.payees import UNCLAIMED_PREFIX, check_credits
from hitrack.domain.payees import Credit as DomainCredit
from hitrack.domain.shares import format_share, parse_share
from hitrack.services import ledger
from hitrack.services.accounts import _normalise_email as normalise_email
from hitrack.services.graph import credit_payee, get_work, lock_graph
from hitrack.services.notifications import Email, Mailer, notify, send_after_commit
from hitrack.services.unit_of_work import unit_of_work
from hitrack.services.verification import is_verified

__all__ = [
    "CreditEntry",
    "CreditsInput",
    "parse_credits_input",
    "set_credits",
    "credit_payee",
    "domain_credits",
    "is_unclaimed",
    "payee_accounts",
    "record_escrow_earnings",
    "get_credit",
    "credit_by_token",
    "claim_credit",
    "confirm_claim",
    "dispute_claim",
    "finalize_due_claims",
    "escrow_balances",
    "credits_held",
    "EscrowLine",
    "escrow_report",
    "search_creators",
    "unclaimed_payee_names",
    "CLAIM_URL",
]

#: The claim page of an invitation; the token is shown only in the e-mail.
CLAIM_URL = "/credits/claim/{token}"
MAX_CREDITS = 200


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --- the editor --------------------------------------------------------------------


@dataclass(frozen=True)
class CreditEntry:
    """One line of the credit editor.

    ``id`` keeps an existing credit (its claim, escrow and invitation);
    ``creator`` links a creator by handle; otherwise ``email`` invites the
    person named ``name``.
    """

    name: object = ""
    role: object = ""
    weight: object = "1"
    creator: object = None
    email: object = None
    id: object = None


@dataclass(frozen=True)
class CreditsInput:
    """What :func:`set_credits` replaces a work's credits with."""

    credits: tuple[CreditEntry, ...]
    credit_pool: object = "0"


def parse_credits_input(data: Mapping[str, Any]) -> CreditsInput:
    """The API body ``{"credit_pool": "1/4", "credits": [{"name", "role", "weight", ...}]}``."""
    raw = data.get("credits", [])
    if not isinstance(raw, list):
        raise InvalidInput("credits: expected a list")
    if len(raw) > MAX_CREDITS:
        raise InvalidInput(f"credits: at most {MAX_CREDITS}")
    entries = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"credit {i}: expected an object")
        unknown = set(item) - {"id", "name", "role", "weight", "creator", "email"}
        if unknown:
            raise InvalidInput(f"credit {i}: unknown field {sorted(unknown)[0]!r}")
        entries.append(CreditEntry(**{k: item[k] for k in item}))
    return CreditsInput(tuple(entries), data.get("credit_pool", "0"))


@dataclass(frozen=True)
class _Checked:
    entry: int
    name: str
    role: str
    weight: Fraction
    creator: Creator | None
    email: str | None
    existing: Credit | None


def _check_entries(db: Session, work: Work, data: CreditsInput) -> list[_Checked]:
    current = {c.public_id: c for c in _live_credits(db, work.id)}
    handles = {
        e.creator.strip() for e in data.credits if isinstance(e.creator, str) and e.creator.strip()
    }
    creators = {c.handle: c for c in db.scalars(select(Creator).where(Creator.handle.in_(handles)))}
    checked: list[_Checked] = []
    seen_creators: dict[int, int] = {}
    seen_emails: dict[str, int] = {}
    seen_ids: set[str] = set()
    for i, entry in enumerate(data.credits, 1):
        label = f"credit {i}"
        existing = None
        if entry.id not in (None, ""):
            if not isinstance(entry.id, str) or entry.id not in current:
                raise InvalidInput(f"{label}: {entry.id!r} is not a credit of this work")
            if entry.id in seen_ids:
                raise InvalidInput(f"{label}: credit {entry.id} is listed twice")
            seen_ids.add(entry.id)
            existing = current[entry.id]
        name = entry.name if isinstance(entry.name, str) else ""
        name = name.strip()
        if len(name) > 120:
            raise InvalidInput(f"{label}: name at most 120 characters")
        creator = None
        if isinstance(entry.creator, str) and entry.creator.strip():
            creator = creators.get(entry.creator.strip())
            if creator is None:
                raise InvalidInput(f"{label}: no creator {entry.creator.strip()!r}")
        elif entry.creator not in (None, ""):
            raise InvalidInput(f"{label}: creator must be a creator's handle")
        email = None
        if entry.email not in (None, ""):
            try:
                email = normalise_email(entry.email)
            except InvalidInput:
                raise InvalidInput(f"{label}: {entry.email!r} is not an e-mail address") from None
        if creator is not None and email is not None:
            raise InvalidInput(f"{label}: link a creator or invite by e-mail, not both")
        if existing is not None and existing.status != "unclaimed":
            linked = existing.creator_id or existing.claimed_by_id
            if email is not None or (creator is not None and creator.id != linked):
                raise InvalidInput(
                    f"{label}: credit {existing.public_id} is {existing.status}; "
                    "its person cannot be changed"
                )
            creator = existing.creator
        if creator is None and email is None and existing is None:
            raise InvalidInput(f"{label}: link a creator or invite the person by e-mail")
        name = (
            name or (creator.display_name if creator else "") or (existing.name if existing else "")
        )
        if not name:
            raise InvalidInput(f"{label}: a name is required")
        label = f"{label} ({name})"
        role = parse_role(entry.role, who=label)
        try:
            weight = parse_share(entry.weight, what=f"{label}: weight")  # type: ignore[arg-type]
        except InvalidShare as error:
            raise InvalidShare(error.message) from None
        if weight <= 0:
            raise InvalidShare(f"{label}: weight must be above 0, got {format_share(weight)}")
        if creator is not None:
            if creator.id in seen_creators:
                raise InvalidInput(
                    f"{label}: {creator.handle} is already credit {seen_creators[creator.id]}"
                )
            seen_creators[creator.id] = i
        if email is not None:
            if email in seen_emails:
                raise InvalidInput(
                    f"{label}: {email} is already invited as credit {seen_emails[email]}"
                )
            seen_emails[email] = i
        checked.append(_Checked(i, name, role, weight, creator, email, existing))
    return checked


def _live_credits(db: Session, work_id: int) -> list[Credit]:
    return list(
        db.scalars(
            select(Credit)
            .where(Credit.work_id == work_id, Credit.removed_at.is_(None))
            .order_by(Credit.position, Credit.id)
            .execution_options(populate_existing=True)
            .options(selectinload(Credit.creator))
        )
    )


def set_credits(
    db: Session,
    actor: Creator,
    work_id: str,
    data: CreditsInput,
    *,
    min_credit_pool: Fraction,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> list[Credit]:
    """Replace the credits of ``work_id`` and set its credit pool (an owner only).

    Credits listed with their ``id`` are kept (their claim and escrow);
    credits left out are taken off the work (their escrow stays theirs); new
    unclaimed credits are invited by e-mail once the change commits. Every
    rule is checked before anything is written, and an error names the entry.
    """
    at = _now(now)
    work = get_work(db, work_id)
    if not work.is_owned_by(actor.id):
        raise PermissionDenied(f"only the owners of {work.public_id} edit its credits")
    if not isinstance(data.credits, tuple | list):
        raise InvalidInput("credits: expected a list")
    if len(data.credits) > MAX_CREDITS:
        raise InvalidInput(f"credits: at most {MAX_CREDITS}")
    checked = _check_entries(db, work, data)
    pool = parse_share(data.credit_pool, what="credit_pool")  # type: ignore[arg-type]
    if not 0 <= pool <= 1:
        raise InvalidShare(f"credit_pool {format_share(pool)} is outside [0, 1]")
    if pool and not checked:
        raise InvalidInput(
            f"credit_pool {format_share(pool)} is above 0 but the work has no credits"
        )
    if checked and pool < min_credit_pool:
        raise InvalidShare(
            f"credit_pool {format_share(pool)} is below the minimum "
            f"{format_share(min_credit_pool)} for a work with credits"
        )
    # The domain's own check (the engines rely on it), with payees as they will be.
    check_credits(
        work.public_id,
        [DomainCredit(f"{UNCLAIMED_PREFIX}new", c.role, c.weight) for c in checked],
        pool,
        min_credit_pool=min_credit_pool,
    )
    invitations: list[tuple[str, str, Credit]] = []
    with unit_of_work(db):
        lock_graph(db)
        work = get_work(db, work_id, lock=True)
        kept = {c.existing.id for c in checked if c.existing is not None}
        for credit in _live_credits(db, work.id):
            if credit.id not in kept:
                # Off the work, paid no more; its escrow and invitation stay the person's.
                credit.removed_at = at
        result = []
        for position, item in enumerate(checked):
            credit = item.existing or Credit(public_id="c" + secrets.token_hex(5), work_id=work.id)
            credit.position = position
            credit.name = item.name
            credit.role = item.role
            credit.weight = item.weight
            if item.existing is None and item.creator is not None:
                credit.creator_id = item.creator.id
                credit.status = "claimed"
            elif item.email is not None and (
                item.existing is None
                or item.existing.invite_email != item.email
                or item.existing.invite_token_hash is None
            ):
                credit.status = "unclaimed"
                credit.invite_email = item.email
                token = secrets.token_urlsafe(32)
                credit.invite_token_hash = _digest(token)
                invitations.append((item.email, token, credit))
            if item.existing is None:
                db.add(credit)
            result.append(credit)
        work.credit_pool = pool
        db.flush()
        if mailer is not None:
            for email, token, credit in invitations:
                send_after_commit(
                    db,
                    mailer,
                    Email(
                        to=email,
                        subject=f"hitrack: you are credited on {work.title}",
                        body=(
                            f"{actor.display_name} credited {credit.name} as {credit.role} on "
                            f"{work.title}. What the credit earns is held for you. Sign up (or "
                            "sign in) with this address, get verified, then open the link to "
                            "claim it."
                        ),
                        url=CLAIM_URL.format(token=token),
                    ),
                )
    return result


# --- settlement: payees and their ledger accounts -------------------------------------


def domain_credits(work: Work) -> tuple[DomainCredit, ...]:
    """A stored work's live credits as the engines take them."""
    return tuple(
        DomainCredit(credit_payee(c), c.role, c.weight)
        for c in work.credits
        if c.removed_at is None
    )


def is_unclaimed(payee: str) -> bool:
    """Whether an engine's payee is an unclaimed credit (paid into escrow)."""
    return payee.startswith(UNCLAIMED_PREFIX)


def payee_accounts(db: Session, payees: Iterable[str], currency: str) -> dict[str, str]:
    """Each payee's ledger account: a creator handle's payable, or ``credit:<id>``'s escrow.

    Two queries whatever the number of payees; an unknown payee is an error.
    """
    wanted = set(payees)
    credit_ids = {p[len(UNCLAIMED_PREFIX) :] for p in wanted if is_unclaimed(p)}
    handles = {p for p in wanted if not is_unclaimed(p)}
    accounts: dict[str, str] = {}
    if handles:
        for handle, creator_id in db.execute(
            select(Creator.handle, Creator.id).where(Creator.handle.in_(handles))
        ):
            accounts[handle] = ledger.payable_account(creator_id, currency)
    if credit_ids:
        for public_id, credit_id in db.execute(
            select(Credit.public_id, Credit.id).where(Credit.public_id.in_(credit_ids))
        ):
            accounts[f"{UNCLAIMED_PREFIX}{public_id}"] = ledger.escrow_account(credit_id, currency)
    missing = sorted(wanted - set(accounts))
    if missing:
        raise InvalidInput(f"unknown payee {missing[0]}", ids=tuple(missing))
    return accounts


class SettledPart(Protocol):
    """What the settlement path knows of one payee's part of an event."""

    @property
    def handle(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def exact(self) -> str: ...


def record_escrow_earnings(
    db: Session, event: RevenueEvent, parts: Iterable[SettledPart]
) -> list[Posting]:
    """Store the unclaimed credits' parts of a settling event; their escrow postings (no commit).

    ``parts`` are the event's parts whose payee :func:`is_unclaimed`; the
    returned postings credit each escrow and go into the event's settlement
    transaction, so ``ledger check`` finds them as allocations.
    """
    parts = [p for p in parts if is_unclaimed(p.handle)]
    if not parts:
        return []
    accounts = payee_accounts(db, (p.handle for p in parts), event.currency)
    by_public = {
        public_id: credit_id
        for public_id, credit_id in db.execute(
            select(Credit.public_id, Credit.id).where(
                Credit.public_id.in_([p.handle[len(UNCLAIMED_PREFIX) :] for p in parts])
            )
        )
    }
    db.add_all(
        CreditEarning(
            event_id=event.id,
            credit_id=by_public[p.handle[len(UNCLAIMED_PREFIX) :]],
            amount=p.amount,
            exact=p.exact,
        )
        for p in parts
    )
    return [Posting(accounts[p.handle], event.currency, -p.amount) for p in parts]


# --- claims ----------------------------------------------------------------------------


def get_credit(db: Session, public_id: object, *, lock: bool = False) -> Credit:
    if not isinstance(public_id, str) or not public_id:
        raise NotFound("credit not found")
    stmt = select(Credit).where(Credit.public_id == public_id)
    if lock:
        stmt = stmt.with_for_update()
    credit = db.scalar(stmt.execution_options(populate_existing=True))
    if credit is None:
        raise NotFound(f"credit {public_id} not found", ids=(public_id,))
    return credit


def credit_by_token(db: Session, token: object) -> Credit:
    """The credit an invitation link is for; NotFound for a used, withdrawn or made-up link."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise NotFound("this invitation link is not valid (used, withdrawn or mistyped)")
    credit = db.scalar(select(Credit).where(Credit.invite_token_hash == _digest(token)))
    if credit is None:
        raise NotFound("this invitation link is not valid (used, withdrawn or mistyped)")
    return credit


def claim_credit(
    db: Session,
    actor: Creator,
    credit_id: str,
    token: object,
    *,
    dispute_days: int,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> Credit:
    """Claim an unclaimed credit with its invitation's token (a verified creator, invited address).

    Refused, with nothing changed: a token not for this credit, a credit
    already claimed or with a claim pending, a creator who is not verified,
    and an invitation sent to another address than the actor's. The claim is
    pending for ``dispute_days`` (final at once with 0).
    """
    at = _now(now)
    credit = get_credit(db, credit_id)
    if credit.status == "claimed":
        raise Conflict(f"credit {credit.public_id} is already claimed", ids=(credit.public_id,))
    if credit.status == "pending" and credit.claimed_by_id == actor.id:
        assert credit.claim_final_at is not None
        if at >= credit.claim_final_at:  # the window has passed: the claimant makes it final
            with unit_of_work(db):
                lock_graph(db)
                credit = get_credit(db, credit_id, lock=True)
                if credit.status == "pending":
                    _finalize(db, credit, at)
            return credit
    if credit.status == "pending":
        who = "you" if credit.claimed_by_id == actor.id else "someone else"
        raise Conflict(
            f"credit {credit.public_id} already has a claim by {who}, pending until "
            f"{credit.claim_final_at:%Y-%m-%d}",
            ids=(credit.public_id,),
        )
    if (
        not isinstance(token, str)
        or credit.invite_token_hash is None
        or not secrets.compare_digest(_digest(token), credit.invite_token_hash)
    ):
        raise PermissionDenied(
            f"this invitation is not for credit {credit.public_id} (or it was withdrawn)",
            ids=(credit.public_id,),
        )
    if (actor.email or "").lower() != (credit.invite_email or ""):
        raise PermissionDenied(
            f"credit {credit.public_id} was offered to another e-mail address: sign in with "
            "the address the invitation was sent to",
            ids=(credit.public_id,),
        )
    if not is_verified(db, actor.id):
        raise PermissionDenied(
            "only verified creators claim credits: connect a payout account or ask an admin "
            "to verify you",
            ids=(actor.handle,),
        )
    with unit_of_work(db):
        lock_graph(db)
        credit = get_credit(db, credit_id, lock=True)
        if credit.status != "unclaimed":  # a concurrent claim won
            raise Conflict(f"credit {credit.public_id} is already claimed", ids=(credit.public_id,))
        credit.status = "pending"
        credit.claimed_by_id = actor.id
        credit.claimed_at = at
        credit.claim_final_at = at + timedelta(days=dispute_days)
        if dispute_days <= 0:
            _finalize(db, credit, at)
        else:
            work = db.get(Work, credit.work_id)
            assert work is not None
            notify(
                db,
                [o.creator_id for o in work.owners],
                "credit_claimed",
                f"{actor.display_name} claimed the credit of {credit.name} ({credit.role}) on "
                f"{work.title}; you may dispute it until {credit.claim_final_at:%Y-%m-%d}",
                f"/works/{work.public_id}/escrow",
                mailer,
                now=at,
            )
    return credit


def _finalize(db: Session, credit: Credit, at: datetime) -> None:
    """Link the credit to its claimant and move its whole escrow to them: one transaction."""
    assert credit.claimed_by_id is not None
    credit.status = "claimed"
    credit.creator_id = credit.claimed_by_id
    credit.invite_token_hash = None
    credit.claim_final_at = min(credit.claim_final_at or at, at)
    db.flush()
    accounts = list(
        db.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.code.like(f"credit:{credit.id}:escrow:%"))
            .order_by(LedgerAccount.code)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    postings: list[Posting] = []
    for account in accounts:
        owed = -account.balance
        if owed > 0:
            postings += [
                Posting(account.code, account.currency, owed),
                Posting(
                    ledger.payable_account(credit.claimed_by_id, account.currency),
                    account.currency,
                    -owed,
                ),
            ]
    if postings:
        ledger.post_transaction(
            db,
            f"credit-claim:{credit.id}",
            "credit_claim",
            postings,
            f"escrow of the credit of {credit.name} ({credit.role}) claimed",
        )


def _owner_action(db: Session, actor: Creator, credit_id: str, action: str) -> Credit:
    credit = get_credit(db, credit_id)
    work = db.get(Work, credit.work_id)
    assert work is not None
    if not work.is_owned_by(actor.id):
        raise PermissionDenied(
            f"only the owners of {work.public_id} {action} claims of its credits"
        )
    if credit.status != "pending":
        raise Conflict(
            f"credit {credit.public_id} has no pending claim (it is {credit.status})",
            ids=(credit.public_id,),
        )
    return credit


def confirm_claim(
    db: Session, actor: Creator, credit_id: str, *, now: datetime | None = None
) -> Credit:
    """An owner confirms a pending claim: it is final now and the escrow moves."""
    at = _now(now)
    _owner_action(db, actor, credit_id, "confirm")
    with unit_of_work(db):
        lock_graph(db)
        credit = get_credit(db, credit_id, lock=True)
        if credit.status != "pending":
            raise Conflict(
                f"credit {credit.public_id} has no pending claim", ids=(credit.public_id,)
            )
        _finalize(db, credit, at)
    return credit


def dispute_claim(
    db: Session, actor: Creator, credit_id: str, reason: object, *, now: datetime | None = None
) -> Credit:
    """An owner disputes a pending claim within the window: the claim is void, the invitation
    withdrawn (invite the right person again); the escrow stays in escrow."""
    at = _now(now)
    credit = _owner_action(db, actor, credit_id, "dispute")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason: say why the claim is disputed")
    assert credit.claim_final_at is not None
    if at >= credit.claim_final_at:
        raise Conflict(
            f"the dispute window of credit {credit.public_id} closed on "
            f"{credit.claim_final_at:%Y-%m-%d}",
            ids=(credit.public_id,),
        )
    with unit_of_work(db):
        credit = get_credit(db, credit_id, lock=True)
        claimant = credit.claimed_by_id
        credit.status = "unclaimed"
        credit.claimed_by_id = None
        credit.claimed_at = None
        credit.claim_final_at = None
        credit.invite_token_hash = None
        if claimant is not None:
            notify(
                db,
                [claimant],
                "credit_disputed",
                f"Your claim of the credit of {credit.name} was disputed: {reason.strip()[:500]}",
                None,
                None,
                now=at,
            )
    return credit


def finalize_due_claims(db: Session, *, now: datetime | None = None) -> int:
    """Make final every pending claim whose dispute window has passed; how many."""
    at = _now(now)
    due = list(
        db.scalars(
            select(Credit.public_id).where(Credit.status == "pending", Credit.claim_final_at <= at)
        )
    )
    if not due:
        return 0
    with unit_of_work(db):
        lock_graph(db)
        for public_id in due:
            credit = get_credit(db, public_id, lock=True)
            if credit.status == "pending":
                _finalize(db, credit, at)
    return len(due)


# --- what the pages show ---------------------------------------------------------------


def escrow_balances(db: Session, credit: Credit) -> dict[str, int]:
    """What the credit's escrow holds, per currency (positive micros)."""
    return {
        currency: -int(balance)
        for currency, balance in db.execute(
            select(LedgerAccount.currency, LedgerAccount.balance)
            .where(LedgerAccount.code.like(f"credit:{credit.id}:escrow:%"))
            .order_by(LedgerAccount.currency)
        )
        if balance
    }


def credits_held(db: Session, creator: Creator) -> list[Credit]:
    """The credits a creator holds or has claimed (read only)."""
    return list(
        db.scalars(
            select(Credit)
            .where((Credit.creator_id == creator.id) | (Credit.claimed_by_id == creator.id))
            .options(selectinload(Credit.work))
            .order_by(Credit.id)
            .limit(500)
        )
    )


@dataclass(frozen=True)
class EscrowLine:
    """One unclaimed (or pending) credit and what its escrow holds."""

    credit: Credit
    work: Work
    held: Mapping[str, int]
    earnings: int


def escrow_report(db: Session, actor: Creator, work_id: str | None = None) -> list[EscrowLine]:
    """The credits holding money for people who have not claimed it yet.

    An owner sees their work's (``work_id``); an admin sees one work or, with
    none given, every credit with escrow. ``held for N people`` is its length.
    Read only (pages call it on GET).
    """
    stmt = select(Credit).where(Credit.status != "claimed").options(selectinload(Credit.work))
    if work_id is not None:
        work = get_work(db, work_id)
        if not (actor.is_admin or work.is_owned_by(actor.id)):
            raise PermissionDenied(f"only the owners of {work.public_id} and admins see its escrow")
        stmt = stmt.where(Credit.work_id == work.id)
    elif not actor.is_admin:
        raise PermissionDenied("only admins see the escrow of every work")
    credits = list(db.scalars(stmt.order_by(Credit.work_id, Credit.position).limit(1000)))
    if not credits:
        return []
    ids = [c.id for c in credits]
    wanted = set(ids)
    held: dict[int, dict[str, int]] = {}
    for code, currency, balance in db.execute(
        select(LedgerAccount.code, LedgerAccount.currency, LedgerAccount.balance).where(
            LedgerAccount.kind == "credit_escrow", LedgerAccount.balance != 0
        )
    ):
        credit_id = int(code.split(":")[1])
        if credit_id in wanted:
            held.setdefault(credit_id, {})[currency] = -int(balance)
    counts: dict[int, int] = {}
    for (credit_id,) in db.execute(
        select(CreditEarning.credit_id).where(CreditEarning.credit_id.in_(ids))
    ):
        counts[credit_id] = counts.get(credit_id, 0) + 1
    return [
        EscrowLine(c, c.work, held.get(c.id, {}), counts.get(c.id, 0))
        for c in credits
        if work_id is not None or held.get(c.id)
    ]


def unclaimed_payee_names(db: Session, payees: Iterable[str]) -> dict[str, Creator]:
    """For previews: each unclaimed payee as an unsaved creator named after its credit."""
    wanted = [p[len(UNCLAIMED_PREFIX) :] for p in payees if is_unclaimed(p)]
    if not wanted:
        return {}
    return {
        f"{UNCLAIMED_PREFIX}{public_id}": Creator(
            handle=f"{UNCLAIMED_PREFIX}{public_id}",
            display_name=f"{name} (unclaimed credit, held in escrow)",
        )
        for public_id, name in db.execute(
            select(Credit.public_id, Credit.name).where(Credit.public_id.in_(wanted))
        )
    }


def search_creators(db: Session, text: object, *, limit: int = 20) -> Sequence[Creator]:
    """Creators whose name or handle contains ``text`` (for the credit editor)."""
    if not isinstance(text, str) or len(text.strip()) < 2:
        return []
    pattern = f"%{text.strip()[:60].replace('%', '').replace('_', '')}%"
    return list(
        db.scalars(
            select(Creator)
            .where(Creator.display_name.ilike(pattern) | Creator.handle.ilike(pattern))
            .order_by(Creator.display_name, Creator.id)
            .limit(limit)
        )
    )
