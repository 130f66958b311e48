"""What the merchant sees of the customers' options: cancellations with their Shopify edit
and refund, switch requests, goodwill codes; newest first, scoped to one shop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.domain.customer_options.alternatives import variant_label
from app.domain.customer_options.models import (
    LineCancellation,
    OrderDiscount,
    SwitchRequest,
)
from app.domain.customer_options.refund_rules import money_text
from app.domain.inventory.models import CustomerOrder, Variant

LIMIT = 100
EDIT_LABELS = {"off": "Not edited (turned off in Settings)", "pending": "Waiting to edit",
               "done": "Removed from the Shopify order", "failed": "Edit failed"}
REFUND_LABELS = {"off": "Not refunded by the app", "pending": "Waiting to refund",
                 "processing": "Refund issued, the payment provider is completing it",
                 "done": "Refunded", "failed": "Refund failed: refund in Shopify"}


@dataclass(frozen=True)
class Requests:
    cancellations: list[LineCancellation]
    switches: list[tuple[SwitchRequest, str, str]]  # (request, from label, to label)
    discounts: list[OrderDiscount]
    order_names: dict[int, str]

    @property
    def problems(self) -> int:
        """Edits, refunds and codes that need the merchant: failed for good, or still failing."""
        return sum(1 for c in self.cancellations if c.edit_error and c.edit_status != "done") \
            + sum(1 for c in self.cancellations
                  if c.refund_error and c.refund_status != "done" and c.edit_status == "done") \
            + sum(1 for d in self.discounts if d.last_error and d.status != "created")


def customer_requests(session: Session, shop_id: int) -> Requests:
    """The shop's latest cancellations, switch requests and goodwill codes."""
    cancellations = list(session.scalars(
        select(LineCancellation).where(LineCancellation.shop_id == shop_id)
        .order_by(LineCancellation.id.desc()).limit(LIMIT)))
    discounts = list(session.scalars(
        select(OrderDiscount).where(OrderDiscount.shop_id == shop_id)
        .order_by(OrderDiscount.id.desc()).limit(LIMIT)))
    switches = _switches(session, shop_id)
    order_ids = {x.order_id for x in (*cancellations, *discounts)} | {
        s.order_id for s, _, _ in switches}
    names = dict(session.execute(select(CustomerOrder.order_id, CustomerOrder.name).where(
        CustomerOrder.shop_id == shop_id, CustomerOrder.order_id.in_(order_ids))).all()) \
        if order_ids else {}
    return Requests(cancellations, switches, discounts, names)


def _switches(session: Session, shop_id: int) -> list[tuple[SwitchRequest, str, str]]:
    origin, target = aliased(Variant), aliased(Variant)
    rows = session.execute(
        select(SwitchRequest, origin.product_title, origin.title, target.product_title,
               target.title)
        .outerjoin(origin, (origin.shop_id == SwitchRequest.shop_id)
                   & (origin.variant_id == SwitchRequest.from_variant_id))
        .outerjoin(target, (target.shop_id == SwitchRequest.shop_id)
                   & (target.variant_id == SwitchRequest.to_variant_id))
        .where(SwitchRequest.shop_id == shop_id)
        .order_by(SwitchRequest.id.desc()).limit(LIMIT)).all()
    return [(r[0], variant_label(r[1], r[2], r[0].from_variant_id or 0),
             variant_label(r[3], r[4], r[0].to_variant_id)) for r in rows]


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def refund_label(cancellation: LineCancellation) -> str:
    """"Refunded 12.00 EUR", or what the refund's state means for the merchant."""
    amount = cancellation.refund_amount
    if cancellation.refund_status == "done" and cancellation.refund_id is not None:
        return "Refunded " + money_text(amount, cancellation.refund_currency)
    if cancellation.refund_status == "processing":
        return (f"Refund of {money_text(amount, cancellation.refund_currency)} issued, "
                "the payment provider is completing it")
    if cancellation.refund_status == "done":
        return "Nothing to refund (free units)"
    return REFUND_LABELS.get(cancellation.refund_status, cancellation.refund_status)
