"""customers/redact and customers/data_request reach what notifications store."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.customers.models import CustomerDataExport
from app.domain.inventory.models import CustomerOrder
from app.domain.notifications.models import SmsConsent
from tests.conftest import WEBHOOK_SECRET
from tests.notifications.conftest import ETA, PHONE
from tests.support.shopify import post_webhook
from workers import notifications as jobs

OTHER_PHONE = "+14155550199"


def two_customers(world, run_jobs) -> None:
    world.order(1001, (11, "Linen Shirt", 1, 1, ETA), email_="ada@example.com",
                customer_id=191167, first_name="Ada")
    world.order(1002, (21, "Wool Socks", 1, 1, ETA), email_="bob@example.com",
                phone=OTHER_PHONE, first_name="Bob")
    world.effect(1001, 11, "line_backordered", new=ETA)
    world.effect(1002, 21, "line_backordered", new=ETA)
    jobs.dispatch_effects(world.shop_id)
    run_jobs()
    with unit_of_work(world.rt.sessions) as session:
        session.add_all([SmsConsent(shop_id=world.shop_id, phone=PHONE, opted_out=False),
                         SmsConsent(shop_id=world.shop_id, phone=OTHER_PHONE, opted_out=True)])


def request(world, kind: str) -> dict:
    from app.domain.shops.models import Shop
    with world.rt.sessions() as session:
        domain = session.get(Shop, world.shop_id).domain
    body = {"shop_id": 1, "shop_domain": domain,
            "customer": {"id": 191167, "email": "ada@example.com", "phone": None}}
    key = "orders_to_redact" if kind == "customers/redact" else "orders_requested"
    return domain, body | {key: [1001]}


def test_customers_redact_erases_the_customers_addresses_message_bodies_and_consent(
        world, mrt, client, run_jobs):
    two_customers(world, run_jobs)
    domain, body = request(world, "customers/redact")

    post_webhook(client, "customers/redact", body, secret=WEBHOOK_SECRET, shop=domain)
    run_jobs()

    rows = {n.order_id: [] for n in world.notifications()}
    for n in world.notifications():
        rows[n.order_id].append((n.recipient, n.subject, n.body, n.html, n.lines))
    assert rows[1001] == [(None, "", "", None, [])] * 2
    assert all(r[0] in ("bob@example.com", OTHER_PHONE) and r[2] for r in rows[1002])
    with world.rt.sessions() as session:
        assert list(session.scalars(select(SmsConsent.phone))) == [OTHER_PHONE]
        names = session.execute(select(CustomerOrder.order_id,
                                       CustomerOrder.customer_first_name)).all()
    assert dict(names) == {1001: None, 1002: "Bob"}


def test_customers_data_request_exports_the_customers_messages_and_consent(
        world, mrt, client, run_jobs):
    two_customers(world, run_jobs)
    domain, body = request(world, "customers/data_request")

    post_webhook(client, "customers/data_request", body, secret=WEBHOOK_SECRET, shop=domain)
    run_jobs()

    with world.rt.sessions() as session:
        export = json.loads(session.scalar(select(CustomerDataExport.content)))
    messages = export["notifications"]["messages"]
    assert {(m["channel"], m["recipient"]) for m in messages} == {
        ("email", "ada@example.com"), ("sms", PHONE)}
    assert all("Linen Shirt" in m["body"] and m["status"] == "sent" for m in messages)
    assert export["notifications"]["sms_consent"][0]["phone"] == PHONE
