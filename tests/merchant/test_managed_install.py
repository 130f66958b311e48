"""Managed installation: Shopify installs the app and opens it embedded with a session
token, which the service exchanges for the shop's expiring offline token at the local fake
Shopify's token endpoint. Registering, subscribing and the first sync happen once, and a
failure leaves nothing half registered."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.intake.topics import SUBSCRIBED_TOPICS
from app.domain.shops.models import Shop
from app.errors import TransientError
from app.jobs import SHOPIFY
from app.security import TokenCipher
from tests.merchant.conftest import session_token
from tests.support.shopify_tokens import ID_TOKEN, OFFLINE_TOKEN, SCOPES, TOKEN_EXCHANGE

SHOP = "managed-tees.myshopify.com"
# Shopify's HMAC test secret (tests/conftest.py) is shorter than PyJWT recommends.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def open_app(client, token: str, path: str = "/app/"):
    """What the admin does: load the app's page with the session token."""
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def shop_row(rt) -> Shop | None:
    with unit_of_work(rt.sessions) as session:
        return session.scalar(select(Shop).where(Shop.domain == SHOP))


def exchanges(shopify) -> list[dict]:
    return shopify.tokens.grants_of(TOKEN_EXCHANGE)


def queued_syncs(rt) -> int:
    return Queue(SHOPIFY, connection=rt.redis).count


def test_a_session_token_for_a_new_shop_installs_it_by_token_exchange(
        rt, client, shopify, admin, run_jobs):
    admin.add_variant(55, sku="TEE", available={1: 3})
    token = session_token(rt, SHOP)
    response = open_app(client, token)
    assert response.status_code == 200 and SHOP in response.get_data(as_text=True)
    (asked,) = exchanges(shopify)
    assert asked["subject_token"] == token and asked["subject_token_type"] == ID_TOKEN
    assert asked["requested_token_type"] == OFFLINE_TOKEN and asked["expiring"] == "1"
    assert asked["client_id"] == "test-api-key"
    shop, cipher = shop_row(rt), TokenCipher(rt.settings.secret_key)
    (_, granted), = shopify.granted
    assert shop.active and cipher.decrypt(shop.token_ciphertext) == granted
    assert cipher.decrypt(shop.refresh_token_ciphertext).startswith("shprt_")
    assert shop.token_expires_at > utcnow() + timedelta(minutes=55)
    assert set(admin.webhooks) == set(SUBSCRIBED_TOPICS)
    run_jobs()  # the first sync, queued by the install
    assert ("iter_variants", ()) in admin.calls
    # Installed now: later requests are served without another exchange.
    assert open_app(client, session_token(rt, SHOP, jti="j2")).status_code == 200
    assert len(exchanges(shopify)) == 1


@pytest.mark.parametrize("change", [{"exp": int(time.time()) - 60}, {"aud": "another-app"},
                                    {"secret": "not-our-secret"},
                                    {"dest": "https://other.myshopify.com"}])
def test_an_invalid_or_expired_session_token_is_refused_and_nothing_is_exchanged(
        rt, client, shopify, admin, change):
    response = open_app(client, session_token(rt, SHOP, **change))
    assert response.status_code == 401
    assert shopify.tokens.requests == [] and shop_row(rt) is None


@pytest.mark.parametrize("failure", ["refused", "500"])
def test_a_failed_exchange_shows_a_clear_page_and_registers_nothing(
        rt, client, shopify, admin, failure):
    if failure == "refused":
        shopify.refuse_exchange = True
    else:
        shopify.tokens.faults.append("500")
    response = open_app(client, session_token(rt, SHOP))
    page = response.get_data(as_text=True)
    assert response.status_code == 502
    assert "not installed yet" in page and "Reload the app from your Shopify admin" in page
    # The page may show inside the shop's admin, as the app would have.
    assert f"frame-ancestors {shopify.url} https://admin.shopify.com" in \
        response.headers["Content-Security-Policy"]
    assert shop_row(rt) is None and admin.webhooks == {} and queued_syncs(rt) == 0
    shopify.refuse_exchange = False  # Shopify answers again: reloading installs the shop
    assert open_app(client, session_token(rt, SHOP)).status_code == 200
    assert shop_row(rt).active


def test_a_failed_webhook_subscription_after_the_exchange_registers_nothing(
        rt, client, shopify, admin):
    admin.fail_next(1, TransientError("Shopify timed out"))
    assert open_app(client, session_token(rt, SHOP)).status_code == 502
    assert shop_row(rt) is None and queued_syncs(rt) == 0
    assert open_app(client, session_token(rt, SHOP)).status_code == 200
    assert shop_row(rt).active and set(admin.webhooks) == set(SUBSCRIBED_TOPICS)


def test_changed_scopes_are_exchanged_again(rt, client, shopify, admin):
    shopify.tokens.scopes = "read_products,write_products,read_inventory,write_inventory"
    assert open_app(client, session_token(rt, SHOP)).status_code == 200
    before = shop_row(rt)
    assert "write_discounts" not in before.scopes
    # The app now asks for more (shopify.app.toml); the merchant approved in the admin.
    shopify.tokens.scopes = SCOPES
    assert open_app(client, session_token(rt, SHOP, jti="j2")).status_code == 200
    after = shop_row(rt)
    assert len(exchanges(shopify)) == 2
    assert "write_discounts" in after.scopes and after.token_ciphertext != before.token_ciphertext
    assert open_app(client, session_token(rt, SHOP, jti="j3")).status_code == 200
    assert len(exchanges(shopify)) == 2  # nothing missing any more


def test_a_shop_that_must_reconnect_is_reconnected_by_opening_the_app(
        rt, client, shopify, admin):
    assert open_app(client, session_token(rt, SHOP)).status_code == 200
    with unit_of_work(rt.sessions) as session:
        session.scalar(select(Shop)).needs_reinstall = True  # its refresh token was revoked
    page = open_app(client, session_token(rt, SHOP, jti="j2"))
    assert page.status_code == 200 and 'id="reconnect"' not in page.get_data(as_text=True)
    assert not shop_row(rt).needs_reinstall and len(exchanges(shopify)) == 2
    with unit_of_work(rt.sessions) as session:
        assert session.scalar(select(func.count(Shop.id))) == 1


def test_a_non_expiring_token_from_an_earlier_install_is_exchanged_for_an_expiring_one(
        rt, client, shopify, admin, world):
    with unit_of_work(rt.sessions) as session:
        session.get(Shop, world.shop_id).scopes = "write_products,write_inventory"  # OAuth's
    assert open_app(client, session_token(rt, world.shop.domain)).status_code == 200
    assert len(exchanges(shopify)) == 1
    with unit_of_work(rt.sessions) as session:
        shop = session.get(Shop, world.shop_id)
        assert shop.refresh_token_ciphertext and shop.token_expires_at


def test_a_custom_app_shop_opened_embedded_keeps_its_token(rt, client, shopify, world):
    token = world.shop.token_ciphertext
    assert open_app(client, session_token(rt, world.shop.domain)).status_code == 200
    assert shopify.tokens.requests == []
    with unit_of_work(rt.sessions) as session:
        assert session.get(Shop, world.shop_id).token_ciphertext == token


def test_a_document_load_from_the_admin_without_a_token_gets_one_from_app_bridge(
        rt, client, shopify):
    response = client.get(f"/app/?embedded=1&shop={SHOP}&host=YWRtaW4")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-bounce="1"' in page
    assert '<meta name="shopify-api-key" content="test-api-key">' in page
    assert "https://cdn.shopify.com/shopifycloud/app-bridge.js" in page
    assert f"frame-ancestors {shopify.url} https://admin.shopify.com" in \
        response.headers["Content-Security-Policy"]
    assert shop_row(rt) is None
