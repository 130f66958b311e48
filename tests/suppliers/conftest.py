"""Fixtures for supplier tests: a shop world, a real SMTP server, a fake Shopify."""

from __future__ import annotations

import email
import email.policy
import threading

import pytest
from aiosmtpd.controller import Controller

from tests.suppliers.world import World
from tests.support.processes import free_port


@pytest.fixture
def world(rt):
    return World(rt)


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts; `reply` can refuse DATA."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.replies: list[str] = []  # answers to the next DATA commands, then 250
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.replies:
                return self.replies.pop(0)
            self.messages.append(email.message_from_bytes(envelope.content,
                                                          policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp(rt, monkeypatch):
    """A real SMTP server on loopback; the runtime's settings send email through it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(
        smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
        mail_from="shop@example.com"))
    yield mailbox
    controller.stop()


@pytest.fixture
def shopify(rt, monkeypatch):
    """The Shopify Admin every job builds, replaced by the in-memory twin."""
    from integrations import factory
    from integrations.shopify.fake import FakeShopifyAdmin
    fake = FakeShopifyAdmin()
    monkeypatch.setattr(rt, "admin_factory", lambda domain, token: fake)
    monkeypatch.setattr(factory, "shopify_admin", lambda settings, domain, token: fake)
    return fake
