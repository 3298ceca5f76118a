"""The payout runs API: admins start and read runs; everyone else is refused, nothing changes."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import PayoutRun
from tests.factories import PASSWORD, ScriptedProvider, connect, fund, make_creator, usd
from tests.web.conftest import bearer, log_in


def runs(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(PayoutRun)) or 0


def test_an_admin_starts_a_run_and_reads_it_back(
    app: Flask, client: FlaskClient, app_db: Session
) -> None:
    provider = ScriptedProvider()
    app.extensions["hitrack"].extra["payouts"] = provider
    admin, ana = make_creator(app_db, "Admin", admin=True), make_creator(app_db, "Ana")
    connect(app_db, ana)
    fund(app_db, ana, usd("10.019"))
    headers = bearer(client, admin.email or "", PASSWORD)

    response = client.post("/api/v1/payouts/runs", headers=headers)
    assert response.status_code == 201, response.get_json()
    run = response.get_json()
    assert run["provider"] == "stripe" and run["status"] == "finished"
    assert [(p["creator"], p["amount"], p["status"]) for p in run["payouts"]] == [
        (ana.handle, usd("10.01"), "paid")
    ]
    assert run["payouts"][0]["idempotency_key"] == f"{run['id']}:{ana.id}:USD"
    again = client.get(f"/api/v1/payouts/runs/{run['id']}", headers=headers)
    assert again.status_code == 200 and again.get_json() == run
    assert provider.calls == 1


def test_creators_and_strangers_are_refused(
    app: Flask, client: FlaskClient, app_db: Session
) -> None:
    app.extensions["hitrack"].extra["payouts"] = ScriptedProvider()
    ana = make_creator(app_db, "Ana")
    connect(app_db, ana)
    fund(app_db, ana, usd(50))
    assert client.post("/api/v1/payouts/runs").status_code == 401
    headers = bearer(client, ana.email or "", PASSWORD)
    refused = client.post("/api/v1/payouts/runs", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/payouts/runs/run_x", headers=headers).status_code == 403
    assert runs(app_db) == 0


def test_unknown_runs_and_cookie_sessions_without_csrf(
    app: Flask, client: FlaskClient, app_db: Session
) -> None:
    app.extensions["hitrack"].extra["payouts"] = ScriptedProvider()
    admin = make_creator(app_db, "Admin", admin=True)
    headers = bearer(client, admin.email or "", PASSWORD)
    missing = client.get("/api/v1/payouts/runs/run_nope", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    log_in(client, admin.email or "", PASSWORD)
    assert client.post("/api/v1/payouts/runs").status_code == 400  # CSRF token missing
    assert runs(app_db) == 0


def test_the_openapi_document_describes_payout_runs(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/v1/payouts/runs"]
    assert "get" in paths["/api/v1/payouts/runs/{run_id}"]
