"""The supplier's page: a PO opened from a signed link, confirmed, its dates moved.

The link is the supplier's only credential, so it is signed (LinkSigner,
purpose "supplier-po") and names both the PO and its shop; anything that does
not check out is NotFound, never a hint of what exists. A moved date changes
the supply the engine plans with, so it recomputes the ETAs of exactly the
variants whose lines moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.domain.base import utcnow
from app.domain.shops.models import Shop
from app.domain.suppliers.models import (
    SUPPLIER_EDITABLE_STATUSES,
    PoStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
)
from app.domain.suppliers.service import recompute
from app.errors import Conflict, InvalidInput, NotFound

TOKEN_PURPOSE = "supplier-po"
TOKEN_MAX_AGE = 400 * 86400  # POs can stay open for months; a year and a bit covers them
MAX_AHEAD = timedelta(days=3 * 365)


class Signer(Protocol):
    """What the portal needs of app.security.LinkSigner."""

    def sign(self, payload: dict) -> str: ...

    def load(self, token: str, *, max_age_seconds: int) -> dict: ...


def supplier_link(signer: Signer, po: PurchaseOrder, *, public_url: str) -> str:
    """The link the supplier gets with the PO."""
    token = signer.sign({"po": po.id, "shop": po.shop_id})
    return f"{public_url.rstrip('/')}/supplier/po/{token}"


def po_for_token(session: Session, token: str, *, signer: Signer,
                 lock: bool = False) -> PurchaseOrder:
    """The PO a link points at; NotFound for a bad, expired or no longer valid link."""
    payload = signer.load(token, max_age_seconds=TOKEN_MAX_AGE)
    po_id, shop_id = payload.get("po"), payload.get("shop")
    if not isinstance(po_id, int) or not isinstance(shop_id, int):
        raise NotFound("This link is not valid.")
    query = (select(PurchaseOrder).options(selectinload(PurchaseOrder.lines))
             .where(PurchaseOrder.id == po_id, PurchaseOrder.shop_id == shop_id))
    po = session.scalar(query.with_for_update(of=PurchaseOrder) if lock else query)
    if po is None or po.status == PoStatus.DRAFT:
        raise NotFound("This purchase order is not available.")
    return po


# --- What the page shows ----------------------------------------------------------------


@dataclass(frozen=True)
class LineView:
    id: int
    sku: str
    supplier_sku: str
    quantity: int
    received: int
    unit_cost: str
    expected_on: date | None
    editable: bool

    @property
    def field(self) -> str:
        return f"expected_on_{self.id}"


@dataclass(frozen=True)
class PoView:
    number: str
    status: str
    shop_name: str
    supplier_name: str
    currency: str
    sent_at: datetime | None
    confirmed_at: datetime | None
    editable: bool
    lines: tuple[LineView, ...]


def view_of(session: Session, po: PurchaseOrder) -> PoView:
    """The PO as plain data for the template."""
    shop = session.get(Shop, po.shop_id)
    supplier = session.get(Supplier, po.supplier_id)
    editable = po.status in SUPPLIER_EDITABLE_STATUSES
    lines = tuple(LineView(line.id, line.sku, line.supplier_sku, line.quantity,
                           line.received_quantity, str(line.unit_cost), line.expected_on,
                           editable and _line_open(line))
                  for line in sorted(po.lines, key=lambda line: (line.sku, line.id)))
    # A claimed dispatch is, as far as the supplier reading this can tell, sent.
    status = PoStatus.SENT if po.status == PoStatus.SENDING else po.status
    return PoView(po.number, status.value.replace("_", " "), shop.name or shop.domain,
                  supplier.name, supplier.currency, po.sent_at, po.confirmed_at, editable, lines)


def _line_open(line: PurchaseOrderLine) -> bool:
    return line.received_quantity < line.quantity


# --- What the supplier may do -----------------------------------------------------------


def update_from_supplier(session: Session, po: PurchaseOrder, form: Mapping[str, str], *,
                         confirm: bool, today: date | None = None) -> list:
    """Apply the supplier's dates (and confirmation) all or nothing; returns intents.

    Raises InvalidInput with a message per bad field, before anything changes.
    """
    if po.status not in SUPPLIER_EDITABLE_STATUSES:
        raise Conflict("This purchase order can no longer be changed.")
    dates = parse_dates(po, form, today=today or utcnow().date())
    moved = [line for line in po.lines if line.id in dates and dates[line.id] != line.expected_on]
    for line in moved:
        line.expected_on = dates[line.id]
    if confirm:
        _confirm(po, utcnow())
    return recompute(session, po.shop_id, {line.variant_id for line in moved})


def _confirm(po: PurchaseOrder, now: datetime) -> None:
    if po.status == PoStatus.SENDING:
        # The supplier is reading it, so it arrived: this settles an unknown dispatch outcome.
        po.sent_at = po.sent_at or po.dispatch_started_at or now
        po.dispatch_started_at, po.last_error = None, None
    if po.status in (PoStatus.SENDING, PoStatus.SENT):
        po.status = PoStatus.CONFIRMED
    po.confirmed_at = po.confirmed_at or now


def parse_dates(po: PurchaseOrder, form: Mapping[str, str], *, today: date) -> dict[int, date]:
    """Expected dates per open line from the form; InvalidInput names each bad field."""
    dates, errors = {}, {}
    for line in po.lines:
        name = f"expected_on_{line.id}"
        raw = form.get(name)
        if raw is None or not _line_open(line):
            continue  # not on the form: left as it is
        try:
            dates[line.id] = _date(raw.strip(), today=today, current=line.expected_on)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise InvalidInput("Some dates need fixing; nothing was saved.", field_errors=errors)
    return dates


def _date(raw: str, *, today: date, current: date | None) -> date:
    if not raw:
        raise ValueError("Enter the date you expect to deliver.")
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValueError("Enter a date like 2026-12-24.") from None
    if value == current:
        return value  # unchanged, even if that day has passed
    if value < today:
        raise ValueError("The date cannot be in the past.")
    if value > today + MAX_AHEAD:
        raise ValueError("The date is more than three years away.")
    return value
