"""settlement: graph versions, compact graphs, settlement periods, allocations without explanations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:07:20.610297
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hitrack.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SETTLEMENT_MODE = "settlement_mode IS NULL OR settlement_mode IN ('immediate', 'period')"


def upgrade() -> None:
    op.create_table(
        "compact_graphs",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("works", sa.BigInteger(), nullable=False),
        sa.Column("citations", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("built_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_compact_graphs")),
    )
    op.create_table(
        "graph_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_state")),
    )
    op.create_table(
        "settlement_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("until", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("graph_version", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_settlement_periods_job_id_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_settlement_periods_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_periods")),
        sa.UniqueConstraint("public_id", name=op.f("uq_settlement_periods_public_id")),
        sa.UniqueConstraint("until", "currency", name="uq_settlement_periods_until_currency"),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period_id", sa.Integer(), nullable=True))
        batch_op.alter_column("event_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_allocations_period_id"), ["period_id"], unique=False)
        batch_op.create_unique_constraint(
            "uq_allocations_period_creator_kind", ["period_id", "creator_id", "kind"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocations_period_id_settlement_periods"),
            "settlement_periods",
            ["period_id"],
            ["id"],
        )
        batch_op.drop_column("explanation")
        batch_op.create_check_constraint(
            op.f("ck_allocations_event_or_period"), "(event_id IS NULL) <> (period_id IS NULL)"
        )

    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("graph_version", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.create_index(
            batch_op.f("ix_citations_graph_version"), ["graph_version"], unique=False
        )

    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Not batch mode: rebuilding revenue_events (or works) would DROP a table
        # that others reference, which SQLite refuses with foreign keys on; its
        # own ADD COLUMN takes the constraint along with the column.
        op.execute("ALTER TABLE revenue_events ADD COLUMN graph_version BIGINT")
        op.execute(
            "ALTER TABLE revenue_events ADD COLUMN period_id INTEGER CONSTRAINT "
            "fk_revenue_events_period_id_settlement_periods REFERENCES settlement_periods (id)"
        )
        op.create_index(
            op.f("ix_revenue_events_period_id"), "revenue_events", ["period_id"], unique=False
        )
        op.create_index(
            "ix_revenue_events_state_funded_at", "revenue_events", ["state", "funded_at"]
        )
    else:
        with op.batch_alter_table("revenue_events", schema=None) as batch_op:
            batch_op.add_column(sa.Column("graph_version", sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column("period_id", sa.Integer(), nullable=True))
            batch_op.create_index(
                batch_op.f("ix_revenue_events_period_id"), ["period_id"], unique=False
            )
            batch_op.create_index(
                "ix_revenue_events_state_funded_at", ["state", "funded_at"], unique=False
            )
            batch_op.create_foreign_key(
                batch_op.f("fk_revenue_events_period_id_settlement_periods"),
                "settlement_periods",
                ["period_id"],
                ["id"],
            )

    with op.batch_alter_table("work_owners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("graph_version", sa.BigInteger(), nullable=False, server_default="0")
        )

    if sqlite:
        op.execute(
            "ALTER TABLE works ADD COLUMN settlement_mode VARCHAR(16) CONSTRAINT "
            f"ck_works_settlement_mode CHECK ({_SETTLEMENT_MODE})"
        )
    else:
        op.add_column("works", sa.Column("settlement_mode", sa.String(length=16), nullable=True))
        op.create_check_constraint(op.f("ck_works_settlement_mode"), "works", _SETTLEMENT_MODE)
    # The graph starts at version 0; every graph write bumps it.
    op.bulk_insert(
        sa.table("graph_state", sa.column("id"), sa.column("version"), sa.column("token")),
        [{"id": 1, "version": 0, "token": ""}],
    )


def downgrade() -> None:
    # Period earnings have no event: they cannot be kept in the old form.
    op.execute("DELETE FROM allocations WHERE event_id IS NULL")
    with op.batch_alter_table("works", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_works_settlement_mode"), type_="check")
        batch_op.drop_column("settlement_mode")

    with op.batch_alter_table("work_owners", schema=None) as batch_op:
        batch_op.drop_column("graph_version")

    with op.batch_alter_table("revenue_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_revenue_events_period_id_settlement_periods"), type_="foreignkey"
        )
        batch_op.drop_index("ix_revenue_events_state_funded_at")
        batch_op.drop_index(batch_op.f("ix_revenue_events_period_id"))
        batch_op.drop_column("period_id")
        batch_op.drop_column("graph_version")

    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citations_graph_version"))
        batch_op.drop_column("graph_version")

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_allocations_event_or_period"), type_="check")
        batch_op.add_column(
            sa.Column("explanation", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.drop_constraint(
            batch_op.f("fk_allocations_period_id_settlement_periods"), type_="foreignkey"
        )
        batch_op.drop_constraint("uq_allocations_period_creator_kind", type_="unique")
        batch_op.drop_index(batch_op.f("ix_allocations_period_id"))
        batch_op.alter_column("event_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("period_id")

    op.drop_table("settlement_periods")
    op.drop_table("graph_state")
    op.drop_table("compact_graphs")
