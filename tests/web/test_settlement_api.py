"""Closing settlement periods over HTTP: admins only, a clear error for a bad cut-off, a job at once."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Job, RevenueEvent, SettlementPeriod
from tests.factories import PASSWORD, Song, make_creator, make_song, usd
from tests.web.conftest import bearer, log_in


@pytest.fixture
def song(app_db: Session) -> Song:
    admin = make_creator(app_db, "Admin", admin=True)
    ana = make_creator(app_db, "Ana")
    song = make_song(app_db, people={"admin": admin, "ana": ana})
    song.night_swim.settlement_mode = "period"
    app_db.commit()
    return song


def test_an_admin_closes_a_period_and_the_creator_sees_pending_then_settled(
    client: FlaskClient, app_db: Session, song: Song
) -> None:
    admin = bearer(client, song.admin.email, PASSWORD)
    sent = client.post(
        "/api/v1/revenue",
        json={
            "external_id": "p-1",
            "work": song.night_swim.public_id,
            "amount": usd(100),
            "currency": "USD",
        },
        headers=admin,
    )
    assert sent.status_code == 201 and sent.json["state"] == "funded"
    ana = bearer(client, song.ana.email, PASSWORD)
    page = client.get("/api/v1/me/earnings", headers=ana).json
    closed = client.post("/api/v1/settlement/periods", json={}, headers=admin)
    assert closed.status_code == 202, closed.json
    assert closed.json["status"] == "succeeded"  # the inline queue ran it
    assert app_db.scalar(select(func.count()).select_from(SettlementPeriod)) == 1
    assert (
        app_db.scalar(select(RevenueEvent.state).where(RevenueEvent.external_id == "p-1"))
        == "settled"
    )
    after = client.get("/api/v1/me/earnings", headers=ana).json
    assert after != page
    log_in(client, song.ana.email, PASSWORD)
    html = client.get("/me/earnings").get_data(as_text=True)
    assert "settlement period to" in html


def test_bad_periods_are_refused_and_change_nothing(
    client: FlaskClient, app_db: Session, song: Song
) -> None:
    ana = bearer(client, song.ana.email, PASSWORD)
    assert client.post("/api/v1/settlement/periods", json={}, headers=ana).status_code == 403
    admin = bearer(client, song.admin.email, PASSWORD)
    future = client.post("/api/v1/settlement/periods", json={"until": "2999-01-01"}, headers=admin)
    assert future.status_code == 409 and "future" in future.json["error"]["message"]  # not yet
    odd = client.post("/api/v1/settlement/periods", json={"when": "now"}, headers=admin)
    assert odd.status_code == 422
    assert app_db.scalar(select(func.count()).select_from(Job)) == 0
