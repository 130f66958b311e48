"""open demand kept on the variant row, and an index on released lines

Revision ID: 0007_open_demand
Revises: 0006_customer_options

Expand only: three columns with defaults and an index, so the previous release runs
unchanged against it. Existing variants get their totals summed from their lines here;
`open_checked_at` stays empty, so each variant's first recompute checks them again.
"""
import sqlalchemy as sa
from alembic import op

import app.domain.base

revision = '0007_open_demand'
down_revision = '0006_customer_options'
branch_labels = None
depends_on = None

_SUM = ("SELECT COALESCE(SUM({expr}), 0) FROM order_lines l WHERE l.shop_id = variants.shop_id"
        " AND l.variant_id = variants.variant_id AND l.open_quantity > 0")


def upgrade() -> None:
    with op.batch_alter_table('variants') as batch:
        batch.add_column(sa.Column('open_total', sa.BigInteger(), server_default=sa.text('0'),
                                   nullable=False))
        batch.add_column(sa.Column('open_checksum', sa.BigInteger(), server_default=sa.text('0'),
                                   nullable=False))
        batch.add_column(sa.Column('open_checked_at', app.domain.base.UtcDateTime(),
                                   nullable=True))
    op.create_index('ix_order_lines_released', 'order_lines',
                    ['shop_id', 'variant_id', 'released_at'], unique=False,
                    postgresql_where=sa.text('released_at IS NOT NULL'),
                    sqlite_where=sa.text('released_at IS NOT NULL'))
    op.execute("UPDATE variants SET open_total = (" + _SUM.format(expr="l.open_quantity") + "),"
               " open_checksum = (" + _SUM.format(
                   expr="(l.line_item_id % 1000003 + 1) * l.open_quantity") + ")")


def downgrade() -> None:
    op.drop_index('ix_order_lines_released', table_name='order_lines')
    with op.batch_alter_table('variants') as batch:
        batch.drop_column('open_checked_at')
        batch.drop_column('open_checksum')
        batch.drop_column('open_total')
