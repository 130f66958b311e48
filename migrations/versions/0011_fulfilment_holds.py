"""fulfilment holds and order tags: the orders due, and the shop's hold setting

Revision ID: 0009_i16b_fulfilment_holds
Revises: 0009_i16a_expiring_tokens

Expand only: a new table and a column with a server default, so the previous release
runs unchanged against it. Shops that exist now get `hold_backorders` off (their
warehouse keeps shipping as it did until the merchant turns holds on); shops created
from now on get it on.
"""
import sqlalchemy as sa
from alembic import op

import app.domain.base

revision = '0009_i16b_fulfilment_holds'
down_revision = '0009_i16a_expiring_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fulfilment_syncs',
        sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('order_id', sa.BigInteger(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('due_at', app.domain.base.UtcDateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'],
                                name=op.f('fk_fulfilment_syncs_shop_id_shops'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('shop_id', 'order_id', name=op.f('pk_fulfilment_syncs')),
    )
    op.create_index('ix_fulfilment_syncs_due', 'fulfilment_syncs', ['shop_id', 'due_at'],
                    unique=False, postgresql_where=sa.text('due_at IS NOT NULL'),
                    sqlite_where=sa.text('due_at IS NOT NULL'))
    with op.batch_alter_table('shop_settings') as batch:
        batch.add_column(sa.Column('hold_backorders', sa.Boolean(),
                                   server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('shop_settings') as batch:
        batch.drop_column('hold_backorders')
    op.drop_index('ix_fulfilment_syncs_due', table_name='fulfilment_syncs')
    op.drop_table('fulfilment_syncs')
