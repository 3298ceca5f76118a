"""The log-in throttle: per client address and per account; proxies only when trusted."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from sqlalchemy.orm import sessionmaker

from hitrack.domain.errors import InvalidInput
from hitrack.settings import Settings
from hitrack.web import create_app
from tests.factories import PASSWORD, make_creator
from tests.web.conftest import csrf_token


def app_with(settings: Settings, connection, **changes) -> Flask:  # type: ignore[no-untyped-def]
    app = create_app(dataclasses.replace(settings, **changes))
    app.config["TESTING"] = True
    app.extensions["hitrack"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return app


def page_login(
    client, email: str, address: str, forwarded: str | None = None, password="wrong password"
):  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def api_login(client, email: str, address: str) -> int:  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/auth/token",
        json={"email": email, "password": "wrong password"},
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def test_failed_logins_on_one_account_are_throttled_from_any_address(settings, connection):
    app = app_with(
        settings,
        connection,
        account_login_rate_limit="3 per minute",
        login_rate_limit="100 per minute",
    )
    db = app.extensions["hitrack"].sessions()
    ana, bo = make_creator(db, "Ana"), make_creator(db, "Bo")
    client = app.test_client()
    statuses = [page_login(client, ana.email, f"10.0.0.{n}") for n in range(1, 5)]
    assert statuses == [401, 401, 401, 429]
    assert page_login(client, ana.email.upper(), "10.0.0.9") == 429  # the same account
    assert page_login(client, bo.email, "10.0.0.1") == 401  # another account is not held up

    api = [api_login(client, bo.email, f"10.0.1.{n}") for n in range(1, 5)]
    assert api == [401, 401, 401, 429]


def test_successful_logins_do_not_count_toward_the_account_throttle(settings, connection):
    app = app_with(settings, connection, account_login_rate_limit="2 per minute")
    db = app.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    client = app.test_client()
    for n in range(4):
        assert page_login(client, ana.email, f"10.0.2.{n}", password=PASSWORD) == 302
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_without_trusted_proxies_x_forwarded_for_cannot_dodge_the_address_throttle(
    settings, connection
):
    app = app_with(settings, connection, account_login_rate_limit="100 per minute")
    db = app.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    client = app.test_client()
    statuses = [page_login(client, ana.email, "10.1.1.1", f"203.0.113.{n}") for n in range(6)]
    assert statuses == [401] * 5 + [429]


def test_behind_one_trusted_proxy_the_client_address_comes_from_x_forwarded_for(
    settings, connection
):
    app = app_with(
        settings, connection, trusted_proxies=1, account_login_rate_limit="100 per minute"
    )
    db = app.extensions["hitrack"].sessions()
    ana = make_creator(db, "Ana")
    client = app.test_client()
    proxy = "10.1.1.1"
    many_clients = [page_login(client, ana.email, proxy, f"203.0.113.{n}") for n in range(6)]
    assert many_clients == [401] * 6
    # One client, even one that sends its own X-Forwarded-For for the proxy to append to:
    # only the address the trusted proxy saw counts.
    one_client = [
        page_login(client, ana.email, proxy, f"192.0.2.{n}, 198.51.100.7") for n in range(6)
    ]
    assert one_client == [401] * 5 + [429]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXIES", "-1"),
        ("TRUSTED_PROXIES", "two"),
        ("TOKEN_LIFETIME_DAYS", "0"),
        ("TOKEN_LIFETIME_DAYS", "400"),
        ("TOKEN_MAX_LIFETIME_DAYS", "4000"),
        ("PASSWORD_RESET_MINUTES", "0"),
    ],
)
def test_credential_settings_out_of_range_are_refused(name, value):
    with pytest.raises(InvalidInput, match=f"HITRACK_{name}"):
        Settings.from_env({f"HITRACK_{name}": value})


def test_credential_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "HITRACK_TRUSTED_PROXIES": "2",
            "HITRACK_TOKEN_LIFETIME_DAYS": "30",
            "HITRACK_TOKEN_MAX_LIFETIME_DAYS": "60",
            "HITRACK_PASSWORD_RESET_MINUTES": "15",
            "HITRACK_ACCOUNT_LOGIN_RATE_LIMIT": "10 per hour",
            "HITRACK_MAIL_FROM": "Studio <mail@studio.example>",
        }
    )
    assert (
        settings.trusted_proxies,
        settings.token_lifetime_days,
        settings.token_max_lifetime_days,
        settings.password_reset_minutes,
        settings.account_login_rate_limit,
        settings.mail_from,
    ) == (2, 30, 60, 15, "10 per hour", "Studio <mail@studio.example>")
    defaults = Settings()
    assert (defaults.trusted_proxies, defaults.token_lifetime_days, defaults.mail_transport) == (
        0,
        90,
        "console",
    )
