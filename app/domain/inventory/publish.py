"""What Shopify should show: inventoryPolicy and the backorder.status / backorder.eta
metafields of managed variants, pushed only when they change."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, select, update
from sqlalchemy.orm import Session

from app.domain.inventory.models import Variant
from app.domain.inventory.rules import order_to_deny
from app.domain.ports import ShopifyAdmin, VariantMetafields, VariantPolicyChange
from app.domain.shops.models import Shop

BATCH = 250


@dataclass(frozen=True)
class Push:
    variant_id: int
    product_id: int | None
    policy: str
    status: str
    eta: date | None
    policy_changed: bool
    metafields_changed: bool
    deny_order_at: datetime | None = None  # set when orders closed it: what DENY is timed from


def claim_pushes(session: Session, shop_id: int, limit: int = BATCH) -> list[Push]:
    """Managed variants whose Shopify-visible state differs from what was last pushed, those
    that must stop selling first, with what Shopify shows of them forgotten until
    `mark_pushed` records the write.

    A write can land in Shopify and still fail here (a read timeout, a worker killed,
    the database gone before `mark_pushed`). Had the old pushed values stayed, a recompute
    going back to them would find nothing to push and leave Shopify on the newer write
    for good; unknown, they differ from every decision, so the variant stays pending.
    """
    closing = and_(Variant.desired_policy == "DENY",
                   Variant.pushed_policy.is_distinct_from("DENY"))
    ids = session.scalars(select(Variant.id).where(
        Variant.shop_id == shop_id, Variant.push_pending.is_(True),
        Variant.desired_policy.is_not(None))
        .order_by(case((closing, 0), else_=1), Variant.id).limit(limit)).all()
    if not ids:
        return []
    # Locked in primary-key order, as every variant lock is taken: never a deadlock.
    locked = {v.id: v for v in session.scalars(
        select(Variant).where(Variant.id.in_(ids)).order_by(Variant.id).with_for_update())}
    variants = [v for v in (locked.get(i) for i in ids)
                if v is not None and v.push_pending and v.desired_policy is not None]
    pushes = [Push(variant_id=v.variant_id, product_id=v.product_id, policy=v.desired_policy,
                   status=v.status, eta=v.next_eta,
                   policy_changed=v.desired_policy != v.pushed_policy,
                   metafields_changed=(v.status, v.next_eta) != (v.pushed_status, v.pushed_eta),
                   deny_order_at=v.deny_order_at if v.desired_policy == "DENY" else None)
              for v in variants]
    if pushes:
        session.execute(update(Variant).where(Variant.id.in_([v.id for v in variants]))
                        .values(pushed_policy=None, pushed_status=None, pushed_eta=None))
    return pushes


def publish(admin: ShopifyAdmin, pushes: list[Push]) -> None:
    """Write the pushes to Shopify: policies grouped per product, then metafields."""
    by_product: dict[int, list[VariantPolicyChange]] = defaultdict(list)
    for push in pushes:
        if push.policy_changed and push.product_id is not None:
            by_product[push.product_id].append(VariantPolicyChange(push.variant_id, push.policy))
    for product_id, changes in sorted(by_product.items()):
        admin.set_inventory_policies(product_id, changes)
    metafields = [VariantMetafields(p.variant_id, p.status, p.eta)
                  for p in pushes if p.metafields_changed]
    if metafields:
        admin.set_variant_metafields(metafields)


def mark_pushed(session: Session, shop_id: int, pushes: list[Push], *,
                pushed_at: datetime) -> None:
    """Record what Shopify now shows; a recompute since the read keeps the variant pending."""
    _measure_order_to_deny(session, shop_id, pushes, pushed_at)
    for push in pushes:
        session.execute(
            update(Variant)
            .where(Variant.shop_id == shop_id, Variant.variant_id == push.variant_id)
            .values(pushed_policy=push.policy, pushed_status=push.status, deny_order_at=None,
                    pushed_eta=push.eta, shopify_policy=push.policy,
                    push_pending=(Variant.desired_policy.is_distinct_from(push.policy)
                                  | Variant.status.is_distinct_from(push.status)
                                  | Variant.next_eta.is_distinct_from(push.eta))))


def _measure_order_to_deny(session: Session, shop_id: int, pushes: list[Push],
                           pushed_at: datetime) -> None:
    """Fold the time from the orders that closed variants to DENY at Shopify into the
    shop's estimate, which the recompute uses to close fast-selling variants early."""
    samples = [(pushed_at - p.deny_order_at).total_seconds() for p in pushes
               if p.policy_changed and p.policy == "DENY" and p.deny_order_at is not None]
    samples = [s for s in samples if s >= 0]  # an order stamped after the push: clocks disagree
    if not samples:
        return
    shop = session.get(Shop, shop_id, with_for_update=True)
    if shop is not None:
        shop.order_to_deny_seconds = order_to_deny(shop.order_to_deny_seconds, max(samples))
