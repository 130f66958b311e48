"""End to end with the real engine: Shopify webhooks in, customer messages out, a cancel."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.inventory.models import OrderLine
from app.domain.suppliers.models import PoStatus, PurchaseOrder, PurchaseOrderLine, Supplier
from tests.engine.conftest import VARIANT, fake_shopify, storefront  # noqa: F401  (fixtures)
from tests.notifications.conftest import World

PHONE_1, PHONE_2 = "+14155550101", "+14155550102"


def po_arriving(rt, shop_id: int, days: int) -> None:
    """One unit on a confirmed purchase order, expected in `days` days."""
    with unit_of_work(rt.sessions) as session:
        supplier = session.scalar(select(Supplier).where(Supplier.shop_id == shop_id))
        po = PurchaseOrder(shop_id=shop_id, supplier_id=supplier.id, number="PO-1",
                           status=PoStatus.CONFIRMED)
        po.lines.append(PurchaseOrderLine(shop_id=shop_id, variant_id=VARIANT, sku="SKU-1",
                                          quantity=1, expected_on=utcnow().date()
                                          + timedelta(days=days)))
        session.add(po)


def eta_of(rt, line_item_id: int):
    with rt.sessions() as session:
        return session.scalar(select(OrderLine.eta).where(OrderLine.line_item_id == line_item_id))


def test_backorders_are_announced_and_a_cancel_moves_the_next_customer_up(
        storefront, mrt, twilio, mailbox, client):  # noqa: F811
    mrt.admin_factory = storefront.rt.admin_factory  # jobs run with the messaging runtime
    World(storefront.rt, storefront.shop_id).settings()  # SMS on, no quiet hours
    po_arriving(storefront.rt, storefront.shop_id, days=4)
    storefront.stock(0, minute=0)
    storefront.order(1, minute=1, phone=PHONE_1, email="one@example.com")
    storefront.stock(-1, minute=1)
    storefront.order(2, minute=2, phone=PHONE_2, email="two@example.com")
    storefront.stock(-2, minute=2)
    storefront.settle()
    first_eta, second_eta = eta_of(storefront.rt, 10), eta_of(storefront.rt, 20)
    assert first_eta < second_eta  # the PO's unit goes to the oldest order

    assert sorted(m["To"] for m in mailbox.messages) == ["one@example.com", "two@example.com"]
    assert sorted(f["To"] for f in twilio.sent) == [PHONE_1, PHONE_2]

    # The first customer follows the link in their email and cancels.
    mail = next(m for m in mailbox.messages if m["To"] == "one@example.com")
    path = re.search(r"https://backorder\.test(/status/\S+)",
                     mail.get_body(("plain",)).get_content()).group(1)
    page = client.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"{path}/cancel", data={"line_item_id": "10", "csrf_token": csrf})
    assert response.status_code == 303
    storefront.settle()

    assert eta_of(storefront.rt, 20) == first_eta  # the second order moved up
    after = mailbox.messages[2:]
    subjects = sorted((m["To"], m["Subject"]) for m in after)
    assert subjects == [("one@example.com", "Order #1: backorder cancelled"),
                        ("two@example.com", "Order #2: a new expected ship date")]
    assert len(twilio.sent) == 4
