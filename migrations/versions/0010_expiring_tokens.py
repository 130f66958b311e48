"""expiring offline tokens: the access token's expiry and the refresh token

Revision ID: 0009_i16a_expiring_tokens
Revises: 0009_flash_sales

Three nullable columns on shops (expand only): NULL means a token that does not
expire (custom apps, installs before this release), which keeps working as before.
"""
import sqlalchemy as sa
from alembic import op

import app.domain.base

revision = '0009_i16a_expiring_tokens'
down_revision = '0009_flash_sales'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shops') as batch:
        batch.add_column(sa.Column('token_expires_at', app.domain.base.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column('refresh_token_ciphertext', sa.Text(), nullable=True))
        batch.add_column(sa.Column('refresh_token_expires_at', app.domain.base.UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shops') as batch:
        batch.drop_column('refresh_token_expires_at')
        batch.drop_column('refresh_token_ciphertext')
        batch.drop_column('token_expires_at')
