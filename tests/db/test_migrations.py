"""The schema comes only from the migrations, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from hitrack.db import models  # noqa: F401
from hitrack.db.base import Base
from hitrack.db.models import SEARCH_INDEX_OBJECTS


def _modelled(name, type_, parent_names):  # type: ignore[no-untyped-def]
    """Leave out the search text index: it differs by dialect and only the migration has it."""
    if type_ == "column":
        return f"{parent_names['table_name']}.{name}" not in SEARCH_INDEX_OBJECTS
    return name not in SEARCH_INDEX_OBJECTS


def test_migrations_upgrade_from_empty_and_match_the_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "render_as_batch": True, "include_name": _modelled},
        )
        diff = compare_metadata(context, Base.metadata)
        assert diff == [], diff
        assert context.get_current_revision() is not None
        assert set(inspect(conn).get_table_names()) >= set(Base.metadata.tables)
