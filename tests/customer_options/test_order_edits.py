"""A customer's cancel removes the line's units from the Shopify order: once, after commit,
through orderEditBegin / orderEditSetQuantity / orderEditCommit, failures shown to the merchant."""

from __future__ import annotations

import pytest
from rq import Queue

from app.domain.customer_options.models import EditStatus
from app.domain.ports import OrderLineInfo
from app.errors import TransientError
from integrations.shopify.fake import FakeShopifyAdmin
from tests.customer_options.conftest import cancellation, set_options
from tests.notifications.conftest import ETA
from tests.notifications.test_status_page import cancel, csrf_from, link_path
from workers import customer_options as jobs
from workers.context import runtime

BEGIN, SET, COMMIT = ("BackorderOrderEditBegin", "BackorderOrderEditSetQuantity",
                      "BackorderOrderEditCommit")


@pytest.fixture
def cancelled(world, mapp, shopify):
    """Order #1001 with 2 backordered shirts (line 11), cancelled on the status page."""
    set_options(world, edit_order_on_cancel=True)
    world.order(1001, (11, "Linen Shirt", 2, 2, ETA), (12, "Wool Socks", 1, 0, None))
    client, path = mapp.test_client(), link_path(world)
    response = cancel(client, path, 11, csrf=csrf_from(client.get(path).get_data(as_text=True)))
    assert response.status_code == 303  # the customer never waits for (or sees) Shopify
    assert shopify.bodies == []  # nothing is sent before the commit, from the web request
    return cancellation(world)


def test_cancelling_a_backordered_line_removes_it_from_the_shopify_order_once(
        world, shopify, cancelled):
    queued = Queue("shopify", connection=world.rt.redis).job_ids
    assert f"order-edit-{cancelled.id}" in queued

    assert jobs.edit_shopify_order(cancelled.id) == "done"
    assert jobs.edit_shopify_order(cancelled.id) == "skipped"

    assert shopify.sent(BEGIN) == [{"id": "gid://shopify/Order/1001", "lines": 250}]
    assert shopify.sent(SET) == [{"id": "gid://shopify/CalculatedOrder/777",
                                  "lineItemId": "gid://shopify/CalculatedLineItem/11",
                                  "quantity": 0}]
    [commit] = shopify.sent(COMMIT)
    assert commit["id"] == "gid://shopify/CalculatedOrder/777"
    assert "Customer cancelled 2 x Linen Shirt" in commit["staffNote"]
    row = cancellation(world)
    assert (row.edit_status, row.quantity, row.kept_quantity, row.edit_error) == (
        EditStatus.DONE, 2, 0, None)


def test_a_retried_edit_job_does_not_edit_twice(world, shopify, cancelled):
    # The commit went through but its answer was lost: the job must not guess.
    shopify.answer_next(COMMIT, 502, {"errors": "Bad Gateway"})
    with pytest.raises(TransientError):
        jobs.edit_shopify_order(cancelled.id)
    assert cancellation(world).edit_status == EditStatus.PENDING
    assert "502" in cancellation(world).edit_error

    # The retry begins a fresh edit and finds the line already down to what stays.
    shopify.defaults[BEGIN]["orderEditBegin"]["calculatedOrder"]["lineItems"]["nodes"][0][
        "quantity"] = 0
    assert jobs.edit_shopify_order(cancelled.id) == "done"

    assert len(shopify.sent(COMMIT)) == 1 and len(shopify.sent(SET)) == 1
    assert len(shopify.sent(BEGIN)) == 2
    assert (cancellation(world).edit_status, cancellation(world).edit_attempts) == (
        EditStatus.DONE, 2)


def test_user_errors_fail_the_edit_for_good_and_show_it_to_the_merchant(
        world, shopify, cancelled):
    shopify.answer_next(BEGIN, 200, {"data": {"orderEditBegin": {
        "calculatedOrder": None,
        "userErrors": [{"field": ["id"], "message": "The order cannot be edited."}]}}})

    assert jobs.edit_shopify_order(cancelled.id) == "failed"
    assert jobs.edit_shopify_order(cancelled.id) == "skipped"  # a rerun changes nothing

    row = cancellation(world)
    assert row.edit_status == EditStatus.FAILED
    assert "orderEditBegin rejected: id: The order cannot be edited." in row.edit_error
    assert shopify.sent(COMMIT) == []


def test_transient_failures_are_retried_until_the_edit_is_done(world, shopify, cancelled,
                                                               monkeypatch):
    fake = FakeShopifyAdmin()
    fake.add_order(1001, lines=[OrderLineInfo(11, 511, 2)])
    fake.fail_next(2, TransientError("HTTP 503 from Shopify", code=503))
    monkeypatch.setattr(runtime(), "admin_factory", lambda domain, token: fake)

    for _ in range(2):
        with pytest.raises(TransientError):  # re-raised: RQ retries with backoff
            jobs.edit_shopify_order(cancelled.id)
    assert jobs.edit_shopify_order(cancelled.id) == "done"

    assert fake.order_edits == [(1001, 11, 0, fake.order_edits[0][3])]
    assert fake.orders[1001].lines[0].quantity == 0
    assert cancellation(world).edit_attempts == 3


def test_with_the_setting_off_the_cancel_is_kept_but_shopify_is_left_alone(
        world, mapp, shopify):
    world.order(1001, (11, "Linen Shirt", 2, 2, ETA))
    client, path = mapp.test_client(), link_path(world)
    cancel(client, path, 11, csrf=csrf_from(client.get(path).get_data(as_text=True)))

    row = cancellation(world)
    assert row.edit_status == EditStatus.OFF
    assert not any(j.startswith("order-edit-")
                   for j in Queue("shopify", connection=world.rt.redis).job_ids)
    assert jobs.edit_shopify_order(row.id) == "skipped" and shopify.bodies == []


def test_a_lost_edit_job_is_found_by_the_sweeper(world, shopify, cancelled):
    Queue("shopify", connection=world.rt.redis).empty()  # as if Redis lost it

    assert jobs.sweep_order_edits(older_than_seconds=0) == 1

    assert f"order-edit-{cancelled.id}" in Queue("shopify", connection=world.rt.redis).job_ids
