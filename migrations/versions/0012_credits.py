"""credits, escrow earnings, creator verifications and record subjects

Every work gets a credit pool (``credit_pool_num``/``_den``, 0 by default);
new tables hold the credits, the unclaimed credits' earnings (their escrow),
the verifications of creators and the subjects of records. The pool columns
are added in place (no SQLite table copy: other tables reference ``works``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 02:47:12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hitrack.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "creator_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('stripe', 'admin')", name=op.f("ck_creator_verifications_source")
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["creators.id"],
            name=op.f("fk_creator_verifications_creator_id_creators"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"],
            ["creators.id"],
            name=op.f("fk_creator_verifications_verified_by_id_creators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creator_verifications")),
    )
    with op.batch_alter_table("creator_verifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_creator_verifications_creator_id"), ["creator_id"], unique=False
        )

    op.create_table(
        "credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=120), nullable=False),
        sa.Column("weight_num", sa.BigInteger(), nullable=False),
        sa.Column("weight_den", sa.BigInteger(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("invite_email", sa.String(length=254), nullable=True),
        sa.Column("invite_token_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_final_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('unclaimed', 'pending', 'claimed')", name=op.f("ck_credits_status")
        ),
        sa.CheckConstraint("weight_den > 0 AND weight_num > 0", name=op.f("ck_credits_weight")),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"], ["creators.id"], name=op.f("fk_credits_claimed_by_id_creators")
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creators.id"], name=op.f("fk_credits_creator_id_creators")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"], name=op.f("fk_credits_work_id_works")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credits")),
        sa.UniqueConstraint("invite_token_hash", name=op.f("uq_credits_invite_token_hash")),
        sa.UniqueConstraint("public_id", name=op.f("uq_credits_public_id")),
    )
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credits_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credits_work_id"), ["work_id"], unique=False)

    op.create_table(
        "record_subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("likeness", sa.String(length=40), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("invite_email", sa.String(length=254), nullable=True),
        sa.Column("invite_token_hash", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consent_ai_training", sa.Boolean(), nullable=True),
        sa.Column("consent_updated_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creators.id"], name=op.f("fk_record_subjects_creator_id_creators")
        ),
        sa.ForeignKeyConstraint(
            ["work_id"], ["works.id"], name=op.f("fk_record_subjects_work_id_works")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_subjects")),
        sa.UniqueConstraint("invite_token_hash", name=op.f("uq_record_subjects_invite_token_hash")),
        sa.UniqueConstraint("public_id", name=op.f("uq_record_subjects_public_id")),
    )
    with op.batch_alter_table("record_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_subjects_creator_id"), ["creator_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_record_subjects_work_id"), ["work_id"], unique=False)

    op.create_table(
        "credit_earnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("credit_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("exact", sa.Text(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_credit_earnings_amount")),
        sa.ForeignKeyConstraint(
            ["credit_id"], ["credits.id"], name=op.f("fk_credit_earnings_credit_id_credits")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["revenue_events.id"],
            name=op.f("fk_credit_earnings_event_id_revenue_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_earnings")),
        sa.UniqueConstraint("event_id", "credit_id", name="uq_credit_earnings_event_credit"),
    )
    with op.batch_alter_table("credit_earnings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_earnings_credit_id"), ["credit_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_credit_earnings_event_id"), ["event_id"], unique=False)

    op.add_column(
        "works", sa.Column("credit_pool_num", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "works", sa.Column("credit_pool_den", sa.BigInteger(), server_default="1", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("works", "credit_pool_den")
    op.drop_column("works", "credit_pool_num")

    with op.batch_alter_table("credit_earnings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_earnings_event_id"))
        batch_op.drop_index(batch_op.f("ix_credit_earnings_credit_id"))

    op.drop_table("credit_earnings")
    with op.batch_alter_table("record_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_subjects_work_id"))
        batch_op.drop_index(batch_op.f("ix_record_subjects_creator_id"))

    op.drop_table("record_subjects")
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credits_work_id"))
        batch_op.drop_index(batch_op.f("ix_credits_creator_id"))

    op.drop_table("credits")
    with op.batch_alter_table("creator_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_creator_verifications_creator_id"))

    op.drop_table("creator_verifications")
