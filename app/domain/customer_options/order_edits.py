"""A customer's cancellation, and removing its units from the Shopify order.

Cancelling on the status page records a `line_cancellations` row in the same
transaction. When the shop allows it, a job (after commit) edits the Shopify
order so the line keeps only what shipped. The edit sets a quantity instead of
subtracting one, and is skipped when Shopify's line holds no more than that, so
a retried or duplicated job never removes units twice; `done` is recorded on
the row and later jobs do nothing. Once the edit is done, the refund of the
removed units follows (customer_options.refunds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import insert_ignoring_conflict
from app.domain.customer_options import refunds
from app.domain.customer_options.models import EditStatus, LineCancellation
from app.domain.customer_options.rules import OptionSettings, staff_note
from app.domain.intents import EditShopifyOrder
from app.domain.inventory.models import OrderLine, ShopSettings

# RQ's DEFAULT_RETRY runs a job 7 times in all; after that the failure is final.
MAX_EDIT_ATTEMPTS = 7


def option_settings(session: Session, shop_id: int) -> OptionSettings:
    extra = session.scalar(select(ShopSettings.extra).where(ShopSettings.shop_id == shop_id))
    return OptionSettings.from_extra(extra)


def record_cancellation(session: Session, shop_id: int, order_id: int, line: OrderLine, *,
                        cancelled_units: int, now: datetime,
                        kept_units: int | None = None) -> list[EditShopifyOrder]:
    """Keep the cancellation; the edit job to enqueue after commit when the shop edits orders.

    The Shopify line keeps `kept_units` (by default what shipped: the whole line goes)."""
    options = option_settings(session, shop_id)
    editing = options.edit_order_on_cancel
    new_id = insert_ignoring_conflict(session, LineCancellation.__table__, dict(
        shop_id=shop_id, order_id=order_id, line_item_id=line.line_item_id,
        title=line.title or "", quantity=cancelled_units,
        kept_quantity=line.fulfilled_quantity if kept_units is None else kept_units,
        edit_attempts=0,
        edit_status=EditStatus.PENDING if editing else EditStatus.OFF,
        refund_status=refunds.initial_status(options, editing=editing), refund_attempts=0,
        created_at=now, updated_at=now), ["shop_id", "line_item_id"])
    return [EditShopifyOrder(new_id)] if new_id is not None and editing else []


@dataclass(frozen=True)
class EditPlan:
    """What the job asks Shopify, read in a short transaction before the call."""

    cancellation_id: int
    shop_id: int
    order_id: int
    line_item_id: int
    kept_quantity: int
    staff_note: str


def pending_edit(session: Session, cancellation_id: int) -> EditPlan | None:
    """The edit still to make, or None when it is done, failed for good or not wanted."""
    row = session.get(LineCancellation, cancellation_id)
    if row is None or row.edit_status != EditStatus.PENDING:
        return None
    return EditPlan(row.id, row.shop_id, row.order_id, row.line_item_id, row.kept_quantity,
                    staff_note(row.title, row.quantity))


def record_edited(session: Session, cancellation_id: int, *, now: datetime) -> None:
    row = session.get(LineCancellation, cancellation_id, with_for_update=True)
    row.edit_status, row.edited_at, row.edit_error = EditStatus.DONE, now, None
    row.edit_attempts += 1


def record_edit_error(session: Session, cancellation_id: int, error: Exception, *, final: bool,
                      now: datetime) -> bool:
    """Keep the error for the merchant; True when the job should be retried."""
    row = session.get(LineCancellation, cancellation_id, with_for_update=True)
    if row.edit_status != EditStatus.PENDING:  # a twin job settled it meanwhile
        return False
    row.edit_attempts += 1
    row.edit_error = f"{type(error).__name__}: {error}"[:1000]
    row.updated_at = now
    if final or row.edit_attempts >= MAX_EDIT_ATTEMPTS:
        row.edit_status = EditStatus.FAILED
        refunds.give_up_with_edit(row)
        return False
    return True


def stale_edit_ids(session: Session, *, now: datetime, older_than: timedelta) -> list[int]:
    """Pending edits whose job may be lost (Redis was down at cancel time, a worker died)."""
    return list(session.scalars(
        select(LineCancellation.id)
        .where(LineCancellation.edit_status == EditStatus.PENDING,
               LineCancellation.updated_at <= now - older_than)
        .order_by(LineCancellation.id).limit(500)))
