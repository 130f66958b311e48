"""The customer's status page: lines, dates, history, cancelling; bad links get a clear page."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from app.domain.inventory.models import Effect, OrderLine
from app.domain.notifications.links import STATUS_LINK_MAX_AGE, StatusLinks
from tests.notifications.conftest import ETA
from workers import notifications as jobs


def link_path(world, order_id: int = 1001) -> str:
    links = StatusLinks(world.rt.settings.secret_key, world.rt.settings.public_url)
    return "/status/" + links.token(world.shop_id, order_id)


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def order_page(world, mrt, run_jobs):
    world.order(1001, (11, "Linen Shirt", 2, 2, ETA), (12, "Wool Socks", 1, 0, None),
                name="#1001")
    world.effect(1001, 11, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    run_jobs()
    return link_path(world)


def test_the_page_shows_each_line_its_state_and_date_and_the_messages_sent(world, mapp,
                                                                           order_page):
    response = mapp.test_client().get(order_page)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Order #1001" in html and "Fern &amp; Co" in html
    assert "Linen Shirt" in html and "Backordered (2 of 2)" in html and "March 14, 2030" in html
    assert "Wool Socks" in html and "Ready to ship" in html
    assert html.count("Email · Backorder notice") == 1 and html.count("SMS · Backorder notice") == 1
    assert html.count('name="line_item_id"') == 1  # a cancel button for the backordered line only
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_tampered_link_gets_a_clear_404_page_and_no_stack_trace(mapp, world):
    token = link_path(world).rsplit("/", 1)[1]
    client = mapp.test_client()
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x" + token[1:],
                "not-a-token"):
        response = client.get(f"/status/{bad}")

        html = response.get_data(as_text=True)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "This link is not valid." in html and "Traceback" not in html


def test_an_expired_link_says_so(mapp, world):
    class Backdated(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - STATUS_LINK_MAX_AGE - 60
    old = URLSafeTimedSerializer(world.rt.settings.secret_key, salt="backorder:status",
                                 signer=Backdated).dumps({"shop": world.shop_id, "order": 1001})

    response = mapp.test_client().get(f"/status/{old}")

    assert response.status_code == 404
    assert "This link has expired." in response.get_data(as_text=True)


def test_a_valid_link_to_an_order_that_is_gone_gets_the_same_clear_page(mapp, world):
    response = mapp.test_client().get(link_path(world, 999))
    assert response.status_code == 404
    assert "We could not find this order." in response.get_data(as_text=True)


def test_a_link_signed_for_another_purpose_is_refused(mapp, world):
    from app.security import LinkSigner
    token = LinkSigner(world.rt.settings.secret_key, "supplier").sign(
        {"shop": world.shop_id, "order": 1001})
    assert mapp.test_client().get(f"/status/{token}").status_code == 404


# --- cancelling -----------------------------------------------------------------------

def cancel(client, path: str, line_item_id: int, *, csrf: str | None):
    form = {"line_item_id": str(line_item_id)} | ({"csrf_token": csrf} if csrf else {})
    return client.post(f"{path}/cancel", data=form)


def test_cancelling_records_it_alerts_the_merchant_and_confirms_on_the_page(world, mapp,
                                                                           order_page):
    client = mapp.test_client()
    csrf = csrf_from(client.get(order_page).get_data(as_text=True))

    response = cancel(client, order_page, 11, csrf=csrf)

    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your cancellation is recorded" in page and "Cancelled at your request" in page
    assert "Cancel this item" not in page
    with world.rt.sessions() as session:
        line = session.scalar(select(OrderLine).where(OrderLine.line_item_id == 11))
        assert (line.cancelled_by_customer, line.open_quantity) == (True, 0)
        alert = session.scalar(select(Effect).where(Effect.kind == "line_cancelled_by_customer"))
        assert (alert.order_id, alert.line_item_id, alert.new) == (1001, 11, "2030-03-14")


def test_a_cancel_without_the_csrf_token_is_refused(world, mapp, order_page):
    client = mapp.test_client()
    client.get(order_page)

    response = cancel(client, order_page, 11, csrf=None)

    assert response.status_code == 400
    assert "reload" in response.get_data(as_text=True)
    with world.rt.sessions() as session:
        assert session.scalar(select(OrderLine.cancelled_by_customer)
                              .where(OrderLine.line_item_id == 11)) is False


def test_a_line_that_is_not_backordered_cannot_be_cancelled_here(world, mapp, order_page):
    client = mapp.test_client()
    csrf = csrf_from(client.get(order_page).get_data(as_text=True))

    response = cancel(client, order_page, 12, csrf=csrf)

    assert response.status_code == 409
    assert "can no longer be cancelled" in response.get_data(as_text=True)


def test_a_cancel_with_a_tampered_link_changes_nothing(world, mapp, order_page):
    client = mapp.test_client()
    csrf = csrf_from(client.get(order_page).get_data(as_text=True))

    response = cancel(client, order_page[:-3] + "xyz", 11, csrf=csrf)

    assert response.status_code == 404
    with world.rt.sessions() as session:
        assert session.scalar(select(OrderLine.cancelled_by_customer)
                              .where(OrderLine.line_item_id == 11)) is False


def test_the_merchant_alert_is_not_messaged_to_the_customer(world, mrt, mapp, order_page,
                                                            twilio, mailbox, run_jobs):
    client = mapp.test_client()
    cancel(client, order_page, 11, csrf=csrf_from(client.get(order_page).get_data(as_text=True)))

    jobs.dispatch_effects(world.shop_id)
    run_jobs()

    assert len(mailbox.messages) == 1 and len(twilio.sent) == 1  # only the first notice
    with world.rt.sessions() as session:
        assert session.scalar(select(Effect.dispatched_at)
                              .where(Effect.kind == "line_cancelled_by_customer")) is None


def test_expected_date_for_a_dateless_backorder_reads_not_known_yet(world, mrt, mapp):
    world.order(1001, (11, "Linen Shirt", 1, 1, None))
    html = mapp.test_client().get(link_path(world)).get_data(as_text=True)
    assert "Not known yet" in html
    assert date.today().year  # the page renders without a date at all
