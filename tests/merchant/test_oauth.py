"""Install through OAuth against a local fake Shopify, and every way a login can be forged."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.intake.topics import SUBSCRIBED_TOPICS
from app.domain.shops.models import Shop
from app.security import TokenCipher
from app.web.merchant import identity
from tests.merchant.conftest import csrf_token, login, session_token

SHOP = "shop-one.myshopify.com"
# Shopify's HMAC test secret (tests/conftest.py) is shorter than PyJWT recommends.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def start_install(client, shop: str = SHOP):
    """GET /auth/install; returns the permission URL's query (state, scopes, redirect_uri)."""
    response = client.get(f"/auth/install?shop={shop}")
    assert response.status_code == 302
    return response.headers["Location"], parse_qs(urlparse(response.headers["Location"]).query)


def follow_authorize(location: str) -> dict:
    """The merchant approves on (fake) Shopify, which redirects back with signed params."""
    answer = requests.get(location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlparse(answer.headers["Location"]).query).items()}


def shop_row(rt, domain: str = SHOP) -> Shop | None:
    with unit_of_work(rt.sessions) as session:
        return session.scalar(select(Shop).where(Shop.domain == domain))


def test_install_sends_the_merchant_to_shopify_with_our_scopes_and_a_state(client, shopify):
    location, query = start_install(client, "Shop-One.myshopify.com")
    assert location.startswith(f"{shopify.url}/{SHOP}/admin/oauth/authorize?")
    assert query["client_id"] == ["test-api-key"]
    assert query["redirect_uri"] == ["https://backorder.test/auth/callback"]
    assert set(query["scope"][0].split(",")) >= {"read_products", "write_inventory",
                                                 "write_orders", "write_order_edits"}
    with client.session_transaction() as session:
        assert session["oauth"]["state"] == query["state"][0]
        assert session["oauth"]["shop"] == SHOP


@pytest.mark.parametrize("domain", ["evil.com", "shop.myshopify.com.evil.com",
                                    "https://evil.com/?x=.myshopify.com", "", "sh op.myshopify.com"])
def test_install_refuses_anything_but_a_myshopify_domain(client, shopify, domain):
    response = client.get("/auth/install?" + urlencode({"shop": domain}))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_callback_stores_the_token_encrypted_subscribes_webhooks_and_logs_in(
        rt, client, shopify, admin, run_jobs, caplog):
    caplog.set_level(logging.DEBUG)
    location, _ = start_install(client)
    response = client.get("/auth/callback?" + urlencode(follow_authorize(location)))
    assert response.status_code == 302 and response.headers["Location"].endswith("/app/")
    (domain, token), = shopify.granted
    shop = shop_row(rt)
    assert shop.active and token not in shop.token_ciphertext
    cipher = TokenCipher(rt.settings.secret_key)
    assert cipher.decrypt(shop.token_ciphertext) == token
    # An expiring offline token (Shopify rejects public apps' others from 2027), with its
    # refresh token encrypted beside it.
    assert shopify.exchange_requests[0]["expiring"] == "1"
    refresh = cipher.decrypt(shop.refresh_token_ciphertext)
    assert refresh.startswith("shprt_") and refresh not in shop.refresh_token_ciphertext
    assert shop.token_expires_at > utcnow() + timedelta(minutes=55)
    assert shop.refresh_token_expires_at > utcnow() + timedelta(days=89)
    assert set(admin.webhooks) == set(SUBSCRIBED_TOPICS)
    assert set(admin.webhooks.values()) == {"https://backorder.test/webhooks/shopify"}
    page = client.get("/app/")
    assert page.status_code == 200 and SHOP in page.get_data(as_text=True)
    assert token not in page.get_data(as_text=True)
    for secret in (token, refresh, rt.settings.shopify_api_secret, shop.token_ciphertext):
        assert secret not in caplog.text  # not by us, requests, urllib3 or Flask
    admin.add_variant(55, sku="TEE", available={1: 3})
    run_jobs()  # the catalog sync queued at install
    assert ("iter_variants", ()) in admin.calls


def test_callback_with_a_tampered_parameter_is_refused(rt, client, shopify):
    location, _ = start_install(client)
    params = follow_authorize(location)
    params["code"] = "attacker-code"
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 403
    assert shop_row(rt) is None and not shopify.exchange_requests


def test_callback_with_another_state_is_refused(rt, client, shopify):
    start_install(client)
    params = shopify.callback_params(SHOP, "a-state-this-browser-never-got")
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 403
    assert shop_row(rt) is None


def test_callback_for_another_shop_than_the_install_started_is_refused(rt, client, shopify):
    _, query = start_install(client)
    params = shopify.callback_params("shop-two.myshopify.com", query["state"][0])
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 403
    assert shop_row(rt, "shop-two.myshopify.com") is None


def test_a_state_works_once(rt, client, shopify):
    location, _ = start_install(client)
    params = follow_authorize(location)
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 302
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 403


def test_a_callback_older_than_a_day_is_refused(rt, client, shopify):
    _, query = start_install(client)
    params = shopify.callback_params(SHOP, query["state"][0],
                                     timestamp=int(time.time()) - 2 * 86400)
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 403
    assert shop_row(rt) is None


def test_a_callback_without_an_install_in_this_browser_is_refused(rt, client, shopify):
    params = shopify.callback_params(SHOP, "whatever")
    assert client.get("/auth/callback?" + urlencode(params)).status_code == 403


def test_a_refused_code_exchange_installs_nothing(rt, client, shopify):
    shopify.refuse_exchange = True
    location, _ = start_install(client)
    response = client.get("/auth/callback?" + urlencode(follow_authorize(location)))
    assert response.status_code == 502
    assert shop_row(rt) is None
    assert client.get("/app/").status_code == 302  # not logged in


def test_an_uninstall_ends_the_merchants_session(rt, client, world):
    login(client, world.shop)
    assert client.get("/app/").status_code == 200
    with unit_of_work(rt.sessions) as session:
        session.get(Shop, world.shop_id).active = False
    response = client.get("/app/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_shopify_session_token_authenticates_an_embedded_request(rt, client, world):
    token = session_token(rt, world.shop.domain)
    response = client.get("/app/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{world.shop.domain} https://admin.shopify.com" in csp
    assert "X-Frame-Options" not in response.headers
    # Embedded forms carry the session token instead of a CSRF token.
    saved = client.post("/app/settings/overrides", data={"id_token": token, "target": "x"})
    assert saved.status_code == 400  # the form was read: the target is invalid


@pytest.mark.parametrize("change", [{"aud": "another-app"}, {"secret": "not-our-secret"},
                                    {"exp": int(time.time()) - 3600},
                                    {"dest": "https://unknown.myshopify.com"}])
def test_a_forged_or_foreign_session_token_is_refused(rt, client, world, change):
    token = session_token(rt, world.shop.domain, **change)
    assert client.get("/app/", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_login_link_logs_in_once(rt, client, world):
    link = identity.login_link(rt.settings, world.shop)
    path = urlparse(link).path
    assert client.get(path).status_code == 200  # a preview does not use it up
    token = csrf_token(client, path)
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/app/")
    assert client.get("/app/").status_code == 200
    again = client.post(path, data={"csrf_token": csrf_token(client)})
    assert again.status_code == 404


def test_a_tampered_login_link_is_refused(rt, client, world):
    path = urlparse(identity.login_link(rt.settings, world.shop)).path
    assert client.get(path[:-2] + "xx").status_code == 404
