"""The shop's message templates: edit, preview with sample data, save.

Templates (Liquid) live in ShopSettings.extra["notifications"][TEMPLATES_KEY][kind][part],
where the notifier reads them (a custom part that fails to render at send time
falls back to the default there). Here a template is only saved once it renders
with sample data, and a part equal to the default is not stored, so later
improvements of the defaults reach the shop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.domain.inventory.models import ShopSettings
from app.domain.notifications.models import Kind
from app.domain.notifications.rendering import (
    PARTS,
    LineView,
    MessageContent,
    default_template,
    preview,
)
from app.domain.notifications.rules import TEMPLATES_KEY, LineUpdate
from app.errors import InvalidInput

KINDS = tuple(k.value for k in Kind)
CONVERSION_KEY = "liquid_conversion"  # written by migration 0012_i15a, forgotten once edited
MAX_SOURCE = 20_000


def kind_of(raw: str | None) -> str:
    """A message kind from a query or form value, the first one when unknown."""
    return raw if raw in KINDS else KINDS[0]


def sample(shop_name: str, kind: str, *, today: date) -> MessageContent:
    """A message as customers would get it, about two made-up items."""
    eta, old = today + timedelta(days=9), today + timedelta(days=5)
    lines = [LineView("Merino Beanie", 1, LineUpdate(1, Kind(kind), eta, old), "Charcoal", 1),
             LineView("Enamel Trail Mug", 2, LineUpdate(2, Kind(kind), eta, old), None, 3)]
    return MessageContent(shop_name, "#1042", Kind(kind), lines,
                          "https://example.com/status/sample-link", customer_first_name="Sam")


def _stored(session: Session, shop_id: int) -> dict:
    row = session.get(ShopSettings, shop_id)
    notifications = ((row.extra or {}).get("notifications") or {}) if row else {}
    templates = notifications.get(TEMPLATES_KEY)
    return dict(templates) if isinstance(templates, Mapping) else {}


def current_sources(session: Session, shop_id: int, kind: str) -> dict[str, str]:
    """Each part's template: the shop's own, else the default."""
    custom = _stored(session, shop_id).get(kind) or {}
    return {part: custom.get(part) or default_template(part, kind) for part in PARTS}


def conversion_notes(session: Session, shop_id: int, kind: str) -> dict[str, str]:
    """The parts of this kind that migration 0012_i15a could not convert from Jinja, and why."""
    row = session.get(ShopSettings, shop_id)
    report = (((row.extra or {}).get("notifications") or {}) if row else {}).get(CONVERSION_KEY)
    outcomes = (report or {}).get(kind) if isinstance(report, Mapping) else None
    return {part: outcome.removeprefix("default: ")
            for part, outcome in (outcomes or {}).items() if outcome.startswith("default: ")}


def customised(session: Session, shop_id: int) -> set[str]:
    """The kinds the shop has changed something in."""
    return {kind for kind, parts in _stored(session, shop_id).items() if parts}


def render_preview(shop_name: str, kind: str, sources: Mapping[str, str], *,
                   today: date) -> dict[str, str]:
    """Every part rendered with sample data; InvalidInput names the part that fails."""
    too_long = [part for part in PARTS if len(sources.get(part) or "") > MAX_SOURCE]
    if too_long:
        raise InvalidInput("A template is too long.", field_errors={
            part: f"Keep it under {MAX_SOURCE:,} characters." for part in too_long})
    return preview(sample(shop_name, kind, today=today), {kind: dict(sources)})


def save_sources(session: Session, shop_id: int, shop_name: str, kind: str,
                 sources: Mapping[str, str], *, today: date) -> None:
    """Store the kind's parts once they render; parts equal to the default are dropped."""
    render_preview(shop_name, kind, sources, today=today)
    custom = {part: sources[part] for part in PARTS
              if (sources.get(part) or "").strip()
              and sources[part].strip() != default_template(part, kind).strip()}
    _write(session, shop_id, kind, custom)


def reset(session: Session, shop_id: int, kind: str) -> None:
    """Back to the default templates for this kind."""
    _write(session, shop_id, kind, {})


def _write(session: Session, shop_id: int, kind: str, custom: dict[str, str]) -> None:
    row = session.get(ShopSettings, shop_id, with_for_update=True)
    if row is None:
        row = ShopSettings(shop_id=shop_id, extra={})
        session.add(row)
    extra = dict(row.extra or {})
    notifications = dict(extra.get("notifications") or {})
    templates = _stored(session, shop_id)
    templates[kind] = custom
    notifications[TEMPLATES_KEY] = {k: v for k, v in templates.items() if v}
    report = notifications.get(CONVERSION_KEY)
    if isinstance(report, Mapping) and kind in report:
        notifications[CONVERSION_KEY] = {k: v for k, v in report.items() if k != kind}
    extra["notifications"] = notifications
    row.extra = extra  # a new dict: JSON columns track assignment, not mutation
    session.flush()
