"""supplier endpoint secrets encrypted at rest, like shop tokens

Revision ID: 0010_i15b_supplier_secret
Revises: 0009_i15b_shop_session_version

Expand: a new column for the ciphertext (TokenCipher, from SECRET_KEY); secrets stored
in plain text so far move into it and the plain column is emptied. The plain column
stays until the next release drops it (contract). A database holding plain secrets
needs SECRET_KEY in the release process's environment; one without any does not.
"""
import os

import sqlalchemy as sa
from alembic import op

revision = '0010_i15b_supplier_secret'
down_revision = '0009_i15b_shop_session_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('suppliers', sa.Column('endpoint_secret_ciphertext', sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, endpoint_secret FROM suppliers "
                                "WHERE endpoint_secret IS NOT NULL")).all()
    if not rows:
        return
    secret_key = os.environ.get("SECRET_KEY", "").strip()
    if not secret_key:
        raise RuntimeError("SECRET_KEY is required to encrypt the suppliers' endpoint secrets")
    from app.security import TokenCipher
    cipher = TokenCipher(secret_key)
    for supplier_id, plain in rows:
        bind.execute(sa.text("UPDATE suppliers SET endpoint_secret_ciphertext = :c, "
                             "endpoint_secret = NULL WHERE id = :id"),
                     {"c": cipher.encrypt(plain), "id": supplier_id})


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, endpoint_secret_ciphertext FROM suppliers "
                                "WHERE endpoint_secret_ciphertext IS NOT NULL")).all()
    if rows:
        from app.security import TokenCipher
        cipher = TokenCipher(os.environ.get("SECRET_KEY", "").strip())
        for supplier_id, ciphertext in rows:
            bind.execute(sa.text("UPDATE suppliers SET endpoint_secret = :p WHERE id = :id"),
                         {"p": cipher.decrypt(ciphertext), "id": supplier_id})
    op.drop_column('suppliers', 'endpoint_secret_ciphertext')
