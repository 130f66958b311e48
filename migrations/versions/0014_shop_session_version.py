"""a session version per shop: logging out ends every cookie session of the shop

Revision ID: 0009_i15b_shop_session_version
Revises: 0013_i15a_order_first_name

A cookie holds the version it was issued under; logging out (everywhere) bumps the
shop's version, so a replayed cookie stops working. Expand only: a column with a server
default, which the previous release ignores.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_i15b_shop_session_version'
down_revision = '0013_i15a_order_first_name'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('shops', sa.Column('session_version', sa.Integer(), nullable=False,
                                     server_default='0'))


def downgrade() -> None:
    op.drop_column('shops', 'session_version')
