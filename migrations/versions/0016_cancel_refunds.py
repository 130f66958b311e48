"""the refund of a customer's cancelled units, on line_cancellations

Revision ID: 0016_cancel_refunds
Revises: 0010_i15b_supplier_secret

Expand only: new columns, nullable or with a server default, so the previous release
keeps inserting cancellations (they read `off`: cancellations made before this release
are never refunded by the app, the merchant refunded them in Shopify).
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_cancel_refunds'
down_revision = '0010_i15b_supplier_secret'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('line_cancellations') as batch:
        batch.add_column(sa.Column('refund_status', sa.String(length=12), nullable=False,
                                   server_default='off'))
        batch.add_column(sa.Column('refund_attempts', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('refund_error', sa.Text(), nullable=True))
        batch.add_column(sa.Column('refund_amount', sa.Numeric(14, 3), nullable=True))
        batch.add_column(sa.Column('refund_currency', sa.String(length=3), nullable=True))
        batch.add_column(sa.Column('refund_id', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('line_cancellations') as batch:
        for column in ('refunded_at', 'refund_id', 'refund_currency', 'refund_amount',
                       'refund_error', 'refund_attempts', 'refund_status'):
            batch.drop_column(column)
