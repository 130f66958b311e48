"""Recompute: each affected variant's allocation from its whole state, diffed into effects.

Callers store snapshots first (state.py), then call `recompute_variants` in the
same transaction. Variant rows are locked in primary-key order, so two workers
touching the same variants serialise instead of corrupting the queue or
deadlocking. The stored allocation (line backordered/eta, variant status) is
what the next recompute diffs against, which is what makes replays silent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.domain import intents
from app.domain.base import utcnow
from app.domain.fulfilment import service as fulfilment
from app.domain.inventory import reads
from app.domain.inventory.effects import LineState, diff
from app.domain.inventory.models import Effect, OrderLine, Variant
from app.domain.inventory.policy import ShopPolicy, load_shop_policy
from app.domain.inventory.ports import SupplyPlan
from app.domain.inventory.rules import (
    MAX_ORDER_TO_DENY_SECONDS,
    DemandLine,
    Policy,
    Status,
    Supply,
    VariantAllocation,
    allocate,
    allocate_tail,
    close_early,
    peak_rate,
    reopen_check_after,
    sale_rate,
)
from app.domain.inventory.state import lock_variants
from app.domain.shops.models import Shop

UNTRACKED_STOCK = 10**9  # Shopify does not count these: never short
# How long the open-demand totals kept on a variant go unchecked against its lines.
# A check reads every open line (as a full recompute does); between checks the flash-sale
# path reads only the new lines. Reconciliation and every full recompute check too.
OPEN_DEMAND_CHECK_EVERY = timedelta(minutes=5)
# Until a shop's first close is measured: a guess on the safe side (a guess too long only
# closes a fast-selling variant a little early; it opens again once the sale calms).
DEFAULT_ORDER_TO_DENY = 2.0

log = logging.getLogger(__name__)


@dataclass
class _Changes:
    effects: int = 0
    push: bool = False
    closing: bool = False  # a variant Shopify sells under CONTINUE must now DENY
    reorder: bool = False
    fetch: list[int] = field(default_factory=list)
    recheck: list[tuple[int, datetime]] = field(default_factory=list)
    orders: set[int] = field(default_factory=set)  # backordered units changed: holds, tag

    def asked_for(self, shop_id: int) -> list[intents.Intent]:
        out: list[intents.Intent] = []
        if self.push:
            out.append(intents.PushVariants(shop_id, urgent=self.closing))
        out.extend(intents.RecheckVariant(shop_id, v, at) for v, at in self.recheck)
        if self.effects:
            out.append(intents.DispatchEffects(shop_id))
        if self.reorder:
            out.append(intents.PlanReorders(shop_id))
        out.extend(intents.FetchVariantDetails(shop_id, v) for v in self.fetch)
        if self.orders:
            out.append(intents.SyncFulfilment(shop_id))
        return out


def recompute_variants(session: Session, shop_id: int, variant_ids: Iterable[int], *,
                       plan: SupplyPlan, today: date | None = None,
                       check_totals: bool = False) -> list[intents.Intent]:
    """Reallocate the variants (Shopify ids); returns the work to enqueue after commit.

    `plan` tells what suppliers will bring; `check_totals` sums each variant's open demand
    from its lines (reconciliation does).
    """
    variants = lock_variants(session, shop_id, variant_ids)
    changes = _Changes()
    if not variants:
        return []
    now = utcnow()
    today = today or now.date()
    shop_policy = load_shop_policy(session, shop_id, variants,
                                   next_reorders=plan.next_reorders(session, shop_id, variants))
    sale = _SaleClock(now=now, lag=_order_to_deny(session, shop_id))
    for variant in variants:
        if variant.details_known:
            _recompute(session, variant, _Inputs(plan, shop_policy, today, sale), changes,
                       check_totals)
        else:  # until Shopify told us what it is and what is in stock, any answer is a guess
            changes.fetch.append(variant.variant_id)
    fulfilment.mark_due(session, shop_id, changes.orders)
    return changes.asked_for(shop_id)


@dataclass(frozen=True)
class _Inputs:
    """What every variant of one recompute shares."""

    plan: SupplyPlan
    shop_policy: ShopPolicy
    today: date
    sale: _SaleClock


def _recompute(session: Session, variant: Variant, inputs: _Inputs, changes: _Changes,
               check_totals: bool) -> None:
    plan, shop_policy, today, sale = (inputs.plan, inputs.shop_policy, inputs.today,
                                      inputs.sale)
    policy = shop_policy.for_variant(
        variant, plan.lead_time_days(session, shop_id=variant.shop_id, sku=variant.sku))
    stock = reads.stock(session, variant, shop_policy.counted_locations)
    if variant.tracked and stock.as_of is None and not variant.stock_confirmed:
        changes.fetch.append(variant.variant_id)  # no inventory level known yet: ask Shopify
        return
    supply = plan.open_supply(session, variant)
    checked = check_totals or _check_due(variant)
    totals, on_hand = _demand(session, variant, stock, check=checked)
    fingerprint = _fingerprint(policy, supply, today, variant.tracked)
    tail = _appended_tail(session, variant, on_hand, fingerprint, totals)
    if tail is None and not checked:  # reading the whole queue anyway: check the totals too
        totals, on_hand = _demand(session, variant, stock, check=True)
    if tail is not None:
        allocation = allocate_tail(tail=[_demand_line(r) for r in tail], on_hand=on_hand,
                                   total_open_before=variant.alloc_total_open, supply=supply,
                                   policy=policy, today=today)
        rows = tail
    else:
        rows = reads.queue_rows(session, variant)
        allocation = allocate(lines=[_demand_line(r) for r in rows if r.open_quantity > 0],
                              available=on_hand - totals.total_open, supply=supply,
                              policy=policy, today=today)
    rate, ordered = _sale_rate(variant, sale.now)
    allocation = close_early(allocation, rate=rate, lag_seconds=_lag(variant, rows, sale))
    _store(session, variant, rows, allocation, changes)
    _remember_inputs(variant, on_hand, totals, fingerprint, rows, tail is not None)
    _decide_push(variant, allocation, changes, ordered=ordered)
    _note_early_close(variant, allocation, rate, sale, changes)


def _check_due(variant: Variant) -> bool:
    checked = variant.open_checked_at
    return checked is None or utcnow() - checked >= OPEN_DEMAND_CHECK_EVERY


def _demand(session: Session, variant: Variant, stock: reads.Stock, *,
            check: bool) -> tuple[reads.DemandTotals, int]:
    """Open demand, and the units on hand for it (stock plus what the snapshot counts as sold)."""
    if check:
        _check_open_demand(session, variant)
    totals = reads.demand_totals(session, variant, stock.as_of)
    on_hand = max(0, stock.available + totals.committed) if variant.tracked else UNTRACKED_STOCK
    return totals, on_hand


def _check_open_demand(session: Session, variant: Variant) -> None:
    """Compare the variant's open-demand totals with its lines; repair (and say so) on drift."""
    actual = reads.open_demand_of_lines(session, variant)
    if actual != (variant.open_total, variant.open_checksum):
        log.warning("open demand of variant %s (shop %s) drifted: kept %s/%s, lines say %s/%s;"
                    " repaired", variant.variant_id, variant.shop_id, variant.open_total,
                    variant.open_checksum, *actual)
        variant.open_total, variant.open_checksum = actual
    variant.open_checked_at = utcnow()


def _demand_line(row) -> DemandLine:
    return DemandLine(line_id=row.line_item_id, placed_at=row.placed_at,
                      open_qty=row.open_quantity, priority=row.priority)


def _fingerprint(policy: Policy, supply: list[Supply], today: date, tracked: bool) -> str:
    raw = repr((policy, sorted((s.expected_on, s.ref, s.open_qty) for s in supply), today, tracked))
    return hashlib.sha256(raw.encode()).hexdigest()


def _appended_tail(session: Session, variant: Variant, on_hand: int, fingerprint: str,
                   totals: reads.DemandTotals) -> list | None:
    """The new lines behind the last allocated one, when nothing in front can have changed."""
    if (variant.alloc_fingerprint != fingerprint or variant.alloc_on_hand != on_hand
            or variant.alloc_tail_placed_at is None or variant.status is None):
        return None
    tail = reads.rows_after(session, variant, variant.alloc_tail_placed_at,
                            variant.alloc_tail_line_id)
    added = sum(r.open_quantity for r in tail)
    added_check = sum(reads.weigh(r.line_item_id, r.open_quantity) for r in tail)
    unchanged_front = (totals.total_open == variant.alloc_total_open + added and
                       totals.checksum == variant.alloc_checksum + added_check)
    fresh = all(r.backordered == 0 and r.eta is None for r in tail)
    return tail if unchanged_front and fresh else None


def _store(session: Session, variant: Variant, rows: list, allocation: VariantAllocation,
           changes: _Changes) -> None:
    before = {r.line_item_id: LineState(r.backordered, r.eta) for r in rows if r.backordered > 0}
    closed = {r.line_item_id: reads.close_reason(r) for r in rows
              if r.open_quantity <= 0 and r.backordered > 0}
    effects = diff(before_lines=before, before_status=variant.status, after=allocation,
                   closed=closed)
    changes.orders.update(_backorder_changed(rows, allocation))
    _write_lines(session, rows, allocation)
    if effects:
        orders = {r.line_item_id: r.order_id for r in rows}
        session.execute(insert(Effect), [
            {"shop_id": variant.shop_id, "variant_id": variant.variant_id,
             "line_item_id": e.line_id, "order_id": orders.get(e.line_id), "kind": e.kind.value,
             "old": e.old, "new": e.new} for e in effects])
        changes.effects += len(effects)
        changes.reorder = True
    if variant.backordered_units != allocation.backordered_units:
        changes.reorder = True
    variant.status = allocation.status.value
    variant.next_eta, variant.capacity = allocation.next_eta, allocation.capacity
    variant.backordered_units = allocation.backordered_units
    variant.recomputed_at = utcnow()


def _backorder_changed(rows: list, allocation: VariantAllocation) -> Iterable[int]:
    for row in rows:
        line = allocation.lines.get(row.line_item_id)
        if (line.backordered if line else 0) != row.backordered:
            yield row.order_id


def _write_lines(session: Session, rows: list, allocation: VariantAllocation) -> None:
    updates = []
    for row in rows:
        line = allocation.lines.get(row.line_item_id)
        backordered, eta = (line.backordered, line.eta) if line else (0, None)
        if (backordered, eta) != (row.backordered, row.eta):
            values = {"id": row.id, "backordered": backordered, "eta": eta}
            if backordered and eta and row.promised_eta is None:
                values["promised_eta"] = eta  # the first date the customer is told
            updates.append(values)
    for chunk in range(0, len(updates), 5000):
        session.execute(update(OrderLine), updates[chunk:chunk + 5000])


def _remember_inputs(variant: Variant, on_hand: int, totals: reads.DemandTotals,
                     fingerprint: str, rows: list, appended: bool) -> None:
    variant.alloc_on_hand, variant.alloc_fingerprint = on_hand, fingerprint
    variant.alloc_total_open, variant.alloc_checksum = totals.total_open, totals.checksum
    open_rows = [r for r in rows if r.open_quantity > 0]
    if open_rows:
        last = max(open_rows, key=lambda r: (r.placed_at, r.line_item_id))
        variant.alloc_tail_placed_at, variant.alloc_tail_line_id = last.placed_at, last.line_item_id
    elif not appended:
        variant.alloc_tail_placed_at = datetime.min.replace(tzinfo=utcnow().tzinfo)
        variant.alloc_tail_line_id = 0


def _decide_push(variant: Variant, allocation: VariantAllocation, changes: _Changes, *,
                 ordered: int) -> None:
    """Flag the variant for a Shopify push when what Shopify shows should change."""
    if not (variant.managed and variant.tracked and not variant.deleted):
        variant.desired_policy = None
        variant.push_pending = False
        return
    variant.desired_policy = "CONTINUE" if allocation.continue_selling else "DENY"
    pending = (variant.desired_policy != variant.pushed_policy
               or variant.status != variant.pushed_status
               or variant.next_eta != variant.pushed_eta)
    variant.push_pending = pending
    changes.push |= pending
    selling = (variant.pushed_policy or variant.shopify_policy) == "CONTINUE"
    if variant.desired_policy == "DENY" and selling:
        changes.closing = True  # the cap first: pushed by this job, ahead of anything else
        # Orders just placed closed it: the push measures how long DENY took from the
        # newest of them. A close for any other reason (settings, a sync) measures nothing.
        if ordered:
            variant.deny_order_at = variant.alloc_tail_placed_at


def _note_early_close(variant: Variant, allocation: VariantAllocation, rate: float,
                      sale: _SaleClock, changes: _Changes) -> None:
    """Say why a variant closed before its cap, and look again once the sale may have calmed."""
    if not allocation.closed_early:
        variant.closed_early_left = variant.closed_early_rate = None
        return
    variant.closed_early_left, variant.closed_early_rate = allocation.capacity, rate
    after = reopen_check_after(rate=rate, capacity=allocation.capacity, lag_seconds=sale.lag)
    changes.recheck.append((variant.variant_id, sale.now + timedelta(seconds=after)))


@dataclass(frozen=True)
class _SaleClock:
    now: datetime
    lag: float  # seconds from an order to DENY at Shopify, as measured for the shop


def _lag(variant: Variant, rows: list, sale: _SaleClock) -> float:
    """Seconds from the newest order known here to a DENY reaching Shopify: the shop's
    measured time, or, while Shopify sells the variant, longer if the newest order known
    is already older than that (the webhooks run late: every order since is on its way).
    Once Shopify denies it, nothing more is sold however old the newest order is."""
    if (variant.pushed_policy or variant.shopify_policy) != "CONTINUE":
        return sale.lag
    placed = [r.placed_at for r in rows if r.open_quantity > 0 and r.placed_at is not None]
    newest = max(placed, default=variant.alloc_tail_placed_at)
    if newest is None:
        return sale.lag
    behind = (sale.now - newest).total_seconds()
    return max(sale.lag, behind) if 0 <= behind <= MAX_ORDER_TO_DENY_SECONDS else sale.lag


def _order_to_deny(session: Session, shop_id: int) -> float:
    measured = session.scalar(select(Shop.order_to_deny_seconds).where(Shop.id == shop_id))
    return DEFAULT_ORDER_TO_DENY if measured is None else measured


def _sale_rate(variant: Variant, now: datetime) -> tuple[float, int]:
    """The variant's fastest recent units ordered a second, brought up to now; and the
    units ordered since it was last brought up to date."""
    ordered = max(0, variant.queued_units - variant.rate_queued_units)
    elapsed = (now - variant.sale_rate_at).total_seconds() if variant.sale_rate_at else 0.0
    rate = sale_rate(rate=variant.sale_rate or 0.0, elapsed_seconds=elapsed, units=ordered)
    peak = peak_rate(peak=variant.sale_rate_peak or 0.0, rate=rate, elapsed_seconds=elapsed)
    variant.sale_rate, variant.sale_rate_peak, variant.sale_rate_at = rate, peak, now
    variant.rate_queued_units = variant.queued_units
    return peak, ordered


def status_of(session: Session, shop_id: int, variant_id: int) -> Status | None:
    """The engine's current decision for one variant (None until it has one)."""
    raw = session.scalar(select(Variant.status).where(Variant.shop_id == shop_id,
                                                      Variant.variant_id == variant_id))
    return Status(raw) if raw else None


def all_variant_ids(session: Session, shop_id: int) -> list[int]:
    return list(session.scalars(select(Variant.variant_id).where(Variant.shop_id == shop_id)
                                .order_by(Variant.variant_id)))

