"""A Flask app per test, on the rolled-back SQLite connection of ``tests/conftest.py``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from hitrack.settings import Settings
from hitrack.web import create_app


@pytest.fixture
def engine(sqlite_engine):  # type: ignore[no-untyped-def]
    """Web tests run on SQLite; the service and database tests cover PostgreSQL."""
    return sqlite_engine


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, environment="test", secret_key="test-secret", max_upload_bytes=1_000_000
    )


@pytest.fixture
def app(settings: Settings, connection: Connection) -> Iterator[Flask]:
    app = create_app(settings)
    app.config["TESTING"] = True
    app.extensions["hitrack"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield app


@pytest.fixture
def app_db(app: Flask) -> Iterator[Session]:
    session = app.extensions["hitrack"].sessions()
    yield session
    session.close()


@pytest.fixture
def app_storage(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["hitrack"].storage


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    page = client.get(url).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def log_in(client: FlaskClient, email: str, password: str) -> None:
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def bearer(client: FlaskClient, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}
