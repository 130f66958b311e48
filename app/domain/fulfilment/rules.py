"""Fulfilment holds and the order tag: the next step that brings Shopify to what the engine holds.

Shopify is read again before every step, because each hold placed on part of a
fulfillment order splits it (the held units stay, the rest moves to a new one),
so ids read before a step may be stale after it. The app's holds are found by
their handle (one per order line) among the holds Shopify says this app placed;
every other hold (the merchant's, other apps') is left alone, and counts as
holding the units it covers: those do not ship either.

Pure: plain data in, one step out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.ports import FulfilmentOrderInfo, OrderFulfilment

TAG = "backorder"
HANDLE_PREFIX = "backorder-line-"
# Fulfillment orders a hold can go on; a closed or cancelled one ships nothing more.
HOLDABLE = frozenset({"OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"})


def handle_for(line_item_id: int) -> str:
    return f"{HANDLE_PREFIX}{line_item_id}"


@dataclass(frozen=True)
class Hold:
    fo_id: int
    handle: str
    lines: tuple[tuple[int, int], ...] | None  # None: the whole fulfillment order


@dataclass(frozen=True)
class Release:
    fo_id: int
    hold_ids: tuple[int, ...]


@dataclass(frozen=True)
class Tag:
    add: bool


@dataclass(frozen=True)
class Blocked:
    """Units that should be held sit on a fulfillment order someone else holds, with
    other units: Shopify cannot split a held order, so ours waits until theirs is released."""

    line_item_ids: tuple[int, ...]


Step = Hold | Release | Tag | Blocked


def next_step(state: OrderFulfilment, *, held: Mapping[int, int], tagged: bool) -> Step | None:
    """The next change, or None when Shopify already matches.

    `held` maps each order line to the units that must be on hold (its backordered
    units; 0 releases); `tagged` says whether the order should carry the tag.
    """
    blocked = []
    for line_item_id, want in sorted(held.items()):
        step = _line_step(state, line_item_id, max(0, want))
        if isinstance(step, Blocked):
            blocked.append(line_item_id)
        elif step is not None:
            return step
    has_tag = any(t.strip().lower() == TAG for t in state.tags)
    if has_tag != tagged:
        return Tag(add=tagged)
    return Blocked(tuple(blocked)) if blocked else None


def _line_step(state: OrderFulfilment, line_item_id: int, want: int) -> Step | None:
    handle = handle_for(line_item_id)
    mine = [fo for fo in state.fulfillment_orders if fo.status in HOLDABLE and _my_hold(fo, handle)]
    have = sum(_units(fo, line_item_id) for fo in mine)
    if have > want:  # release every hold of the line, then hold the right number again
        return Release(mine[0].fo_id, _my_hold(mine[0], handle))
    if have == want:
        return None
    need = want - have
    others = [fo for fo in state.fulfillment_orders
              if fo.status in HOLDABLE and fo not in mine and _units(fo, line_item_id) > 0]
    for fo in others:
        if not fo.holds:  # free to split: hold exactly what is needed from it
            fo_line = next(x for x in fo.lines if x.line_item_id == line_item_id and x.remaining)
            return Hold(fo.fo_id, handle, ((fo_line.fo_line_id, min(need, fo_line.remaining)),))
    for fo in others:
        if _only(fo, line_item_id) and _units(fo, line_item_id) <= need:
            return Hold(fo.fo_id, handle, None)  # held by others, all of it ours to hold
    return Blocked((line_item_id,)) if others else None


def _my_hold(fo: FulfilmentOrderInfo, handle: str) -> tuple[int, ...]:
    return tuple(h.hold_id for h in fo.holds if h.mine and h.handle == handle)


def _units(fo: FulfilmentOrderInfo, line_item_id: int) -> int:
    return sum(x.remaining for x in fo.lines if x.line_item_id == line_item_id)


def _only(fo: FulfilmentOrderInfo, line_item_id: int) -> bool:
    return all(x.line_item_id == line_item_id for x in fo.lines if x.remaining)
