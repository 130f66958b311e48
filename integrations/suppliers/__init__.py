"""Supplier channels: email and HTTP, picked per supplier by `supplier_channel`."""

from __future__ import annotations

from urllib.parse import urlparse

from app.config import Settings
from app.domain.ports import SupplierChannel
from integrations.factory import email_sender
from integrations.suppliers.email import EmailSupplierChannel
from integrations.suppliers.http import HttpSupplierChannel


def supplier_channel(settings: Settings, *, endpoint_url: str | None,
                     endpoint_secret: str | None) -> SupplierChannel:
    """HTTP when the supplier has an endpoint, else email (SMTP, or the console in dev)."""
    if endpoint_url:
        return HttpSupplierChannel(secret=endpoint_secret,
                                   allow_loopback=settings.supplier_loopback_allowed,
                                   timeout=(min(5.0, settings.http_timeout), settings.http_timeout))
    domain = urlparse(settings.public_url).hostname or "backorder.invalid"
    return EmailSupplierChannel(email_sender(settings), message_id_domain=domain)
