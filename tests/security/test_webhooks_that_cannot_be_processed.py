"""Signed webhooks are refused at intake (400, nothing stored) when the worker could never
process them, and a payload that names its shop is accepted only from that shop."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.domain.intake.checks import MAX_DEPTH
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import CustomerOrder
from app.domain.shops.models import Shop
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, order_payload, post_webhook, sample_body

OTHER = "other-shop.myshopify.com"


def stored(rt) -> list[tuple[str, EventStatus]]:
    with rt.sessions() as session:
        return [tuple(row) for row in session.execute(
            select(WebhookEvent.topic, WebhookEvent.status).order_by(WebhookEvent.id))]


def nested(depth: int) -> bytes:
    """An app/uninstalled body whose `extra` nests `depth` levels in all."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return f'{{"id": 1, "domain": "{SHOP}", "extra": {inner}}}'.encode()


@pytest.mark.parametrize("depth", [1000, 1023])
def test_a_body_nested_deeper_than_the_worker_reads_is_refused(rt, client, depth):
    make_shop(rt, domain=SHOP)
    response = post_webhook(client, "app/uninstalled", nested(depth), secret=WEBHOOK_SECRET)
    assert response.status_code == 400
    assert "nests deeper" in response.get_data(as_text=True)
    assert stored(rt) == []


def test_a_body_nested_as_deep_as_intake_allows_is_processed(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    refused = post_webhook(client, "app/uninstalled", nested(MAX_DEPTH + 1),
                           secret=WEBHOOK_SECRET)
    # brackets inside strings are no nesting
    flat = json.dumps({"id": 1, "note": "[{" * 2000, "escaped": '\\"[' * 900}).encode()
    assert post_webhook(client, "products/delete", flat, secret=WEBHOOK_SECRET).status_code == 200
    assert post_webhook(client, "app/uninstalled", nested(MAX_DEPTH),
                        secret=WEBHOOK_SECRET).status_code == 200
    run_jobs()
    assert refused.status_code == 400
    [(_, flat_status), deep] = stored(rt)
    assert flat_status in (EventStatus.PROCESSED, EventStatus.IGNORED)  # read, nothing to do
    assert deep == ("app/uninstalled", EventStatus.PROCESSED)


def test_a_body_with_a_byte_order_mark_is_refused(rt, client):
    make_shop(rt, domain=SHOP)
    body = b"\xef\xbb\xbf" + json.dumps(order_payload(
        1, [(11, 101, 1)], created_at="2026-11-25T10:00:00Z")).encode()
    response = post_webhook(client, "orders/create", body, secret=WEBHOOK_SECRET)
    assert response.status_code == 400 and stored(rt) == []


# times with no UTC equivalent between years 1 and 9999, then times outside those years
EDGE_OFFSETS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"]
EDGE_TIMES = [*EDGE_OFFSETS, "10000-01-01T00:00:00Z", "0000-12-31T00:00:00Z"]


@pytest.mark.parametrize("when", EDGE_OFFSETS)
def test_a_triggered_at_header_beyond_years_1_to_9999_is_refused(rt, client, when):
    make_shop(rt, domain=SHOP)
    body = order_payload(1, [(11, 101, 1)], created_at="2026-11-25T10:00:00Z")
    response = post_webhook(client, "orders/create", body, secret=WEBHOOK_SECRET,
                            triggered_at=when)
    assert response.status_code == 400 and stored(rt) == []


@pytest.mark.parametrize("key", ["created_at", "updated_at", "cancelled_at"])
@pytest.mark.parametrize("when", EDGE_TIMES)
def test_a_payload_time_beyond_years_1_to_9999_is_refused(rt, client, key, when):
    make_shop(rt, domain=SHOP)
    body = order_payload(1, [(11, 101, 1)], created_at="2026-11-25T10:00:00Z") | {key: when}
    response = post_webhook(client, "orders/create", body, secret=WEBHOOK_SECRET)
    assert response.status_code == 400
    assert key in response.get_data(as_text=True) and stored(rt) == []


def test_shop_redact_leaves_a_shop_that_is_still_installed_alone(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    post_webhook(client, "orders/create", order_payload(
        1, [(11, 101, 1)], created_at="2026-11-25T10:00:00Z"), secret=WEBHOOK_SECRET)
    post_webhook(client, "shop/redact", sample_body("shop_redact.2025-01.json"),
                 secret=WEBHOOK_SECRET)
    run_jobs()
    with rt.sessions() as session:
        assert session.scalars(select(Shop.domain)).all() == [SHOP]
        assert session.scalar(select(CustomerOrder.order_id)) == 1


def test_shop_redact_waits_for_a_shop_that_reinstalled_after_the_request(
        rt, client, run_jobs):
    shop = make_shop(rt, domain=SHOP, active=False, token_ciphertext=None)
    post_webhook(client, "shop/redact", sample_body("shop_redact.2025-01.json"),
                 secret=WEBHOOK_SECRET)
    with rt.sessions() as session:  # reinstalled before the worker got to the request
        session.get(Shop, shop.id).active = True
        session.commit()
    run_jobs()
    with rt.sessions() as session:
        assert session.scalars(select(Shop.domain)).all() == [SHOP]


@pytest.mark.parametrize("topic, sample", [
    ("shop/redact", "shop_redact.2025-01.json"),
    ("customers/redact", "customers_redact.2025-01.json"),
    ("orders/create", "orders_create.2025-01.json")])
def test_a_body_that_names_its_shop_is_refused_under_another_shop(rt, client, topic, sample):
    make_shop(rt, domain=SHOP, active=False)
    make_shop(rt, domain=OTHER, active=False)
    body = sample_body(sample, shop=SHOP)
    refused = post_webhook(client, topic, body, secret=WEBHOOK_SECRET, shop=OTHER)
    assert refused.status_code == 400
    assert "names another shop" in refused.get_data(as_text=True)
    assert stored(rt) == []
    assert post_webhook(client, topic, body, secret=WEBHOOK_SECRET).status_code == 200


def test_one_captured_order_body_does_not_create_the_order_in_a_second_shop(
        rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    make_shop(rt, domain=OTHER)
    order = order_payload(1, [(11, 101, 1)], created_at="2026-11-25T10:00:00Z") | {
        "order_status_url": f"https://{SHOP}/548380009/orders/abcd/authenticate?key=k"}
    for shop in (SHOP, OTHER):
        post_webhook(client, "orders/create", order, secret=WEBHOOK_SECRET, shop=shop)
    run_jobs()
    with rt.sessions() as session:
        owners = session.scalars(select(Shop.domain).join(
            CustomerOrder, CustomerOrder.shop_id == Shop.id)).all()
    assert owners == [SHOP]
