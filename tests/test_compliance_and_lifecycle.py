"""app/uninstalled and the mandatory compliance topics."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.domain.customers.models import CustomerDataExport
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.shops.models import Shop
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, post_webhook, sample_body


def test_uninstall_deactivates_the_shop_forgets_its_token_and_ignores_later_webhooks(
        rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    post_webhook(client, "app/uninstalled", {"id": 1, "domain": SHOP}, secret=WEBHOOK_SECRET)
    run_jobs()
    post_webhook(client, "orders/create", {"id": 2}, secret=WEBHOOK_SECRET)
    assert run_jobs() == 0
    with rt.sessions() as session:
        shop = session.scalar(select(Shop))
        assert (shop.active, shop.token_ciphertext) == (False, None)
        latest = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id.desc())).first()
        assert latest.status == EventStatus.IGNORED


def test_shop_redact_erases_everything_stored_for_the_shop_after_uninstall(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    other = make_shop(rt, domain="other.myshopify.com")
    post_webhook(client, "orders/create", {"id": 1}, secret=WEBHOOK_SECRET)
    post_webhook(client, "orders/create", {"id": 1}, secret=WEBHOOK_SECRET,
                 shop="other.myshopify.com")
    post_webhook(client, "app/uninstalled", {"id": 1}, secret=WEBHOOK_SECRET)
    run_jobs()
    post_webhook(client, "shop/redact", sample_body("shop_redact.2025-01.json"),
                 secret=WEBHOOK_SECRET)
    run_jobs()
    with rt.sessions() as session:
        assert session.scalars(select(Shop.domain)).all() == ["other.myshopify.com"]
        remaining = session.execute(select(WebhookEvent.topic, WebhookEvent.shop_id)
                                    .order_by(WebhookEvent.id)).all()
    # The other shop's event stays; the request itself is kept, detached, as the record.
    assert [tuple(r) for r in remaining] == [("orders/create", other.id), ("shop/redact", None)]


def test_customers_redact_erases_the_customers_order_payloads(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    request = json.loads(sample_body("customers_redact.2025-01.json"))
    redacted_order, kept_order = request["orders_to_redact"][0], 424242
    for order_id in (redacted_order, kept_order):
        post_webhook(client, "orders/create", {"id": order_id, "email": "john@example.com"},
                     secret=WEBHOOK_SECRET)
    post_webhook(client, "customers/redact", request, secret=WEBHOOK_SECRET)
    run_jobs()
    with rt.sessions() as session:
        payloads = dict(session.execute(select(WebhookEvent.resource_id, WebhookEvent.payload)
                                        .where(WebhookEvent.topic == "orders/create")).all())
        request_row = session.scalar(select(WebhookEvent.payload)
                                     .where(WebhookEvent.topic == "customers/redact"))
    assert json.loads(payloads[redacted_order]) == {"redacted": True}
    assert "john@example.com" in payloads[kept_order]
    assert "john@example.com" not in request_row


def test_customers_data_request_produces_an_export_of_what_is_stored(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    request = json.loads(sample_body("customers_data_request.2025-01.json"))
    order_id = request["orders_requested"][0]
    post_webhook(client, "orders/create", {"id": order_id, "email": "john@example.com"},
                 secret=WEBHOOK_SECRET)
    post_webhook(client, "customers/data_request", request, secret=WEBHOOK_SECRET)
    run_jobs()
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CustomerDataExport)) == 1
        export = json.loads(session.scalar(select(CustomerDataExport.content)))
    assert export["email"] == request["customer"]["email"]
    assert export["webhooks"][0]["payload"]["id"] == order_id


def test_a_data_request_naming_an_email_with_a_nul_character_fails_as_invalid_input(
        rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    post_webhook(client, "customers/data_request",
                 {"customer": {"id": 1, "email": "\u0000"}, "orders_requested": [1]},
                 secret=WEBHOOK_SECRET)
    run_jobs()
    with rt.sessions() as session:
        event = session.scalar(select(WebhookEvent))
    assert event.status == EventStatus.FAILED
    assert event.last_error.startswith("InvalidInput: customer.email holds a NUL character")
