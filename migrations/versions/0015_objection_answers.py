"""objection answers: the producer answers or resolves each objection

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hitrack.db.types import UTCDateTime

revision = '0015'
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain add_column: the comments table stays in place on SQLite.
    op.add_column('comments', sa.Column('answer', sa.Text(), nullable=True))
    op.add_column('comments', sa.Column('answered_at', UTCDateTime(timezone=True), nullable=True))
    op.add_column('comments', sa.Column('resolved_at', UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('comments', 'resolved_at')
    op.drop_column('comments', 'answered_at')
    op.drop_column('comments', 'answer')
