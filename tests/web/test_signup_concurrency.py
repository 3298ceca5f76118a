"""Sign-ups racing each other on PostgreSQL: a clear 409 or a distinct handle, never a 500.

Threads post to a real server (waitress) on a real PostgreSQL schema, all
released by one barrier, so their requests overlap in the server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from hitrack.settings import Settings
from tests.browser.conftest import LiveServer, start_live_server
from tests.conftest import migrated_postgres_schema

pytestmark = pytest.mark.postgres
AT_ONCE = 8


@pytest.fixture
def pg_server(tmp_path: Path) -> Iterator[LiveServer]:
    with migrated_postgres_schema("hitrack_signup") as url:
        settings = Settings(
            data_dir=tmp_path, environment="test", secret_key="race-secret", database_url=url
        )
        server, stop = start_live_server(settings)
        try:
            yield server
        finally:
            stop()


def sign_up_at_once(server: LiveServer, bodies: list[dict[str, str]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(bodies))

    def post(body: dict[str, str]) -> requests.Response:
        barrier.wait()
        return requests.post(f"{server.url}/api/v1/auth/register", json=body, timeout=60)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_one_email_signing_up_at_once_gets_one_account_and_409s(pg_server):
    responses = sign_up_at_once(
        pg_server,
        [
            {"email": "same@example.test", "password": "a long password", "display_name": f"P{i}"}
            for i in range(AT_ONCE)
        ],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (AT_ONCE - 1), [r.text[:200] for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "conflict"
            assert "e-mail" in response.json()["error"]["message"]


def test_one_display_name_signing_up_at_once_gets_distinct_handles(pg_server):
    responses = sign_up_at_once(
        pg_server,
        [
            {"email": f"p{i}@example.test", "password": "a long password", "display_name": "Sam"}
            for i in range(AT_ONCE)
        ],
    )
    assert [r.status_code for r in responses] == [201] * AT_ONCE, [r.text[:200] for r in responses]
    handles = [r.json()["id"] for r in responses]
    assert len(set(handles)) == AT_ONCE
    assert all(handle == "sam" or handle.startswith("sam-") for handle in handles)
