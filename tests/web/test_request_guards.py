"""What every request passes before a view reads it: body size, NUL characters, CSRF.

The NUL tests run on SQLite and PostgreSQL: PostgreSQL refuses NUL in text, so
a NUL that reached the database used to answer 500 there.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder

from hitrack.db.models import Creator, Work
from hitrack.settings import Settings
from tests.conftest import BACKENDS
from tests.factories import PASSWORD, PNG, make_creator, make_record
from tests.web.conftest import bearer, csrf_token, log_in


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Unlike the other web tests, these run on both backends."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Uploads may be larger than the JSON cap, so the two limits can be told apart.
    return dataclasses.replace(settings, max_upload_bytes=4 * 1024 * 1024)


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def assert_json_error(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert set(error) == {"code", "message"} and error["code"] and error["message"]


# --- request bodies ----------------------------------------------------------------


def big_json(size: int) -> bytes:
    return json.dumps(
        {"email": "x@example.test", "password": "p" * 20, "display_name": "x" * size}
    ).encode()


def test_a_json_body_over_the_cap_is_refused_before_it_is_parsed(client, app_db, settings):
    assert settings.max_body_bytes == 1024 * 1024  # the documented default
    before = count(app_db, Creator)
    response = client.post(
        "/api/v1/auth/register",
        data=big_json(settings.max_body_bytes + 1),
        content_type="application/json",
    )
    assert_json_error(response, 413)
    assert count(app_db, Creator) == before


def test_a_chunked_json_body_is_read_only_up_to_the_cap(client, app_db, settings):
    """No Content-Length: the read itself stops at the cap (the server terminates the stream)."""
    body = big_json(settings.max_body_bytes + 1)
    response = client.post(
        "/api/v1/auth/register",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.request.content_length is None
    assert_json_error(response, 413)


def test_a_form_body_over_the_cap_is_refused_on_a_page_without_upload(client, app_db, settings):
    ana = make_creator(app_db, "Ana")
    log_in(client, ana.email or "", PASSWORD)
    response = client.post(
        "/notifications/read",
        data={"csrf_token": csrf_token(client, "/notifications"), "x": "y" * (2 * 1024 * 1024)},
    )
    assert response.status_code == 413


def test_a_body_under_the_cap_is_still_read(client, app_db):
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "ana@example.test", "password": "a long password", "display_name": "Ana"},
    )
    assert response.status_code == 201


def test_upload_routes_keep_the_upload_limit(client, app_db, settings):
    ana = make_creator(app_db, "Ana")
    auth = bearer(client, ana.email or "", PASSWORD)
    # A valid PNG padded past the JSON cap, still under the upload limit.
    media = PNG + b"\0" * (settings.max_body_bytes + 10)
    response = client.post(
        "/api/v1/records",
        headers=auth,
        data={"file": (io.BytesIO(media), "big.png"), "title": "Big"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["media"]["size"] == len(media)

    too_big = PNG + b"\0" * (settings.max_upload_bytes + 2 * 1024 * 1024)
    response = client.post(
        "/api/v1/records",
        headers=auth,
        data={"file": (io.BytesIO(too_big), "huge.png"), "title": "Huge"},
        content_type="multipart/form-data",
    )
    assert_json_error(response, 413)


def test_a_chunked_upload_is_read_up_to_the_upload_limit(client, app_db, settings):
    ana = make_creator(app_db, "Ana")
    auth = {**bearer(client, ana.email or "", PASSWORD), "Transfer-Encoding": "chunked"}
    for padding, status in [
        (settings.max_body_bytes + 10, 201),
        (settings.max_upload_bytes * 2, 413),
    ]:
        environ = EnvironBuilder(
            method="POST",
            data={"file": (io.BytesIO(PNG + b"\0" * padding), "a.png"), "title": "Chunked"},
        ).get_environ()
        response = client.post(
            "/api/v1/records",
            input_stream=io.BytesIO(environ["wsgi.input"].read()),
            content_type=environ["CONTENT_TYPE"],
            headers=auth,
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert response.status_code == status, response.get_json()


def test_a_json_body_on_an_upload_route_has_the_json_cap(client, app_db, settings):
    ana = make_creator(app_db, "Ana")
    auth = bearer(client, ana.email or "", PASSWORD)
    response = client.post(
        "/api/v1/productions",
        headers=auth,
        json={"title": "Night Swim", "description": "d" * (settings.max_body_bytes + 1)},
    )
    assert_json_error(response, 413)


# --- NUL characters ----------------------------------------------------------------


@pytest.fixture
def cast(app_db, app_storage):  # type: ignore[no-untyped-def]
    admin = make_creator(app_db, "Admin", admin=True)
    ana = make_creator(app_db, "Ana")
    return {"admin": admin, "ana": ana, "record": make_record(app_db, app_storage, ana, "Shore")}


ANONYMOUS_API = [
    ("get", "/api/v1/works/a%00b", None),
    ("get", "/api/v1/records/a%00b/media", None),
    ("get", "/api/v1/works/a%00b/graph", None),
    ("get", "/api/v1/productions/a%00b", None),
    ("get", "/api/v1/productions/a%00b/preview", None),
    ("get", "/api/v1/models/a%00b", None),
    (
        "post",
        "/api/v1/auth/register",
        {"email": "nul@example.test", "password": "a long password", "display_name": "N\0L"},
    ),
    ("post", "/api/v1/auth/token", {"email": "a\0@example.test", "password": "x"}),
    ("post", "/api/v1/auth/register", {"email\0": "x", "password": "y", "display_name": "z"}),
]


@pytest.mark.parametrize(("method", "url", "payload"), ANONYMOUS_API)
def test_nul_in_an_anonymous_api_request_is_422(client, app_db, method, url, payload):
    before = count(app_db, Creator)
    response = getattr(client, method)(url, json=payload)
    assert_json_error(response, 422)
    assert "NUL" in response.get_json()["error"]["message"]
    assert count(app_db, Creator) == before


def test_nul_in_an_authenticated_api_request_is_422_in_every_blueprint(client, app_db, cast):
    ana = bearer(client, cast["ana"].email, PASSWORD)
    admin = bearer(client, cast["admin"].email, PASSWORD)
    record = cast["record"].public_id
    works = count(app_db, Work)
    for method, url, auth, payload in [
        ("post", "/api/v1/productions", ana, {"title": "Night\0Swim"}),
        ("post", "/api/v1/productions", ana, {"title": "x", "contributions": {"a\0": "0.1"}}),
        ("post", f"/api/v1/works/{record}/sources", ana, {"source": "x\0", "share": "0.1"}),
        ("put", f"/api/v1/records/{record}/consent", ana, {"remix": "n\0"}),
        ("post", "/api/v1/models", ana, {"name": "M", "manifest": {record + "\0": "1"}}),
        ("get", "/api/v1/revenue/ev%00", admin, None),
        ("get", "/api/v1/me/statement?from=2024-01-01%00", ana, None),
        ("post", "/api/v1/revenue", admin, {"work": record, "external_id": "e\0", "amount": 1}),
        ("get", "/api/v1/payouts/runs/r%00", admin, None),
    ]:
        response = getattr(client, method)(url, headers=auth, json=payload)
        assert_json_error(response, 422)
    assert count(app_db, Work) == works


def test_nul_in_an_upload_field_or_file_name_is_422(client, app_db, cast):
    auth = bearer(client, cast["ana"].email, PASSWORD)
    works = count(app_db, Work)
    for fields in [
        {"file": (io.BytesIO(PNG), "a.png"), "title": "Sh\0re"},
        {"file": (io.BytesIO(PNG), "a\0.png"), "title": "Shore"},
        {"file": (io.BytesIO(PNG), "a.png"), "title": "Shore", "sources": '{"x\\u0000": "0.1"}'},
    ]:
        response = client.post(
            "/api/v1/records", headers=auth, data=fields, content_type="multipart/form-data"
        )
        assert_json_error(response, 422)
    assert count(app_db, Work) == works


def test_nul_in_a_signed_webhook_body_is_422(client, app_db):
    response = client.post(
        "/webhooks/stripe",
        data=b'{"id": "evt_1", "type": "account.updated\\u0000"}',
        content_type="application/json",
        headers={"Stripe-Signature": "t=1,v1=0"},
    )
    assert_json_error(response, 422)


def assert_form_error(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    assert "NUL" in response.get_data(as_text=True)


def test_nul_on_anonymous_pages_is_a_422_form_error(client, app_db, cast):
    for url in ["/works/a%00b", "/works/a%00b/graph.json", "/productions/a%00b", "/works?kind=%00"]:
        assert_form_error(client.get(url))
    before = count(app_db, Creator)
    signup = {
        "display_name": "N\0L",
        "email": "nul@example.test",
        "password": "a long password",
        "csrf_token": csrf_token(client, "/signup"),
    }
    assert_form_error(client.post("/signup", data=signup))
    login = {"email": "a\0@example.test", "password": "x", "csrf_token": csrf_token(client)}
    assert_form_error(client.post("/login", data=login))
    assert count(app_db, Creator) == before


def test_nul_on_signed_in_pages_is_a_422_form_error(client, app_db, cast):
    log_in(client, cast["admin"].email, PASSWORD)
    works = count(app_db, Work)
    token = csrf_token(client, "/upload")
    assert_form_error(
        client.post(
            "/upload",
            data={"title": "Sh\0re", "file": (io.BytesIO(PNG), "a.png"), "csrf_token": token},
            content_type="multipart/form-data",
        )
    )
    assert_form_error(
        client.post("/productions/new", data={"title": "Night\0Swim", "csrf_token": token})
    )
    assert_form_error(
        client.post(
            f"/works/{cast['record'].public_id}/sources",
            data={"source": "x\0", "share": "0.1", "csrf_token": token},
        )
    )
    assert_form_error(client.get("/me/statement?from=%00"))
    assert_form_error(client.get("/admin/payouts/runs/r%00"))
    assert_form_error(
        client.post(
            "/admin/payouts/methods",
            data={"handle": "a\0", "details": "IBAN", "csrf_token": token},
        )
    )
    assert count(app_db, Work) == works


def test_text_without_nul_still_passes(client, app_db, cast):
    """The check is for NUL only: other control characters and escapes go through as before."""
    auth = bearer(client, cast["ana"].email, PASSWORD)
    response = client.post(
        "/api/v1/productions", headers=auth, json={"title": "Night\\u0000Swim \u00e9"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["title"] == "Night\\u0000Swim \u00e9"


# --- CSRF --------------------------------------------------------------------------


def test_an_invalid_bearer_header_does_not_skip_csrf_for_a_cookie_session(client, app_db, cast):
    log_in(client, cast["ana"].email, PASSWORD)
    record = cast["record"].public_id
    for header in ["Bearer not-a-token", "Bearer ", "Basic abc"]:
        response = client.put(
            f"/api/v1/records/{record}/consent",
            headers={"Authorization": header},
            json={"ai_training": True},
        )
        assert_json_error(response, 400)
        assert response.get_json()["error"]["code"] == "csrf"
    app_db.refresh(cast["record"])
    assert cast["record"].consent_ai_training is False


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/productions"),
        ("post", "/api/v1/revenue"),
        ("post", "/api/v1/payouts/runs"),
        ("post", "/api/v1/me/notifications/read"),
    ],
)
def test_every_api_module_wants_csrf_from_a_cookie_session(client, app_db, cast, method, url):
    log_in(client, cast["admin"].email, PASSWORD)
    response = getattr(client, method)(url, headers={"Authorization": "Bearer junk"}, json={})
    assert_json_error(response, 400)
    assert response.get_json()["error"]["code"] == "csrf"


def test_a_valid_bearer_token_needs_no_csrf_token(client, app_db, cast):
    auth = bearer(client, cast["ana"].email, PASSWORD)
    response = client.put(
        f"/api/v1/records/{cast['record'].public_id}/consent",
        headers=auth,
        json={"ai_training": True},
    )
    assert response.status_code == 200, response.get_json()
    assert "Cache-Control" not in response.headers  # a script's answer may be cached


def test_a_cookie_session_with_its_csrf_header_may_use_the_api(client, app_db, cast):
    log_in(client, cast["ana"].email, PASSWORD)
    response = client.put(
        f"/api/v1/records/{cast['record'].public_id}/consent",
        headers={"X-CSRFToken": csrf_token(client, "/")},
        json={"ai_training": True},
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"  # a browser's is never kept
