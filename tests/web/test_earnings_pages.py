"""Money pages: earnings with explanations and the chart data, statements, reports, the ledger."""

from __future__ import annotations

import json
import re
from fractions import Fraction

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hitrack.services import revenue
from tests.factories import PASSWORD, Song, make_creator, make_song, usd
from tests.web.conftest import log_in


@pytest.fixture
def song(app_db: Session) -> Song:
    song = make_song(
        app_db,
        people={
            "admin": make_creator(app_db, "Admin", admin=True),
            "ana": make_creator(app_db, "Ana"),
            "dee": make_creator(app_db, "Dee"),
        },
    )
    revenue.record_revenue(
        app_db,
        song.admin,
        {
            "external_id": "sale-1",
            "work": song.night_swim.public_id,
            "amount": usd(100) + 4_321,
            "currency": "USD",
            "costs": usd(10),
            "fee_rate": "0.1",
        },
        default_fee_rate=Fraction(0),
    )
    return song


def test_the_earnings_page_shows_the_balance_chart_and_explanations(
    client: FlaskClient, song: Song
) -> None:
    log_in(client, song.ana.email or "", PASSWORD)
    page = client.get("/me/earnings").get_data(as_text=True)
    # 90.003888... distributable: Ana gets 24% via Tide and 5% via Sketch = 26.10...
    match = re.search(
        r'<td class="balance"><span class="money" title="exactly ([\d.]+) USD" '
        r'data-micros="(\d+)">([\d.]+)</span>',
        page,
    )
    assert match, page
    exact, micros, shown = match.groups()
    assert exact.startswith(shown) and len(exact.split(".")[1]) == 6 and int(micros) > 0
    assert '<canvas class="earnings-chart"' in page
    data = json.loads(
        re.search(
            r'<script type="application/json" class="earnings-data">(.*?)</script>', page, re.S
        ).group(1)
    )  # type: ignore[union-attr]
    assert data["currency"] == "USD" and sum(p["micros"] for p in data["points"]) == int(micros)
    assert "<details>" in page
    assert (
        "60% of Night Swim’s value flows to Tide (remix by Bo); 40% of Tide’s value flows "
        "to your record Shoreline; you own all of it" in page
    )


def test_the_statement_page_is_printable_and_reconciles(client: FlaskClient, song: Song) -> None:
    log_in(client, song.ana.email or "", PASSWORD)
    page = client.get("/me/statement").get_data(as_text=True)
    assert "Opening balance" in page and "Closing balance" in page
    assert "Reconciled with the ledger." in page
    response = client.get("/me/statement?format=csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert client.get("/me/statement?from=nope").status_code in (302, 422)


def test_a_producer_sees_the_report_of_their_production(client: FlaskClient, song: Song) -> None:
    log_in(client, song.dee.email or "", PASSWORD)
    page = client.get(f"/works/{song.night_swim.public_id}/report").get_data(as_text=True)
    assert "Recouped costs" in page and "Distribution" in page
    assert "equals" in page and "does NOT equal" not in page
    assert client.get(f"/works/{song.shoreline.public_id}/report").status_code == 403


def test_the_ledger_overview_is_for_admins(client: FlaskClient, song: Song) -> None:
    log_in(client, song.ana.email or "", PASSWORD)
    assert client.get("/admin/ledger").status_code == 403
    client.post("/logout")
    client2 = client.application.test_client()
    log_in(client2, song.admin.email or "", PASSWORD)
    page = client2.get("/admin/ledger").get_data(as_text=True)
    assert "All invariants hold" in page and "creator_payable" in page


def test_pages_need_a_login(client: FlaskClient) -> None:
    assert client.get("/me/earnings").status_code == 302


def test_an_earning_not_explained_on_the_list_is_explained_when_opened(
    client: FlaskClient, song: Song
) -> None:
    log_in(client, song.ana.email or "", PASSWORD)
    page = client.get("/me/earnings").get_data(as_text=True)
    events = re.findall(r'class="earning" data-event="([^"]+)"', page)
    assert events
    opened = client.get(f"/me/earnings/{events[-1]}")
    assert opened.status_code == 200
    assert "Why you were paid" in opened.get_data(as_text=True)
    assert client.get("/me/earnings/not-an-event").status_code == 404
    assert client.get("/me/earnings?per_page=0").status_code == 422


def test_the_report_is_linked_from_the_work_page_for_its_owners_only(
    client: FlaskClient, song: Song
) -> None:
    link = f'href="/works/{song.shoreline.public_id}/report"'
    log_in(client, song.ana.email or "", PASSWORD)
    assert link in client.get(f"/works/{song.shoreline.public_id}").get_data(as_text=True)
    client.post("/logout")
    other = client.application.test_client()
    log_in(other, song.dee.email or "", PASSWORD)
    assert link not in other.get(f"/works/{song.shoreline.public_id}").get_data(as_text=True)
    production = other.get(f"/productions/{song.night_swim.public_id}").get_data(as_text=True)
    assert f'href="/works/{song.night_swim.public_id}/report"' in production
