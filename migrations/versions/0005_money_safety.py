"""currency and payout run safety

A payout run records why it failed; a payout's amount is a whole number of
its currency's minor unit (1000 micros for the 3-decimal currencies), no
longer always of cents; each ledger account keeps the running sum of its
postings, so the account cap is checked without summing its history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


# One above the account cap of hitrack.domain.money (10^18 micros): an account
# that an earlier version let grow beyond it (or beyond BIGINT) starts there, so
# it takes no more money and ledger check reports it.
_BEYOND_CAP = 10**18 + 1


def upgrade() -> None:
    # Plain ADD COLUMNs (server defaults kept): on SQLite a batch "move and copy"
    # of these tables would drop tables that other rows' foreign keys point at.
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('balance', sa.BigInteger(), nullable=False, server_default='0'))
    _backfill_balances()
    with op.batch_alter_table('payout_runs', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('failure_reason', sa.Text(), nullable=False, server_default='')
        )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payouts_whole_cents'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_payouts_whole_minor_units'), 'amount > 0 AND amount % 1000 = 0'
        )


def _backfill_balances() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # sum(bigint) is NUMERIC on PostgreSQL: clamp before it goes back to BIGINT.
        op.execute(
            'UPDATE ledger_accounts AS a SET balance = '
            f'LEAST(GREATEST(s.total, {-_BEYOND_CAP}), {_BEYOND_CAP}) '
            'FROM (SELECT account_id, sum(amount) AS total FROM ledger_postings '
            'GROUP BY account_id) AS s WHERE s.account_id = a.id'
        )
        return
    # SQLite's sum() raises on overflow: add up in Python integers.
    totals: dict[int, int] = {}
    for account_id, amount in bind.execute(sa.text('SELECT account_id, amount FROM ledger_postings')):
        totals[account_id] = totals.get(account_id, 0) + int(amount)
    for account_id, total in totals.items():
        bind.execute(
            sa.text('UPDATE ledger_accounts SET balance = :balance WHERE id = :id'),
            {'balance': max(-_BEYOND_CAP, min(_BEYOND_CAP, total)), 'id': account_id},
        )


def downgrade() -> None:
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payouts_whole_minor_units'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_payouts_whole_cents'), 'amount > 0 AND amount % 10000 = 0'
        )
    # ALTER TABLE ... DROP COLUMN, never a copy (see upgrade).
    with op.batch_alter_table('payout_runs', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('failure_reason')
    with op.batch_alter_table('ledger_accounts', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('balance')
