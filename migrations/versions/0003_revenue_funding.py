"""revenue states, funding and unsettled revenue

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hitrack.db.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_STATE_MONEY = (
    "(state IN ('reported', 'rejected') AND funding_transaction_id IS NULL "
    "AND transaction_id IS NULL) "
    "OR (state = 'funded' AND funding_transaction_id IS NOT NULL AND transaction_id IS NULL) "
    "OR (state = 'settled' AND funding_transaction_id IS NOT NULL "
    "AND transaction_id IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table('revenue_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='settled'))
        batch_op.add_column(sa.Column('funding_method', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('funding_reference', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('funding_transaction_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('funded_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rejection_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_revenue_events_funding_transaction_id_ledger_transactions'), 'ledger_transactions', ['funding_transaction_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_revenue_events_decided_by_id_creators'), 'creators', ['decided_by_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_revenue_events_state'), ['state'], unique=False)

    # Every event recorded before revenue had states was funded on arrival and
    # settled in one transaction that took the cash in: that transaction is its
    # funding too (hitrack.services.ledger.check_invariants knows the shape).
    op.execute(
        "UPDATE revenue_events SET funding_method = 'on_arrival', "
        "funding_transaction_id = transaction_id, funded_at = occurred_at"
    )

    with op.batch_alter_table('revenue_events', schema=None) as batch_op:
        batch_op.alter_column('state', server_default=None)
        batch_op.alter_column('rejection_reason', server_default=None)
        batch_op.create_check_constraint(op.f('ck_revenue_events_state'), "state IN ('reported', 'funded', 'settled', 'rejected')")
        batch_op.create_check_constraint(op.f('ck_revenue_events_funding_method'), "funding_method IS NULL OR funding_method IN ('on_arrival', 'checkout', 'manual')")
        batch_op.create_check_constraint(op.f('ck_revenue_events_state_money'), _STATE_MONEY)


def downgrade() -> None:
    # Reported and rejected events stay as rows without a ledger transaction.
    with op.batch_alter_table('revenue_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_revenue_events_state_money'), type_='check')
        batch_op.drop_constraint(op.f('ck_revenue_events_funding_method'), type_='check')
        batch_op.drop_constraint(op.f('ck_revenue_events_state'), type_='check')
        batch_op.drop_index(batch_op.f('ix_revenue_events_state'))
        batch_op.drop_constraint(batch_op.f('fk_revenue_events_decided_by_id_creators'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_revenue_events_funding_transaction_id_ledger_transactions'), type_='foreignkey')
        batch_op.drop_column('rejection_reason')
        batch_op.drop_column('decided_by_id')
        batch_op.drop_column('funded_at')
        batch_op.drop_column('funding_transaction_id')
        batch_op.drop_column('funding_reference')
        batch_op.drop_column('funding_method')
        batch_op.drop_column('state')
