"""Ledger rules: balanced postings, payload hashes and the invariants, over plain data.

hitrack keeps a double-entry ledger in integer micros (DESIGN section 4). This
module holds its rules without any storage: :mod:`hitrack.services.ledger`
reads and writes the rows and asks these functions whether they are right.

Sign convention
---------------
A posting's ``amount`` is signed: **positive is a debit, negative a credit**,
and the postings of one transaction sum to zero in each currency. So:

* ``platform:cash:<CUR>`` (an asset: money the platform holds) is debited
  when revenue comes in, and has a positive balance;
* ``platform:fees:<CUR>`` (income) and ``creator:<id>:payable:<CUR>`` (what
  the platform owes a creator) are credited, and have negative balances. The
  amount *owed* to a creator is ``-balance(payable)``, and it must never be
  negative (a creator cannot owe the platform);
* ``creator:<id>:payout_hold:<CUR>`` holds money on its way to a creator
  (credited when a transfer is sent); ``platform:paid_out:<CUR>`` (a contra
  asset) is credited when the provider confirms the transfer.

Hashes
------
A transaction's payload hash is the SHA-256 of the canonical JSON of its kind
and its postings (sorted, merged per account and currency): two requests
with the same idempotency key are "the same" exactly when the hashes agree.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hitrack.domain.errors import InvalidInput, LedgerImbalance

__all__ = [
    "Posting",
    "EventRecord",
    "canonical_json",
    "payload_hash",
    "merge_postings",
    "currency_totals",
    "check_balanced",
    "transaction_hash",
    "check_currency_totals",
    "check_owed_balances",
    "check_event",
    "owed",
]

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, order=True)
class Posting:
    """One signed line of a transaction: ``amount`` micros on ``account`` (a code).

    Examples
    --------
    >>> Posting("platform:cash:USD", "USD", 1_000_000).amount
    1000000
    """

    account: str
    currency: str
    amount: int


def canonical_json(value: object) -> str:
    """JSON with sorted keys and no spaces: equal data gives equal text.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [2, "x"]})
    '{"a":[2,"x"],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def payload_hash(value: object) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``.

    Examples
    --------
    >>> payload_hash({"a": 1}) == payload_hash({"a": 1})
    True
    """
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def merge_postings(postings: Iterable[Posting]) -> list[Posting]:
    """One posting per account and currency, zeros dropped, sorted.

    Examples
    --------
    >>> merge_postings([Posting("a", "USD", 5), Posting("a", "USD", -2), Posting("b", "USD", 0)])
    [Posting(account='a', currency='USD', amount=3)]
    """
    totals: dict[tuple[str, str], int] = {}
    for p in postings:
        totals[(p.account, p.currency)] = totals.get((p.account, p.currency), 0) + p.amount
    return sorted(Posting(a, c, amount) for (a, c), amount in totals.items() if amount)


def currency_totals(postings: Iterable[Posting]) -> dict[str, int]:
    """The sum of ``postings`` per currency."""
    totals: dict[str, int] = {}
    for p in postings:
        totals[p.currency] = totals.get(p.currency, 0) + p.amount
    return dict(sorted(totals.items()))


def check_balanced(postings: Sequence[Posting]) -> list[Posting]:
    """Validate postings and return them merged (see :func:`merge_postings`).

    Raises
    ------
    InvalidInput
        An amount that is not an integer, a currency that is not three
        capital letters, an empty account code, or an account posted in two
        currencies.
    LedgerImbalance
        The postings do not sum to zero in some currency.

    Examples
    --------
    >>> check_balanced([Posting("cash", "USD", 10), Posting("fees", "USD", -9)])
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.LedgerImbalance: postings do not balance: USD off by 1
    """
    currencies: dict[str, str] = {}
    for p in postings:
        if isinstance(p.amount, bool) or not isinstance(p.amount, int):
            raise InvalidInput(
                f"posting on {p.account}: amount must be an integer number of micros"
            )
        if not isinstance(p.currency, str) or not _CURRENCY.match(p.currency):
            raise InvalidInput(
                f"posting on {p.account}: currency {p.currency!r} is not a 3-letter code"
            )
        if not isinstance(p.account, str) or not p.account:
            raise InvalidInput("posting without an account")
        if currencies.setdefault(p.account, p.currency) != p.currency:
            raise InvalidInput(f"account {p.account} posted in two currencies")
    off = {c: total for c, total in currency_totals(postings).items() if total}
    if off:
        detail = ", ".join(f"{c} off by {total}" for c, total in off.items())
        raise LedgerImbalance(f"postings do not balance: {detail}")
    return merge_postings(postings)


def transaction_hash(kind: str, postings: Iterable[Posting]) -> str:
    """The payload hash of a transaction: its kind and merged postings.

    Examples
    --------
    >>> a = transaction_hash("revenue", [Posting("x", "USD", 1), Posting("y", "USD", -1)])
    >>> b = transaction_hash("revenue", [Posting("y", "USD", -1), Posting("x", "USD", 1)])
    >>> a == b
    True
    """
    return payload_hash(
        {
            "kind": kind,
            "postings": [[p.account, p.currency, p.amount] for p in merge_postings(postings)],
        }
    )


def owed(balance: int) -> int:
    """What the platform owes on a credit-normal account (payable, hold): ``-balance``."""
    return -balance


# --- invariants over plain data ------------------------------------------------


def check_currency_totals(totals: Mapping[str, int]) -> list[str]:
    """Breaches of "every currency sums to zero".

    Examples
    --------
    >>> check_currency_totals({"USD": 0, "EUR": 3})
    ['EUR: postings sum to 3, not 0']
    """
    return [f"{c}: postings sum to {total}, not 0" for c, total in sorted(totals.items()) if total]


def check_owed_balances(balances: Mapping[str, int]) -> list[str]:
    """Breaches of "no creator payable (or hold) is negative", from account code -> balance.

    Examples
    --------
    >>> check_owed_balances({"creator:1:payable:USD": -5, "creator:2:payable:USD": 7})
    ['creator:2:payable:USD: owes the platform 7 micros (a payable must not be negative)']
    """
    return [
        f"{code}: owes the platform {balance} micros (a payable must not be negative)"
        for code, balance in sorted(balances.items())
        if owed(balance) < 0
    ]


@dataclass(frozen=True)
class EventRecord:
    """A settled revenue event as stored, for :func:`check_event`.

    ``allocations`` is ``(account code, kind, micros)`` per allocation row
    (the creator's payable account), ``postings`` the event's ledger
    transaction (``None`` when it has none), ``cash_account`` and
    ``fee_account`` the platform accounts it should have posted to.
    """

    ref: str
    currency: str
    amount: int
    fee: int
    recouped: int
    distributable: int
    allocations: Sequence[tuple[str, str, int]]
    cash_account: str
    fee_account: str
    postings: Sequence[Posting] | None = field(default=None)


def check_event(event: EventRecord) -> list[str]:
    """Breaches for one settled event: its parts sum to its amount, and its
    ledger transaction posts exactly its allocations.

    Examples
    --------
    >>> e = EventRecord("e1", "USD", 100, 10, 0, 90, [("creator:1:payable:USD", "earning", 89)],
    ...                 "platform:cash:USD", "platform:fees:USD", None)
    >>> check_event(e)  # doctest: +NORMALIZE_WHITESPACE
    ['event e1: recouped 0 + fee 10 + allocations 89 = 99, not the amount 100',
     'event e1: allocations 89 do not sum to its distributable 90',
     'event e1: has no ledger transaction']
    """
    breaches = []
    ref = f"event {event.ref}"
    allocated = sum(amount for _, _, amount in event.allocations)
    recouped = sum(amount for _, kind, amount in event.allocations if kind == "recoup")
    earned = allocated - recouped
    if event.fee + allocated != event.amount:
        breaches.append(
            f"{ref}: recouped {recouped} + fee {event.fee} + allocations {earned} = "
            f"{event.fee + allocated}, not the amount {event.amount}"
        )
    if recouped != event.recouped:
        breaches.append(
            f"{ref}: recoup allocations {recouped} differ from its recouped {event.recouped}"
        )
    if earned != event.distributable:
        breaches.append(
            f"{ref}: allocations {earned} do not sum to its distributable {event.distributable}"
        )
    if any(amount < 0 for _, _, amount in event.allocations):
        breaches.append(f"{ref}: a negative allocation")
    if event.postings is None:
        breaches.append(f"{ref}: has no ledger transaction")
        return breaches
    expected = [
        Posting(event.cash_account, event.currency, event.amount),
        Posting(event.fee_account, event.currency, -event.fee),
    ]
    expected += [Posting(code, event.currency, -amount) for code, _, amount in event.allocations]
    if merge_postings(expected) != merge_postings(event.postings):
        breaches.append(f"{ref}: its ledger transaction does not match its allocations")
    return breaches
