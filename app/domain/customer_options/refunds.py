"""Refunding the units a customer cancelled, once the order edit has removed them.

Why a money-only refund: after `orderEditCommit` removes paid units, Shopify keeps
the order's lines as they now are and shows the difference as owed to the customer
(`Order.totalOutstandingSet` turns negative: "refund owed" in the admin). The units
are no longer refundable as line items (`refundableQuantity` excludes them), so the
refund is `refundCreate` with `transactions` only: kind REFUND against the order's
successful SALE or CAPTURE (`parentId`, its `gateway`), in the presentment currency.

The amount (customer_options.refund_rules) is what those units cost: the unit price
after every discount (`discountedUnitPriceAfterAllDiscountsSet`) times the units, plus
their share of the line's tax (`taxLines` cover every unit ordered, removed ones too)
unless prices include tax. Shipping is not refunded. It is capped by what Shopify says
is owed (another refund, by the merchant or an earlier run, leaves nothing owed) and by
what the payments still hold (received minus refunded). Nothing held, or nothing owed,
fails it for good and the merchant is told; Shopify's `suggestedRefund` cannot help:
it suggests refunds of refundable line items, and these units are no longer any.

`refundCreate` is not idempotent. Each refund's note carries a marker naming the
cancelled line; every run reads the order's refunds first and records a refund it
finds instead of making another. Runs of one cancellation are serialised by the job,
so a retried, duplicated or swept job refunds at most once.

A refund in Shopify is not yet money back: its transactions may still be pending
with the payment provider, or fail there. So the row is `done` only when they all
succeeded, `processing` while one is pending (the sweeper's next run reads the same
refund again, by its note, until it settles), `failed` when the provider refused.
The customer's status page says "Refunded" only when done ("issued" while
processing); Shopify's refund email (notify) is their receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.customer_options import refund_rules
from app.domain.customer_options.models import EditStatus, LineCancellation, RefundStatus
from app.domain.customer_options.rules import OptionSettings
from app.domain.intents import RefundCancelledUnits
from app.domain.ports import RefundSpec, ShopifyAdmin
from app.errors import PermanentError

# RQ's DEFAULT_RETRY runs a job 7 times in all; after that the failure is final.
MAX_REFUND_ATTEMPTS = 7
EDIT_FAILED = "not attempted: the order edit failed (edit the order and refund it in Shopify)"
UNSETTLED = (RefundStatus.PENDING, RefundStatus.PROCESSING)
SETTLED_AS = {"success": RefundStatus.DONE, "pending": RefundStatus.PROCESSING,
              "failure": RefundStatus.FAILED}


class NothingToRefund(PermanentError):
    """Shopify holds nothing this cancellation may take back: recorded, never retried."""


def initial_status(options: OptionSettings, *, editing: bool) -> str:
    """A refund follows an edit only: without the edit Shopify owes nothing yet."""
    return RefundStatus.PENDING if editing and options.refund_on_cancel else RefundStatus.OFF


def after_edit(session: Session, cancellation_id: int) -> list[RefundCancelledUnits]:
    """The refund, once the edit is done, when the cancellation still waits for one."""
    return ([RefundCancelledUnits(cancellation_id)] if _pending_row(session, cancellation_id)
            else [])


def give_up_with_edit(row: LineCancellation) -> None:
    """An edit that failed for good leaves the refund to the merchant, and says so."""
    if row.refund_status == RefundStatus.PENDING:
        row.refund_status, row.refund_error = RefundStatus.FAILED, EDIT_FAILED


@dataclass(frozen=True)
class RefundRequest:
    """What the job asks Shopify, read in a short transaction before the calls."""

    cancellation_id: int
    shop_id: int
    order_id: int
    line_item_id: int
    units: int
    note: str
    made: int | None = None  # the refund an earlier run made, still with the provider


@dataclass(frozen=True)
class Refunded:
    amount: Decimal
    currency: str
    refund_id: int | None  # None: the units were free, nothing was sent
    settled: str = "success"  # or "pending", "failure": what the refund's transactions say


def pending_refund(session: Session, cancellation_id: int) -> RefundRequest | None:
    """The refund still to make or to confirm, or None: not wanted, not yet edited, done
    or failed."""
    row = _pending_row(session, cancellation_id)
    if row is None:
        return None
    return RefundRequest(row.id, row.shop_id, row.order_id, row.line_item_id, row.quantity,
                         refund_rules.refund_note(row.title, row.quantity, row.line_item_id),
                         row.refund_id if row.refund_status == RefundStatus.PROCESSING
                         else None)


def _pending_row(session: Session, cancellation_id: int) -> LineCancellation | None:
    row = session.get(LineCancellation, cancellation_id)
    ready = (row is not None and row.refund_status in UNSETTLED
             and row.edit_status == EditStatus.DONE)
    return row if ready else None


def refund(admin: ShopifyAdmin, request: RefundRequest) -> Refunded:
    """Find this cancellation's refund in Shopify, or make it; NothingToRefund when none may be."""
    state = admin.order_refund_state(request.order_id, request.line_item_id)
    if state is None:
        raise NothingToRefund("the order is no longer in Shopify")
    earlier = refund_rules.earlier_refund(state, request.line_item_id)
    if earlier is not None:  # made by an earlier run (its answer lost, or still pending)
        return Refunded(earlier.amount, state.currency, earlier.refund_id, earlier.settled)
    if request.made is not None:  # made once: never a second one, whatever is listed
        raise NothingToRefund(f"Shopify refund {request.made} is no longer listed on the "
                              f"order: check the order's refunds in Shopify")
    plan = refund_rules.plan_refund(state, units=request.units)
    if plan.refused:
        raise NothingToRefund(plan.refused)
    if not plan.transactions:
        return Refunded(plan.amount, state.currency, None)
    made = admin.create_refund(RefundSpec(
        order_id=request.order_id, currency=state.currency, note=request.note,
        transactions=plan.transactions))
    return Refunded(plan.amount, state.currency, made.refund_id, made.settled)


def record_refunded(session: Session, cancellation_id: int, outcome: Refunded, *,
                    now: datetime) -> None:
    """Keep what Shopify made; done only once the payment provider confirmed it."""
    row = session.get(LineCancellation, cancellation_id, with_for_update=True)
    row.refund_status = SETTLED_AS.get(outcome.settled, RefundStatus.PROCESSING)
    row.refund_amount, row.refund_currency = outcome.amount, outcome.currency
    row.refund_id, row.refund_error, row.updated_at = outcome.refund_id, None, now
    row.refund_attempts += 1
    if row.refund_status == RefundStatus.DONE:
        row.refunded_at = now
    elif row.refund_status == RefundStatus.FAILED:
        row.refund_error = (f"the payment provider did not complete Shopify refund "
                            f"{outcome.refund_id}: refund the customer another way in Shopify")


def record_refund_error(session: Session, cancellation_id: int, error: Exception, *,
                        final: bool, now: datetime) -> bool:
    """Keep the error for the merchant; True when the job should be retried."""
    row = session.get(LineCancellation, cancellation_id, with_for_update=True)
    if row.refund_status not in UNSETTLED:  # settled meanwhile
        return False
    row.refund_attempts += 1
    row.refund_error = f"{type(error).__name__}: {error}"[:1000]
    row.updated_at = now
    if row.refund_status == RefundStatus.PROCESSING and not isinstance(error, NothingToRefund):
        # The refund exists: "failed" would invite the merchant to refund twice. The
        # sweeper reads it again later.
        return not final
    if final or row.refund_attempts >= MAX_REFUND_ATTEMPTS:
        row.refund_status = RefundStatus.FAILED
        return False
    return True


def stale_refund_ids(session: Session, *, now: datetime, older_than: timedelta) -> list[int]:
    """Edited cancellations whose refund is still to make (its job may be lost) or still
    with the payment provider (to read again)."""
    return list(session.scalars(
        select(LineCancellation.id)
        .where(LineCancellation.refund_status.in_(UNSETTLED),
               LineCancellation.edit_status == EditStatus.DONE,
               LineCancellation.updated_at <= now - older_than)
        .order_by(LineCancellation.id).limit(500)))


def refunded_lines(session: Session, shop_id: int,
                   order_id: int) -> dict[int, tuple[Decimal, str, bool]]:
    """line item id -> (amount, currency, confirmed) of the refunds Shopify made for the
    order's cancellations; confirmed False while the payment provider processes one."""
    rows = session.execute(
        select(LineCancellation.line_item_id, LineCancellation.refund_amount,
               LineCancellation.refund_currency, LineCancellation.refund_status)
        .where(LineCancellation.shop_id == shop_id, LineCancellation.order_id == order_id,
               LineCancellation.refund_status.in_((RefundStatus.DONE, RefundStatus.PROCESSING)),
               LineCancellation.refund_id.is_not(None)))
    return {line: (amount, currency, status == RefundStatus.DONE)
            for line, amount, currency, status in rows}
