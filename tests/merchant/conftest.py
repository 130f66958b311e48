"""Fixtures for the merchant pages: a fake Shopify for OAuth, logged-in clients, shop worlds,
and headless Chromium (Debian's, driven by Playwright) with the app served on loopback."""

from __future__ import annotations

import re
import time
from pathlib import Path

import jwt
import pytest

from app.web import create_app
from app.web.merchant.identity import installed_stamp
from integrations.shopify.fake import FakeShopifyAdmin
from tests.merchant.fake_shopify import FakeShopify, ServedApp
from tests.suppliers.world import World
from tests.support.browser import chromium, new_page
from tests.support.factories import make_shop
from tests.support.processes import free_port

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "merchant"


@pytest.fixture
def admin(rt, monkeypatch):
    """The Shopify Admin API every shop gets (web and jobs): one in-memory twin."""
    from integrations import factory
    fake = FakeShopifyAdmin()
    monkeypatch.setattr(rt, "admin_factory", lambda domain, token: fake)
    monkeypatch.setattr(factory, "shopify_admin", lambda settings, domain, token: fake)
    return fake


@pytest.fixture
def shopify(rt, monkeypatch, admin):
    """A fake Shopify on loopback answering OAuth; the runtime's settings point at it."""
    fake = FakeShopify(api_key=rt.settings.shopify_api_key, secret=rt.settings.shopify_api_secret)
    with ServedApp(fake) as served:
        template = f"{served.url}/{{shop}}/admin/api/{{version}}/graphql.json"
        monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(
            shopify_admin_api_url=template))
        fake.url = served.url
        yield fake


@pytest.fixture
def world(rt):
    """Shop A: a shop with its settings row, and helpers to give it stock, orders, suppliers."""
    return World(rt)


@pytest.fixture
def other_world(rt):
    """Shop B, whose data shop A must never see or change."""
    return World(rt)


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def live(rt, monkeypatch, shopify):
    """The app on a loopback port; PUBLIC_URL points at it so OAuth comes back to it."""
    port = free_port()
    monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(
        public_url=f"http://127.0.0.1:{port}"))
    with ServedApp(create_app(runtime=rt), port) as served:
        yield served


@pytest.fixture
def page(browser):
    with new_page(browser, width=1280, height=900, timeout_ms=10_000) as opened:
        yield opened


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(client, shop) -> None:
    """Log the client in as the merchant of `shop` (what OAuth or a login link ends with)."""
    with client.session_transaction() as session:
        session["shop_id"] = shop.id
        session["installed_at"] = installed_stamp(shop)


def csrf_token(client, path: str = "/app/settings/") -> str:
    """The CSRF token a page of the app hands out to this client."""
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


@pytest.fixture
def merchant_client(client, world, admin):
    """A client logged in as shop A's merchant (jobs talk to the in-memory Shopify)."""
    login(client, world.shop)
    return client


def session_token(rt, shop: str, **changes) -> str:
    """An App Bridge session token (a JWT signed with the app's secret) for the shop."""
    now = int(time.time())
    claims = {"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": "test-api-key",
              "sub": "42", "exp": now + 60, "nbf": now - 5, "iat": now - 5, "jti": "j1",
              "sid": "s1", **changes}
    secret = changes.pop("secret", None) or rt.settings.shopify_api_secret
    claims.pop("secret", None)
    return jwt.encode(claims, secret, algorithm="HS256")


__all__ = ["csrf_token", "login", "make_shop", "session_token", "shot"]
