"""The revenue API: record (admins, a model's operator), read back, earnings, statements."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import RevenueEvent
from tests.factories import PASSWORD, Song, make_creator, make_song, usd
from tests.web.conftest import bearer, csrf_token, log_in


@pytest.fixture
def song(app_db: Session) -> Song:
    admin = make_creator(app_db, "Admin", admin=True)
    ana = make_creator(app_db, "Ana")
    return make_song(app_db, people={"admin": admin, "ana": ana})


def sale(
    song: Song, external_id: str = "sale-1", amount: int = usd(100), **extra: object
) -> dict[str, object]:
    return {
        "work": song.night_swim.public_id,
        "amount": amount,
        "currency": "USD",
        "external_id": external_id,
        **extra,
    }


def events(app_db: Session) -> int:
    return app_db.scalar(select(func.count()).select_from(RevenueEvent)) or 0


def test_an_admin_records_revenue_and_gets_the_settled_event(
    client: FlaskClient, song: Song
) -> None:
    headers = bearer(client, song.admin.email or "", PASSWORD)
    response = client.post(
        "/api/v1/revenue", json=sale(song, costs=usd(10), fee_rate="0.1"), headers=headers
    )
    assert response.status_code == 201, response.get_json()
    event = response.get_json()
    assert (event["recouped"], event["fee"], event["distributable"]) == (usd(10), usd(9), usd(81))
    assert (
        event["recouped"]
        + event["fee"]
        + sum(a["amount"] for a in event["allocations"] if a["kind"] == "earning")
        == event["amount"]
    )
    ana = next(a for a in event["allocations"] if a["creator"] == song.ana.handle)
    assert any("to your record Shoreline" in line for line in ana["explanation"])
    again = client.get("/api/v1/revenue/sale-1", headers=headers)
    assert again.status_code == 200 and again.get_json()["allocations"] == event["allocations"]


def test_an_events_allocations_page_through_to_the_same_list(
    client: FlaskClient, song: Song, app_db: Session
) -> None:
    """The event carries its first page of allocations; the allocations endpoint pages
    through all of them with the ``after`` cursor; bad cursors and strangers change nothing."""
    headers = bearer(client, song.admin.email or "", PASSWORD)
    event = client.post("/api/v1/revenue", json=sale(song), headers=headers).get_json()
    assert event["allocations_total"] == len(event["allocations"]) >= 2
    assert event["allocations_next"] is None
    seen: list[dict[str, object]] = []
    url = "/api/v1/revenue/sale-1/allocations?per_page=1"
    while True:
        page = client.get(url, headers=headers)
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        assert len(body["allocations"]) == 1 and body["allocations_total"] == len(
            event["allocations"]
        )
        seen += body["allocations"]
        if body["allocations_next"] is None:
            break
        url = f"/api/v1/revenue/sale-1/allocations?per_page=1&after={body['allocations_next']}"
    assert seen == event["allocations"]
    for bad in ("after=0", "after=x", "per_page=0", f"per_page={10**6}"):
        refused = client.get(f"/api/v1/revenue/sale-1/allocations?{bad}", headers=headers)
        assert refused.status_code == 422, bad
    missing = client.get("/api/v1/revenue/nope/allocations", headers=headers)
    assert missing.status_code == 404
    stranger = make_creator(app_db, "Stranger")
    other = bearer(client, stranger.email or "", PASSWORD)
    assert client.get("/api/v1/revenue/sale-1/allocations", headers=other).status_code == 404


def test_an_event_over_a_large_ancestry_lists_its_allocations_without_explaining_them(
    client: FlaskClient, song: Song, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the probe's limit the response explains nobody inline (each creator opens
    their own explanation); the allocations are listed all the same."""
    from hitrack.services import explanations

    monkeypatch.setattr(explanations, "DOWN_PROBE_LIMIT", 1)
    headers = bearer(client, song.admin.email or "", PASSWORD)
    response = client.post("/api/v1/revenue", json=sale(song), headers=headers)
    assert response.status_code == 201, response.get_json()
    allocations = response.get_json()["allocations"]
    assert {a["creator"] for a in allocations} >= {song.ana.handle}
    assert sum(a["amount"] for a in allocations) == usd(100)
    assert all(a["explanation"] is None for a in allocations)
    opened = client.get(
        "/api/v1/me/earnings", headers=bearer(client, song.ana.email or "", PASSWORD)
    )
    assert opened.status_code == 200


def test_a_replay_returns_the_original_and_another_payload_is_409(
    client: FlaskClient, song: Song, app_db: Session
) -> None:
    headers = bearer(client, song.admin.email or "", PASSWORD)
    assert client.post("/api/v1/revenue", json=sale(song), headers=headers).status_code == 201
    replay = client.post("/api/v1/revenue", json=sale(song), headers=headers)
    assert replay.status_code == 200
    conflict = client.post("/api/v1/revenue", json=sale(song, amount=usd(101)), headers=headers)
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["code"] == "idempotency_conflict"
    assert events(app_db) == 1


def test_a_creator_may_not_record_revenue_for_a_production(
    client: FlaskClient, song: Song, app_db: Session
) -> None:
    headers = bearer(client, song.ana.email or "", PASSWORD)
    response = client.post("/api/v1/revenue", json=sale(song), headers=headers)
    assert response.status_code == 403
    assert events(app_db) == 0


def test_bad_input_is_422_and_writes_nothing(
    client: FlaskClient, song: Song, app_db: Session
) -> None:
    headers = bearer(client, song.admin.email or "", PASSWORD)
    for bad in (
        sale(song, amount=-1),
        sale(song, amount=1.5),
        sale(song, currency="dollars"),
        {"work": song.night_swim.public_id},
    ):
        response = client.post("/api/v1/revenue", json=bad, headers=headers)
        assert response.status_code == 422, (bad, response.get_json())
    assert (
        client.post(
            "/api/v1/revenue", json=sale(song) | {"work": "nope"}, headers=headers
        ).status_code
        == 404
    )
    assert client.post("/api/v1/revenue", json=sale(song)).status_code == 401
    assert events(app_db) == 0


def test_events_are_visible_to_admins_senders_and_owners_only(
    client: FlaskClient, song: Song
) -> None:
    admin = bearer(client, song.admin.email or "", PASSWORD)
    client.post("/api/v1/revenue", json=sale(song), headers=admin)
    ana = bearer(client, song.ana.email or "", PASSWORD)
    assert client.get("/api/v1/revenue/sale-1", headers=ana).status_code == 404


def test_cookie_sessions_need_the_csrf_token(
    client: FlaskClient, song: Song, app_db: Session
) -> None:
    log_in(client, song.admin.email or "", PASSWORD)
    assert client.post("/api/v1/revenue", json=sale(song)).status_code == 400
    token = csrf_token(client, "/me/earnings")
    assert (
        client.post("/api/v1/revenue", json=sale(song), headers={"X-CSRFToken": token}).status_code
        == 201
    )


def test_earnings_and_statement_reconcile_to_the_balance(client: FlaskClient, song: Song) -> None:
    admin = bearer(client, song.admin.email or "", PASSWORD)
    client.post("/api/v1/revenue", json=sale(song, amount=usd(100) + 7), headers=admin)
    client.post("/api/v1/revenue", json=sale(song, "sale-2", amount=usd(3)), headers=admin)
    ana = bearer(client, song.ana.email or "", PASSWORD)
    earnings = client.get("/api/v1/me/earnings", headers=ana).get_json()
    [balance] = earnings["balances"]
    assert balance["currency"] == "USD" and balance["micros"] == sum(
        e["micros"] for e in earnings["earnings"]
    )
    assert balance["exact"].startswith(balance["display"])

    statement = client.get("/api/v1/me/statement", headers=ana).get_json()
    [usd_part] = statement["currencies"]
    assert usd_part["opening_balance"]["micros"] == 0
    assert (
        usd_part["closing_balance"]["micros"]
        == balance["micros"]
        == usd_part["earnings_total"]["micros"]
    )
    assert usd_part["reconciles"] is True

    response = client.get("/api/v1/me/statement", headers={**ana, "Accept": "text/csv"})
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["type"] == "opening_balance" and rows[-1]["type"] == "closing_balance"
    assert (
        sum(int(r["amount_micros"]) for r in rows[:-1])
        == int(rows[-1]["amount_micros"])
        == balance["micros"]
    )


def test_a_statement_period_before_the_earnings_is_empty_and_bad_dates_are_422(
    client: FlaskClient, song: Song
) -> None:
    admin = bearer(client, song.admin.email or "", PASSWORD)
    client.post("/api/v1/revenue", json=sale(song), headers=admin)
    ana = bearer(client, song.ana.email or "", PASSWORD)
    old = client.get("/api/v1/me/statement?from=2001-01-01&to=2001-01-31", headers=ana).get_json()
    assert old["currencies"] == []
    assert client.get("/api/v1/me/statement?from=yesterday", headers=ana).status_code == 422
    assert (
        client.get("/api/v1/me/statement?from=2026-02-01&to=2026-01-01", headers=ana).status_code
        == 422
    )


def test_the_revenue_operations_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {
        "/api/v1/revenue",
        "/api/v1/revenue/{external_id}",
        "/api/v1/me/earnings",
        "/api/v1/me/statement",
    } <= set(paths)


def test_a_models_operator_records_revenue_for_their_own_model_with_attribution(
    client: FlaskClient, app_db: Session
) -> None:
    cy = make_creator(app_db, "Cy")
    song = make_song(app_db, people={"cy": cy})
    headers = bearer(client, cy.email or "", PASSWORD)
    body = {
        "work": song.model.public_id,
        "amount": usd(16),
        "currency": "USD",
        "external_id": "out-1",
        "attribution": {song.shoreline.public_id: "3", song.sketch.public_id: 1},
    }
    response = client.post("/api/v1/revenue", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["attribution"] == {
        song.shoreline.public_id: "3",
        song.sketch.public_id: "1",
    }
    other = client.post("/api/v1/revenue", json=sale(song, "not-mine"), headers=headers)
    assert other.status_code == 403
