"""The one home of test factories: rows, records, money, payouts and domain graphs.

Sections, each with its reason:

- **Creators and records through the services** (``make_creator``,
  ``make_record``, ``make_remix``): what a signed-in creator would make, media
  and all, so the tests see what the product stores.
- **Works straight from rows** (``make_person``, ``make_work``, ``make_song``,
  ``usd``): revenue and payout tests need finalized productions and registered
  models without walking through those workflows (their own tests do); these
  write the rows the workflows end with.
- **Revenue concurrency workers** (``record_many``, ``concurrency_event``):
  the body of one thread or process that records events on its own engine.
- **Payouts** (``fund``, ``connect``, :class:`ScriptedProvider`,
  :class:`CrashAfterSend`): balances and payable accounts straight from rows,
  an in-memory provider whose next answers a test chooses, and a wrapper
  around a real provider that dies right after the transfer call.
- **Domain graphs** (``make_domain_record``, ``make_domain_remix``, the
  known-answer documents and the Hypothesis strategies): pure values of
  :mod:`hitrack.domain`, no database.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from argon2 import PasswordHasher
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Citation,
    Creator,
    CreatorVerification,
    PayoutAccount,
    PayoutAccountState,
    Work,
    WorkOwner,
)
from hitrack.db.models import RevenueEvent as RevenueEventRow
from hitrack.domain import graph as domain_graph
from hitrack.domain.credit import RevenueEvent
from hitrack.domain.ledger import Posting
from hitrack.domain.payees import Credit
from hitrack.domain.shares import parse_share
from hitrack.payments.base import PayoutAccount as ProviderAccount
from hitrack.payments.base import (
    PayoutProvider,
    ProviderEvent,
    TransferOutcome,
    TransferRequest,
    TransferResult,
)
from hitrack.services import accounts, ledger, records, verification
from hitrack.services.demo import solid_png, tone_wav
from hitrack.services.unit_of_work import unit_of_work
from hitrack.storage import MediaStorage

# --- Creators and records through the services ----------------------------------

PASSWORD = "correct horse battery"
_counter = itertools.count(1)
PNG = solid_png((200, 30, 30), size=8)
WAV = tone_wav(seconds=0.05)


# Hashing with Argon2 is deliberately slow; the factory hashes the shared test
# password once and stores that hash (tests/services/test_accounts.py covers
# registration itself).
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


def make_creator(db: Session, name: str | None = None, *, admin: bool = False) -> Creator:
    """A creator who can log in with ``PASSWORD``."""
    n = next(_counter)
    name = name or f"Creator {n}"
    creator = Creator(
        email=f"{name.lower().replace(' ', '.')}.{n}@example.test",
        display_name=name,
        handle=accounts.unique_handle(db, name),
        password_hash=PASSWORD_HASH,
        role="admin" if admin else "creator",
    )
    db.add(creator)
    db.commit()
    return creator


def make_record(
    db: Session,
    storage: MediaStorage,
    creator: Creator,
    title: str = "A record",
    *,
    sources: Mapping[str, object] | None = None,
    ai_training: bool = False,
    remix: bool = True,
    data: bytes = PNG,
    visibility: str = "public",
) -> Work:
    return records.upload_record(
        db,
        storage,
        creator,
        stream=io.BytesIO(data),
        filename="upload.png",
        title=title,
        consent_remix=remix,
        consent_ai_training=ai_training,
        sources=sources,
        max_bytes=10**7,
        visibility=visibility,
    )


def make_remix(
    db: Session,
    storage: MediaStorage,
    creator: Creator,
    *sources: tuple[Work, str],
    title: str = "A remix",
) -> Work:
    return make_record(db, storage, creator, title, sources={w.public_id: s for w, s in sources})


# --- Works straight from rows ------------------------------------------------------

_ids = itertools.count(1)


def make_person(db: Session, name: str, *, admin: bool = False) -> Creator:
    """A creator without a password (hashing one is slow); use make_creator to log in."""
    n = next(_ids)
    creator = Creator(
        handle=f"{name.lower()}-{n}",
        email=f"{name.lower()}.{n}@money.test",
        display_name=name,
        password_hash=None,
        role="admin" if admin else "creator",
    )
    db.add(creator)
    db.commit()
    return creator


def make_work(
    db: Session,
    kind: str,
    title: str,
    owners: Mapping[Creator, str | int],
    sources: Mapping[Work, str] | None = None,
    *,
    status: str | None = None,
    attribution_weight: str = "0",
    ai_training: bool = True,
) -> Work:
    """A work of any kind with its owners and sources, committed."""
    work = Work(
        public_id=f"{kind[0]}t{next(_ids):05d}",
        kind=kind,
        title=title,
        status=status or ("finalized" if kind == "production" else "active"),
        consent_ai_training=ai_training,
        created_by_id=next(iter(owners)).id,
    )
    work.attribution_weight = parse_share(attribution_weight)
    for creator, fraction in owners.items():
        work.owners.append(WorkOwner(creator_id=creator.id, fraction=parse_share(fraction)))
    db.add(work)
    db.flush()
    for source, share in (sources or {}).items():
        db.add(Citation(work_id=work.id, source_id=source.id, share=parse_share(share)))
    db.commit()
    db.refresh(work)
    return work


@dataclass
class Song:
    """The demo's song: Shoreline (Ana) <- Tide (Bo, 40%) <- Night Swim (Dee's production, 60%)."""

    admin: Creator
    ana: Creator
    bo: Creator
    cy: Creator
    dee: Creator
    shoreline: Work
    tide: Work
    sketch: Work
    night_swim: Work
    model: Work


def make_song(db: Session, *, people: Mapping[str, Creator] | None = None) -> Song:
    """The song; ``people`` may bring some of its creators (e.g. ones who can log in)."""
    given = dict(people or {})
    admin = given.get("admin") or make_person(db, "Admin", admin=True)
    ana, bo, cy, dee = (
        given.get(n.lower()) or make_person(db, n) for n in ("Ana", "Bo", "Cy", "Dee")
    )
    shoreline = make_work(db, "record", "Shoreline", {ana: 1})
    tide = make_work(db, "record", "Tide", {bo: 1}, {shoreline: "0.4"})
    sketch = make_work(db, "record", "Sketch", {cy: "1/2", ana: "1/2"})
    night_swim = make_work(db, "production", "Night Swim", {dee: 1}, {tide: "0.6", sketch: "1/10"})
    model = make_work(
        db,
        "model",
        "Wave Model",
        {cy: 1},
        {shoreline: "1/4", sketch: "1/4"},
        attribution_weight="1/2",
    )
    return Song(admin, ana, bo, cy, dee, shoreline, tide, sketch, night_swim, model)


def usd(units: int | str) -> int:
    """Currency units to micros: ``usd(100) == 100_000_000``."""
    return int(Fraction(str(units)) * 1_000_000)


# --- Revenue concurrency workers -------------------------------------------------


def record_many(
    url: str, admin_id: int, work_ids: list[str], indexes: list[int], duplicates: int
) -> int:
    """Record the events ``indexes`` (and ``duplicates`` shared ones) on their own engine.

    The body of one concurrency worker (a thread or a process); returns how
    many events it created.
    """
    from hitrack.db.session import make_engine, make_session_factory
    from hitrack.services.revenue import record_revenue

    engine = make_engine(url)
    sessions = make_session_factory(engine)
    created = 0
    try:
        for i in [*indexes, *(-1 - k for k in range(duplicates))]:
            with sessions() as db:
                admin = db.get(Creator, admin_id)
                created += record_revenue(
                    db, admin, concurrency_event(work_ids, i), default_fee_rate=Fraction(0)
                ).created
    finally:
        engine.dispose()
    return created


def concurrency_event(work_ids: list[str], i: int) -> dict[str, object]:
    """Event number ``i`` of the concurrency test (negative: one every worker sends)."""
    n = abs(i)
    return {
        "external_id": f"conc-{i}",
        "work": work_ids[n % len(work_ids)],
        "amount": 1_000_003 * (n % 17 + 1) + n,
        "currency": "USD",
        "costs": (n % 3) * 100_000,
        "fee_rate": ("0", "0.1", "1/3")[n % 3],
    }


# --- Payouts -------------------------------------------------------------------------

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


# --- Domain graphs ---------------------------------------------------------------

F = Fraction


def make_domain_record(
    work_id: str, owner: str = "alice", sources: dict[str, Fraction] | None = None, **extra: object
) -> domain_graph.Work:
    return domain_graph.Work(work_id, "record", {owner: F(1)}, sources or {}, **extra)  # type: ignore[arg-type]


def make_domain_remix(
    work_id: str,
    owners: dict[str, Fraction],
    sources: dict[str, Fraction],
    kind: str = "record",
    **extra: object,
) -> domain_graph.Work:
    return domain_graph.Work(work_id, kind, owners, sources, **extra)  # type: ignore[arg-type]


DESIGN_DOCUMENT = {
    "currency": "USD",
    "works": [
        {"id": "r1", "kind": "record", "owners": {"alice": "1"}},
        {
            "id": "r2",
            "kind": "record",
            "owners": {"bob": "1/2", "carol": "1/2"},
            "sources": {"r1": "0.4"},
        },
        {
            "id": "p1",
            "kind": "production",
            "owners": {"dana": "1"},
            "sources": {"r1": "0.3", "r2": "0.6"},
        },
        {
            "id": "m1",
            "kind": "model",
            "owners": {"lab": "1"},
            "sources": {"r1": "1/4", "r2": "1/4"},
            "attribution_weight": "1/2",
        },
    ],
    "events": [
        {"id": "e1", "work": "p1", "amount": 1000000, "costs": 100000, "fee_rate": "0.1"},
        {"id": "e2", "work": "m1", "amount": 250000, "attribution": {"r1": "3", "r2": "1"}},
    ],
}

# A studio-owned film with a performer and an unclaimed sound mixer, and a remix citing it.
CREDITS_DOCUMENT = {
    "currency": "USD",
    "works": [
        {
            "id": "f1",
            "kind": "record",
            "owners": {"studio": "1"},
            "title": "Night Swim",
            "credits": [
                {"payee": "gina", "role": "performer", "weight": "3"},
                {"payee": "credit:k7", "role": "sound mixer", "weight": "1"},
            ],
            "credit_pool": "1/4",
        },
        {"id": "r2", "kind": "record", "owners": {"ann": "1"}, "sources": {"f1": "0.4"}},
    ],
    "events": [
        {"id": "e1", "work": "r2", "amount": 1000000, "costs": 100000, "fee_rate": "0.1"},
        {"id": "e2", "work": "f1", "amount": 7},
    ],
}

CREATORS = ["ann", "ben", "cat", "dan", "eve", "fox"]
CREDITED = [*CREATORS, "credit:k1", "credit:k2"]
ROLES = ["performer", "writer", "sound mixer", "other: gaffer"]
WEIGHTS = [F(1), F(2), F(3), F(1, 2)]
POOLS = [F(0), F(1, 4), F(1, 3), F(1, 2), F(1)]
SHARES = [F(1, 10), F(1, 4), F(1, 3), F(3, 10), F(1, 7), F(1, 2), F(1)]
OWNER_SPLITS = [
    [F(1)],
    [F(1, 2), F(1, 2)],
    [F(1, 3), F(2, 3)],
    [F(1, 3)] * 3,
    [F(1, 2), F(1, 4), F(1, 4)],
]


@st.composite
def credits_strategy(draw: st.DrawFn) -> tuple[tuple[Credit, ...], Fraction]:
    """Credits (none to three, a person possibly twice, or also an owner) and a valid pool."""
    credits = tuple(
        Credit(
            draw(st.sampled_from(CREDITED)),
            draw(st.sampled_from(ROLES)),
            draw(st.sampled_from(WEIGHTS)),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    return credits, draw(st.sampled_from(POOLS)) if credits else F(0)


@st.composite
def works_strategy(
    draw: st.DrawFn, max_works: int = 10, credits: bool = False
) -> list[domain_graph.Work]:
    """A valid set of works: each cites earlier ones only, shares summing to at most 1.

    With ``credits``, works may also carry credits and a credit pool.
    """
    count = draw(st.integers(1, max_works))
    works = []
    for i in range(count):
        kind = draw(st.sampled_from(["record", "production", "model"]))
        split = draw(st.sampled_from(OWNER_SPLITS))
        owners_ids = draw(
            st.lists(
                st.sampled_from(CREATORS), min_size=len(split), max_size=len(split), unique=True
            )
        )
        sources: dict[str, Fraction] = {}
        left = F(1)
        if i:
            for j in draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)):
                share = draw(st.sampled_from(SHARES))
                if share <= left:
                    sources[f"w{j}"] = share
                    left -= share
        works.append(
            domain_graph.Work(
                f"w{i}",
                kind,
                dict(zip(owners_ids, split, strict=True)),
                sources,
                attribution_weight=draw(st.sampled_from([F(0), F(1, 2), F(1)])),
                **(
                    dict(zip(("credits", "credit_pool"), draw(credits_strategy()), strict=True))
                    if credits
                    else {}
                ),
            )
        )
    return works


@st.composite
def events_strategy(
    draw: st.DrawFn, works: list[domain_graph.Work], max_events: int = 4
) -> list[RevenueEvent]:
    events = []
    for k in range(draw(st.integers(1, max_events))):
        work = draw(st.sampled_from(works))
        attribution = None
        if work.kind == "model" and work.sources and draw(st.booleans()):
            attribution = {s: F(draw(st.integers(0, 3))) for s in work.sources}
            if not sum(attribution.values()):
                attribution[next(iter(work.sources))] = F(1)
        events.append(
            RevenueEvent(
                f"e{k}",
                work.id,
                draw(st.one_of(st.sampled_from([0, 1, 7, 1_000_000]), st.integers(0, 10**10))),
                costs=draw(st.sampled_from([0, 3, 100_000])),
                fee_rate=draw(st.sampled_from([F(0), F(1, 10), F(1, 3), F(1)])),
                attribution=attribution,
            )
        )
    return events


def reference_micros(db: Session, event: RevenueEventRow) -> dict[tuple[str, str], int]:
    """The exact engine's micros for a stored ``event``, settled alone over its ancestry as stored
    now: ``(handle, kind) -> micros``, kinds ``earning`` and ``recoup``."""
    from hitrack.domain import credit
    from hitrack.services import revenue
    from hitrack.services.graph import ancestry_ids, load_graph

    G = load_graph(db, ancestry_ids(db, [event.work_id]))
    s = credit.settle_event(G, revenue.domain_event(event))
    micros = {(h, "earning"): s.creators.get(h, 0) for h in s.entitlements}
    micros.update({(h, "recoup"): m for h, m in s.recouped.items()})
    return micros


def stored_micros(event: RevenueEventRow) -> dict[tuple[str, str], int]:
    """A settled event's allocations as stored: ``(handle, kind) -> micros``."""
    return {(a.creator.handle, a.kind): a.amount for a in event.allocations}
