"""Secrets derived from SECRET_KEY: token encryption at rest and signed links."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import NotFound


def _derive(secret_key: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{secret_key}".encode()).digest()


class TokenCipher:
    """Encrypts Admin API tokens at rest (Fernet: AES-128-CBC + HMAC)."""

    def __init__(self, secret_key: str):
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret_key, "token-at-rest")))

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("token cannot be decrypted with this SECRET_KEY") from exc


class LinkSigner:
    """Signed, expiring tokens for customer status and supplier PO links."""

    def __init__(self, secret_key: str, purpose: str):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=f"backorder:{purpose}")

    def sign(self, payload: dict) -> str:
        return self._serializer.dumps(payload)

    def load(self, token: str, *, max_age_seconds: int) -> dict:
        """The signed payload; NotFound for a tampered or expired token."""
        try:
            return self._serializer.loads(token, max_age=max_age_seconds)
        except SignatureExpired as exc:
            raise NotFound("This link has expired.") from exc
        except BadSignature as exc:
            raise NotFound("This link is not valid.") from exc
