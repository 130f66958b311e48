"""The merchant's settings for one variant, resolved from shop settings and overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.domain.inventory.models import ShopSettings, Variant, VariantOverride
from app.domain.inventory.rules import Mode, Policy

DEFAULT_SETTINGS = {"mode": "auto", "fixed_cap": None, "buffer": 0, "handling_days": 1}


@dataclass(frozen=True)
class ShopPolicy:
    """Settings shared by every variant of a shop, with its overrides by product and variant."""

    base: dict
    counted_locations: frozenset[int] | None
    by_variant: dict[int, VariantOverride]
    by_product: dict[int, VariantOverride]
    # Units of each variant's next reorder no PO holds yet (SupplyPlan.next_reorders).
    next_reorders: Mapping[int, int] = field(default_factory=dict)

    def for_variant(self, variant: Variant, lead_time_days: int | None) -> Policy:
        values = dict(self.base)
        # Product overrides first, so a variant's own override wins over its product's.
        for override in (self.by_product.get(variant.product_id),
                         self.by_variant.get(variant.variant_id)):
            if override is not None:
                values.update({k: getattr(override, k) for k in DEFAULT_SETTINGS
                               if getattr(override, k) is not None})
        return Policy(mode=Mode(values["mode"]), fixed_cap=values["fixed_cap"],
                      buffer=values["buffer"], handling_days=values["handling_days"],
                      lead_time_days=lead_time_days,
                      next_reorder=self._next_reorder_units(variant, lead_time_days))

    def _next_reorder_units(self, variant: Variant, lead_time_days: int | None) -> int:
        # Without a lead time its units would have no date to promise.
        return self.next_reorders.get(variant.variant_id, 0) if lead_time_days is not None else 0


def load_shop_policy(session: Session, shop_id: int, variants: list[Variant], *,
                     next_reorders: Mapping[int, int]) -> ShopPolicy:
    """The shop's settings and the variants' overrides; `next_reorders` from the SupplyPlan."""
    settings = session.get(ShopSettings, shop_id)
    base = dict(DEFAULT_SETTINGS)
    if settings is not None:
        base.update(mode=settings.mode, fixed_cap=settings.fixed_cap, buffer=settings.buffer,
                    handling_days=settings.handling_days)
    overrides = session.scalars(select(VariantOverride).where(
        VariantOverride.shop_id == shop_id,
        or_(VariantOverride.variant_id.in_([v.variant_id for v in variants]),
            VariantOverride.product_id.in_([v.product_id for v in variants if v.product_id])))).all()
    counted = settings.counted_location_ids if settings is not None else None
    return ShopPolicy(
        base=base, counted_locations=frozenset(counted) if counted else None,
        by_variant={o.variant_id: o for o in overrides if o.variant_id is not None},
        by_product={o.product_id: o for o in overrides
                    if o.variant_id is None and o.product_id is not None},
        next_reorders=next_reorders)
