"""Work a use case asks for once its transaction commits.

Services return these values; they never name a worker function or a queue. The jobs
layer (app/jobs) maps each one to its job, its queue and the key that merges twins,
and the boundary (the job wrapper, a web handler) enqueues them after its commit, so
a worker never looks for a row that is not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# --- Inventory and Shopify ------------------------------------------------------------


@dataclass(frozen=True)
class PushVariants:
    """Write the shop's pending policies and metafields to Shopify.

    Urgent: a variant is closing at its cap, so the job that asked pushes it itself right
    after its commit, before more orders arrive, instead of queueing behind other work."""

    shop_id: int
    urgent: bool = False


@dataclass(frozen=True)
class RecheckVariant:
    """Recompute a variant closed early, once its sale may have calmed down."""

    shop_id: int
    variant_id: int
    at: datetime


@dataclass(frozen=True)
class FetchVariantDetails:
    """Ask Shopify about a variant first seen in an order."""

    shop_id: int
    variant_id: int


@dataclass(frozen=True)
class RecomputeShop:
    """Recompute every variant of the shop (its settings changed)."""

    shop_id: int


@dataclass(frozen=True)
class SyncShop:
    """Reconcile the shop with Shopify: variants, stock, open orders."""

    shop_id: int


@dataclass(frozen=True)
class SyncFulfilment:
    """Bring the shop's fulfilment holds and order tags in step."""

    shop_id: int


# --- Intake ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyEvents:
    """Apply the shop's waiting webhooks in batches."""

    shop_id: int


@dataclass(frozen=True)
class ProcessWebhook:
    """Apply one stored webhook on its own (uninstall, compliance, a retried one)."""

    event_id: int


# --- Customer messages and options ----------------------------------------------------


@dataclass(frozen=True)
class DispatchEffects:
    """Turn the shop's settled effects into messages (at `at`: some are still settling)."""

    shop_id: int
    at: datetime | None = None


@dataclass(frozen=True)
class SendMessage:
    """Send one stored notification, not before `send_after` (quiet hours).

    `replace_dead`: a sweep re-asking for it drops a finished or failed job of the same
    id first, so the new one is not refused as a duplicate."""

    notification_id: int
    send_after: datetime | None = None
    replace_dead: bool = False


@dataclass(frozen=True)
class EditShopifyOrder:
    """Remove a customer's cancelled units from the Shopify order."""

    cancellation_id: int


@dataclass(frozen=True)
class RefundCancelledUnits:
    """Refund the units an order edit removed after a customer's cancellation."""

    cancellation_id: int


@dataclass(frozen=True)
class CreateGoodwillDiscount:
    """Create a reserved goodwill code in Shopify."""

    discount_id: int


# --- Suppliers ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanReorders:
    """Bring every supplier's draft PO in line with the shop's needs."""

    shop_id: int


@dataclass(frozen=True)
class SendPurchaseOrder:
    """Dispatch this PO, after `delay_seconds` (the auto-send coalescing window)."""

    po_id: int
    delay_seconds: int = 0


@dataclass(frozen=True)
class PushReceipts:
    """Add this PO's received, not yet pushed units to Shopify's inventory."""

    po_id: int


Intent = (PushVariants | RecheckVariant | FetchVariantDetails | RecomputeShop | SyncShop
          | SyncFulfilment | ApplyEvents | ProcessWebhook | DispatchEffects | SendMessage
          | EditShopifyOrder | RefundCancelledUnits | CreateGoodwillDiscount | PlanReorders | SendPurchaseOrder
          | PushReceipts)
