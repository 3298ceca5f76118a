"""A creator sees why they earned, and downloads a statement that adds up to their balance."""

from __future__ import annotations

import csv
import io
from fractions import Fraction

import pytest
from sqlalchemy.orm import Session

from hitrack.db.session import make_engine
from hitrack.services import revenue
from tests.factories import PASSWORD, make_creator, make_song, usd

pytestmark = pytest.mark.browser


def test_a_creator_sees_the_explanation_and_downloads_a_statement_matching_the_balance(
    live_server, page
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(live_server.settings.database_url)
    with Session(engine, expire_on_commit=False) as db:
        ana = make_creator(db, "Ana")
        song = make_song(db, people={"ana": ana})
        for i, amount in enumerate((usd(100) + 4_321, usd(7) + 3)):
            revenue.record_revenue(
                db,
                song.admin,
                {
                    "external_id": f"sale-{i}",
                    "work": song.night_swim.public_id,
                    "amount": amount,
                    "currency": "USD",
                    "fee_rate": "0.1",
                },
                default_fee_rate=Fraction(0),
            )
    engine.dispose()

    page.goto(f"{live_server.url}/login")
    page.get_by_label("E-mail").fill(ana.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Earnings").click()

    balance = page.locator("td.balance .money")
    micros = int(balance.get_attribute("data-micros") or "0")
    assert micros > 0
    assert (balance.get_attribute("title") or "").startswith(f"exactly {balance.inner_text()}")
    chart = page.locator("canvas.earnings-chart")
    chart.wait_for(state="attached")
    page.wait_for_function(
        "document.querySelector('canvas.earnings-chart').dataset.rendered === 'true'"
    )

    first = page.locator("tr.earning details").first
    explanation = first.locator("ul.explanation li").first
    assert not explanation.is_visible()
    first.locator("summary").click()
    assert explanation.is_visible()
    texts = first.locator("ul.explanation li").all_inner_texts()
    assert any(
        "Tide (remix by Bo); 40% of Tide’s value flows to your record Shoreline" in t for t in texts
    ), texts

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    path = download_info.value.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[-1]["type"] == "closing_balance"
    assert int(rows[-1]["amount_micros"]) == micros
    assert sum(int(r["amount_micros"]) for r in rows[:-1]) == micros
