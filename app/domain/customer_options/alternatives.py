"""In-stock alternatives for backordered items, and the customer's one-click switch request.

The merchant links alternatives to a product (every variant of it) or to one
variant. The status page offers, for each backordered line, the linked
variants the engine currently counts as in stock. A switch request is one row
per line (a repeated click finds it and adds nothing) plus an effect of kind
`switch_requested`, the same alert a cancellation raises; the merchant makes
the swap in Shopify.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db import insert_ignoring_conflict
from app.domain.base import utcnow, whole_number
from app.domain.customer_options.models import Alternative, SwitchRequest
from app.domain.inventory.models import Effect, OrderLine, Variant
from app.domain.inventory.rules import Status
from app.domain.merchant.overrides import form_target
from app.errors import Conflict, InvalidInput, NotFound

SWITCH_REQUESTED = "switch_requested"  # the merchant's alert, like line_cancelled_by_customer


@dataclass(frozen=True)
class Offer:
    variant_id: int
    label: str


def variant_label(product_title: str | None, title: str | None, variant_id: int) -> str:
    parts = [p for p in (product_title, title) if p and p != "Default Title"]
    return " / ".join(parts) or f"Variant {variant_id}"


# --- what the customer sees and does ----------------------------------------------------

def offers_for(session: Session, shop_id: int,
               lines: Iterable[OrderLine]) -> dict[int, list[Offer]]:
    """For each waiting line, the linked alternatives in stock now (by the engine's status)."""
    waiting = [x for x in lines if x.backordered > 0 and not x.cancelled_by_customer
               and x.variant_id is not None]
    if not waiting:
        return {}
    products = dict(session.execute(select(Variant.variant_id, Variant.product_id).where(
        Variant.shop_id == shop_id, Variant.variant_id.in_({x.variant_id for x in waiting}))).all())
    return {line.line_item_id: found for line in waiting
            if (found := _in_stock(session, shop_id, line.variant_id,
                                   products.get(line.variant_id)))}


def _in_stock(session: Session, shop_id: int, variant_id: int,
              product_id: int | None) -> list[Offer]:
    targets = [(Alternative.scope == "variant") & (Alternative.target_id == variant_id)]
    if product_id is not None:
        targets.append((Alternative.scope == "product") & (Alternative.target_id == product_id))
    linked = or_(*targets)
    rows = session.execute(
        select(Variant.variant_id, Variant.product_title, Variant.title).distinct()
        .join(Alternative, (Alternative.alternative_variant_id == Variant.variant_id)
              & (Alternative.shop_id == Variant.shop_id))
        .where(Variant.shop_id == shop_id, linked, Variant.variant_id != variant_id,
               Variant.deleted.is_(False), Variant.status == Status.IN_STOCK.value)
        .order_by(Variant.product_title, Variant.title, Variant.variant_id))
    return [Offer(r.variant_id, variant_label(r.product_title, r.title, r.variant_id))
            for r in rows]


def requests_for(session: Session, shop_id: int, order_id: int) -> dict[int, str]:
    """line item id -> label of the variant the customer asked to switch to."""
    rows = session.execute(
        select(SwitchRequest.line_item_id, SwitchRequest.to_variant_id, Variant.product_title,
               Variant.title)
        .outerjoin(Variant, (Variant.shop_id == SwitchRequest.shop_id)
                   & (Variant.variant_id == SwitchRequest.to_variant_id))
        .where(SwitchRequest.shop_id == shop_id, SwitchRequest.order_id == order_id))
    return {r.line_item_id: variant_label(r.product_title, r.title, r.to_variant_id)
            for r in rows}


def request_switch(session: Session, shop_id: int, order_id: int, line: OrderLine,
                   to_variant_id: int, *, now: datetime) -> bool:
    """Record the request and alert the merchant; False when the line was already asked for."""
    if session.scalar(select(SwitchRequest.id).where(
            SwitchRequest.shop_id == shop_id,
            SwitchRequest.line_item_id == line.line_item_id)) is not None:
        return False  # a repeated click (the caller holds the line's row lock)
    offered = offers_for(session, shop_id, [line]).get(line.line_item_id, [])
    if to_variant_id not in {o.variant_id for o in offered}:
        raise Conflict("This alternative is no longer available. Please reload the page.")
    new_id = insert_ignoring_conflict(session, SwitchRequest.__table__, dict(
        shop_id=shop_id, order_id=order_id, line_item_id=line.line_item_id,
        from_variant_id=line.variant_id, to_variant_id=to_variant_id, created_at=now),
        ["shop_id", "line_item_id"])
    if new_id is None:
        return False
    session.add(Effect(shop_id=shop_id, variant_id=line.variant_id or 0, order_id=order_id,
                       line_item_id=line.line_item_id, kind=SWITCH_REQUESTED,
                       old=str(line.variant_id), new=str(to_variant_id), created_at=now))
    return True


# --- what the merchant links --------------------------------------------------------------

@dataclass(frozen=True)
class AlternativeRow:
    id: int
    target: str
    alternative: str


def link(session: Session, shop_id: int, form: Mapping[str, str]) -> None:
    """Offer one variant as an alternative to a product or variant of the shop."""
    errors: dict[str, str] = {}
    scope, target_id = form_target(session, shop_id, (form.get("target") or "").strip(), errors)
    raw = (form.get("alternative") or "").strip().removeprefix("variant:")
    alternative = _variant(session, shop_id, raw)
    if alternative is None:
        errors["alternative"] = "Choose a variant of this shop."
    elif scope == "variant" and alternative == target_id:
        errors["alternative"] = "A variant cannot be its own alternative."
    if errors:
        raise InvalidInput("The alternative needs fixing; nothing was saved.",
                           field_errors=errors)
    insert_ignoring_conflict(session, Alternative.__table__, dict(
        shop_id=shop_id, scope=scope, target_id=target_id, alternative_variant_id=alternative,
        created_at=utcnow()),
        ["shop_id", "scope", "target_id", "alternative_variant_id"])


def _variant(session: Session, shop_id: int, raw: str) -> int | None:
    if (variant_id := whole_number(raw)) is None:
        return None
    return session.scalar(select(Variant.variant_id).where(
        Variant.shop_id == shop_id, Variant.variant_id == variant_id, Variant.deleted.is_(False)))


def unlink(session: Session, shop_id: int, alternative_id: int) -> None:
    row = session.scalar(select(Alternative).where(Alternative.id == alternative_id,
                                                   Alternative.shop_id == shop_id))
    if row is None:
        raise NotFound("no such alternative")
    session.delete(row)


def listed(session: Session, shop_id: int, labels: Mapping[str, str]) -> list[AlternativeRow]:
    """The shop's links, labelled with the settings page's target labels."""
    rows = session.scalars(select(Alternative).where(Alternative.shop_id == shop_id)
                           .order_by(Alternative.id))
    return [AlternativeRow(r.id, labels.get(f"{r.scope}:{r.target_id}",
                                            f"{r.scope} {r.target_id}"),
                           labels.get(f"variant:{r.alternative_variant_id}",
                                      f"variant {r.alternative_variant_id}")) for r in rows]
