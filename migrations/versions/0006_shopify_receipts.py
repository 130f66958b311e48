"""stock received directly in Shopify: echo and local-added counts

Revision ID: 0006_shopify_receipts
Revises: 0006_outbox_index
Create Date: 2026-11-26 09:00:00.000000

Expand only: two counters with a server default of 0 (the previous release
inserts rows without them) and an index for finding a stock level's receipts.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_shopify_receipts'
down_revision = '0006_outbox_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('po_receipts', sa.Column('echo_pending', sa.Integer(),
                                           server_default=sa.text('0'), nullable=False))
    op.create_index('ix_po_receipts_stock', 'po_receipts',
                    ['shop_id', 'inventory_item_id', 'location_id'], unique=False)
    op.add_column('inventory_levels', sa.Column('local_added', sa.Integer(),
                                                server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    op.drop_column('inventory_levels', 'local_added')
    op.drop_index('ix_po_receipts_stock', table_name='po_receipts')
    op.drop_column('po_receipts', 'echo_pending')
