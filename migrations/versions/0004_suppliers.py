"""suppliers: PO approval and dispatch claim, one open draft per supplier, receipts

Revision ID: 0004_suppliers
Revises: 0002
Create Date: 2026-11-25 04:29:54.411375

Expand only: new nullable columns, a new table and a partial unique index, so
the previous release keeps working against this schema. The index cannot fail
on existing data: no release before this one created purchase orders.
"""
import sqlalchemy as sa
from alembic import op

import app.domain.base

revision = '0004_suppliers'
down_revision = '0002'
branch_labels = None
depends_on = None

ONE_DRAFT = sa.text("status = 'DRAFT'")


def upgrade() -> None:
    op.create_table('po_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('po_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('po_line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger(), nullable=False),
    sa.Column('inventory_item_id', sa.BigInteger(), nullable=True),
    sa.Column('location_id', sa.BigInteger(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('received_at', app.domain.base.UtcDateTime(), nullable=False),
    sa.Column('push_status', sa.String(length=10), nullable=False),
    sa.Column('push_started_at', app.domain.base.UtcDateTime(), nullable=True),
    sa.Column('pushed_at', app.domain.base.UtcDateTime(), nullable=True),
    sa.Column('push_attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['po_id'], ['purchase_orders.id'], name=op.f('fk_po_receipts_po_id_purchase_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_po_receipts_po_line_id_purchase_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_po_receipts_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_po_receipts'))
    )
    op.create_index('ix_po_receipts_po', 'po_receipts', ['po_id', 'push_status'], unique=False)
    op.add_column('purchase_order_lines', sa.Column('reason', sa.Text(), nullable=True))
    op.add_column('purchase_orders', sa.Column('approved_at', app.domain.base.UtcDateTime(), nullable=True))
    op.add_column('purchase_orders', sa.Column('dispatch_started_at', app.domain.base.UtcDateTime(), nullable=True))
    op.create_index('uq_purchase_orders_one_draft', 'purchase_orders', ['shop_id', 'supplier_id'],
                    unique=True, postgresql_where=ONE_DRAFT, sqlite_where=ONE_DRAFT)


def downgrade() -> None:
    op.drop_index('uq_purchase_orders_one_draft', table_name='purchase_orders',
                  postgresql_where=ONE_DRAFT, sqlite_where=ONE_DRAFT)
    op.drop_column('purchase_orders', 'dispatch_started_at')
    op.drop_column('purchase_orders', 'approved_at')
    op.drop_column('purchase_order_lines', 'reason')
    op.drop_index('ix_po_receipts_po', table_name='po_receipts')
    op.drop_table('po_receipts')
