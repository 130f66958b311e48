"""A long wait's delay notice carries one goodwill code per order, created in Shopify once;
a failing Shopify never holds the notice back and is retried later."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.domain.customer_options.models import DiscountStatus
from tests.customer_options.conftest import discounts, set_options
from workers import customer_options as jobs
from workers import notifications

CREATE = "BackorderCreateDiscountCode"
GOODWILL = dict(goodwill_enabled=True, goodwill_after_days=14, goodwill_kind="percentage",
                goodwill_value="10")


@pytest.fixture
def overdue(world, mrt):
    """Order #1001 placed today: the shirts' promise passed, they now come in 30 days."""
    world.order(1001, (11, "Linen Shirt", 2, 2, None), customer_id=4242)
    world.line(11, promised_eta=date.today() - timedelta(days=1),
               eta=date.today() + timedelta(days=30))
    return world


def test_long_delay_notice_carries_one_discount_code_per_order(overdue, shopify, mailbox,
                                                               twilio, run_jobs):
    set_options(overdue, **GOODWILL)

    notifications.scan_overdue()
    run_jobs()
    # The new date passes too: a second notice, the same code, no second creation.
    overdue.line(11, promised_eta=date.today() - timedelta(days=2),
                 eta=date.today() + timedelta(days=40))
    notifications.scan_overdue()
    run_jobs()

    [row] = discounts(overdue)
    assert row.status == DiscountStatus.CREATED and row.discount_id == 55
    assert row.code.startswith("WAIT-1001-")
    [sent] = shopify.sent(CREATE)
    discount = sent["discount"]
    assert discount["code"] == row.code
    assert discount["customerGets"] == {"value": {"percentage": 0.1}, "items": {"all": True}}
    assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (1, True)
    assert discount["customerSelection"] == {"customers": {"add": ["gid://shopify/Customer/4242"]}}
    assert discount["startsAt"].startswith(date.today().isoformat()[:4])
    emails = mailbox.messages
    assert len(emails) == 2
    for email in emails:
        text = email.get_body(("plain",)).get_content()
        assert f"here is 10% off your next order: use the code {row.code}" in text
    assert all(row.code in sms["Body"] for sms in twilio.sent) and len(twilio.sent) == 2


def test_discount_failure_does_not_hold_the_delay_notice(overdue, shopify, mailbox, run_jobs):
    set_options(overdue, **GOODWILL, edit_order_on_cancel=False)
    for _ in range(6):  # throttled on every attempt the client makes
        shopify.answer_next(CREATE, 429, {"errors": "Throttled"}, {"Retry-After": "0"})

    notifications.scan_overdue()
    run_jobs()

    [row] = discounts(overdue)
    assert len(mailbox.messages) == 1  # the notice went out, code included
    assert row.code in mailbox.messages[0].get_body(("plain",)).get_content()
    assert row.status == DiscountStatus.PENDING and "429" in row.last_error

    # Retried later (RQ's backoff, or the next hourly scan): created, once.
    assert jobs.enqueue_pending_discounts(overdue.shop_id) == 1
    run_jobs()
    [row] = discounts(overdue)
    assert row.status == DiscountStatus.CREATED
    assert len(shopify.sent(CREATE)) == 7
    assert len({v["discount"]["code"] for v in shopify.sent(CREATE)}) == 1


def test_a_code_shopify_already_has_counts_as_created(overdue, shopify, run_jobs):
    set_options(overdue, **GOODWILL)
    shopify.answer_next(CREATE, 200, {"data": {"discountCodeBasicCreate": {
        "codeDiscountNode": None, "userErrors": [
            {"field": ["basicCodeDiscount", "code"], "message": "Code must be unique.",
             "code": "TAKEN"}]}}})

    notifications.scan_overdue()
    run_jobs()

    [row] = discounts(overdue)
    assert (row.status, row.discount_id) == (DiscountStatus.CREATED, None)


def test_a_refused_code_is_shown_to_the_merchant_and_left_out_of_later_notices(
        overdue, shopify, mailbox, run_jobs):
    set_options(overdue, **GOODWILL)
    shopify.answer_next(CREATE, 200, {"data": {"discountCodeBasicCreate": {
        "codeDiscountNode": None, "userErrors": [
            {"field": ["basicCodeDiscount", "customerGets"], "message": "Value is invalid",
             "code": "INVALID"}]}}})
    notifications.scan_overdue()
    run_jobs()
    [row] = discounts(overdue)
    assert row.status == DiscountStatus.FAILED and "Value is invalid" in row.last_error

    overdue.line(11, promised_eta=date.today() - timedelta(days=2),
                 eta=date.today() + timedelta(days=40))
    notifications.scan_overdue()
    run_jobs()

    later = mailbox.messages[-1].get_body(("plain",)).get_content()
    assert len(mailbox.messages) == 2 and row.code not in later


def test_short_waits_and_shops_without_goodwill_get_no_code(overdue, shopify, mailbox,
                                                            run_jobs):
    set_options(overdue, **(GOODWILL | {"goodwill_after_days": 60}))
    notifications.scan_overdue()
    run_jobs()

    assert discounts(overdue) == [] and shopify.sent(CREATE) == []
    assert len(mailbox.messages) == 1
    assert "code" not in mailbox.messages[0].get_body(("plain",)).get_content().lower()
