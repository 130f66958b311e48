"""Work a use case asks for once its transaction commits (the boundary enqueues it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FollowUp:
    """A job to enqueue after commit: a dotted function path, its id arguments, a queue."""

    func: str
    args: tuple = ()
    queue: str = "default"
    job_id: str | None = None
    kwargs: dict = field(default_factory=dict)
    # Per-shop jobs that read all pending work: while one is waiting in the queue,
    # asking for another adds nothing (a burst of 1,000 orders queues one push).
    coalesce: bool = False
    # Run by the job that asked for it, right after its commit, instead of queued behind
    # other work: a variant closing at its cap must reach Shopify before more orders do.
    urgent: bool = False
    at: datetime | None = None  # not before this moment (the workers' scheduler holds it)


def push_variants(shop_id: int, *, urgent: bool = False) -> FollowUp:
    return FollowUp("workers.shopify.push_variants", (shop_id,), "shopify",
                    job_id=f"push-variants-{shop_id}", coalesce=True, urgent=urgent)


def recheck_variant(shop_id: int, variant_id: int, at: datetime) -> FollowUp:
    """Recompute a variant closed early once its sale may have calmed down."""
    return FollowUp("workers.shopify.recheck_variants", (shop_id, [variant_id]), "shopify",
                    job_id=f"recheck-{shop_id}-{variant_id}-{int(at.timestamp())}", at=at)


def fetch_variant_details(shop_id: int, variant_id: int) -> FollowUp:
    return FollowUp("workers.shopify.fetch_variant_details", (shop_id, variant_id), "shopify",
                    job_id=f"variant-details-{shop_id}-{variant_id}")


def dispatch_effects(shop_id: int) -> FollowUp:
    return FollowUp("workers.notifications.dispatch_effects", (shop_id,), "effects",
                    job_id=f"dispatch-effects-{shop_id}", coalesce=True)


def plan_reorders(shop_id: int) -> FollowUp:
    return FollowUp("workers.suppliers.plan_reorders", (shop_id,), "suppliers",
                    job_id=f"plan-reorders-{shop_id}", coalesce=True)


def sync_fulfilment(shop_id: int) -> FollowUp:
    return FollowUp("workers.fulfilment.sync_fulfilment", (shop_id,), "shopify",
                    job_id=f"sync-fulfilment-{shop_id}", coalesce=True)
