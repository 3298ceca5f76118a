"""jobs: long work as rows with status, progress and a checkpoint

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hitrack.db.types

revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('progress_done', sa.BigInteger(), nullable=False),
        sa.Column('progress_total', sa.BigInteger(), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f('ck_jobs_status')
        ),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['creators.id'], name=op.f('fk_jobs_created_by_id_creators')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_jobs_idempotency_key')),
        sa.UniqueConstraint('public_id', name=op.f('uq_jobs_public_id')),
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index('ix_jobs_status_created_at', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status_created_at')
        batch_op.drop_index(batch_op.f('ix_jobs_created_by_id'))
    op.drop_table('jobs')
