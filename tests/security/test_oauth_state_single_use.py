"""OAuth's `state` works once on the server: a replayed cookie with its callback URL (both
as they were when the first install finished) is refused."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.merchant.test_oauth import follow_authorize, start_install


def test_a_replayed_cookie_and_callback_are_refused_after_the_first_use(app, rt, shopify):
    browser = app.test_client()
    location, _ = start_install(browser)
    cookie = browser.get_cookie("session").value  # holds the state, as a copy would
    callback = "/auth/callback?" + urlencode(follow_authorize(location))
    assert browser.get(callback).status_code == 302  # installed and logged in

    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get(callback).status_code == 403
    assert len(shopify.exchange_requests) == 1  # the code was not sent to Shopify again


def test_a_state_this_server_never_issued_is_refused_even_with_a_matching_cookie(
        app, rt, shopify):
    browser = app.test_client()
    location, _ = start_install(browser)
    params = follow_authorize(location)
    rt.redis.flushdb()  # the server forgot the state (expired): the cookie alone is no proof
    assert browser.get("/auth/callback?" + urlencode(params)).status_code == 403
