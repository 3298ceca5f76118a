"""The log-in rate limit with its counters in Redis, as production runs it (CI has a Redis)."""

from __future__ import annotations

import dataclasses
import os
import secrets

import pytest
from sqlalchemy.orm import sessionmaker

from hitrack.web import create_app
from tests.factories import make_creator
from tests.web.conftest import csrf_token

REDIS_URL = os.environ.get("HITRACK_TEST_REDIS_URL", "")


@pytest.mark.skipif(not REDIS_URL, reason="needs HITRACK_TEST_REDIS_URL (CI sets it)")
def test_sixth_bad_login_is_refused_with_redis_counters(settings, connection):
    import redis

    redis.Redis.from_url(REDIS_URL).ping()  # a configured but unreachable Redis fails the test
    app = create_app(dataclasses.replace(settings, ratelimit_storage_url=REDIS_URL))
    app.extensions["hitrack"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    ana = make_creator(app.extensions["hitrack"].sessions(), "Ana")
    # A fresh client address per run keeps earlier runs' counters out of this one.
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.7"
    statuses = [
        client.post(
            "/login",
            data={
                "email": ana.email,
                "password": "wrong password",
                "csrf_token": csrf_token(client),
            },
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


@pytest.mark.skipif(not REDIS_URL, reason="needs HITRACK_TEST_REDIS_URL (CI sets it)")
def test_failed_logins_on_one_account_are_counted_in_redis_across_addresses(settings, connection):
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    server.ping()
    app = create_app(
        dataclasses.replace(
            settings,
            ratelimit_storage_url=REDIS_URL,
            account_login_rate_limit="3 per minute",
            login_rate_limit="100 per minute",
        )
    )
    app.extensions["hitrack"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    # A fresh account per run keeps earlier runs' counters out of this one.
    ana = make_creator(app.extensions["hitrack"].sessions(), f"Ana {secrets.token_hex(4)}")
    client = app.test_client()
    statuses = []
    for n in range(4):
        address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{n}"
        statuses.append(
            client.post(
                "/login",
                data={
                    "email": ana.email,
                    "password": "wrong password",
                    "csrf_token": csrf_token(client),
                },
                environ_base={"REMOTE_ADDR": address},
            ).status_code
        )
    assert statuses == [401, 401, 401, 429]
    assert any(b"account:" in key for key in server.scan_iter(match="*account:*"))
