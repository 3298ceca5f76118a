"""Statements and earnings a page at a time, the whole CSV streamed, and credit lines on them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from fractions import Fraction

from sqlalchemy.orm import Session

from hitrack.domain.paging import PageRequest
from hitrack.services import credits, revenue, statements, verification
from tests.factories import make_person, make_work, usd
from tests.services.test_credits import kim_signs_up, make_film, sell

POOL_LINE = "through 25% credit pool"


def test_money_earned_through_a_credit_names_the_role_the_work_and_the_pool(db: Session) -> None:
    film = make_film(db)
    sell(db, film, usd(100), "film-1")
    # A remix of the film pays Gina through her credit on the film too.
    fan = make_person(db, "Fan")
    remix = make_work(db, "record", "Night Film Remix", {fan: 1}, {film.work: "1/2"})
    sell_remix = {"work": remix.public_id, "amount": usd(10), "currency": "USD"}
    revenue.record_revenue(
        db, film.admin, {**sell_remix, "external_id": "remix-1"}, default_fee_rate=Fraction(0)
    )
    lines = statements.earnings(db, film.gina.id).lines
    assert len(lines) == 2
    for line in lines:
        assert line.credits == (f"as performer on Night Film, {POOL_LINE}",)
        assert line.description.endswith(f", as performer on Night Film, {POOL_LINE}")
    # The studio owns the film: its earnings name no credit.
    assert all(not line.credits for line in statements.earnings(db, film.studio.id).lines)


def test_a_claimed_credit_names_later_money_only(db: Session) -> None:
    film = make_film(db)
    sell(db, film, usd(100), "before-claim")
    kim = kim_signs_up(db, film)
    verification.verify_by_admin(db, film.admin, kim.handle, "passport seen on a video call")
    credits.claim_credit(db, kim, film.kim_credit.public_id, film.kim_token, dispute_days=0)
    sell(db, film, usd(100), "after-claim")
    [line] = statements.earnings(db, kim.id).lines
    assert line.event == "after-claim"
    assert line.credits == (f"as sound mixer on Night Film, {POOL_LINE}",)


def test_a_statement_pages_its_earnings_and_the_csv_streams_them_all(db: Session) -> None:
    film = make_film(db)
    for n in range(25):
        sell(db, film, usd(4), f"sale-{n}")
    today = datetime.now(UTC).date()
    seen: list[str] = []
    cursor = None
    while True:
        [part] = statements.statement(
            db, film.gina.id, today, today, page=PageRequest(per_page=10, cursor=cursor)
        ).currencies
        seen += [e.event for e in part.earnings]
        assert part.earnings_count == 25 and part.reconciles
        assert part.earnings_total == part.closing == 25 * usd(4) * 3 // 20
        cursor = part.earnings_next
        if cursor is None:
            break
    assert seen == [f"sale-{n}" for n in range(25)]  # oldest first, each once
    text = "".join(statements.statement_csv_chunks(db, film.gina.id, today, today))
    rows = list(csv.DictReader(io.StringIO(text)))
    earned = [r for r in rows if r["type"] == "earning"]
    assert [r["reference"] for r in earned] == seen
    assert all(POOL_LINE in r["description"] for r in earned)
    assert sum(int(r["amount_micros"]) for r in rows[:-1]) == int(rows[-1]["amount_micros"])
