"""attribution signals, indexes and outputs

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hitrack.db.types

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attribution_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('part', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f('ck_attribution_signatures_status')),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_attribution_signatures_work_id_works')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attribution_signatures')),
    sa.UniqueConstraint('work_id', 'part', 'version', name='uq_attribution_signatures_work_part_version')
    )
    with op.batch_alter_table('attribution_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attribution_signatures_work_id'), ['work_id'], unique=False)

    op.create_table('attribution_outputs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('signal', sa.String(length=16), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('content_size', sa.BigInteger(), nullable=True),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('text', 'image', 'audio', 'scores')", name=op.f('ck_attribution_outputs_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['creators.id'], name=op.f('fk_attribution_outputs_created_by_id_creators')),
    sa.ForeignKeyConstraint(['model_id'], ['works.id'], name=op.f('fk_attribution_outputs_model_id_works')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attribution_outputs')),
    sa.UniqueConstraint('public_id', name=op.f('uq_attribution_outputs_public_id'))
    )
    with op.batch_alter_table('attribution_outputs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attribution_outputs_model_id'), ['model_id'], unique=False)

    op.create_table('attribution_matches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('output_id', sa.Integer(), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('signal', sa.String(length=16), nullable=False),
    sa.Column('share', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('share >= 0 AND share <= 1000000', name=op.f('ck_attribution_matches_share')),
    sa.ForeignKeyConstraint(['output_id'], ['attribution_outputs.id'], name=op.f('fk_attribution_matches_output_id_attribution_outputs')),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], name=op.f('fk_attribution_matches_work_id_works')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attribution_matches')),
    sa.UniqueConstraint('output_id', 'work_id', name='uq_attribution_matches_output_work')
    )
    with op.batch_alter_table('attribution_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attribution_matches_output_id'), ['output_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attribution_matches_work_id'), ['work_id'], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: rebuilding revenue_events would DROP a table others
        # reference, which SQLite refuses with foreign keys on; its own ADD
        # COLUMN takes the constraint along with the column.
        op.execute(
            "ALTER TABLE revenue_events ADD COLUMN output VARCHAR(64) CONSTRAINT "
            "fk_revenue_events_output_attribution_outputs "
            "REFERENCES attribution_outputs (public_id)"
        )
        op.create_index(op.f('ix_revenue_events_output'), 'revenue_events', ['output'], unique=False)
    else:
        with op.batch_alter_table('revenue_events', schema=None) as batch_op:
            batch_op.add_column(sa.Column('output', sa.String(length=64), nullable=True))
            batch_op.create_index(batch_op.f('ix_revenue_events_output'), ['output'], unique=False)
            batch_op.create_foreign_key(batch_op.f('fk_revenue_events_output_attribution_outputs'), 'attribution_outputs', ['output'], ['public_id'])


def downgrade() -> None:
    with op.batch_alter_table('revenue_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_revenue_events_output_attribution_outputs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_revenue_events_output'))
        batch_op.drop_column('output')

    with op.batch_alter_table('attribution_matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attribution_matches_work_id'))
        batch_op.drop_index(batch_op.f('ix_attribution_matches_output_id'))
    op.drop_table('attribution_matches')

    with op.batch_alter_table('attribution_outputs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attribution_outputs_model_id'))
    op.drop_table('attribution_outputs')

    with op.batch_alter_table('attribution_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attribution_signatures_work_id'))
    op.drop_table('attribution_signatures')
