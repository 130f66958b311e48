"""The app embedded in a (fake) Shopify admin, in headless Chromium.

The fake admin page, served by the local fake Shopify on its own origin, frames the
app's URL as Shopify does, without a session token. App Bridge's script cannot be
fetched here, so a stub stands in for it on the CDN's URL: `shopify.idToken()` hands out
a session token signed with the app's secret, `shopify.toast.show` records its toasts.
The app bounces for a token, exchanges it (managed install), and every fetch, link and
form afterwards carries a fresh one.
"""

from __future__ import annotations

import json

import pytest

from tests.merchant.conftest import session_token, shot
from tests.support.shopify_tokens import TOKEN_EXCHANGE

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]
SHOP = "embedded-tees.myshopify.com"
APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"


def stub_app_bridge(page, rt) -> None:
    """App Bridge as the app uses it: a fresh session token per load, recorded toasts."""
    def fulfil(route):
        token = json.dumps(session_token(rt, SHOP))
        route.fulfill(status=200, content_type="application/javascript", body=(
            "window.__toasts = [];"
            f"window.shopify = {{idToken: async () => {token}, toast: {{show: (message, o) =>"
            " window.__toasts.push([message, Boolean(o && o.isError)])}};"))
    page.route(APP_BRIDGE, fulfil)


def app_frame(page):
    frame = page.frame(name="app")
    frame.wait_for_load_state()
    return frame


def test_the_app_installs_and_works_inside_the_shopify_admin(page, live, shopify, admin, rt):
    stub_app_bridge(page, rt)
    shopify.app_url = live.url
    page.goto(f"{shopify.url}/{SHOP}/admin/apps/backorder")
    frame = page.frame_locator("#app")
    assert frame.locator("#shop-domain").inner_text() == SHOP  # bounced, exchanged, shown
    assert len(shopify.tokens.grants_of(TOKEN_EXCHANGE)) == 1
    shot(page, "20-embedded-dashboard")
    # App Bridge draws navigation and title in the admin; the app's own bar hides its nav.
    home = frame.locator('ui-nav-menu a[rel="home"]')
    assert home.get_attribute("href") == f"/app/?embedded=1&shop={SHOP}"
    assert frame.locator("ui-title-bar").get_attribute("title") == "Dashboard"
    assert not frame.locator(".topbar nav").is_visible()

    # A fetch carries the session token: no cookie reaches a third-party iframe.
    status = app_frame(page).evaluate(
        "async () => (await fetch('/app/settings/', {redirect: 'manual'})).status")
    assert status == 200

    # A link carries it too.
    frame.locator('ui-nav-menu a[href^="/app/settings/"]').evaluate("a => a.click()")
    frame.locator("#save-settings").wait_for()
    assert "id_token=" in app_frame(page).url

    # So does a form; its notice comes back as a toast.
    frame.locator("#mode-always").check()
    frame.locator("#save-settings").click()
    app_frame(page).wait_for_url("**notices=**")
    frame.locator("#save-settings").wait_for()
    toasts = app_frame(page).evaluate("() => window.__toasts")
    assert toasts and toasts[0][0].startswith("Settings saved") and toasts[0][1] is False
    assert frame.locator("#mode-always").is_checked()
    shot(page, "21-embedded-settings-saved")
