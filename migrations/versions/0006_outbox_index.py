"""index the effects nobody acted on yet, for the follow-up sweeper

Revision ID: 0006_outbox_index
Revises: 0005_merge
"""

import sqlalchemy as sa
from alembic import op

revision = '0006_outbox_index'
down_revision = '0005_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_effects_undispatched", "effects", ["shop_id"],
                    postgresql_where=sa.text("dispatched_at IS NULL"),
                    sqlite_where=sa.text("dispatched_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_effects_undispatched", table_name="effects")
