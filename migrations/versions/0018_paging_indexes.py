"""paging indexes: keyset pages of a work's citers and sources, and of a creator's allocations

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-02 06:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

# (index, table, columns): each list is read in id order after a cursor, per
# work or per creator, so the index holds both.
INDEXES = (
    ("ix_citations_source_id_id", "citations", ["source_id", "id"]),
    ("ix_citations_work_id_id", "citations", ["work_id", "id"]),
    ("ix_allocations_creator_id_id", "allocations", ["creator_id", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
