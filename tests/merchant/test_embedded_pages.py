"""Pages inside Shopify admin: App Bridge, its navigation, title bar and toasts, the
session token instead of cookies, and framing allowed to exactly the shop's admin."""

from __future__ import annotations

import re

import pytest

from tests.merchant.conftest import login, session_token
from tests.merchant.test_pages import settings_form

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def embedded_get(client, token: str, path: str = "/app/"):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_an_embedded_page_loads_app_bridge_with_its_menu_and_title_bar(rt, client, world):
    page = embedded_get(client, session_token(rt, world.shop.domain),
                        "/app/backorders/").get_data(as_text=True)
    assert '<meta name="shopify-api-key" content="test-api-key">' in page
    assert '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>' in page
    menu = re.search(r"<ui-nav-menu>(.*?)</ui-nav-menu>", page, re.S).group(1)
    assert f'href="/app/?embedded=1&amp;shop={world.shop.domain}" rel="home"' in menu
    assert menu.count("<a ") == 6
    assert '<ui-title-bar title="Backorders"></ui-title-bar>' in page


def test_a_standalone_page_has_no_app_bridge_and_cannot_be_framed(rt, client, world):
    login(client, world.shop)
    response = client.get("/app/")
    page = response.get_data(as_text=True)
    assert "app-bridge.js" not in page and "<ui-nav-menu>" not in page
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_each_shop_may_be_framed_only_by_its_own_admin(rt, client, world, other_world):
    for shop in (world.shop, other_world.shop):
        csp = embedded_get(client, session_token(rt, shop.domain)).headers[
            "Content-Security-Policy"]
        ancestors = csp.split("frame-ancestors ", 1)[1].split(";")[0]
        assert ancestors == f"https://{shop.domain} https://admin.shopify.com"


def test_an_embedded_form_comes_back_with_its_token_and_its_notice_as_a_toast(
        rt, client, world):
    token = session_token(rt, world.shop.domain)
    saved = client.post("/app/settings/", data={"id_token": token, **settings_form()})
    assert saved.status_code == 303
    target = saved.headers["Location"]
    assert f"id_token={token}" in target and "notices=" in target
    page = client.get(target).get_data(as_text=True)
    assert re.search(r'<p class="banner notice" role="status" data-toast="notice">'
                     r"Settings saved", page)


def test_a_notice_not_signed_by_the_app_is_not_shown(rt, client, world):
    token = session_token(rt, world.shop.domain)
    page = client.get(f"/app/?id_token={token}&notices=Call+555-0100+to+claim+a+refund")
    assert page.status_code == 200 and "555-0100" not in page.get_data(as_text=True)
