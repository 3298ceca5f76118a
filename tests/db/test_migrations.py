"""The schema comes only from the migrations, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from hitrack.db import models  # noqa: F401
from hitrack.db.base import Base


def test_migrations_upgrade_from_empty_and_match_the_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, Base.metadata)
        assert diff == [], diff
        assert context.get_current_revision() is not None
        assert set(inspect(conn).get_table_names()) >= set(Base.metadata.tables)
