"""The settings form: parsed and checked as a whole, then saved in one go.

`parse_settings` never half-accepts: it returns every value or raises
InvalidInput with a message per bad field, so the page shows each message next
to its field and nothing is saved. Engine settings live in ShopSettings'
columns; reorder and notification settings in its `extra` JSON, under the keys
that suppliers.service and notifications.rules read (so they read back what is
saved here through their own parsers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.base import whole_number
from app.domain.customer_options.order_edits import option_settings
from app.domain.customer_options.rules import KINDS, VALUE_BOUNDS, OptionSettings, parse_value
from app.domain.fulfilment.service import holds_enabled, mark_backordered_orders_due
from app.domain.inventory.models import InventoryLevel, ShopSettings
from app.domain.inventory.policy import DEFAULT_SETTINGS
from app.domain.notifications.service import notify_settings
from app.domain.suppliers.service import supplier_settings
from app.errors import InvalidInput

MODES = ("off", "auto", "always")
CAP_KINDS = ("auto", "fixed")
# Inclusive bounds of the numeric fields: wide enough for any shop, narrow enough to
# catch a typo (a cap of 10,000,000 is a slip of the finger, not a plan).
BOUNDS = {"fixed_cap": (0, 1_000_000), "buffer": (0, 100_000), "handling_days": (0, 60),
          "po_coalesce_minutes": (0, 1440), "eta_change_threshold_days": (0, 30),
          "goodwill_after_days": (0, 365)}
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class SettingsValues:
    """Everything the settings form edits, typed."""

    mode: str
    fixed_cap: int | None  # None: the automatic cap (open POs not yet promised, plus buffer)
    buffer: int
    handling_days: int
    counted_location_ids: tuple[int, ...]  # empty: every location counts
    po_auto_send: bool
    po_coalesce_minutes: int
    receiving_location_id: int | None
    email_enabled: bool
    sms_enabled: bool
    quiet_hours: tuple[str, str] | None  # ("21:00", "08:00"); None: send any time
    eta_change_threshold_days: int
    options: OptionSettings = OptionSettings()  # cancel edits, goodwill codes
    hold_backorders: bool = True  # backordered units held on their fulfillment order

    def engine_inputs(self) -> tuple:
        """The values the allocation depends on: a change means a recompute."""
        return (self.mode, self.fixed_cap, self.buffer, self.handling_days,
                self.counted_location_ids)


def known_locations(session: Session, shop_id: int) -> list[int]:
    """Location ids the shop's inventory levels mention (Shopify sends no names in webhooks)."""
    return list(session.scalars(select(InventoryLevel.location_id).distinct()
                                .where(InventoryLevel.shop_id == shop_id)
                                .order_by(InventoryLevel.location_id)))


def current_settings(session: Session, shop_id: int) -> SettingsValues:
    """The shop's settings as the engine, the planner and the notifier read them."""
    row = session.get(ShopSettings, shop_id)
    engine = dict(DEFAULT_SETTINGS, counted_location_ids=None)
    if row is not None:
        engine.update(mode=row.mode, fixed_cap=row.fixed_cap, buffer=row.buffer,
                      handling_days=row.handling_days,
                      counted_location_ids=row.counted_location_ids)
    reorder, notify = supplier_settings(session, shop_id), notify_settings(session, shop_id)
    quiet = notify.quiet_hours
    return SettingsValues(
        mode=engine["mode"], fixed_cap=engine["fixed_cap"], buffer=engine["buffer"],
        handling_days=engine["handling_days"],
        counted_location_ids=tuple(sorted(engine["counted_location_ids"] or ())),
        po_auto_send=reorder.po_auto_send, po_coalesce_minutes=reorder.po_coalesce_minutes,
        receiving_location_id=reorder.receiving_location_id,
        email_enabled=notify.email_enabled, sms_enabled=notify.sms_enabled,
        quiet_hours=None if quiet is None else (_clock(quiet.start), _clock(quiet.end)),
        eta_change_threshold_days=notify.eta_change_threshold_days,
        options=option_settings(session, shop_id),
        hold_backorders=holds_enabled(session, shop_id))


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def as_form(values: SettingsValues) -> list[tuple[str, str]]:
    """The values as form fields (name, value) pairs, the shape a browser submits."""
    pairs = [("mode", values.mode), ("cap_kind", "auto" if values.fixed_cap is None else "fixed"),
             ("fixed_cap", "" if values.fixed_cap is None else str(values.fixed_cap)),
             ("buffer", str(values.buffer)), ("handling_days", str(values.handling_days)),
             ("po_coalesce_minutes", str(values.po_coalesce_minutes)),
             ("receiving_location_id", str(values.receiving_location_id or "")),
             ("eta_change_threshold_days", str(values.eta_change_threshold_days)),
             ("quiet_start", values.quiet_hours[0] if values.quiet_hours else "21:00"),
             ("quiet_end", values.quiet_hours[1] if values.quiet_hours else "08:00")]
    pairs += [("locations", str(i)) for i in values.counted_location_ids]
    options = values.options
    pairs += [("goodwill_after_days", str(options.goodwill_after_days)),
              ("goodwill_kind", options.goodwill_kind),
              ("goodwill_value", str(options.goodwill_value))]
    flags = {"po_auto_send": values.po_auto_send, "email_enabled": values.email_enabled,
             "sms_enabled": values.sms_enabled, "quiet_enabled": values.quiet_hours is not None,
             "edit_order_on_cancel": options.edit_order_on_cancel,
             "refund_on_cancel": options.refund_on_cancel,
             "goodwill_enabled": options.goodwill_enabled,
             "hold_backorders": values.hold_backorders}
    return pairs + [(name, "on") for name, on in flags.items() if on]


class _Fields:
    """Reads form fields, collecting one message per bad field instead of stopping."""

    def __init__(self, form: Mapping[str, str]):
        self.form, self.errors = form, {}

    def text(self, name: str) -> str:
        return (self.form.get(name) or "").strip()

    def flag(self, name: str) -> bool:
        return self.text(name) in ("on", "true", "1", "yes")

    def choice(self, name: str, allowed: Sequence[str]) -> str:
        value = self.text(name)
        if value not in allowed:
            self.errors[name] = f"Choose one of: {', '.join(allowed)}."
        return value

    def number(self, name: str, *, required: bool = True) -> int | None:
        raw, (low, high) = self.text(name), BOUNDS[name]
        if not raw and not required:
            return None
        value = whole_number(raw, low, high)
        if value is None:
            self.errors[name] = f"Enter a whole number from {low} to {high:,}."
        return value

    def location(self, raw: str, known: set[int], name: str) -> int | None:
        if (location := whole_number(raw)) in known:
            return location
        self.errors[name] = "Choose one of the shop's locations."
        return None

    def clock(self, name: str) -> str:
        value = self.text(name)
        if not _CLOCK.fullmatch(value):
            self.errors[name] = "Enter a time like 21:00."
        return value


def parse_settings(form: Mapping[str, str], selected_locations: Iterable[str], *,
                   locations: Iterable[int]) -> SettingsValues:
    """Every value of the form, or InvalidInput naming each bad field (nothing half-read)."""
    f, known = _Fields(form), set(locations)
    fixed = f.choice("cap_kind", CAP_KINDS) == "fixed"
    values = SettingsValues(
        mode=f.choice("mode", MODES),
        fixed_cap=f.number("fixed_cap") if fixed else None,
        buffer=f.number("buffer"), handling_days=f.number("handling_days"),
        counted_location_ids=tuple(sorted({f.location(raw.strip(), known, "locations")
                                           for raw in selected_locations})),
        po_auto_send=f.flag("po_auto_send"), po_coalesce_minutes=f.number("po_coalesce_minutes"),
        receiving_location_id=(f.location(f.text("receiving_location_id"), known,
                                          "receiving_location_id")
                               if f.text("receiving_location_id") else None),
        email_enabled=f.flag("email_enabled"), sms_enabled=f.flag("sms_enabled"),
        quiet_hours=_quiet_hours(f),
        eta_change_threshold_days=f.number("eta_change_threshold_days"),
        options=_options(f), hold_backorders=f.flag("hold_backorders"))
    if f.errors:
        raise InvalidInput("Some settings need fixing; nothing was saved.", field_errors=f.errors)
    return values


def _options(f: _Fields) -> OptionSettings:
    """Cancel edits and refunds, goodwill codes; the goodwill fields are checked only when it is on."""
    default, enabled = OptionSettings(), f.flag("goodwill_enabled")
    kind = f.choice("goodwill_kind", KINDS) if enabled else (
        f.text("goodwill_kind") if f.text("goodwill_kind") in KINDS else default.goodwill_kind)
    days = f.number("goodwill_after_days", required=enabled)
    value = parse_value(kind, f.text("goodwill_value")) if kind in KINDS else None
    if enabled and value is None and kind in KINDS:
        low, high = VALUE_BOUNDS[kind]
        f.errors["goodwill_value"] = f"Enter an amount from {low} to {high}, at most 2 decimals."
    return OptionSettings(
        edit_order_on_cancel=f.flag("edit_order_on_cancel"),
        refund_on_cancel=f.flag("refund_on_cancel"), goodwill_enabled=enabled,
        goodwill_after_days=default.goodwill_after_days if days is None else days,
        goodwill_kind=kind if kind in KINDS else default.goodwill_kind,
        goodwill_value=value or default.goodwill_value)


def _quiet_hours(f: _Fields) -> tuple[str, str] | None:
    if not f.flag("quiet_enabled"):
        return None
    start, end = f.clock("quiet_start"), f.clock("quiet_end")
    if start == end and "quiet_start" not in f.errors:
        f.errors["quiet_end"] = "The quiet hours must end at another time than they start."
    return start, end


def save_settings(session: Session, shop_id: int, values: SettingsValues) -> bool:
    """Store every value; True when the engine's inputs changed (the shop needs a recompute)."""
    before = current_settings(session, shop_id).engine_inputs()
    row = session.get(ShopSettings, shop_id, with_for_update=True)
    if row is None:
        row = ShopSettings(shop_id=shop_id, extra={})
        session.add(row)
    row.mode, row.fixed_cap, row.buffer = values.mode, values.fixed_cap, values.buffer
    row.handling_days = values.handling_days
    row.counted_location_ids = list(values.counted_location_ids) or None
    row.extra = _merged_extra(row.extra or {}, values)  # a new dict: JSON columns track assignment
    if row.hold_backorders is not values.hold_backorders:  # None too: a row just added
        row.hold_backorders = values.hold_backorders
        session.flush()
        mark_backordered_orders_due(session, shop_id)  # hold or release what is backordered
    session.flush()
    return before != values.engine_inputs()


def _merged_extra(extra: Mapping, values: SettingsValues) -> dict:
    """The form's keys replaced; keys it does not edit (templates, forecast tuning) kept."""
    notifications = dict(extra.get("notifications") or {})
    notifications.update(
        email_enabled=values.email_enabled, sms_enabled=values.sms_enabled,
        eta_change_threshold_days=values.eta_change_threshold_days,
        # False, not None: an explicit "off" (a missing key means the default quiet hours).
        quiet_hours=(False if values.quiet_hours is None else
                     {"start": values.quiet_hours[0], "end": values.quiet_hours[1]}))
    return {**extra, "customer_options": values.options.as_extra(),
            "po_auto_send": values.po_auto_send,
            "po_coalesce_minutes": values.po_coalesce_minutes,
            "receiving_location_id": values.receiving_location_id,
            "notifications": notifications}
