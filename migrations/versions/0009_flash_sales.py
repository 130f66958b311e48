"""flash sales: sale rate and early closes on variants, order-to-DENY time on shops,
and an index on each shop's waiting webhooks

Revision ID: 0009_flash_sales
Revises: 0008_inbox_payload_lz4

Expand only: new nullable columns or columns with defaults, and a partial index, so the
previous release runs unchanged against it.
"""
import sqlalchemy as sa
from alembic import op

import app.domain.base

revision = '0009_flash_sales'
down_revision = '0008_inbox_payload_lz4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('variants') as batch:
        batch.add_column(sa.Column('queued_units', sa.BigInteger(), server_default=sa.text('0'),
                                   nullable=False))
        batch.add_column(sa.Column('rate_queued_units', sa.BigInteger(),
                                   server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('sale_rate', sa.Float(), server_default=sa.text('0'),
                                   nullable=False))
        batch.add_column(sa.Column('sale_rate_peak', sa.Float(), server_default=sa.text('0'),
                                   nullable=False))
        batch.add_column(sa.Column('sale_rate_at', app.domain.base.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column('closed_early_left', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('closed_early_rate', sa.Float(), nullable=True))
        batch.add_column(sa.Column('deny_order_at', app.domain.base.UtcDateTime(),
                                   nullable=True))
    with op.batch_alter_table('shops') as batch:
        batch.add_column(sa.Column('order_to_deny_seconds', sa.Float(), nullable=True))
    op.create_index('ix_webhook_events_shop_waiting', 'webhook_events', ['shop_id', 'id'],
                    unique=False, postgresql_where=sa.text("status = 'RECEIVED'"),
                    sqlite_where=sa.text("status = 'RECEIVED'"))


def downgrade() -> None:
    op.drop_index('ix_webhook_events_shop_waiting', table_name='webhook_events')
    with op.batch_alter_table('shops') as batch:
        batch.drop_column('order_to_deny_seconds')
    with op.batch_alter_table('variants') as batch:
        for name in ('deny_order_at', 'closed_early_rate', 'closed_early_left', 'sale_rate_at',
                     'sale_rate_peak', 'sale_rate', 'rate_queued_units', 'queued_units'):
            batch.drop_column(name)
