"""Goodwill discount codes for customers whose wait grew long: one per order, ever.

When a delay notice is created and the customer's wait passes the shop's
threshold, the order's code is reserved in the same transaction (a row unique
per order and per code) and printed in the notice. A job then creates exactly
that code in Shopify (`discountCodeBasicCreate`). Creating it never holds the
notice back: a failing Shopify is retried by RQ and by the hourly overdue scan,
and a final failure is shown to the merchant, who may create the same code by
hand. Because the code is chosen before the call, a retry can never make two.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import insert_ignoring_conflict
from app.domain.customer_options import rules
from app.domain.customer_options.models import DiscountStatus, OrderDiscount
from app.domain.customer_options.order_edits import MAX_EDIT_ATTEMPTS, option_settings
from app.domain.inventory.models import CustomerOrder
from app.domain.notifications.rules import LineUpdate, local_today
from app.domain.ports import DiscountCodeSpec
from app.domain.shops.models import Shop


@dataclass(frozen=True)
class Goodwill:
    """What a message says about the order's discount."""

    code: str
    text: str  # "10% off"


def goodwill_for_delay(session: Session, shop: Shop, order: CustomerOrder,
                       updates: Sequence[LineUpdate], *, now: datetime) -> Goodwill | None:
    """The order's code for this delay notice (reserved now if new), or None when none applies."""
    settings = option_settings(session, shop.id)
    placed_on = local_today(order.placed_at, shop.timezone) if order.placed_at else None
    if placed_on is None or not rules.wait_is_long(settings, placed_on=placed_on,
                                                   etas=[u.eta for u in updates]):
        return None
    row = _existing(session, shop.id, order.order_id) or _reserve(session, shop.id, order,
                                                                  settings, now)
    if row.status == DiscountStatus.FAILED:
        return None  # Shopify refused it for good: never hand out a code that does not work
    return Goodwill(row.code, rules.discount_text(row.kind, Decimal(row.value)))


def _existing(session: Session, shop_id: int, order_id: int) -> OrderDiscount | None:
    return session.scalar(select(OrderDiscount).where(OrderDiscount.shop_id == shop_id,
                                                      OrderDiscount.order_id == order_id))


def _reserve(session: Session, shop_id: int, order: CustomerOrder,
             settings: rules.OptionSettings, now: datetime) -> OrderDiscount:
    suffix = "".join(secrets.choice(rules.CODE_ALPHABET)
                     for _ in range(rules.CODE_SUFFIX_LENGTH))
    # A concurrent scan may reserve the same order first: then its code is the one.
    insert_ignoring_conflict(session, OrderDiscount.__table__, dict(
        shop_id=shop_id, order_id=order.order_id,
        code=rules.discount_code(order.name or "", order.order_id, suffix),
        kind=settings.goodwill_kind, value=str(settings.goodwill_value),
        customer_id=order.customer_id, status=DiscountStatus.PENDING, attempts=0,
        created_at=now, updated_at=now), ["shop_id", "order_id"])
    return _existing(session, shop_id, order.order_id)


def pending_ids(session: Session, shop_id: int) -> list[int]:
    """Codes reserved but not created in Shopify yet: each gets a (unique) creation job."""
    return list(session.scalars(select(OrderDiscount.id).where(
        OrderDiscount.shop_id == shop_id, OrderDiscount.status == DiscountStatus.PENDING)
        .order_by(OrderDiscount.id).limit(500)))


@dataclass(frozen=True)
class DiscountPlan:
    discount_id: int
    shop_id: int
    spec: DiscountCodeSpec


def pending_discount(session: Session, discount_id: int, *, now: datetime) -> DiscountPlan | None:
    """What to ask Shopify for, or None when the code is created or failed for good."""
    row = session.get(OrderDiscount, discount_id)
    if row is None or row.status != DiscountStatus.PENDING:
        return None
    name = session.scalar(select(CustomerOrder.name).where(
        CustomerOrder.shop_id == row.shop_id, CustomerOrder.order_id == row.order_id))
    value = Decimal(row.value)
    spec = DiscountCodeSpec(
        code=row.code, title=f"Sorry for the wait: order {name or row.order_id}"[:255],
        starts_at=now, customer_id=row.customer_id,
        percentage=value if row.kind == "percentage" else None,
        amount=value if row.kind == "fixed_amount" else None)
    return DiscountPlan(row.id, row.shop_id, spec)


def record_created(session: Session, discount_id: int, shopify_id: int | None, *,
                   now: datetime) -> None:
    row = session.get(OrderDiscount, discount_id, with_for_update=True)
    row.status, row.last_error, row.updated_at = DiscountStatus.CREATED, None, now
    row.discount_id = shopify_id if shopify_id is not None else row.discount_id
    row.attempts += 1


def record_error(session: Session, discount_id: int, error: Exception, *, final: bool,
                 now: datetime) -> bool:
    """Keep the error for the merchant; True when the job should be retried."""
    row = session.get(OrderDiscount, discount_id, with_for_update=True)
    if row.status != DiscountStatus.PENDING:
        return False
    row.attempts += 1
    row.last_error, row.updated_at = f"{type(error).__name__}: {error}"[:1000], now
    if final or row.attempts >= MAX_EDIT_ATTEMPTS:
        row.status = DiscountStatus.FAILED
        return False
    return True
