"""Password reset by e-mail, through a real SMTP server on loopback, and the dev mailbox."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy.orm import sessionmaker

from hitrack.services import accounts
from hitrack.settings import Settings
from hitrack.web import create_app
from tests.factories import PASSWORD, make_creator
from tests.mail_server import SmtpServer, smtp_server
from tests.web.conftest import csrf_token, log_in

NEW_PASSWORD = "a brand new password"
LINK = re.compile(r"http://\S+/password/reset/\S+")


def app_with(settings: Settings, connection, **changes) -> Flask:  # type: ignore[no-untyped-def]
    app = create_app(dataclasses.replace(settings, **changes))
    app.config["TESTING"] = True
    app.extensions["hitrack"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return app


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server("plain") as server:
        yield server


@pytest.fixture
def mail_app(settings, connection, smtp) -> Flask:  # type: ignore[no-untyped-def]
    return app_with(settings, connection, smtp_url=smtp.url)


def ask_for_reset(client, email: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/password/forgot",
        data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")},
    )


def choose(client, path: str, password: str, repeat: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        path,
        data={
            "new_password": password,
            "repeat": password if repeat is None else repeat,
            "csrf_token": csrf_token(client, path),
        },
    )


def test_a_reset_request_answers_the_same_whether_or_not_the_address_has_an_account(mail_app, smtp):
    db = mail_app.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    client = mail_app.test_client()
    known = ask_for_reset(client, ana.email)
    unknown = ask_for_reset(client, "nobody@example.test")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    assert "If an account has this e-mail" in known.get_data(as_text=True)
    assert [m["To"] for m in smtp.inbox.messages] == [ana.email]


def test_a_password_is_reset_through_the_link_in_the_mail_and_the_link_works_once(mail_app, smtp):
    db = mail_app.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    token = accounts.issue_token(db, ana)
    client = mail_app.test_client()
    elsewhere = mail_app.test_client()
    log_in(elsewhere, ana.email, PASSWORD)
    ask_for_reset(client, ana.email.upper())

    [message] = smtp.inbox.messages
    assert message["Subject"] == "hitrack: reset your password"
    assert message["From"] == "hitrack <no-reply@localhost>"
    link = LINK.search(message.get_content()).group(0)
    assert link.startswith("http://127.0.0.1:5000/password/reset/")
    path = urlsplit(link).path

    page = client.get(path)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    differ = choose(client, path, NEW_PASSWORD, repeat="not the same password")
    assert differ.status_code == 422 and "the two passwords differ" in differ.get_data(as_text=True)
    short = choose(client, path, "short")
    assert short.status_code == 422

    done = choose(client, path, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    used = client.get(path)
    assert used.status_code == 404 and "expired or was used already" in used.get_data(as_text=True)
    replay = client.post(
        path,
        data={
            "new_password": "another new password",
            "repeat": "another new password",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert replay.status_code == 404

    old = client.post(
        "/login", data={"email": ana.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert old.status_code == 401
    log_in(client, ana.email, NEW_PASSWORD)
    assert elsewhere.get("/api/v1/me").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert mail_app.test_client().get("/api/v1/me", headers=bearer).status_code == 401


def test_a_made_up_reset_link_shows_how_to_get_a_new_one(client):
    response = client.get("/password/reset/not-a-real-token")
    assert response.status_code == 404
    assert "Ask for a new link" in response.get_data(as_text=True)


def test_a_malformed_address_is_told_so_without_a_mail(mail_app, smtp):
    response = ask_for_reset(mail_app.test_client(), "not an address")
    assert response.status_code == 422 and "valid e-mail" in response.get_data(as_text=True)
    assert smtp.inbox.messages == []


def test_the_login_page_links_to_the_reset(client):
    assert "/password/forgot" in client.get("/login").get_data(as_text=True)


def test_in_development_mail_shows_on_the_mailbox_page(settings, connection):
    app = app_with(settings, connection, environment="development")
    db = app.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    client = app.test_client()
    assert "No e-mail yet." in client.get("/dev/mailbox").get_data(as_text=True)
    ask_for_reset(client, ana.email)
    page = client.get("/dev/mailbox").get_data(as_text=True)
    assert "hitrack: reset your password" in page and f"To {ana.email}" in page
    link = LINK.search(page).group(0).split('"')[0]
    assert client.get(urlsplit(link).path).status_code == 200


def test_the_mailbox_page_exists_only_in_development_and_test(client, settings, connection):
    assert client.get("/dev/mailbox").status_code == 200
    production = app_with(settings, connection, environment="production")
    assert production.test_client().get("/dev/mailbox").status_code == 404


def test_reset_requests_are_throttled_per_address_and_per_account(settings, connection, smtp):
    app = app_with(
        settings,
        connection,
        smtp_url=smtp.url,
        login_rate_limit="3 per minute",
        account_login_rate_limit="2 per minute",
    )
    db = app.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    client = app.test_client()

    def ask(email: str, address: str) -> int:
        return client.post(
            "/password/forgot",
            data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    assert [ask(ana.email, f"10.2.0.{n}") for n in range(3)] == [200, 200, 429]
    assert len(smtp.inbox.messages) == 2  # nobody can fill an inbox from many addresses
    assert [ask(f"p{n}@example.test", "10.3.0.1") for n in range(4)] == [200, 200, 200, 429]
