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
_STATE = "state IN ('reported', 'funded', 'settled', 'rejected')"
_FUNDING_METHOD = "funding_method IS NULL OR funding_method IN ('on_arrival', 'checkout', 'manual')"

# Every event recorded before revenue had states was funded on arrival and
# settled in one transaction that took the cash in: that transaction is its
# funding too (hitrack.services.ledger.check_invariants knows the shape).
_BACKFILL = (
    "UPDATE revenue_events SET state = 'settled', funding_method = 'on_arrival', "
    "funding_transaction_id = transaction_id, funded_at = occurred_at"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
        return
    op.add_column('revenue_events', sa.Column('state', sa.String(length=16), nullable=False, server_default='reported'))
    op.add_column('revenue_events', sa.Column('funding_method', sa.String(length=16), nullable=True))
    op.add_column('revenue_events', sa.Column('funding_reference', sa.String(length=255), nullable=True))
    op.add_column('revenue_events', sa.Column('funding_transaction_id', sa.Integer(), nullable=True))
    op.add_column('revenue_events', sa.Column('funded_at', hitrack.db.types.UTCDateTime(timezone=True), nullable=True))
    op.add_column('revenue_events', sa.Column('decided_by_id', sa.Integer(), nullable=True))
    op.add_column('revenue_events', sa.Column('rejection_reason', sa.Text(), nullable=False, server_default=''))
    op.execute(_BACKFILL)
    op.alter_column('revenue_events', 'state', server_default=None)
    op.alter_column('revenue_events', 'rejection_reason', server_default=None)
    op.create_foreign_key(op.f('fk_revenue_events_funding_transaction_id_ledger_transactions'), 'revenue_events', 'ledger_transactions', ['funding_transaction_id'], ['id'])
    op.create_foreign_key(op.f('fk_revenue_events_decided_by_id_creators'), 'revenue_events', 'creators', ['decided_by_id'], ['id'])
    op.create_check_constraint(op.f('ck_revenue_events_state'), 'revenue_events', _STATE)
    op.create_check_constraint(op.f('ck_revenue_events_funding_method'), 'revenue_events', _FUNDING_METHOD)
    op.create_check_constraint(op.f('ck_revenue_events_state_money'), 'revenue_events', _STATE_MONEY)
    op.create_index(op.f('ix_revenue_events_state'), 'revenue_events', ['state'], unique=False)


def _upgrade_sqlite() -> None:
    # Not batch mode: rebuilding revenue_events would DROP a table that the
    # allocations reference, which SQLite refuses with foreign keys on (and the
    # pragma cannot change inside the migration's transaction). SQLite's own
    # ADD COLUMN takes column constraints, so each constraint rides on a column;
    # the one across the money columns comes last, after the backfill. The
    # column defaults stay ('reported' is what the model writes anyway).
    for column in (
        f"state VARCHAR(16) NOT NULL DEFAULT 'reported' CONSTRAINT ck_revenue_events_state CHECK ({_STATE})",
        f"funding_method VARCHAR(16) CONSTRAINT ck_revenue_events_funding_method CHECK ({_FUNDING_METHOD})",
        "funding_reference VARCHAR(255)",
        "funding_transaction_id INTEGER CONSTRAINT fk_revenue_events_funding_transaction_id_ledger_transactions REFERENCES ledger_transactions (id)",
        "funded_at DATETIME",
        "decided_by_id INTEGER CONSTRAINT fk_revenue_events_decided_by_id_creators REFERENCES creators (id)",
    ):
        op.execute(f"ALTER TABLE revenue_events ADD COLUMN {column}")
    op.execute(_BACKFILL)
    op.execute(
        "ALTER TABLE revenue_events ADD COLUMN rejection_reason TEXT NOT NULL DEFAULT '' "
        f"CONSTRAINT ck_revenue_events_state_money CHECK ({_STATE_MONEY})"
    )
    op.create_index(op.f('ix_revenue_events_state'), 'revenue_events', ['state'], unique=False)


def downgrade() -> None:
    # Reported and rejected events stay as rows without a ledger transaction.
    # On SQLite this rebuilds revenue_events: run it with foreign keys off.
    with op.batch_alter_table('revenue_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revenue_events_state'))
        batch_op.drop_constraint(batch_op.f('ck_revenue_events_state_money'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_revenue_events_funding_method'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_revenue_events_state'), type_='check')
        if op.get_bind().dialect.name != "sqlite":  # there the columns take their own along
            batch_op.drop_constraint(batch_op.f('fk_revenue_events_decided_by_id_creators'), type_='foreignkey')
            batch_op.drop_constraint(batch_op.f('fk_revenue_events_funding_transaction_id_ledger_transactions'), type_='foreignkey')
        batch_op.drop_column('rejection_reason')
        batch_op.drop_column('decided_by_id')
        batch_op.drop_column('funded_at')
        batch_op.drop_column('funding_transaction_id')
        batch_op.drop_column('funding_reference')
        batch_op.drop_column('funding_method')
        batch_op.drop_column('state')
