"""The service's small exception taxonomy.

Domain errors are the caller's fault and map to 4xx once, in app.web.errors.
Integration errors are either transient (retry with backoff) or permanent
(record, alert, never retry); workers decide what to do from the class alone.
"""

from __future__ import annotations


class BackorderError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(BackorderError):
    """A missing or malformed environment variable; the message names it."""


class DomainError(BackorderError):
    """The request cannot be honoured as asked; safe to show to the caller."""

    status_code = 400

    def __init__(self, message: str, *, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class InvalidInput(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class PayloadTooLarge(DomainError):
    status_code = 413


class IntegrationError(BackorderError):
    """A call to Shopify, Twilio, SMTP or a supplier did not succeed."""

    def __init__(self, message: str, *, code: str | int | None = None):
        super().__init__(message)
        self.code = code


class TransientError(IntegrationError):
    """Worth retrying later (timeouts, 429, 5xx, throttling)."""

    def __init__(self, message: str, *, code: str | int | None = None,
                 retry_after: float | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentError(IntegrationError):
    """Retrying cannot help: record it, alert, move on."""


class AuthRevoked(PermanentError):
    """The shop's token no longer works (401/403): the shop needs a reinstall."""
