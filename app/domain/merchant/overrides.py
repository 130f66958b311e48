"""Per-product and per-variant exceptions to the shop's backorder settings.

A variant's own override wins over its product's (app.domain.inventory.policy
resolves them); blank fields inherit. Every target is checked to belong to the
shop, so a form cannot reach another shop's variants by id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.base import whole_number
from app.domain.inventory.models import Variant, VariantOverride
from app.domain.merchant.settings import BOUNDS, MODES
from app.errors import InvalidInput, NotFound

FIELDS = ("mode", "fixed_cap", "buffer", "handling_days")
MAX_NOTE = 500


@dataclass(frozen=True)
class OverrideRow:
    id: int
    scope: str  # "product" or "variant"
    target: str  # what the merchant recognises: title and SKU
    mode: str | None
    fixed_cap: int | None
    buffer: int | None
    handling_days: int | None
    note: str


@dataclass(frozen=True)
class Target:
    value: str  # "variant:<id>" or "product:<id>", the form's option value
    label: str


def targets(session: Session, shop_id: int, *, limit: int = 1000) -> tuple[list[Target], list[Target]]:
    """(variants, products) the merchant can pick, by title."""
    rows = session.execute(
        select(Variant.variant_id, Variant.product_id, Variant.sku, Variant.title,
               Variant.product_title)
        .where(Variant.shop_id == shop_id, Variant.deleted.is_(False))
        .order_by(Variant.product_title, Variant.title, Variant.variant_id).limit(limit)).all()
    variants = [Target(f"variant:{r.variant_id}", _label(r)) for r in rows]
    products = {r.product_id: r.product_title or f"Product {r.product_id}"
                for r in rows if r.product_id is not None}
    return variants, [Target(f"product:{pid}", title) for pid, title in products.items()]


def _label(row) -> str:
    name = " / ".join(part for part in (row.product_title, row.title)
                      if part and part != "Default Title")
    return f"{name or 'Variant ' + str(row.variant_id)} ({row.sku or 'no SKU'})"


def list_overrides(session: Session, shop_id: int) -> list[OverrideRow]:
    """The shop's overrides, products first, with a label for each target."""
    overrides = session.scalars(select(VariantOverride).where(VariantOverride.shop_id == shop_id)
                                .order_by(VariantOverride.id)).all()
    variants, products = targets(session, shop_id, limit=100_000)
    labels = {t.value: t.label for t in (*variants, *products)}
    rows = [OverrideRow(o.id, _scope(o), labels.get(_key(o), _key(o)), o.mode, o.fixed_cap,
                        o.buffer, o.handling_days, o.note or "") for o in overrides]
    return sorted(rows, key=lambda r: (r.scope != "product", r.target))


def _scope(override: VariantOverride) -> str:
    return "variant" if override.variant_id is not None else "product"


def _key(override: VariantOverride) -> str:
    if override.variant_id is not None:
        return f"variant:{override.variant_id}"
    return f"product:{override.product_id}"


def save_override(session: Session, shop_id: int, form: Mapping[str, str]) -> None:
    """Create or replace the override of one product or variant; InvalidInput per bad field."""
    errors: dict[str, str] = {}
    scope, target_id = form_target(session, shop_id, (form.get("target") or "").strip(), errors)
    values = {name: _value(name, (form.get(name) or "").strip(), errors) for name in FIELDS}
    note = (form.get("note") or "").strip()
    if len(note) > MAX_NOTE:
        errors["note"] = f"Keep the note under {MAX_NOTE} characters."
    if not errors and all(v is None for v in values.values()):
        errors["mode"] = "Set at least one value; blank fields follow the shop's settings."
    if errors:
        raise InvalidInput("The override needs fixing; nothing was saved.", field_errors=errors)
    override = _existing(session, shop_id, scope, target_id) or _new(session, shop_id, scope,
                                                                     target_id)
    for name, value in values.items():
        setattr(override, name, value)
    override.note = note or None
    session.flush()


def form_target(session: Session, shop_id: int, raw: str, errors: dict) -> tuple[str, int]:
    """("product" | "variant", id) from a form's "scope:id", or an error under "target"."""
    scope, _, number = raw.partition(":")
    column = {"variant": Variant.variant_id, "product": Variant.product_id}.get(scope)
    target_id = whole_number(number)
    if column is None or target_id is None or session.scalar(
            select(Variant.id).where(Variant.shop_id == shop_id, column == target_id)
            .limit(1)) is None:
        errors["target"] = "Choose a product or variant of this shop."
        return "", 0
    return scope, target_id


def _value(name: str, raw: str, errors: dict) -> str | int | None:
    if not raw:
        return None
    if name == "mode":
        if raw not in MODES:
            errors[name] = f"Choose one of: {', '.join(MODES)}."
        return raw
    low, high = BOUNDS[name]
    value = whole_number(raw, low, high)
    if value is None:
        errors[name] = f"Enter a whole number from {low} to {high:,}, or leave it blank."
    return value


def _existing(session: Session, shop_id: int, scope: str, target_id: int):
    query = select(VariantOverride).where(VariantOverride.shop_id == shop_id)
    if scope == "variant":
        query = query.where(VariantOverride.variant_id == target_id)
    else:
        query = query.where(VariantOverride.product_id == target_id,
                            VariantOverride.variant_id.is_(None))
    return session.scalar(query.with_for_update())


def _new(session: Session, shop_id: int, scope: str, target_id: int) -> VariantOverride:
    override = VariantOverride(shop_id=shop_id,
                               variant_id=target_id if scope == "variant" else None,
                               product_id=target_id if scope == "product" else None)
    session.add(override)
    return override


def delete_override(session: Session, shop_id: int, override_id: int) -> None:
    """Remove one of the shop's overrides; NotFound for anything else (another shop's too)."""
    override = session.scalar(select(VariantOverride).where(
        VariantOverride.id == override_id, VariantOverride.shop_id == shop_id))
    if override is None:
        raise NotFound("no such override")
    session.delete(override)
    session.flush()
