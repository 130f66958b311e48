"""A partly backordered line: the customer cancels only the backordered units, or all of it
(issue 14, part 3). The page and the message say what was cancelled and what still ships."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.customer_options.models import LineCancellation
from app.domain.inventory.models import OrderLine, Variant
from app.domain.notifications.links import StatusLinks
from app.domain.notifications.models import Notification
from app.domain.notifications.service import dispatch_effects
from tests.engine.conftest import VARIANT, at
from tests.support.shopify import order_payload

LINE = 10070  # order #1007's line: 2 units, 1 covered by the one in stock


def status_page(storefront) -> tuple[str, str]:
    links = StatusLinks(storefront.rt.settings.secret_key, storefront.rt.settings.public_url)
    path = "/status/" + links.token(storefront.shop_id, 1007)
    return path, storefront.client.get(path).get_data(as_text=True)


def dispatch(storefront, *, minutes: int) -> None:
    """Create the customer messages, as the notifier does once the grouping window passed."""
    links = StatusLinks(storefront.rt.settings.secret_key, storefront.rt.settings.public_url)
    with unit_of_work(storefront.rt.sessions) as session:
        dispatch_effects(session, storefront.shop_id, links=links,
                         now=utcnow() + timedelta(minutes=minutes))


def partly_backordered(storefront) -> tuple[str, str]:
    storefront.stock(1, minute=0)
    storefront.order(1007, 2, minute=1, line_id=LINE)
    storefront.settle()
    dispatch(storefront, minutes=2)  # the customer is told 1 of 2 is backordered
    path, page = status_page(storefront)
    assert "Backordered (1 of 2)" in page
    return path, page


def cancel(storefront, path: str, page: str, units: str):
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = storefront.client.post(f"{path}/cancel", data={
        "csrf_token": csrf, "line_item_id": str(LINE), "units": units})
    assert response.status_code == 303
    storefront.settle()
    dispatch(storefront, minutes=4)


def told(storefront) -> list[str]:
    with storefront.rt.sessions() as session:
        return list(session.scalars(select(Notification.body)
                                    .where(Notification.kind == "cancelled",
                                           Notification.channel == "email")))


def test_the_page_offers_both_and_the_whole_line_cancels_both_units_with_nothing_shipping(
        storefront):
    path, page = partly_backordered(storefront)
    assert "Cancel only the 1 backordered (1 in stock still ships)" in page
    assert "Cancel all 2" in page

    cancel(storefront, path, page, "all")

    with storefront.rt.sessions() as session:
        line = session.scalar(select(OrderLine).where(OrderLine.line_item_id == LINE))
        edit = session.scalar(select(LineCancellation))
    assert (line.open_quantity, line.cancelled_by_customer) == (0, True)
    assert (edit.quantity, edit.kept_quantity) == (2, 0)
    [body] = told(storefront)
    assert "2 x Item 1001: backorder cancelled" in body and "still ship" not in body


def test_cancelling_only_the_backordered_units_keeps_the_covered_one_shipping(storefront):
    path, page = partly_backordered(storefront)

    cancel(storefront, path, page, "backordered")

    with storefront.rt.sessions() as session:
        line = session.scalar(select(OrderLine).where(OrderLine.line_item_id == LINE))
        edit = session.scalar(select(LineCancellation))
        variant = session.scalar(select(Variant))
    assert (line.open_quantity, line.backordered, line.cancelled_by_customer) == (1, 0, False)
    assert (edit.quantity, edit.kept_quantity) == (1, 1)  # the order edit keeps 1 unit
    assert variant.backordered_units == 0
    _, page = status_page(storefront)
    assert "1 cancelled at your request; 1 still ships, ready to ship" in page
    [body] = told(storefront)
    assert "1 x Item 1001: backorder cancelled" in body and "; 1 still ships" in body


def test_the_status_page_and_messages_name_the_variant_not_only_the_product(storefront):
    payload = order_payload(1007, [(LINE, VARIANT, 1)], created_at=at(1))
    payload["line_items"][0].update(title="Merino Beanie", variant_title="Charcoal / M",
                                    name="Merino Beanie - Charcoal / M")
    storefront.send("orders/create", payload)
    storefront.settle()
    dispatch(storefront, minutes=2)

    _, page = status_page(storefront)
    assert "<td>Merino Beanie - Charcoal / M</td>" in page
    with storefront.rt.sessions() as session:
        bodies = session.scalars(select(Notification.body)).all()
    assert bodies and all("1 x Merino Beanie - Charcoal / M:" in b or
                          "1x Merino Beanie - Charcoal / M " in b for b in bodies)
