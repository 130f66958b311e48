"""The small interfaces the core talks to the outside through.

Real adapters live in `integrations/`, each with a console or fake twin;
`integrations.factory` picks one from the settings. Everything crossing these
interfaces is plain data, so the core never sees a vendor type.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

# --- Shopify Admin ---------------------------------------------------------

@dataclass(frozen=True)
class InventoryLevelInfo:
    location_id: int
    available: int
    updated_at: datetime | None = None


@dataclass(frozen=True)
class VariantInfo:
    """A variant as the Admin API describes it (numeric ids, not GIDs)."""

    variant_id: int
    product_id: int
    sku: str | None
    title: str
    inventory_item_id: int | None
    tracked: bool
    inventory_policy: str  # "DENY" or "CONTINUE"
    levels: tuple[InventoryLevelInfo, ...] = ()
    product_title: str = ""


@dataclass(frozen=True)
class OrderLineInfo:
    line_id: int
    variant_id: int | None
    quantity: int
    fulfilled_quantity: int = 0
    title: str = ""


@dataclass(frozen=True)
class OrderInfo:
    order_id: int
    name: str
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    email: str | None
    phone: str | None
    lines: tuple[OrderLineInfo, ...] = ()


@dataclass(frozen=True)
class VariantPolicyChange:
    variant_id: int
    policy: str  # "DENY" or "CONTINUE"


@dataclass(frozen=True)
class VariantMetafields:
    variant_id: int
    status: str  # in_stock / backorderable / out_of_stock
    eta: date | None


@dataclass(frozen=True)
class DiscountCodeSpec:
    """A single-use code for one customer; exactly one of percentage and amount is set."""

    code: str
    title: str
    starts_at: datetime
    percentage: Decimal | None = None  # 10 means 10 % off
    amount: Decimal | None = None  # off the order, in the shop's currency
    customer_id: int | None = None  # None: whoever holds the code


@dataclass(frozen=True)
class FulfilmentLineInfo:
    """Units of one order line on one fulfillment order."""

    fo_line_id: int  # the fulfillment order line item (not the order's line item)
    line_item_id: int
    remaining: int


@dataclass(frozen=True)
class FulfilmentHoldInfo:
    hold_id: int
    handle: str
    mine: bool  # placed by this app (Shopify's heldByRequestingApp)


@dataclass(frozen=True)
class FulfilmentOrderInfo:
    fo_id: int
    status: str  # OPEN, IN_PROGRESS, ON_HOLD, SCHEDULED, CLOSED, CANCELLED, INCOMPLETE
    lines: tuple[FulfilmentLineInfo, ...] = ()
    holds: tuple[FulfilmentHoldInfo, ...] = ()


@dataclass(frozen=True)
class OrderFulfilment:
    """An order's tags and fulfillment orders, as Shopify holds them now."""

    order_id: int
    tags: tuple[str, ...] = ()
    fulfillment_orders: tuple[FulfilmentOrderInfo, ...] = ()


@dataclass(frozen=True)
class PaymentInfo:
    """A SALE or CAPTURE that succeeded, and what of it may still be refunded."""

    transaction_id: int
    gateway: str
    refundable: Decimal  # its amount minus the successful refunds made against it


@dataclass(frozen=True)
class RefundLineInfo:
    """One order line's money, in the customer's (presentment) currency."""

    line_item_id: int
    quantity: int  # as ordered, removed and refunded units included
    unit_price: Decimal  # after all discounts (line, order and code), before tax
    tax: Decimal  # every tax line of the line, for `quantity` units


@dataclass(frozen=True)
class RefundInfo:
    """A refund Shopify holds; a refund is not yet money back until its transactions say so."""

    refund_id: int
    note: str
    amount: Decimal
    settled: str = "success"  # every transaction succeeded; "pending" or "failure" else


@dataclass(frozen=True)
class OrderRefundState:
    """What Shopify holds of an order's money, in its presentment currency."""

    order_id: int
    currency: str
    taxes_included: bool  # unit prices include tax already
    outstanding: Decimal  # negative: owed to the customer (an edit removed paid units)
    payments: tuple[PaymentInfo, ...] = ()
    refunds: tuple[RefundInfo, ...] = ()
    line: RefundLineInfo | None = None


@dataclass(frozen=True)
class RefundTransaction:
    parent_id: int  # the SALE or CAPTURE refunded
    gateway: str
    amount: Decimal


@dataclass(frozen=True)
class RefundSpec:
    """A refund of money only (no line items: the order edit already removed them)."""

    order_id: int
    currency: str
    note: str  # names the cancellation, so a retry can find it
    transactions: tuple[RefundTransaction, ...]
    notify: bool = True  # Shopify's refund email is the customer's receipt


class ShopifyAdmin(Protocol):
    """What the service asks of one shop's Admin API (GraphQL only)."""

    def set_inventory_policies(self, product_id: int,
                               changes: Sequence[VariantPolicyChange]) -> None: ...

    def set_variant_metafields(self, values: Sequence[VariantMetafields]) -> None: ...

    def subscribe_webhooks(self, callback_url: str, topics: Sequence[str]) -> None: ...

    def fetch_variant(self, variant_id: int) -> VariantInfo | None: ...

    def iter_variants(self) -> Iterator[VariantInfo]: ...

    def iter_open_orders(self) -> Iterator[OrderInfo]: ...

    def adjust_inventory(self, *, inventory_item_id: int, location_id: int,
                         delta: int, reference: str) -> None: ...

    def set_line_item_quantity(self, *, order_id: int, line_item_id: int, quantity: int,
                               staff_note: str) -> bool:
        """Edit the order so the line holds `quantity` (never more than now); False if it did."""
        ...

    def create_discount_code(self, spec: DiscountCodeSpec) -> int | None:
        """Create the code; its id, or None when a code of that name exists already."""
        ...

    def create_metafield_definitions(self) -> None:
        """Define backorder.status and backorder.eta with storefront read access (once)."""
        ...

    def order_fulfilment(self, order_id: int) -> OrderFulfilment | None: ...

    def hold_fulfillment_order(self, fo_id: int, *, handle: str,
                               lines: Sequence[tuple[int, int]] | None) -> None:
        """Hold (fulfillment order line item id, quantity) pairs, or the whole order (None)."""
        ...

    def release_fulfillment_holds(self, fo_id: int, hold_ids: Sequence[int]) -> None: ...

    def add_order_tags(self, order_id: int, tags: Sequence[str]) -> None: ...

    def remove_order_tags(self, order_id: int, tags: Sequence[str]) -> None: ...

    def order_refund_state(self, order_id: int, line_item_id: int) -> OrderRefundState | None:
        """The order's payments, refunds and one line's prices; None when the order is gone."""
        ...

    def create_refund(self, spec: RefundSpec) -> RefundInfo:
        """refundCreate (not idempotent: callers look for their note first)."""
        ...


# --- Shopify app credentials ------------------------------------------------

@dataclass(frozen=True)
class OfflineGrant:
    """An offline access token as Shopify's token endpoint hands it out.

    `expires_at` None is a token that never expires (custom apps, legacy installs);
    an expiring one comes with the refresh token that buys the next one.
    """

    token: str = field(repr=False)
    scopes: str = ""
    expires_at: datetime | None = None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: datetime | None = None


class TokenEndpoint(Protocol):
    """Shopify's `/admin/oauth/access_token` for this app: every grant it knows."""

    def exchange_code(self, domain: str, code: str) -> OfflineGrant: ...

    def exchange_session_token(self, domain: str, session_token: str) -> OfflineGrant: ...

    def refresh(self, domain: str, refresh_token: str) -> OfflineGrant:
        """The next access and refresh token; AuthRevoked when the refresh token is dead."""
        ...


class AccessTokenSource(Protocol):
    """What the Admin API client asks for a token: the current one, or a new one after a 401."""

    def current(self) -> str: ...

    def renew(self, rejected: str) -> str:
        """A token other than `rejected`; AuthRevoked when none can be had."""
        ...


# --- Messages --------------------------------------------------------------

@dataclass(frozen=True)
class SmsResult:
    sid: str
    status: str


class SmsSender(Protocol):
    def send_sms(self, *, to: str, body: str,
                 status_callback: str | None = None) -> SmsResult: ...

    def find_sent(self, *, to: str, body: str, since: datetime) -> SmsResult | None:
        """The message with this body sent to `to` since then, if the provider has one."""
        ...


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None  # stable id: a resend is recognisable
    headers: dict[str, str] = field(default_factory=dict)


class EmailSender(Protocol):
    def send_email(self, message: Email) -> None: ...


# --- Suppliers -------------------------------------------------------------

@dataclass(frozen=True)
class PurchaseOrderLineDoc:
    sku: str
    supplier_sku: str
    quantity: int
    unit_cost: str
    expected_on: date | None


@dataclass(frozen=True)
class PurchaseOrderDoc:
    """A PO as sent to a supplier; `number` is stable across retries."""

    number: str
    shop_name: str
    supplier_name: str
    supplier_email: str | None
    supplier_endpoint: str | None
    currency: str
    lines: tuple[PurchaseOrderLineDoc, ...]
    link: str


class SupplierChannel(Protocol):
    def send_purchase_order(self, po: PurchaseOrderDoc) -> None: ...
