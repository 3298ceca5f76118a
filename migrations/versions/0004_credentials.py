"""api token expiry, server-side sessions, password resets

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import hitrack.db.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Tokens issued before tokens could expire get the default lifetime from the upgrade on.
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table('creators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('expires_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=True))
    api_tokens = sa.table('api_tokens', sa.column('expires_at', hitrack.db.types.UTCDateTime(timezone=True)))
    op.execute(api_tokens.update().values(expires_at=datetime.now(UTC) + DEFAULT_TOKEN_LIFETIME))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=hitrack.db.types.UTCDateTime(timezone=True), nullable=False)

    op.create_table('password_resets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['creator_id'], ['creators.id'], name=op.f('fk_password_resets_creator_id_creators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_resets')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_resets_token_hash'))
    )
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_resets_creator_id'), ['creator_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_resets_creator_id'))

    op.drop_table('password_resets')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('name')

    # Other tables refer to creators: drop the column in place (SQLite 3.35+) rather than
    # copying the table, which the foreign keys would refuse.
    with op.batch_alter_table('creators', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('session_generation')
