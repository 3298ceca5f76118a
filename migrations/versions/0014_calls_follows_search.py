"""open calls, follows, notification preferences, search

Open calls and their answers, follows, per-kind notification preferences, a
profile setting on creators, and the search index: ``search_entries`` holds
one row per searchable thing; its text index is an FTS5 table kept in step by
triggers on SQLite, and a generated ``tsvector`` column with a GIN index on
PostgreSQL. Existing works and creators are indexed here; later writes are
indexed by ``hitrack.services.search``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 05:58:48.885783
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hitrack.db.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("media_kind", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("byline", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("remixes", sa.Integer(), nullable=False),
        sa.Column("open_until", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entries")),
        sa.UniqueConstraint("entity", "entity_id", name="uq_search_entries_entity"),
    )
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_search_entries_kind_created_at", ["kind", "created_at"], unique=False
        )
        batch_op.create_index("ix_search_entries_remixes", ["remixes"], unique=False)

    op.create_table(
        "notification_preferences",
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["creators.id"],
            name=op.f("fk_notification_preferences_creator_id_creators"),
        ),
        sa.PrimaryKeyConstraint("creator_id", "kind", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follower_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("work_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(creator_id IS NULL) <> (work_id IS NULL)", name=op.f("ck_follows_creator_or_work")
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creators.id"], name=op.f("fk_follows_creator_id_creators")
        ),
        sa.ForeignKeyConstraint(
            ["follower_id"], ["creators.id"], name=op.f("fk_follows_follower_id_creators")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"], name=op.f("fk_follows_work_id_works")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint("follower_id", "creator_id", name="uq_follows_follower_creator"),
        sa.UniqueConstraint("follower_id", "work_id", name="uq_follows_follower_work"),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follows_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follows_follower_id"), ["follower_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follows_work_id"), ["work_id"], unique=False)

    op.create_table(
        "open_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("production_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("media_kinds", sa.JSON(), nullable=False),
        sa.Column("deadline", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_open_calls_status")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["creators.id"], name=op.f("fk_open_calls_created_by_id_creators")
        ),
        sa.ForeignKeyConstraint(
            ["production_id"], ["works.id"], name=op.f("fk_open_calls_production_id_works")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_calls")),
        sa.UniqueConstraint("public_id", name=op.f("uq_open_calls_public_id")),
    )
    with op.batch_alter_table("open_calls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_calls_production_id"), ["production_id"], unique=False
        )
        batch_op.create_index("ix_open_calls_status_deadline", ["status", "deadline"], unique=False)

    op.create_table(
        "call_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("picked_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('answered', 'picked')", name=op.f("ck_call_answers_status")),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["creators.id"],
            name=op.f("fk_call_answers_answered_by_id_creators"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["open_calls.id"], name=op.f("fk_call_answers_call_id_open_calls")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["works.id"], name=op.f("fk_call_answers_record_id_works")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_answers")),
        sa.UniqueConstraint("call_id", "record_id", name="uq_call_answers_call_record"),
    )
    with op.batch_alter_table("call_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_answers_answered_by_id"), ["answered_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_call_answers_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_answers_record_id"), ["record_id"], unique=False)

    # A plain add_column, not a batch rebuild: other tables reference creators.
    op.add_column(
        "creators",
        sa.Column(
            "show_models_on_profile", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    _create_text_index()
    _backfill()


def _create_text_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE search_entries ADD COLUMN document tsvector GENERATED ALWAYS AS "
            "(setweight(to_tsvector('english', title), 'A') || "
            "setweight(to_tsvector('english', body), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_search_entries_document ON search_entries USING gin (document)")
        return
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_entries', "
        "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
        "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END"
    )
    op.execute(
        "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); END"
    )
    op.execute(
        "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); "
        "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END"
    )


def _backfill() -> None:
    """Index what exists: works by title and description, creators by name and handle."""
    op.execute(
        "INSERT INTO search_entries (entity, entity_id, kind, ref, media_kind, title, byline, "
        "body, listed, remixes, created_at) "
        "SELECT 'work', w.id, w.kind, w.public_id, w.media_kind, w.title, '', w.description, "
        "w.visibility = 'public' AND w.status NOT IN ('draft', 'cancelled'), "
        "(SELECT count(*) FROM citations c WHERE c.source_id = w.id), w.created_at FROM works w"
    )
    op.execute(
        "INSERT INTO search_entries (entity, entity_id, kind, ref, title, byline, body, listed, "
        "remixes, created_at) SELECT 'creator', id, 'creator', handle, display_name, "
        "'@' || handle, handle, true, 0, created_at "
        "FROM creators"
    )


def downgrade() -> None:
    op.drop_column("creators", "show_models_on_profile")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_entries_ai", "search_entries_ad", "search_entries_au"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE search_fts")

    with op.batch_alter_table("call_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_answers_record_id"))
        batch_op.drop_index(batch_op.f("ix_call_answers_call_id"))
        batch_op.drop_index(batch_op.f("ix_call_answers_answered_by_id"))

    op.drop_table("call_answers")
    with op.batch_alter_table("open_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_open_calls_status_deadline")
        batch_op.drop_index(batch_op.f("ix_open_calls_production_id"))

    op.drop_table("open_calls")
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follows_work_id"))
        batch_op.drop_index(batch_op.f("ix_follows_follower_id"))
        batch_op.drop_index(batch_op.f("ix_follows_creator_id"))

    op.drop_table("follows")
    op.drop_table("notification_preferences")
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_search_entries_remixes")
        batch_op.drop_index("ix_search_entries_kind_created_at")

    op.drop_table("search_entries")
