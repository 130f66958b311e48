"""The backorder cap in words: what a variant may still sell beyond its stock, and why.

A bare number misleads: "Cap 19" on a variant that is not selling says nothing about
why. `explain` names the sources the engine's default cap adds up (open POs not yet
promised, the next reorder, the buffer) in the order backorders use them, or the reason
a variant does not sell beyond its stock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.inventory.models import Variant
from app.domain.inventory.policy import load_shop_policy
from app.domain.inventory.rules import Mode, Policy, Status
from app.domain.suppliers.leadtimes import NextReorder, lead_time_days_for, next_reorders
from app.domain.suppliers.models import OPEN_PO_STATUSES, PurchaseOrder, PurchaseOrderLine


@dataclass(frozen=True)
class CapFacts:
    """What the cap of one variant is made of."""

    status: str | None
    policy: Policy
    incoming: int  # units open POs still bring
    backordered: int
    reorder: NextReorder | None  # the next order from the supplier, where one can receive it


def explain(facts: CapFacts) -> str:
    """One sentence: the cap and what it is made of, or why the variant does not sell."""
    policy = facts.policy
    if policy.mode == Mode.OFF:
        return "Not sold beyond stock: backorders are off"
    if policy.fixed_cap is not None:
        left = max(0, policy.fixed_cap - facts.backordered)
        return _when(facts, left, f"a fixed cap of {policy.fixed_cap}, "
                                  f"{facts.backordered} backordered")
    if policy.mode == Mode.ALWAYS:
        return "No cap: sold beyond stock even without a restock date"
    if policy.lead_time_days is None and facts.incoming == 0:
        return ("Not sold beyond stock: no supplier that can receive a purchase order "
                "sells it, and no purchase order brings it")
    parts = _sources(facts)
    left = sum(n for n, _ in parts)
    if facts.status == Status.OUT_OF_STOCK.value and left > 0:
        return "Not sold beyond stock: no restock date is known for the next unit"
    if left == 0:
        return (f"Not sold beyond stock: the cap is reached, {facts.backordered} backordered "
                f"against {_total(facts)} ({', '.join(_whole(facts))})")
    return _when(facts, left, " + ".join(text for n, text in parts if n))


def _when(facts: CapFacts, left: int, why: str) -> str:
    if left == 0:
        return f"Not sold beyond stock: the cap is reached ({why})"
    later = " once stock runs out" if facts.status == Status.IN_STOCK.value else ""
    return f"Cap {left}{later}: {why}"


def _sources(facts: CapFacts) -> list[tuple[int, str]]:
    """(units left, words) per source, each using up backorders before the next."""
    promised = facts.backordered
    out = []
    for total, whole, part in _pieces(facts):
        left = max(0, total - promised)
        promised = max(0, promised - total)
        out.append((left, whole if left == total else part.format(left)))
    return out


def _pieces(facts: CapFacts) -> list[tuple[int, str, str]]:
    pieces = []
    if facts.incoming:
        pieces.append((facts.incoming, f"{facts.incoming} on open purchase orders",
                       "{} on open purchase orders not yet promised"))
    reorder = facts.reorder
    if reorder is not None and facts.policy.next_reorder:
        packs = f", in packs of {reorder.pack_size}" if reorder.pack_size > 1 else ""
        text = f"the next order from {reorder.supplier} (minimum {reorder.moq}{packs})"
        pieces.append((facts.policy.next_reorder, text, "{} of " + text))
    if facts.policy.buffer:
        buffer = facts.policy.buffer
        pieces.append((buffer, f"a buffer of {buffer}", "{} left of a buffer of " + str(buffer)))
    return pieces


def _total(facts: CapFacts) -> int:
    return sum(total for total, _, _ in _pieces(facts))


def _whole(facts: CapFacts) -> list[str]:
    return [whole for _, whole, _ in _pieces(facts)] or ["nothing incoming"]


def cap_words(session: Session, shop_id: int, variants: Sequence[Variant]) -> dict[int, str]:
    """`explain` for each managed variant, by variant id."""
    managed = [v for v in variants if v.managed and v.status is not None]
    if not managed:
        return {}
    reorders = next_reorders(session, shop_id, [(v.variant_id, v.sku) for v in managed])
    shop_policy = load_shop_policy(session, shop_id, managed, next_reorders={
        variant_id: r.units for variant_id, r in reorders.items()})
    incoming = _incoming(session, shop_id, [v.variant_id for v in managed])
    out = {}
    for v in managed:
        policy = shop_policy.for_variant(
            v, lead_time_days_for(session, shop_id=shop_id, sku=v.sku))
        out[v.variant_id] = explain(CapFacts(
            v.status, policy, incoming.get(v.variant_id, 0), v.backordered_units or 0,
            reorders.get(v.variant_id)))
    return out


def _incoming(session: Session, shop_id: int, variant_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(PurchaseOrderLine.variant_id,
               func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrderLine.shop_id == shop_id,
               PurchaseOrderLine.variant_id.in_(variant_ids),
               PurchaseOrder.status.in_(OPEN_PO_STATUSES),
               PurchaseOrderLine.expected_on.is_not(None),
               PurchaseOrderLine.quantity > PurchaseOrderLine.received_quantity)
        .group_by(PurchaseOrderLine.variant_id)).all()
    return {variant_id: int(units) for variant_id, units in rows}
