"""record media and editing: a thumbnail key, tags, and the owner's hidden flag

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain add_column: works is referenced by many tables, so no batch rebuild on SQLite.
    op.add_column('works', sa.Column('thumbnail_key', sa.String(length=200), nullable=True))
    op.add_column('works', sa.Column('tags', sa.JSON(), nullable=True))
    op.add_column(
        'works', sa.Column('hidden', sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column('works', 'hidden')
    op.drop_column('works', 'tags')
    op.drop_column('works', 'thumbnail_key')
