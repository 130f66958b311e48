"""Logging out ends the session for good: a copy of the cookie replayed afterwards, and
every other cookie session of the shop, no longer opens the merchant pages."""

from __future__ import annotations

import re

from app.web.merchant.identity import login_link
from tests.support.factories import make_shop

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def logged_in(app, rt, shop):
    """A browser that logged in with a one-time link, as a custom-app merchant does."""
    browser = app.test_client()
    path = login_link(rt.settings, shop).removeprefix(rt.settings.public_url)
    page = browser.get(path).get_data(as_text=True)
    browser.post(path, data={"csrf_token": CSRF.search(page).group(1)})
    assert browser.get("/app/").status_code == 200
    return browser


def replayed(app, cookie: str):
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def test_a_cookie_replayed_after_logout_no_longer_works(app, rt):
    shop = make_shop(rt)
    browser, other_device = logged_in(app, rt, shop), logged_in(app, rt, shop)
    copied = browser.get_cookie("session").value
    assert replayed(app, copied).get("/app/").status_code == 200

    token = CSRF.search(browser.get("/app/").get_data(as_text=True)).group(1)
    assert browser.post("/auth/logout", data={"csrf_token": token}).status_code == 303

    for client in (replayed(app, copied), other_device):
        response = client.get("/app/")
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert logged_in(app, rt, shop).get("/app/").status_code == 200  # a new login works
