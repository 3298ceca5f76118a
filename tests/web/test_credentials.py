"""Credentials that end, on the web: token expiry and revocation, log-out on the server,
password change, and the account page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from hitrack.services import accounts
from tests.factories import PASSWORD, make_creator
from tests.web.conftest import bearer, csrf_token, log_in

NEW_PASSWORD = "a brand new password"


def remembered_client(app, client: FlaskClient, email: str) -> FlaskClient:
    """A second client holding only the "keep me signed in" cookie of a log-in on ``client``."""
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    restored = app.test_client()
    restored.set_cookie("remember_token", client.get_cookie("remember_token").value)
    return restored


def api_csrf(client: FlaskClient) -> dict[str, str]:
    return {"X-CSRFToken": csrf_token(client, "/")}


# --- Log-out ends the session on the server -----------------------------------------


def test_a_session_cookie_captured_before_log_out_authenticates_nothing_after(app, client, app_db):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email, PASSWORD)
    assert client.get("/upload").status_code == 200
    captured = client.get_cookie("session").value
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", captured)
    assert thief.get("/upload").status_code == 302
    response = thief.get("/api/v1/me")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_log_out_also_ends_the_keep_me_signed_in_cookie_and_other_devices(app, client, app_db):
    ana = make_creator(app_db, "Ana")
    restored = remembered_client(app, client, ana.email)
    phone = app.test_client()
    log_in(phone, ana.email, PASSWORD)
    assert restored.get("/api/v1/me").status_code == 200

    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert restored.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/me").status_code == 401
    log_in(phone, ana.email, PASSWORD)  # logging in again works as ever
    assert phone.get("/api/v1/me").get_json()["id"] == ana.handle


# --- API tokens expire and can be listed and revoked -----------------------------------


def test_a_token_from_the_api_expires_after_the_lifetime_asked_for(client, app_db):
    ana = make_creator(app_db, "Ana")
    now = datetime.now(UTC)
    for body, days in [({}, 90), ({"expires_in_days": 7, "name": "ci"}, 7)]:
        response = client.post(
            "/api/v1/auth/token", json={"email": ana.email, "password": PASSWORD, **body}
        )
        assert response.status_code == 200, response.get_json()
        data = response.get_json()
        assert data["token"].startswith("htk_") and data["token_type"] == "Bearer"
        expires = datetime.fromisoformat(data["expires_at"])
        assert abs(expires - (now + timedelta(days=days))) < timedelta(minutes=1)
    assert data["name"] == "ci"


@pytest.mark.parametrize(
    "extra",
    [
        {"expires_in_days": 0},
        {"expires_in_days": 366},
        {"expires_in_days": "7"},
        {"expires_in_days": 1.5},
        {"name": "x" * 101},
        {"scope": "admin"},
    ],
)
def test_a_token_request_outside_the_rules_is_refused(client, app_db, extra):
    ana = make_creator(app_db, "Ana")
    response = client.post(
        "/api/v1/auth/token", json={"email": ana.email, "password": PASSWORD, **extra}
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_input"


def test_an_expired_token_authenticates_nothing(client, app_db):
    ana = make_creator(app_db, "Ana")
    old = accounts.create_token(app_db, ana, days=1, now=datetime.now(UTC) - timedelta(days=2))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old.token}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_tokens_are_listed_and_revoked_by_their_owner_only(client, app_db):
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    first = bearer(client, ana.email, PASSWORD)
    second = client.post(
        "/api/v1/auth/token", json={"email": ana.email, "password": PASSWORD, "name": "second"}
    ).get_json()
    bos = accounts.create_token(app_db, bo)

    listed = client.get("/api/v1/me/tokens", headers=first).get_json()
    assert [t["name"] for t in listed["tokens"]] == ["second", ""] and listed["next"] is None
    assert set(listed["tokens"][0]) == {"id", "name", "created_at", "expires_at"}

    for token_id in (bos.row.id, "abc", 10**9):
        response = client.delete(f"/api/v1/me/tokens/{token_id}", headers=first)
        assert response.status_code == 404, token_id
    assert accounts.creator_for_token(app_db, bos.token) is not None

    assert client.delete(f"/api/v1/me/tokens/{second['id']}", headers=first).status_code == 204
    assert client.delete(f"/api/v1/me/tokens/{second['id']}", headers=first).status_code == 204
    revoked = {"Authorization": f"Bearer {second['token']}"}
    assert client.get("/api/v1/me", headers=revoked).status_code == 401
    assert [
        t["name"] for t in client.get("/api/v1/me/tokens", headers=first).get_json()["tokens"]
    ] == [""]
    assert client.get("/api/v1/me/tokens?before=x", headers=first).status_code == 422

    own_id = listed["tokens"][1]["id"]
    assert client.delete(f"/api/v1/me/tokens/{own_id}", headers=first).status_code == 204
    assert client.get("/api/v1/me/tokens", headers=first).status_code == 401


def test_a_token_cannot_make_tokens_but_a_fresh_browser_session_can(app, client, app_db):
    ana = make_creator(app_db, "Ana")
    token = bearer(app.test_client(), ana.email, PASSWORD)
    refused = client.post("/api/v1/me/tokens", headers=token, json={"name": "child"})
    assert refused.status_code == 403

    restored = remembered_client(app, app.test_client(), ana.email)
    stale = restored.post("/api/v1/me/tokens", headers=api_csrf(restored), json={})
    assert stale.status_code == 401 and "log in again" in stale.get_json()["error"]["message"]

    log_in(client, ana.email, PASSWORD)
    assert client.post("/api/v1/me/tokens", json={}).status_code == 400  # no CSRF header
    made = client.post(
        "/api/v1/me/tokens",
        headers=api_csrf(client),
        json={"name": "laptop", "expires_in_days": 30},
    )
    assert made.status_code == 201, made.get_json()
    data = made.get_json()
    assert data["name"] == "laptop"
    me = client.application.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {data['token']}"}
    )
    assert me.status_code == 200 and me.get_json()["id"] == ana.handle


NEW_TOKEN = re.compile(r'id="new-token">([^<]+)<')


def test_the_account_page_creates_lists_and_revokes_tokens(app, client, app_db):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email, PASSWORD)
    page = client.get("/account").get_data(as_text=True)
    assert "No live tokens." in page and ana.email in page

    created = client.post(
        "/account/tokens",
        data={"name": "nightly script", "days": "30", "csrf_token": csrf_token(client, "/account")},
    )
    assert created.status_code == 200
    secret = NEW_TOKEN.search(created.get_data(as_text=True)).group(1)
    script = app.test_client()
    assert (
        script.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    again = client.get("/account").get_data(as_text=True)
    assert "nightly script" in again and secret not in again  # shown once only

    [row] = accounts.list_tokens(app_db, ana)
    revoked = client.post(
        f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/account")}
    )
    assert revoked.status_code == 302
    assert (
        script.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )
    assert "No live tokens." in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    ("days", "message"), [("0", "Number must be at least 1"), ("400", "from 1 to 365")]
)
def test_the_account_page_refuses_a_lifetime_outside_the_policy(client, app_db, days, message):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email, PASSWORD)
    response = client.post(
        "/account/tokens", data={"days": days, "csrf_token": csrf_token(client, "/account")}
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert accounts.list_tokens(app_db, ana) == []


def test_the_account_pages_need_a_login(client):
    for url in ("/account", "/account/password"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Password change ----------------------------------------------------------------------


def change_password(client: FlaskClient, current: str, new: str, repeat: str | None = None):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "repeat": new if repeat is None else repeat,
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )


def test_changing_the_password_asks_for_a_fresh_login(app, client, app_db):
    ana = make_creator(app_db, "Ana")
    restored = remembered_client(app, client, ana.email)
    assert restored.get("/account").status_code == 200
    response = restored.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_changing_the_password_needs_the_current_one_and_ends_other_credentials(
    app, client, app_db
):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email, PASSWORD)
    laptop = app.test_client()
    log_in(laptop, ana.email, PASSWORD)
    token = bearer(app.test_client(), ana.email, PASSWORD)

    wrong = change_password(client, "not my password", NEW_PASSWORD)
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    mismatch = change_password(client, PASSWORD, NEW_PASSWORD, repeat="something else entirely")
    assert mismatch.status_code == 422 and "the two passwords differ" in mismatch.get_data(
        as_text=True
    )
    assert laptop.get("/api/v1/me").status_code == 200  # nothing changed yet

    done = change_password(client, PASSWORD, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200  # this session stays signed in
    assert laptop.get("/api/v1/me").status_code == 401
    assert app.test_client().get("/api/v1/me", headers=token).status_code == 401

    fresh = app.test_client()
    old = fresh.post(
        "/login", data={"email": ana.email, "password": PASSWORD, "csrf_token": csrf_token(fresh)}
    )
    assert old.status_code == 401
    log_in(fresh, ana.email, NEW_PASSWORD)
