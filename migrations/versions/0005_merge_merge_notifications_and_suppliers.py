"""merge notifications and suppliers

Revision ID: 0005_merge
Revises: 0003_notifications, 0004_suppliers
Create Date: 2026-11-25 05:07:51.697743
"""


revision = '0005_merge'
down_revision = ('0003_notifications', '0004_suppliers')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
