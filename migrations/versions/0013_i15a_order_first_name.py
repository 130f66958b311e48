"""orders: the customer's first name, for message templates (customer.first_name)

Revision ID: 0013_i15a_order_first_name
Revises: 0012_i15a_liquid_templates

Expand only: a nullable column the previous release ignores; orders stored before it
get the name with their next snapshot, and templates see an empty name until then.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_i15a_order_first_name'
down_revision = '0012_i15a_liquid_templates'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('customer_first_name', sa.String(length=255),
                                      nullable=True))


def downgrade() -> None:
    op.drop_column('orders', 'customer_first_name')
