"""Which job does each intent: its worker function, its queue and its merge key.

The one place that names worker functions. They are dotted paths, as RQ stores them,
so neither the domain nor the web process imports the workers.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from datetime import datetime, timedelta
from functools import singledispatch

from rq import Retry

from app.domain import intents as i
from app.domain.base import utcnow

WEBHOOKS, SHOPIFY, EFFECTS, NOTIFY, SUPPLIERS, MAINTENANCE = (
    "webhooks", "shopify", "effects", "notify", "suppliers", "maintenance")
# A worker takes jobs from the first queue that has one. Turning effects into messages
# comes before sending them: a flash sale queues thousands of sends, and each customer's
# message must still be created within seconds of their order.
ALL_QUEUES = (WEBHOOKS, SHOPIFY, EFFECTS, NOTIFY, SUPPLIERS, MAINTENANCE)

# Backoff for transient failures: about 10 minutes in all, then the sweepers take over.
DEFAULT_RETRY = Retry(max=6, interval=[2, 5, 15, 30, 120, 300])
# What every job gets unless its route says otherwise: the retries, and how long RQ
# keeps it after.
JOB_OPTIONS = dict(retry=DEFAULT_RETRY, failure_ttl=7 * 86400, result_ttl=600)


@dataclass(frozen=True)
class Route:
    """How one intent goes onto a queue."""

    func: str
    args: tuple
    queue: str
    job_id: str | None = None
    # Per-shop jobs that read all pending work: while one waits in the queue, asking for
    # another adds nothing (a burst of 1,000 orders queues one push). Run one at a time.
    coalesce: bool = False
    # Run by the job that asked for it, right after its commit (the cap's DENY).
    urgent: bool = False
    at: datetime | None = None  # not before this moment (the workers' scheduler holds it)
    # Never a second job with this id while one is queued, scheduled or running.
    unique: bool = False
    replace_dead: bool = False  # drop a finished or failed job of this id first
    options: dict = field(default_factory=lambda: dict(JOB_OPTIONS))


# Intents that carry one id: (worker function, queue, job id prefix, coalesced).
_BY_ID: dict[type, tuple[str, str, str, bool]] = {
    i.SyncShop: ("workers.shopify.sync_shop", SHOPIFY, "sync-shop", False),
    i.SyncFulfilment: ("workers.fulfilment.sync_fulfilment", SHOPIFY, "sync-fulfilment", True),
    i.ApplyEvents: ("workers.jobs.apply_events", WEBHOOKS, "apply-events", True),
    i.ProcessWebhook: ("workers.jobs.process_webhook", WEBHOOKS, "webhook", False),
    i.EditShopifyOrder: ("workers.customer_options.edit_shopify_order", SHOPIFY, "order-edit",
                         False),
    i.RefundCancelledUnits: ("workers.customer_options.refund_cancelled_units", SHOPIFY,
                             "order-refund", False),
    i.CreateGoodwillDiscount: ("workers.customer_options.create_goodwill_discount", SHOPIFY,
                               "goodwill-discount", False),
    i.PlanReorders: ("workers.suppliers.plan_reorders", SUPPLIERS, "plan-reorders", True),
    i.PushReceipts: ("workers.suppliers.push_receipts", SUPPLIERS, "push-receipts", False),
}


def route(intent) -> Route:
    """The job that does this intent."""
    if type(intent) in _BY_ID:
        func, queue, prefix, coalesce = _BY_ID[type(intent)]
        (key,) = astuple(intent)
        return Route(func, (key,), queue, f"{prefix}-{key}", coalesce=coalesce)
    return _route(intent)


@singledispatch
def _route(intent) -> Route:
    raise TypeError(f"no job does {intent!r}")


@_route.register
def _(intent: i.PushVariants) -> Route:
    return Route("workers.shopify.push_variants", (intent.shop_id,), SHOPIFY,
                 f"push-variants-{intent.shop_id}", coalesce=True, urgent=intent.urgent)


@_route.register
def _(intent: i.RecheckVariant) -> Route:
    stamp = int(intent.at.timestamp())
    return Route("workers.shopify.recheck_variants", (intent.shop_id, [intent.variant_id]),
                 SHOPIFY, f"recheck-{intent.shop_id}-{intent.variant_id}-{stamp}", at=intent.at)


@_route.register
def _(intent: i.FetchVariantDetails) -> Route:
    return Route("workers.shopify.fetch_variant_details", (intent.shop_id, intent.variant_id),
                 SHOPIFY, f"variant-details-{intent.shop_id}-{intent.variant_id}")


@_route.register
def _(intent: i.RecomputeShop) -> Route:
    # No merge key: each settings change asks for its own recompute.
    return Route("workers.shopify.recompute_shop", (intent.shop_id,), SHOPIFY)


@_route.register
def _(intent: i.DispatchEffects) -> Route:
    func, args = "workers.notifications.dispatch_effects", (intent.shop_id,)
    if intent.at is None:
        return Route(func, args, EFFECTS, f"dispatch-effects-{intent.shop_id}", coalesce=True)
    # The scheduler may start a job up to a second early: never re-ask for the same
    # moment (same job id), always at least a second from now.
    at = max(intent.at, utcnow() + timedelta(seconds=1))
    return Route(func, args, EFFECTS,
                 f"dispatch-effects-{intent.shop_id}-at-{int(at.timestamp() * 1000)}",
                 at=at, unique=True)


@_route.register
def _(intent: i.SendMessage) -> Route:
    job_id = f"notify-{intent.notification_id}"
    at = intent.send_after if intent.send_after and intent.send_after > utcnow() else None
    if at is not None:
        job_id += f"-at-{int(at.timestamp())}"
    return Route("workers.notifications.send_notification", (intent.notification_id,),
                 NOTIFY, job_id, at=at, unique=True, replace_dead=intent.replace_dead)


@_route.register
def _(intent: i.SendPurchaseOrder) -> Route:
    at = (utcnow() + timedelta(seconds=intent.delay_seconds)
          if intent.delay_seconds > 0 else None)
    return Route("workers.suppliers.send_purchase_order", (intent.po_id,), SUPPLIERS,
                 f"send-po-{intent.po_id}", at=at)


# --- The workers' own machinery: not asked for by the domain ---------------------------


def pump_route() -> Route:
    """The job that turns handed-off webhook ids into the jobs that apply them."""
    return Route("workers.intake.pump_webhooks", (), WEBHOOKS,
                 options=dict(retry=DEFAULT_RETRY, result_ttl=0, failure_ttl=86400))


def periodic_route(name: str, link_id: str, at: datetime) -> Route:
    """One link of a periodic chain (workers/periodic.py schedules the next)."""
    return Route("workers.periodic.run_periodic", (name,), MAINTENANCE, link_id, at=at,
                 options=dict(result_ttl=0, failure_ttl=86400))
