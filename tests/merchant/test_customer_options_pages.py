"""The merchant's side of the customer options: settings, alternatives, the requests page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.customer_options.models import (
    Alternative,
    EditStatus,
    LineCancellation,
    OrderDiscount,
    RefundStatus,
)
from app.domain.inventory.models import ShopSettings
from tests.merchant.conftest import csrf_token
from tests.merchant.test_pages import settings_form


def test_customer_options_are_off_by_default_and_saved_from_the_settings_page(
        rt, merchant_client, world):
    page = merchant_client.get("/app/settings/").get_data(as_text=True)
    assert 'id="edit_order_on_cancel" name="edit_order_on_cancel" value="on">' in page
    assert 'id="goodwill_enabled" name="goodwill_enabled" value="on">' in page
    # The refund only ever follows an edit, so it is on until the merchant says otherwise.
    assert 'id="refund_on_cancel" name="refund_on_cancel" value="on" checked>' in page

    form = settings_form(edit_order_on_cancel="on", refund_on_cancel="on",
                         goodwill_enabled="on", goodwill_after_days="21",
                         goodwill_kind="fixed_amount", goodwill_value="5.50")
    response = merchant_client.post("/app/settings/", data=form | {
        "csrf_token": csrf_token(merchant_client)})

    assert response.status_code == 303
    with rt.sessions() as session:
        assert session.get(ShopSettings, world.shop_id).extra["customer_options"] == {
            "edit_order_on_cancel": True, "refund_on_cancel": True, "goodwill_enabled": True,
            "goodwill_after_days": 21, "goodwill_kind": "fixed_amount", "goodwill_value": "5.50"}


def test_the_merchant_turns_the_refund_off_and_the_page_shows_it_off(
        rt, merchant_client, world):
    form = settings_form(edit_order_on_cancel="on")  # refund_on_cancel unticked
    merchant_client.post("/app/settings/", data=form | {
        "csrf_token": csrf_token(merchant_client)})

    with rt.sessions() as session:
        options = session.get(ShopSettings, world.shop_id).extra["customer_options"]
        assert (options["edit_order_on_cancel"], options["refund_on_cancel"]) == (True, False)
    page = merchant_client.get("/app/settings/").get_data(as_text=True)
    assert 'id="refund_on_cancel" name="refund_on_cancel" value="on">' in page


def test_a_bad_goodwill_value_is_shown_next_to_its_field_and_nothing_is_saved(
        rt, merchant_client, world):
    form = settings_form(goodwill_enabled="on", goodwill_after_days="21",
                         goodwill_kind="percentage", goodwill_value="250")
    response = merchant_client.post("/app/settings/", data=form | {
        "csrf_token": csrf_token(merchant_client)})

    assert response.status_code == 400
    assert 'id="goodwill_value-error"' in response.get_data(as_text=True)
    with rt.sessions() as session:
        assert "customer_options" not in session.get(ShopSettings, world.shop_id).extra


def test_the_merchant_links_an_alternative_on_the_settings_page(rt, merchant_client, world):
    world.variant(11, "TEE-M")
    world.variant(12, "TEE-L")

    response = merchant_client.post("/app/settings/alternatives", data={
        "target": "variant:11", "alternative": "variant:12",
        "csrf_token": csrf_token(merchant_client)})

    assert response.status_code == 303
    with rt.sessions() as session:
        [link] = session.scalars(select(Alternative)).all()
        assert (link.shop_id, link.scope, link.target_id, link.alternative_variant_id) == (
            world.shop_id, "variant", 11, 12)
    assert "TEE-L" in merchant_client.get("/app/settings/").get_data(as_text=True)


def test_failed_edits_and_codes_are_shown_on_the_requests_page(rt, merchant_client, world):
    now = datetime.now(UTC)
    with unit_of_work(rt.sessions) as session:
        session.add(LineCancellation(shop_id=world.shop_id, order_id=1001, line_item_id=11,
                                     title="Linen Shirt", quantity=2, kept_quantity=0,
                                     edit_status=EditStatus.FAILED, edit_attempts=1,
                                     edit_error="PermanentError: orderEditBegin rejected",
                                     created_at=now, updated_at=now))
        session.add(OrderDiscount(shop_id=world.shop_id, order_id=1001, code="WAIT-1001-ABC",
                                  kind="percentage", value="10", status="failed", attempts=1,
                                  last_error="PermanentError: Value is invalid",
                                  created_at=now, updated_at=now))

    html = merchant_client.get("/app/requests/").get_data(as_text=True)

    assert "2 Shopify changes did not go through" in html
    assert "Edit failed" in html and "orderEditBegin rejected" in html
    assert "WAIT-1001-ABC" in html and "create this code by hand" in html


def test_refunds_are_shown_with_the_cancellation_failed_ones_with_why(
        rt, merchant_client, world):
    now = datetime.now(UTC)
    common = dict(shop_id=world.shop_id, order_id=1001, title="Merino Beanie", quantity=1,
                  kept_quantity=1, edit_status=EditStatus.DONE, edit_attempts=1,
                  created_at=now, updated_at=now)
    with unit_of_work(rt.sessions) as session:
        session.add(LineCancellation(line_item_id=11, refund_status=RefundStatus.DONE,
                                     refund_attempts=1, refund_amount=Decimal("29.75"),
                                     refund_currency="EUR", refund_id=71, **common))
        session.add(LineCancellation(
            line_item_id=12, refund_status=RefundStatus.FAILED, refund_attempts=1,
            refund_error="NothingToRefund: nothing paid on this order can be refunded",
            **common))
        session.add(LineCancellation(line_item_id=13, refund_status=RefundStatus.PROCESSING,
                                     refund_attempts=1, refund_amount=Decimal("8"),
                                     refund_currency="JPY", refund_id=72, **common))

    html = merchant_client.get("/app/requests/").get_data(as_text=True)

    assert "1 Shopify change did not go through" in html
    assert "Refunded 29.75 EUR" in html
    assert "Refund of 8 JPY issued, the payment provider is completing it" in html
    assert "Refund failed: refund in Shopify" in html
    assert "Refund: NothingToRefund: nothing paid on this order can be refunded" in html
