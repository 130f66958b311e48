"""Jobs for the customer's options: edit the Shopify order after a cancel and refund the
removed units, create goodwill codes.

Each job takes a row id, reads what to ask in a short transaction, calls Shopify
outside any transaction, and records the outcome on the row. The calls are safe
to repeat (see integrations/shopify/customer_options.py and
app/domain/customer_options/refunds.py), so a retried or duplicated job never
edits or refunds twice, or creates a second code. Transient errors are
re-raised for RQ's backoff; permanent ones are recorded and shown to the merchant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from app import jobs as queueing
from app.domain.base import utcnow
from app.domain.customer_options import discounts, order_edits, refunds
from app.domain.intents import CreateGoodwillDiscount, EditShopifyOrder, RefundCancelledUnits
from app.errors import AuthRevoked, PermanentError, TransientError
from app.locks import exclusive
from workers.context import runtime
from workers.job import call, job, run
from workers.shopify import admin_for, needs_reinstall

log = logging.getLogger(__name__)
UNREACHABLE = "the shop cannot be called (uninstalled, or the app needs a reinstall)"


@job
def edit_shopify_order(cancellation_id: int) -> str:
    """Remove a cancelled line's units from the Shopify order, once."""
    plan = call(order_edits.pending_edit, cancellation_id)
    if plan is None:
        return "skipped"
    outcome = _call(plan.shop_id, lambda admin: admin.set_line_item_quantity(
        order_id=plan.order_id, line_item_id=plan.line_item_id, quantity=plan.kept_quantity,
        staff_note=plan.staff_note),
        done=lambda session, _result: order_edits.record_edited(
            session, cancellation_id, now=utcnow()),
        error=lambda session, exc, final: order_edits.record_edit_error(
            session, cancellation_id, exc, final=final, now=utcnow()))
    if outcome == "done":  # committed: the refund of the removed units may follow
        run(refunds.after_edit, cancellation_id)  # a job Redis refused is the sweeper's
    return outcome


@job
def refund_cancelled_units(cancellation_id: int) -> str:
    """Refund the units an edit removed, once (customer_options.refunds says how)."""
    # One run at a time: two runs could both find no refund and both make one.
    with exclusive(runtime().redis, f"order-refund-{cancellation_id}"):
        request = call(refunds.pending_refund, cancellation_id)
        if request is None:
            return "skipped"
        return _call(request.shop_id, lambda admin: refunds.refund(admin, request),
                     done=lambda session, outcome: refunds.record_refunded(
                         session, cancellation_id, outcome, now=utcnow()),
                     error=lambda session, exc, final: refunds.record_refund_error(
                         session, cancellation_id, exc, final=final, now=utcnow()))


@job
def create_goodwill_discount(discount_id: int) -> str:
    """Create an order's reserved goodwill code in Shopify, once."""
    plan = call(discounts.pending_discount, discount_id, now=utcnow())
    if plan is None:
        return "skipped"
    return _call(plan.shop_id, lambda admin: admin.create_discount_code(plan.spec),
                 done=lambda session, result: discounts.record_created(
                     session, discount_id, result, now=utcnow()),
                 error=lambda session, exc, final: discounts.record_error(
                     session, discount_id, exc, final=final, now=utcnow()))


def _call(shop_id: int, request: Callable, *, done: Callable, error: Callable) -> str:
    """Run one Shopify call and record its outcome; re-raise what RQ should retry."""
    admin = admin_for(shop_id)
    try:
        if admin is None:
            raise PermanentError(UNREACHABLE)
        result = request(admin)
    except TransientError as exc:
        if _record(error, exc, final=False):
            raise  # RQ retries with backoff
        return "failed"
    except PermanentError as exc:
        if isinstance(exc, AuthRevoked):
            needs_reinstall(shop_id, exc)
        _record(error, exc, final=True)
        return "failed"
    except Exception as exc:
        _record(error, exc, final=True)
        raise  # a bug: visible in RQ's failed registry; reruns are no-ops (row is failed)
    call(done, result)
    return "done"


def _record(error: Callable, exc: Exception, *, final: bool) -> bool:
    log.warning("shopify call failed (%s): %s", "final" if final else "will retry", exc)
    return call(error, exc, final)


def enqueue_pending_discounts(shop_id: int) -> int:
    """(Re-)enqueue the creation of every code still pending: new ones and earlier failures."""
    ids = call(discounts.pending_ids, shop_id)
    return queueing.enqueue(runtime().redis, [CreateGoodwillDiscount(i) for i in ids])


@job
def sweep_order_edits(older_than_seconds: int = 300) -> int:
    """Re-enqueue edits and refunds whose job was lost (Redis down at cancel time, a worker
    died); periodic."""
    since = dict(now=utcnow(), older_than=timedelta(seconds=older_than_seconds))
    owed = ([EditShopifyOrder(i) for i in call(order_edits.stale_edit_ids, **since)]
            + [RefundCancelledUnits(i) for i in call(refunds.stale_refund_ids, **since)])
    return queueing.enqueue(runtime().redis, owed)
