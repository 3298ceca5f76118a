"""payout account state: an enum column instead of prose read with startswith

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# The prefix the deauthorisation webhook wrote into status_reason.
DISCONNECTED_REASON = 'disconnected from hitrack at Stripe%'
BANK_REFUSED_REASON = 'your bank refused%'


def upgrade() -> None:
    # A plain add_column, not a batch rebuild: the table stays in place on SQLite.
    op.add_column(
        'payout_accounts',
        sa.Column('state', sa.String(length=16), nullable=False, server_default='onboarding'),
    )
    accounts = sa.table(
        'payout_accounts',
        sa.column('state', sa.String()),
        sa.column('payable', sa.Boolean()),
        sa.column('status_reason', sa.Text()),
    )
    op.execute(
        accounts.update().values(
            state=sa.case(
                (accounts.c.status_reason.like(DISCONNECTED_REASON), 'disconnected'),
                (accounts.c.payable == sa.true(), 'payable'),
                (accounts.c.status_reason.like(BANK_REFUSED_REASON), 'paused'),
                else_='onboarding',
            )
        )
    )
    op.drop_column('payout_accounts', 'payable')


def downgrade() -> None:
    op.add_column(
        'payout_accounts',
        sa.Column('payable', sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    accounts = sa.table(
        'payout_accounts', sa.column('state', sa.String()), sa.column('payable', sa.Boolean())
    )
    op.execute(accounts.update().values(payable=accounts.c.state == 'payable'))
    op.drop_column('payout_accounts', 'state')
