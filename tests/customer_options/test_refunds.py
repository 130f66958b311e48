"""After the edit removed a customer's cancelled units, the app refunds exactly those units:
once (a lost answer or a duplicated job never refunds twice), through refundCreate with
money only, failures recorded once and shown; the customer sees "Refunded" only once made."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rq import Queue

from app.domain.customer_options.models import EditStatus, RefundStatus
from app.domain.customer_options.refunds import EDIT_FAILED, MAX_REFUND_ATTEMPTS
from app.domain.ports import OrderLineInfo
from app.errors import TransientError
from integrations.shopify.fake import FakeShopifyAdmin
from tests.customer_options.conftest import cancellation, set_options
from tests.notifications.conftest import ETA
from tests.notifications.test_status_page import csrf_from, link_path
from workers import customer_options as jobs
from workers.context import runtime

STATE, REFUND, BEGIN = ("BackorderOrderRefundState", "BackorderRefundCreate",
                        "BackorderOrderEditBegin")
ORDER = "gid://shopify/Order/1001"


def money(amount: str) -> dict:
    return {"presentmentMoney": {"amount": amount}}


def refund_node(refund_id: int, note: str, amount: str, status: str = "SUCCESS") -> dict:
    return {"id": f"gid://shopify/Refund/{refund_id}", "note": note,
            "totalRefundedSet": money(amount), "transactions": {"nodes": [{"status": status}]}}


def refund_made(status: str = "SUCCESS") -> dict:
    """refundCreate's answer: refund 71 made, its transaction in `status`."""
    return {"data": {"refundCreate": {"userErrors": [], "refund": refund_node(
        71, "[backorder-cancel:11]", "29.75", status)}}}


def refund_state(*, outstanding="-29.75", refunds=(), paid="64.50") -> dict:
    """Order #1001 after the edit: the Merino Beanie (2 at 25.00, 9.50 tax) lost one unit,
    so Shopify shows 29.75 owed; one card sale of 64.50 (shipping 5.00 included)."""
    sales = [] if paid is None else [{
        "id": "gid://shopify/OrderTransaction/61", "kind": "SALE", "status": "SUCCESS",
        "gateway": "shopify_payments", "amountSet": money(paid), "parentTransaction": None}]
    return {"order": {"id": ORDER, "presentmentCurrencyCode": "EUR", "taxesIncluded": False,
                      "totalOutstandingSet": money(outstanding), "transactions": sales,
                      "refunds": list(refunds)},
            "lineItem": {"id": "gid://shopify/LineItem/11", "quantity": 2,
                         "discountedUnitPriceAfterAllDiscountsSet": money("25.0"),
                         "taxLines": [{"priceSet": money("9.5")}]}}


@pytest.fixture
def cancelled(world, mapp, shopify):
    """#1001: Merino Beanie 2, backordered (1 of 2); the customer cancels the backordered one."""
    set_options(world, edit_order_on_cancel=True)
    shopify.defaults[STATE] = refund_state()
    shopify.defaults[REFUND] = refund_made()["data"]
    world.order(1001, (11, "Merino Beanie", 2, 1, ETA))
    client, path = mapp.test_client(), link_path(world)
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    response = client.post(f"{path}/cancel", data={"line_item_id": "11", "units": "backordered",
                                                   "csrf_token": csrf})
    assert response.status_code == 303
    row = cancellation(world)
    assert (row.quantity, row.kept_quantity, row.refund_status) == (1, 1, RefundStatus.PENDING)
    return row


def queued(world) -> list[str]:
    return Queue("shopify", connection=world.rt.redis).job_ids


def status_page(world, mapp) -> str:
    return mapp.test_client().get(link_path(world)).get_data(as_text=True)


def test_the_cancelled_units_are_refunded_once_after_the_edit(world, mapp, shopify, cancelled):
    assert jobs.refund_cancelled_units(cancelled.id) == "skipped"  # not before the edit
    assert f"order-refund-{cancelled.id}" not in queued(world)

    assert jobs.edit_shopify_order(cancelled.id) == "done"
    assert f"order-refund-{cancelled.id}" in queued(world)
    assert jobs.refund_cancelled_units(cancelled.id) == "done"
    assert jobs.refund_cancelled_units(cancelled.id) == "skipped"

    [sent] = shopify.sent(REFUND)
    note = sent["input"].pop("note")
    assert "Customer cancelled 1 x Merino Beanie" in note and "[backorder-cancel:11]" in note
    assert sent["input"] == {
        "orderId": ORDER, "currency": "EUR", "notify": True,
        "transactions": [{"orderId": ORDER, "parentId": "gid://shopify/OrderTransaction/61",
                          "gateway": "shopify_payments", "kind": "REFUND", "amount": "29.75"}]}
    row = cancellation(world)
    assert (row.refund_status, str(row.refund_amount), row.refund_currency, row.refund_id,
            row.refund_error) == (RefundStatus.DONE, "29.750", "EUR", 71, None)
    page = status_page(world, mapp)
    assert "Refunded to your payment: €29.75" in page
    assert "1 cancelled at your request; 1 still ships" in page


def test_a_refund_whose_answer_was_lost_is_found_by_the_retry_not_made_again(
        world, mapp, shopify, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    # Shopify made the refund but the answer never arrived: the job must not guess.
    shopify.answer_next(REFUND, 502, {"errors": "Bad Gateway"})
    with pytest.raises(TransientError):
        jobs.refund_cancelled_units(cancelled.id)
    row = cancellation(world)
    assert row.refund_status == RefundStatus.PENDING and "502" in row.refund_error
    assert "Refunded" not in status_page(world, mapp)  # never claimed before it is known

    [sent] = shopify.sent(REFUND)
    shopify.defaults[STATE] = refund_state(outstanding="0.0", refunds=[
        refund_node(71, sent["input"]["note"], "29.75")])
    assert jobs.refund_cancelled_units(cancelled.id) == "done"

    assert len(shopify.sent(REFUND)) == 1
    row = cancellation(world)
    assert (row.refund_status, row.refund_id, row.refund_attempts) == (RefundStatus.DONE, 71, 2)
    assert "Refunded to your payment: €29.75" in status_page(world, mapp)


def test_a_refund_pending_with_the_payment_provider_is_issued_not_yet_refunded(
        world, mapp, shopify, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    shopify.answer_next(REFUND, 200, refund_made("PENDING"))

    assert jobs.refund_cancelled_units(cancelled.id) == "done"

    row = cancellation(world)
    assert (row.refund_status, row.refund_id) == (RefundStatus.PROCESSING, 71)
    page = status_page(world, mapp)
    assert "Refund of €29.75 issued; your payment provider is completing it" in page
    assert "Refunded to your payment" not in page

    # The sweeper's next run reads the same refund again, by its note: now it succeeded.
    shopify.defaults[STATE] = refund_state(outstanding="0.0", refunds=[
        refund_node(71, shopify.sent(REFUND)[0]["input"]["note"], "29.75")])
    assert jobs.sweep_order_edits(older_than_seconds=0) == 1
    assert jobs.refund_cancelled_units(cancelled.id) == "done"

    assert cancellation(world).refund_status == RefundStatus.DONE
    assert len(shopify.sent(REFUND)) == 1
    assert "Refunded to your payment: €29.75" in status_page(world, mapp)


def test_a_refund_made_once_is_never_made_again_even_when_shopify_no_longer_lists_it(
        world, shopify, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    shopify.answer_next(REFUND, 200, refund_made("PENDING"))
    jobs.refund_cancelled_units(cancelled.id)
    shopify.defaults[STATE] = refund_state()  # still owed, and no refund listed

    assert jobs.refund_cancelled_units(cancelled.id) == "failed"

    assert len(shopify.sent(REFUND)) == 1
    row = cancellation(world)
    assert row.refund_status == RefundStatus.FAILED
    assert "Shopify refund 71 is no longer listed" in row.refund_error


def test_a_refund_the_payment_provider_refuses_is_failed_and_never_claimed(
        world, mapp, shopify, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    shopify.answer_next(REFUND, 200, refund_made("FAILURE"))

    jobs.refund_cancelled_units(cancelled.id)

    row = cancellation(world)
    assert row.refund_status == RefundStatus.FAILED
    assert "payment provider did not complete Shopify refund 71" in row.refund_error
    page = status_page(world, mapp)
    assert "Refunded" not in page and "Refund of" not in page
    assert jobs.refund_cancelled_units(cancelled.id) == "skipped"


def test_user_errors_fail_the_refund_once_and_keep_why(world, mapp, shopify, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    shopify.answer_next(REFUND, 200, {"data": {"refundCreate": {"refund": None, "userErrors": [
        {"field": ["transactions", "0", "amount"],
         "message": "Amount cannot be greater than the refundable amount"}]}}})

    assert jobs.refund_cancelled_units(cancelled.id) == "failed"
    assert jobs.refund_cancelled_units(cancelled.id) == "skipped"  # a rerun changes nothing

    row = cancellation(world)
    assert (row.refund_status, row.refund_attempts) == (RefundStatus.FAILED, 1)
    assert ("refundCreate rejected: transactions.0.amount: Amount cannot be greater"
            in row.refund_error)
    assert len(shopify.sent(REFUND)) == 1
    assert "Refunded" not in status_page(world, mapp)


def test_an_order_with_nothing_paid_is_not_refunded_and_says_why(world, shopify, cancelled):
    shopify.defaults[STATE] = refund_state(paid=None)  # payment pending (bank transfer, COD)
    jobs.edit_shopify_order(cancelled.id)

    assert jobs.refund_cancelled_units(cancelled.id) == "failed"

    row = cancellation(world)
    assert row.refund_status == RefundStatus.FAILED and "nothing paid" in row.refund_error
    assert shopify.sent(REFUND) == []


def test_nothing_owed_any_more_is_not_refunded_again(world, shopify, cancelled):
    # The merchant refunded the amount in Shopify before the job ran.
    shopify.defaults[STATE] = refund_state(outstanding="0.0")
    jobs.edit_shopify_order(cancelled.id)

    assert jobs.refund_cancelled_units(cancelled.id) == "failed"

    assert "nothing owed" in cancellation(world).refund_error
    assert shopify.sent(REFUND) == []


def test_with_the_refund_turned_off_the_order_is_edited_and_not_refunded(
        world, mapp, shopify):
    set_options(world, edit_order_on_cancel=True, refund_on_cancel=False)
    world.order(1001, (11, "Linen Shirt", 2, 2, ETA))
    client, path = mapp.test_client(), link_path(world)
    client.post(f"{path}/cancel", data={"line_item_id": "11", "csrf_token": csrf_from(
        client.get(path).get_data(as_text=True))})
    row = cancellation(world)

    assert jobs.edit_shopify_order(row.id) == "done"

    assert cancellation(world).refund_status == RefundStatus.OFF
    assert f"order-refund-{row.id}" not in queued(world)
    assert jobs.refund_cancelled_units(row.id) == "skipped"
    assert shopify.sent(STATE) == [] and shopify.sent(REFUND) == []


def test_a_failed_edit_leaves_the_refund_to_the_merchant(world, shopify, cancelled):
    shopify.answer_next(BEGIN, 200, {"data": {"orderEditBegin": {
        "calculatedOrder": None,
        "userErrors": [{"field": ["id"], "message": "The order cannot be edited."}]}}})

    assert jobs.edit_shopify_order(cancelled.id) == "failed"

    row = cancellation(world)
    assert (row.edit_status, row.refund_status, row.refund_error) == (
        EditStatus.FAILED, RefundStatus.FAILED, EDIT_FAILED)
    assert f"order-refund-{cancelled.id}" not in queued(world)
    assert jobs.refund_cancelled_units(cancelled.id) == "skipped"
    assert shopify.sent(STATE) == []


def test_a_lost_refund_job_is_found_by_the_sweeper(world, shopify, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    Queue("shopify", connection=world.rt.redis).empty()  # as if Redis lost it

    assert jobs.sweep_order_edits(older_than_seconds=0) == 1

    assert queued(world) == [f"order-refund-{cancelled.id}"]
    assert jobs.refund_cancelled_units(cancelled.id) == "done"
    assert jobs.sweep_order_edits(older_than_seconds=0) == 0


# --- against the in-memory twin: Shopify's money rules kept --------------------------

@pytest.fixture
def twin(cancelled, monkeypatch):
    """The Merino Beanie order in the twin: 2 at 25.00 with 9.50 tax, paid 59.50 by card.
    (After the cancel: the status page's app sets the runtime the jobs use.)"""
    fake = FakeShopifyAdmin()
    fake.add_order(1001, lines=[OrderLineInfo(11, 511, 2)])
    fake.money.add_line(1001, 11, ordered=2, unit_price="25.00", tax="9.50")
    fake.money.pay(1001, "59.50")
    monkeypatch.setattr(runtime(), "admin_factory", lambda domain, token: fake)
    return fake


def test_a_duplicated_refund_job_refunds_once(world, twin, cancelled):
    assert jobs.edit_shopify_order(cancelled.id) == "done"
    twin.lose_next_answer(TransientError("read timeout", code="timeout"))

    with pytest.raises(TransientError):
        jobs.refund_cancelled_units(cancelled.id)
    assert jobs.refund_cancelled_units(cancelled.id) == "done"  # the retry
    assert jobs.refund_cancelled_units(cancelled.id) == "skipped"  # a duplicate

    [refund] = twin.money.orders[1001].refunds
    assert refund.amount == Decimal("29.75")
    assert twin.order_refund_state(1001, 11).outstanding == Decimal("0")
    row = cancellation(world)
    assert (row.refund_status, row.refund_id, row.refund_amount) == (
        RefundStatus.DONE, refund.refund_id, Decimal("29.75"))


def test_transient_failures_are_retried_until_the_units_are_refunded(world, twin, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    twin.fail_next(2, TransientError("HTTP 503 from Shopify", code=503))

    for _ in range(2):
        with pytest.raises(TransientError):  # re-raised: RQ retries with backoff
            jobs.refund_cancelled_units(cancelled.id)
    assert jobs.refund_cancelled_units(cancelled.id) == "done"

    assert len(twin.money.orders[1001].refunds) == 1
    assert (cancellation(world).refund_attempts, cancellation(world).refund_error) == (3, None)


def test_after_the_last_retry_a_transient_failure_is_final(world, twin, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    twin.fail_next(MAX_REFUND_ATTEMPTS, TransientError("HTTP 503 from Shopify", code=503))

    for _ in range(MAX_REFUND_ATTEMPTS - 1):
        with pytest.raises(TransientError):
            jobs.refund_cancelled_units(cancelled.id)
    assert jobs.refund_cancelled_units(cancelled.id) == "failed"

    row = cancellation(world)
    assert row.refund_status == RefundStatus.FAILED and "503" in row.refund_error
    assert twin.money.orders[1001].refunds == []


def test_while_the_provider_completes_a_refund_errors_never_mark_it_failed(
        world, twin, cancelled):
    jobs.edit_shopify_order(cancelled.id)
    twin.money.settle_next_as.append("pending")
    jobs.refund_cancelled_units(cancelled.id)
    twin.fail_next(MAX_REFUND_ATTEMPTS, TransientError("HTTP 503 from Shopify", code=503))

    for _ in range(MAX_REFUND_ATTEMPTS):
        with pytest.raises(TransientError):
            jobs.refund_cancelled_units(cancelled.id)

    row = cancellation(world)
    # "Failed" would tell the merchant to refund by hand what is already on its way.
    assert row.refund_status == RefundStatus.PROCESSING and "503" in row.refund_error

    [refund] = twin.money.orders[1001].refunds
    twin.money.settle(1001, refund.refund_id, "success")
    assert jobs.refund_cancelled_units(cancelled.id) == "done"
    assert (cancellation(world).refund_status, len(twin.money.orders[1001].refunds)) == (
        RefundStatus.DONE, 1)
