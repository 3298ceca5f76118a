"""Accounts on the web: CSRF, safe redirects, log-in rate limit, cookie flags, private data."""

from __future__ import annotations

import dataclasses
import io

from hitrack.web import create_app
from tests.factories import PASSWORD, make_creator, make_record
from tests.web.conftest import CSRF, csrf_token, log_in


def test_signup_logs_the_creator_in(client):
    token = csrf_token(client, "/signup")
    response = client.post(
        "/signup",
        data={
            "display_name": "Ana",
            "email": "ana@example.test",
            "password": "a long password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert "Ana" in client.get("/").get_data(as_text=True)


def test_a_form_without_csrf_token_is_refused(client, app_db):
    make_creator(app_db, "Ana")
    response = client.post(
        "/signup",
        data={"display_name": "Eve", "email": "eve@example.test", "password": "a long password"},
    )
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_api_with_a_session_cookie_needs_the_csrf_header(client, app_db):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email, PASSWORD)
    response = client.post("/api/v1/works/x/sources", json={"source": "y", "share": "0.1"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf"


def test_next_redirects_only_within_the_site(client, app_db):
    ana = make_creator(app_db, "Ana")
    for target, expected in [
        ("/upload", "/upload"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ]:
        response = client.post(
            f"/login?next={target}",
            data={"email": ana.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302
        assert response.headers["Location"] == expected, target
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_the_sixth_bad_login_in_a_minute_is_refused(client, app_db):
    ana = make_creator(app_db, "Ana")
    statuses = []
    for _ in range(6):
        statuses.append(
            client.post(
                "/login",
                data={
                    "email": ana.email,
                    "password": "wrong password",
                    "csrf_token": csrf_token(client),
                },
            ).status_code
        )
    assert statuses == [401] * 5 + [429]


def test_the_token_endpoint_is_rate_limited_too(client, app_db):
    ana = make_creator(app_db, "Ana")
    statuses = [
        client.post("/api/v1/auth/token", json={"email": ana.email, "password": "nope"}).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


def test_session_cookie_is_httponly_lax_and_secure_outside_development(app, settings, connection):
    from sqlalchemy.orm import sessionmaker

    prod = create_app(dataclasses.replace(settings, environment="production"))
    prod.extensions["hitrack"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    db = prod.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    client = prod.test_client()
    page = client.get("/login", base_url="https://localhost")
    assert page.status_code == 200
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    response = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={"email": ana.email, "password": PASSWORD, "remember": "y", "csrf_token": token},
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    remember = next(c for c in cookies if c.startswith("remember_token="))
    for cookie in (session, remember):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_development_cookies_are_not_secure_so_plain_http_works(client, app_db):
    ana = make_creator(app_db, "Ana")
    response = client.post(
        "/login", data={"email": ana.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    session = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Secure" not in session


def test_another_creators_private_record_is_not_found(client, app_db, app_storage):
    ana, bo = make_creator(app_db, "Ana"), make_creator(app_db, "Bo")
    secret = make_record(app_db, app_storage, ana, "Secret", visibility="private")
    log_in(client, bo.email, PASSWORD)
    for url in (
        f"/works/{secret.public_id}",
        f"/works/{secret.public_id}/media",
        f"/api/v1/records/{secret.public_id}",
        f"/api/v1/records/{secret.public_id}/media",
        f"/api/v1/works/{secret.public_id}/graph",
    ):
        assert client.get(url).status_code == 404, url
    assert "Secret" not in client.get("/").get_data(as_text=True)


def test_pages_carry_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def production_client(settings, connection, environment: str = "production"):  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import sessionmaker

    app = create_app(dataclasses.replace(settings, environment=environment))
    app.extensions["hitrack"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    return app.test_client()


def test_hsts_is_sent_outside_development_only(client, settings, connection):
    hsts = client.get("/").headers.get("Strict-Transport-Security", "")
    assert "max-age=" in hsts and "includeSubDomains" in hsts  # the test environment
    prod = production_client(settings, connection)
    for url in ("/", "/api/v1/openapi.json", "/works/nothing-here"):
        response = prod.get(url, base_url="https://localhost")
        assert response.headers["Strict-Transport-Security"] == hsts, url
    dev = production_client(settings, connection, "development")
    assert "Strict-Transport-Security" not in dev.get("/").headers


def test_every_405_names_the_allowed_methods(client):
    for method, url, allowed in [
        ("delete", "/api/v1/works/x", {"GET", "HEAD", "OPTIONS"}),
        ("post", "/api/v1/openapi.json", {"GET", "HEAD", "OPTIONS"}),
        ("get", "/api/v1/auth/token", {"POST", "OPTIONS"}),
        ("post", "/works", {"GET", "HEAD", "OPTIONS"}),
        ("get", "/logout", {"POST", "OPTIONS"}),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 405, url
        assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed, url
    assert client.delete("/api/v1/works/x").get_json()["error"]["code"] == "method_not_allowed"


def test_text_media_is_served_with_a_single_charset(client, app_db):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email, PASSWORD)
    response = client.post(
        "/api/v1/records",
        headers={"X-CSRFToken": csrf_token(client, "/")},
        data={"file": (io.BytesIO("A poem, é.\n".encode()), "poem.txt"), "title": "Poem"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert record["media"]["type"] == "text/plain; charset=utf-8"
    for url in (f"/works/{record['id']}/media", record["media"]["url"]):
        media = client.get(url)
        assert media.headers["Content-Type"] == "text/plain; charset=utf-8", url
        assert media.get_data() == "A poem, é.\n".encode()


def test_an_error_page_sends_the_visitor_back_only_within_the_site(client, app_db):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email, PASSWORD)
    bad_period = "/me/statement?from=not-a-date"
    for referrer in [
        "https://evil.example/phish",
        "http://evil.example/me/earnings",
        "http://localhost.evil.example/me/earnings",
        "http://localhost//evil.example/x",
        "http://localhost/\\evil.example",
        "javascript:alert(1)",
        None,
    ]:
        headers = {"Referer": referrer} if referrer else {}
        response = client.get(bad_period, headers=headers)
        assert response.status_code == 422, referrer
        assert "Location" not in response.headers
        assert "from" in response.get_data(as_text=True)
    back = client.get(bad_period, headers={"Referer": "http://localhost/me/earnings?x=1"})
    assert back.status_code == 302 and back.location == "/me/earnings?x=1"
    assert "from" in client.get("/me/earnings").get_data(as_text=True)  # the flashed message
