"""Supplier use cases shared by the reorder, dispatch, portal and receiving modules.

Here: importing a catalog, reading the shop's supplier settings, and the two
pieces every use case that moves a PO date or quantity needs: the intents the
boundary turns into jobs after commit, and the call into the engine that
recomputes the ETAs of the variants concerned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.inventory.models import ShopSettings, Variant
from app.domain.inventory.service import recompute_variants
from app.domain.suppliers.catalog import CatalogRow, parse_catalog
from app.domain.suppliers.endpoints import Resolver, check_endpoint_url
from app.domain.suppliers.models import Supplier, SupplierItem
from app.domain.suppliers.supply import PLAN
from app.errors import InvalidInput, NotFound


def recompute(session: Session, shop_id: int, variant_ids: Iterable[int]) -> list:
    """Let the engine re-derive ETAs, reading this area's purchase orders; the intents it asks for."""
    ids = sorted(set(variant_ids))
    if not ids:
        return []
    return list(recompute_variants(session, shop_id, ids, plan=PLAN))


# --- Settings ------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierSettings:
    """The shop's reorder settings, kept in ShopSettings.extra (defaults when unset)."""

    po_auto_send: bool = False  # False: drafts wait for the merchant's approval
    po_coalesce_minutes: int = 10  # auto-send waits this long so a burst shares one PO
    service_level: float = 0.95  # chance the safety stock covers lead-time demand
    forecast_days: int = 56  # days of order history the forecast looks at
    forecast_alpha: float = 0.3  # exponential smoothing weight of the newest day
    receiving_location_id: int | None = None  # where received stock goes in Shopify


def supplier_settings(session: Session, shop_id: int) -> SupplierSettings:
    """The shop's reorder settings; unset or malformed values fall back to the defaults."""
    row = session.get(ShopSettings, shop_id)
    extra = (row.extra or {}) if row is not None else {}
    defaults = SupplierSettings()
    return SupplierSettings(**{name: _coerce(name, default, extra.get(name))
                               for name, default in defaults.__dict__.items()})


# A value outside its range would stop every reorder of the shop: the default applies instead.
_VALID = {"po_coalesce_minutes": lambda v: 0 <= v <= 24 * 60,
          "service_level": lambda v: 0 < v < 1,
          "forecast_days": lambda v: 1 <= v <= 366,
          "forecast_alpha": lambda v: 0 < v <= 1}


def _coerce(name: str, default, raw):
    if raw is None or isinstance(raw, bool) != isinstance(default, bool):
        return default  # booleans must be JSON booleans: bool("false") is True
    try:
        value = type(default)(raw) if default is not None else int(raw)
    except (TypeError, ValueError):
        return default
    return value if _VALID.get(name, lambda v: True)(value) else default


# --- Catalog import --------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import changed, for the CLI and the merchant page."""

    rows: int = 0
    suppliers_created: int = 0
    suppliers_updated: int = 0
    items_created: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    intents: list = field(default_factory=list)

    def __str__(self) -> str:
        return (f"imported {self.rows} rows: suppliers {self.suppliers_created} new, "
                f"{self.suppliers_updated} updated; items {self.items_created} new, "
                f"{self.items_updated} updated, {self.items_unchanged} unchanged")


def set_http_endpoint(session: Session, shop_id: int, supplier_id: int, *, url: str | None,
                      secret_ciphertext: str | None, allow_loopback: bool = False,
                      resolve: Resolver | None = None) -> Supplier:
    """Send this supplier's POs by HTTP to `url` (None: by email again). What the UI and
    the catalog CSV call: the URL is checked first, the secret arrives encrypted."""
    supplier = session.scalar(select(Supplier).where(Supplier.id == supplier_id,
                                                     Supplier.shop_id == shop_id))
    if supplier is None:
        raise NotFound("No such supplier.")
    if url and not secret_ciphertext:
        raise InvalidInput("An HTTP endpoint needs a secret to sign its purchase orders.")
    supplier.endpoint_url = check_endpoint_url(url, allow_loopback=allow_loopback,
                                               resolve=resolve) if url else None
    supplier.endpoint_secret_ciphertext = secret_ciphertext if url else None
    supplier.endpoint_secret = None
    session.flush()
    return supplier


def import_catalog(session: Session, shop_id: int, data: bytes) -> ImportSummary:
    """Apply a catalog CSV as a whole: upsert suppliers by name and items by (supplier, sku).

    Items missing from the file are left as they are: a file may cover one
    supplier only. Raises CatalogError (nothing applied) for a bad file.
    """
    rows = parse_catalog(data)
    summary = ImportSummary(rows=len(rows))
    suppliers = _upsert_suppliers(session, shop_id, rows, summary)
    _upsert_items(session, shop_id, rows, suppliers, summary)
    session.flush()
    # New suppliers and lead times change which variants can be backordered, and when.
    summary.intents = recompute(session, shop_id, _variant_ids(session, shop_id, rows))
    return summary


def _upsert_suppliers(session: Session, shop_id: int, rows: list[CatalogRow],
                      summary: ImportSummary) -> dict[str, Supplier]:
    existing = {s.name: s for s in session.scalars(
        select(Supplier).where(Supplier.shop_id == shop_id).with_for_update())}
    firsts = {}
    for row in rows:
        firsts.setdefault(row.supplier, row)
    for name, row in firsts.items():
        supplier = existing.get(name)
        if supplier is None:
            supplier = existing[name] = Supplier(shop_id=shop_id, name=name, active=True)
            session.add(supplier)
            summary.suppliers_created += 1
        elif (supplier.email, supplier.currency) != (row.supplier_email, row.currency):
            summary.suppliers_updated += 1
        supplier.email, supplier.currency = row.supplier_email, row.currency
    session.flush()
    return existing


_ITEM_FIELDS = ("supplier_sku", "unit_cost", "currency", "lead_time_days", "moq", "pack_size",
                "priority")


def _upsert_items(session: Session, shop_id: int, rows: list[CatalogRow],
                  suppliers: dict[str, Supplier], summary: ImportSummary) -> None:
    existing = {(i.supplier_id, i.sku): i for i in session.scalars(
        select(SupplierItem).where(SupplierItem.shop_id == shop_id))}
    for row in rows:
        supplier_id = suppliers[row.supplier].id
        values = {name: getattr(row, name) for name in _ITEM_FIELDS}
        item = existing.get((supplier_id, row.sku))
        if item is None:
            session.add(SupplierItem(shop_id=shop_id, supplier_id=supplier_id, sku=row.sku,
                                     active=True, **values))
            summary.items_created += 1
        elif all(getattr(item, k) == v for k, v in values.items()) and item.active:
            summary.items_unchanged += 1
        else:
            for name, value in values.items():
                setattr(item, name, value)
            item.active = True
            summary.items_updated += 1


def _variant_ids(session: Session, shop_id: int, rows: list[CatalogRow]) -> list[int]:
    skus = sorted({row.sku for row in rows})
    return list(session.scalars(select(Variant.variant_id).where(
        Variant.shop_id == shop_id, Variant.sku.in_(skus))))
