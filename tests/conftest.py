"""Test-wide fixtures: migrated databases (SQLite always, PostgreSQL when configured).

Database tests run once per backend. Each test runs inside a transaction
that is rolled back at the end; services still call ``commit``, which the
session turns into releasing a SAVEPOINT (SQLAlchemy's
``join_transaction_mode="create_savepoint"``), so tests never see each
other's rows.

PostgreSQL: set ``HITRACK_TEST_DATABASE_URL`` (CI does). With
``HITRACK_REQUIRE_POSTGRES=1`` a missing server fails the run instead of
skipping, so CI can never silently skip the PostgreSQL half.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from hitrack.db.migrate import upgrade
from hitrack.db.session import make_engine

# The fake Stripe server and a provider pointed at it, for every test (registered here only).
pytest_plugins = ["tests.fake_stripe.fixtures"]

PG_URL = os.environ.get("HITRACK_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("HITRACK_REQUIRE_POSTGRES") == "1"


def pg_url_with_schema(url: str, schema: str) -> str:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_PG and not PG_URL:
        raise pytest.UsageError(
            "HITRACK_REQUIRE_POSTGRES=1 but HITRACK_TEST_DATABASE_URL is not set"
        )


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "hitrack.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@contextmanager
def migrated_postgres_schema(prefix: str = "hitrack_test") -> Iterator[str]:
    """The URL of a fresh schema in the test database, migrated from empty; dropped afterwards.

    Skips without ``HITRACK_TEST_DATABASE_URL``; with ``HITRACK_REQUIRE_POSTGRES=1`` an
    unreachable server fails instead, so CI never silently skips PostgreSQL.
    """
    if not PG_URL:
        pytest.skip("PostgreSQL tests need HITRACK_TEST_DATABASE_URL (CI sets it)")
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = make_engine(pg_url_with_schema(PG_URL, "public"))
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    url = pg_url_with_schema(PG_URL, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    with migrated_postgres_schema() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()


@pytest.fixture
def storage(tmp_path: Path):  # type: ignore[no-untyped-def]
    from hitrack.storage.local import LocalStorage

    return LocalStorage(tmp_path / "media")
