"""Effects: what changed between the stored allocation and a fresh one.

Effects are a pure function of (stored state, new allocation), so replaying an
event that changes no state yields no effects and every change is announced
once, however often Shopify redelivers.

Convention for `Effect.old` / `Effect.new` (plain strings, ready to store or
enqueue):

- line effects carry the line's ETA as `date.isoformat()`, or None when the
  line is not backordered or its backordered units have no date; `old` is the
  stored ETA, `new` the ETA now;
- LINE_BACKORDER_CANCELLED is the one exception: `new` is the close reason
  ("cancelled", "refunded" or "removed"), since the line has no ETA any more;
- VARIANT_STATUS_CHANGED carries `Status` values; `old` is None when no
  status was stored yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.domain.inventory.rules import Status, VariantAllocation


class EffectKind(StrEnum):
    LINE_BACKORDERED = "line_backordered"
    LINE_ETA_CHANGED = "line_eta_changed"
    LINE_READY_TO_SHIP = "line_ready_to_ship"
    LINE_BACKORDER_CANCELLED = "line_backorder_cancelled"
    VARIANT_STATUS_CHANGED = "variant_status_changed"


class CloseReason(StrEnum):
    """Why a line left the open queue; plain strings are accepted wherever it is."""

    CANCELLED = "cancelled"
    FULFILLED = "fulfilled"
    REFUNDED = "refunded"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class LineState:
    """What was stored for a line after the previous allocation."""

    backordered: int
    eta: date | None


@dataclass(frozen=True, slots=True)
class Effect:
    kind: EffectKind
    line_id: int | None  # None for variant effects
    old: str | None
    new: str | None


def line_states(allocation: VariantAllocation) -> dict[int, LineState]:
    """The per-line state to store so the next `diff` compares against this allocation."""
    return {
        line_id: LineState(line.backordered, line.eta) for line_id, line in allocation.lines.items()
    }


def diff(
    *,
    before_lines: Mapping[int, LineState],
    before_status: Status | None,
    after: VariantAllocation,
    closed: Mapping[int, str],
) -> list[Effect]:
    """The effects that take the stored state to `after`: line effects by id, then the variant's."""
    effects = []
    # A line still in `after` is open, whatever `closed` says about it.
    for line_id in sorted(after.lines.keys() | closed.keys()):
        now = after.lines.get(line_id)
        before = before_lines.get(line_id)
        if now is not None:
            effect = _open_line_effect(line_id, before, now.backordered, now.eta)
        else:
            effect = _closed_line_effect(line_id, before, CloseReason(closed[line_id]))
        if effect is not None:
            effects.append(effect)
    if before_status is None or Status(before_status) != after.status:
        old = None if before_status is None else Status(before_status).value
        effects.append(Effect(EffectKind.VARIANT_STATUS_CHANGED, None, old, after.status.value))
    return effects


def _open_line_effect(
    line_id: int, before: LineState | None, backordered: int, eta: date | None
) -> Effect | None:
    was_backordered = before is not None and before.backordered > 0
    if backordered > 0 and not was_backordered:
        return Effect(EffectKind.LINE_BACKORDERED, line_id, None, _iso(eta))
    if not was_backordered:
        return None
    if backordered == 0:
        return Effect(EffectKind.LINE_READY_TO_SHIP, line_id, _iso(before.eta), None)
    if before.eta != eta:
        return Effect(EffectKind.LINE_ETA_CHANGED, line_id, _iso(before.eta), _iso(eta))
    return None


def _closed_line_effect(
    line_id: int, before: LineState | None, reason: CloseReason
) -> Effect | None:
    if before is None or before.backordered <= 0:
        return None  # the customer was never told of a backorder
    if reason == CloseReason.FULFILLED:
        return None  # shipping is the good news itself; nothing to cancel
    return Effect(EffectKind.LINE_BACKORDER_CANCELLED, line_id, _iso(before.eta), reason.value)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
