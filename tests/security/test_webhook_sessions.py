"""Webhooks are posted by machines that sign them: no browser session is read or saved
for them, while the pages people use keep theirs."""

from __future__ import annotations

from flask import session

from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, sample_body, webhook_headers


def test_a_webhook_gets_no_session_and_sets_no_cookie(rt, app, client):
    make_shop(rt, domain=SHOP)
    body = sample_body("orders_create.2025-01.json")
    with app.test_request_context("/webhooks/shopify", method="POST"):
        assert app.session_interface.is_null_session(session)
    client.set_cookie("session", "forged-or-stale")
    response = client.post("/webhooks/shopify", data=body,
                           headers=webhook_headers(body, "orders/create", secret=WEBHOOK_SECRET))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.vary


def test_the_pages_still_have_their_signed_session(app):
    with app.test_request_context("/auth/login"):
        app.preprocess_request()
        assert not app.session_interface.is_null_session(session)
        session["seen"] = True  # a null session would refuse this
