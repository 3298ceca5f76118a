"""Alembic environment: the URL comes from hitrack's settings (or ``-x url=...``)."""

from __future__ import annotations

from alembic import context

from hitrack.db import models  # noqa: F401  (registers every table on the metadata)
from hitrack.db.base import Base
from hitrack.db.models import SEARCH_INDEX_OBJECTS
from hitrack.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        from hitrack.settings import Settings

        url = Settings.from_env().database_url
    return url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _modelled(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    """Autogenerate leaves the search text index alone: it differs by dialect (see 0014)."""
    if type_ == "column":
        return f"{parent_names.get('table_name')}.{name}" not in SEARCH_INDEX_OBJECTS
    return name not in SEARCH_INDEX_OBJECTS


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
        compare_type=True,
        include_name=_modelled,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
