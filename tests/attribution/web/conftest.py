"""The web fixtures of ``tests/web`` (a Flask app on the rolled-back SQLite connection)."""

from tests.web.conftest import (  # noqa: F401 - re-exported fixtures
    app,
    app_db,
    app_storage,
    client,
    engine,
    settings,
)
