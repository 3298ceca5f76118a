"""Credits on stored works: the editor's rules, settlement into escrow, claims, verification."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, Credit, CreditEarning, LedgerTransaction, Work
from hitrack.domain.errors import Conflict, InvalidInput, InvalidShare, PermissionDenied
from hitrack.domain.payees import payees_of
from hitrack.mail import Email
from hitrack.services import credits, ledger, revenue, verification
from hitrack.services.credits import CreditEntry, CreditsInput
from hitrack.services.graph import load_graph
from tests.factories import make_person, make_work, usd

MIN_POOL = Fraction(1, 10)


@dataclass
class RecordingMailer:
    sent: list[Email] = field(default_factory=list)

    def send(self, email: Email) -> None:
        self.sent.append(email)


@dataclass
class Film:
    admin: Creator
    studio: Creator
    gina: Creator
    hal: Creator
    work: Work
    kim_token: str
    kim_credit: Credit
    mailer: RecordingMailer


def token_of(email: Email) -> str:
    assert email.url is not None
    return email.url.rsplit("/", 1)[1]


def make_film(db: Session) -> Film:
    admin = make_person(db, "Admin", admin=True)
    studio, gina, hal = (make_person(db, n) for n in ("Studio", "Gina", "Hal"))
    work = make_work(db, "record", "Night Film", {studio: 1})
    mailer = RecordingMailer()
    result = credits.set_credits(
        db,
        studio,
        work.public_id,
        CreditsInput(
            (
                CreditEntry(role="Performer", weight="3", creator=gina.handle),
                CreditEntry(role="writer", weight=1, creator=hal.handle),
                CreditEntry(name="Kim", role="sound mixer", weight="1", email="Kim@Film.test"),
            ),
            "1/4",
        ),
        min_credit_pool=MIN_POOL,
        mailer=mailer,
    )
    [invitation] = mailer.sent
    assert invitation.to == "kim@film.test"
    return Film(admin, studio, gina, hal, work, token_of(invitation), result[2], mailer)


@pytest.fixture
def film(db: Session) -> Film:
    return make_film(db)


def sell(db: Session, film: Film, amount: int, external_id: str) -> None:
    revenue.record_revenue(
        db,
        film.admin,
        {
            "work": film.work.public_id,
            "amount": amount,
            "currency": "USD",
            "external_id": external_id,
        },
        default_fee_rate=Fraction(0),
    )


def kim_signs_up(db: Session, film: Film, email: str = "kim@film.test") -> Creator:
    kim = make_person(db, "Kim")
    kim.email = email
    db.commit()
    return kim


def test_the_graph_pays_linked_credits_by_handle_and_unclaimed_ones_by_credit_id(
    db: Session, film: Film
) -> None:
    G = load_graph(db, {film.work.id})
    assert payees_of(G, film.work.public_id) == {
        film.studio.handle: Fraction(3, 4),
        film.gina.handle: Fraction(3, 20),
        film.hal.handle: Fraction(1, 20),
        f"credit:{film.kim_credit.public_id}": Fraction(1, 20),
    }


def test_a_sale_pays_the_credits_and_escrows_the_unclaimed_one(db: Session, film: Film) -> None:
    sell(db, film, usd(100), "film-1")
    owed = {
        c.handle: ledger.creator_balances(db, c.id).get("USD", 0)
        for c in (film.studio, film.gina, film.hal)
    }
    assert owed == {
        film.studio.handle: usd(75),
        film.gina.handle: usd(15),
        film.hal.handle: usd(5),
    }
    assert credits.escrow_balances(db, film.kim_credit) == {"USD": usd(5)}
    [earning] = db.scalars(select(CreditEarning)).all()
    assert (earning.amount, earning.exact) == (usd(5), f"{usd(5)}/1")
    assert ledger.check_invariants(db) == []
    [line] = [x for x in credits.escrow_report(db, film.studio, film.work.public_id) if x.held]
    assert line.credit.name == "Kim" and line.held == {"USD": usd(5)}
    assert [x.credit.name for x in credits.escrow_report(db, film.admin)] == ["Kim"]


def test_credit_money_is_explained_by_role_work_and_pool_and_credits_keep_their_time(
    db: Session, film: Film
) -> None:
    from hitrack.services import credit_earnings, explanations

    sell(db, film, usd(100), "film-1")
    event = revenue.get_event(db, "film-1")
    assert explanations.explain_event(db, event, film.gina) == [
        "Night Film (record) earned 100.00; as performer on Night Film, "
        "through 25% credit pool, your part is 15%: 15.00 of this sale"
    ]
    [escrowed] = credit_earnings.escrow_earnings(db, [film.kim_credit], None)
    assert escrowed.lines == [
        "Night Film (record) earned 100.00; as sound mixer on Night Film, "
        "through 25% credit pool, your part is 5%: 5.00 of this sale"
    ]
    # Hal is taken off after the sale: the sale still explains his part; a later one pays
    # him nothing and explains nothing.
    keep = [c for c in credits.credits_held(db, film.gina)] + [film.kim_credit]
    credits.set_credits(
        db,
        film.studio,
        film.work.public_id,
        CreditsInput(
            tuple(
                CreditEntry(name=c.name, role=c.role, weight=c.weight, id=c.public_id) for c in keep
            ),
            "1/4",
        ),
        min_credit_pool=MIN_POOL,
    )
    db.expire_all()
    assert explanations.explain_event(db, revenue.get_event(db, "film-1"), film.hal)[0].endswith(
        "as writer on Night Film, through 25% credit pool, your part is 5%: 5.00 of this sale"
    )
    sell(db, film, usd(100), "film-2")
    assert explanations.explain_event(db, revenue.get_event(db, "film-2"), film.hal) == []
    assert explanations.explain_event(db, revenue.get_event(db, "film-2"), film.gina)[0].endswith(
        "as performer on Night Film, through 25% credit pool, your part is 18.75%: 18.75 of this sale"
    )


def test_a_verified_invitee_claims_and_the_escrow_moves_in_one_transaction(
    db: Session, film: Film
) -> None:
    sell(db, film, usd(100), "film-1")
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "passport seen on a video call")
    claimed = credits.claim_credit(
        db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=0
    )
    assert claimed.status == "claimed" and claimed.creator_id == kim.id
    assert credits.escrow_balances(db, claimed) == {}
    assert ledger.creator_balances(db, kim.id) == {"USD": usd(5)}
    [claim] = db.scalars(select(LedgerTransaction).where(LedgerTransaction.kind == "credit_claim"))
    assert {p.amount for p in claim.postings} == {usd(5), -usd(5)}
    # Later money is paid to Kim directly.
    sell(db, film, usd(100), "film-2")
    assert ledger.creator_balances(db, kim.id) == {"USD": usd(10)}
    assert credits.escrow_balances(db, claimed) == {}
    assert ledger.check_invariants(db) == []


def test_a_pending_claim_becomes_final_after_the_window_and_escrow_keeps_filling(
    db: Session, film: Film
) -> None:
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "id checked")
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=7, now=t0)
    sell(db, film, usd(20), "film-1")  # still escrowed while the claim is pending
    assert credits.escrow_balances(db, film.kim_credit) == {"USD": usd(1)}
    assert credits.finalize_due_claims(db, now=t0 + timedelta(days=6)) == 0
    assert credits.finalize_due_claims(db, now=t0 + timedelta(days=7)) == 1
    assert ledger.creator_balances(db, kim.id) == {"USD": usd(1)}


def test_an_owner_disputes_a_pending_claim_and_nothing_moves(db: Session, film: Film) -> None:
    sell(db, film, usd(20), "film-1")
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "id checked")
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=7, now=t0)
    credits.dispute_claim(db, film.studio, film.kim_credit.public_id, "not our Kim", now=t0)
    credit = credits.get_credit(db, film.kim_credit.public_id)
    assert credit.status == "unclaimed" and credit.invite_token_hash is None
    assert credits.escrow_balances(db, credit) == {"USD": usd(1)}
    assert ledger.creator_balances(db, kim.id) == {}
    with pytest.raises(PermissionDenied):  # the disputed invitation is withdrawn
        credits.claim_credit(db, kim, credit.public_id, film.kim_token, dispute_days=0)


def test_the_dispute_window_closes(db: Session, film: Film) -> None:
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "id checked")
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=7, now=t0)
    with pytest.raises(Conflict, match="dispute window"):
        credits.dispute_claim(
            db, film.studio, film.kim_credit.public_id, "late", now=t0 + timedelta(days=8)
        )


def test_an_owner_confirms_a_pending_claim(db: Session, film: Film) -> None:
    sell(db, film, usd(20), "film-1")
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "id checked")
    credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=7)
    credits.confirm_claim(db, film.studio, film.kim_credit.public_id)
    assert ledger.creator_balances(db, kim.id) == {"USD": usd(1)}


# --- refused, nothing changed ------------------------------------------------------------


def snapshot(db: Session, film: Film) -> tuple[object, ...]:
    db.expire_all()
    rows = db.execute(
        select(
            Credit.public_id,
            Credit.status,
            Credit.creator_id,
            Credit.claimed_by_id,
            Credit.removed_at,
        )
        .where(Credit.work_id == film.work.id)
        .order_by(Credit.id)
    ).all()
    work = db.get(Work, film.work.id)
    assert work is not None
    txs = db.scalar(select(func.count()).select_from(LedgerTransaction))
    return (tuple(rows), work.credit_pool, txs)


@pytest.mark.parametrize(
    ("entries", "pool", "error", "message"),
    [
        (
            [CreditEntry(name="A", role="writer", weight="0", email="a@x.test")],
            "1/4",
            InvalidShare,
            r"credit 1 \(A\): weight must be above 0",
        ),
        (
            [CreditEntry(name="A", role="writer", weight="-1", email="a@x.test")],
            "1/4",
            InvalidShare,
            r"credit 1 \(A\): weight",
        ),
        (
            [CreditEntry(name="A", role="writer", weight="1", email="a@x.test")],
            "1.5",
            InvalidShare,
            r"credit_pool 1.5 is outside \[0, 1\]",
        ),
        (
            [CreditEntry(name="A", role="writer", weight="1", email="a@x.test")],
            "-1/4",
            InvalidShare,
            "outside",
        ),
        (
            [CreditEntry(name="A", role="writer", weight="1", email="a@x.test")],
            "1/20",
            InvalidShare,
            "below the minimum 0.1",
        ),
        ([], "1/4", InvalidInput, "above 0 but the work has no credits"),
        (
            [CreditEntry(name="A", role="best boy", weight="1", email="a@x.test")],
            "1/4",
            InvalidInput,
            r'credit 1 \(A\): role "best boy" is not in the vocabulary; write "other: best boy"',
        ),
        (
            [CreditEntry(name="A", role="other:", weight="1", email="a@x.test")],
            "1/4",
            InvalidInput,
            "needs a description",
        ),
        (
            [CreditEntry(name="A", role="writer", weight="1")],
            "1/4",
            InvalidInput,
            "credit 1: link a creator or invite",
        ),
        (
            [CreditEntry(name="A", role="writer", weight="1", creator="nobody-here")],
            "1/4",
            InvalidInput,
            "credit 1: no creator",
        ),
        (
            [
                CreditEntry(name="A", role="writer", email="a@x.test"),
                CreditEntry(name="B", role="actor", email="A@x.test"),
            ],
            "1/4",
            InvalidInput,
            r"credit 2 \(B\): a@x.test is already invited",
        ),
        (
            [CreditEntry(name="A", role="writer", email="not-an-address")],
            "1/4",
            InvalidInput,
            "credit 1: 'not-an-address' is not an e-mail",
        ),
    ],
)
def test_bad_credits_are_refused_and_change_nothing(
    db: Session,
    film: Film,
    entries: list[CreditEntry],
    pool: str,
    error: type[Exception],
    message: str,
) -> None:
    before = snapshot(db, film)
    with pytest.raises(error, match=message):
        credits.set_credits(
            db,
            film.studio,
            film.work.public_id,
            CreditsInput(tuple(entries), pool),
            min_credit_pool=MIN_POOL,
        )
    assert snapshot(db, film) == before


def test_only_owners_edit_credits(db: Session, film: Film) -> None:
    before = snapshot(db, film)
    with pytest.raises(PermissionDenied):
        credits.set_credits(
            db, film.gina, film.work.public_id, CreditsInput((), "0"), min_credit_pool=MIN_POOL
        )
    assert snapshot(db, film) == before


def test_a_pool_of_zero_without_credits_is_allowed_and_removed_credits_keep_their_escrow(
    db: Session, film: Film
) -> None:
    sell(db, film, usd(20), "film-1")
    credits.set_credits(
        db, film.studio, film.work.public_id, CreditsInput((), "0"), min_credit_pool=MIN_POOL
    )
    assert payees_of(load_graph(db, {film.work.id}), film.work.public_id) == {film.studio.handle: 1}
    assert credits.escrow_balances(db, film.kim_credit) == {"USD": usd(1)}
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "id checked")
    credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=0)
    assert ledger.creator_balances(db, kim.id) == {"USD": usd(1)}


def test_claiming_someone_elses_invitation_is_refused(db: Session, film: Film) -> None:
    sell(db, film, usd(20), "film-1")
    mallory = kim_signs_up(db, film, email="mallory@film.test")
    verification.verify_by_admin(db, film.admin, mallory.handle, "id checked")
    before = snapshot(db, film)
    with pytest.raises(PermissionDenied, match="another e-mail address"):
        credits.claim_credit(db, mallory, film.kim_credit.public_id, film.kim_token, dispute_days=0)
    with pytest.raises(PermissionDenied, match="not for credit"):
        credits.claim_credit(db, mallory, film.kim_credit.public_id, "made-up", dispute_days=0)
    assert snapshot(db, film) == before
    assert credits.escrow_balances(db, film.kim_credit) == {"USD": usd(1)}


def test_an_unverified_creator_cannot_claim(db: Session, film: Film) -> None:
    kim = kim_signs_up(db, film)
    before = snapshot(db, film)
    with pytest.raises(PermissionDenied, match="only verified creators"):
        credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=0)
    assert snapshot(db, film) == before


def test_claiming_twice_or_a_claimed_credit_is_refused(db: Session, film: Film) -> None:
    sell(db, film, usd(20), "film-1")
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "id checked")
    credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=7)
    before = snapshot(db, film)
    with pytest.raises(Conflict, match="pending"):
        credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=7)
    assert snapshot(db, film) == before
    gina_credit = next(c for c in credits.credits_held(db, film.gina))
    with pytest.raises(Conflict, match="already claimed"):
        credits.claim_credit(db, kim, gina_credit.public_id, film.kim_token, dispute_days=0)
    assert snapshot(db, film) == before


def test_admin_verification_needs_an_admin_and_a_reason(db: Session, film: Film) -> None:
    with pytest.raises(PermissionDenied):
        verification.verify_by_admin(db, film.gina, film.hal.handle, "trust me")
    with pytest.raises(InvalidInput, match="reason"):
        verification.verify_by_admin(db, film.admin, film.hal.handle, "  ")
    assert not verification.is_verified(db, film.hal.id)
    verification.verify_by_admin(db, film.admin, film.hal.handle, "passport")
    with pytest.raises(Conflict, match="already verified"):
        verification.verify_by_admin(db, film.admin, film.hal.handle, "again")
    row = verification.verification_of(db, film.hal.id)
    assert row is not None and (row.source, row.reason, row.verified_by_id) == (
        "admin",
        "passport",
        film.admin.id,
    )
