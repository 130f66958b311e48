"""Reorder policy and learned supplier lead times: pure arithmetic, no I/O.

The policy is Odoo's min/max idea made explainable: order what the backorders,
the demand expected during the lead time and a safety stock need, minus what
is on hand or already incoming, rounded up to the supplier's MOQ and packs.
Every number a merchant sees comes with a one-line explanation.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# Float products like 0.7 * 10 land a hair above the integer they mean;
# rounding them up must not add a whole unit (or a whole day).
_EPSILON = 1e-9


def _ceil(value: float) -> int:
    return math.ceil(value - _EPSILON)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --- Demand forecast --------------------------------------------------------

@dataclass(frozen=True)
class DemandForecast:
    """Expected units per day, and how far a day typically strays from it."""

    mean: float
    stdev: float


def forecast_daily_demand(daily_units: Sequence[int], *, alpha: float = 0.3) -> DemandForecast:
    """Forecast tomorrow's demand from daily units sold, oldest day first.

    Simple exponential smoothing: the level starts at the first day and moves
    `alpha` of the way toward each new day; the mean is the final level and the
    stdev is that of the one-day-ahead errors (of the days themselves while
    there are fewer than two errors). An empty history forecasts 0 +- 0.
    """
    _require(0 < alpha <= 1, "alpha must be in (0, 1]")
    _require(all(units >= 0 for units in daily_units), "daily units must be >= 0")
    if not daily_units:
        return DemandForecast(mean=0.0, stdev=0.0)
    level = float(daily_units[0])
    errors = []
    for units in daily_units[1:]:
        errors.append(units - level)
        level += alpha * (units - level)
    if len(errors) >= 2:
        return DemandForecast(mean=level, stdev=statistics.stdev(errors))
    return DemandForecast(mean=level, stdev=statistics.pstdev(daily_units))


def safety_stock(forecast: DemandForecast, lead_time_days: int,
                 service_level: float = 0.95) -> int:
    """Units to hold so demand over the lead time is covered with the given probability."""
    _require(0 < service_level < 1, "service_level must be in (0, 1)")
    _require(lead_time_days >= 0, "lead_time_days must be >= 0")
    # Daily errors are taken as independent, so their spread grows with sqrt(days).
    z = statistics.NormalDist().inv_cdf(service_level)
    return max(0, _ceil(z * forecast.stdev * math.sqrt(lead_time_days)))


# --- Reorder quantity -------------------------------------------------------

@dataclass(frozen=True)
class ReorderDecision:
    """How many units to order, the shortfall behind it, and why, in one line."""

    quantity: int
    net_need: int
    explanation: str


def reorder_quantity(*, backordered: int, on_hand: int, incoming: int,
                     forecast: DemandForecast, lead_time_days: int, service_level: float,
                     moq: int, pack_size: int) -> ReorderDecision:
    """Decide how much to order now: the net need rounded up to the MOQ, then to whole packs."""
    _require(min(backordered, on_hand, incoming) >= 0, "stock counts must be >= 0")
    _require(moq >= 1 and pack_size >= 1, "moq and pack_size must be >= 1")
    safety = safety_stock(forecast, lead_time_days, service_level)
    lead_demand = _ceil(forecast.mean * lead_time_days)
    net_need = backordered + safety + lead_demand - on_hand - incoming
    breakdown = (f"{backordered} backordered + {safety} safety stock + {lead_demand} expected "
                 f"sales over {lead_time_days} days - {on_hand} on hand - {incoming} incoming "
                 f"= {net_need} needed")
    if net_need <= 0:
        return ReorderDecision(0, net_need, f"No reorder: {breakdown}.")
    quantity = reorder_minimum(max(net_need, moq), pack_size)
    return ReorderDecision(quantity, net_need,
                           f"Order {quantity}: {breakdown}{_rounding_note(net_need, moq, pack_size)}.")


def reorder_minimum(units: int, pack_size: int) -> int:
    """The smallest order of at least `units` in whole packs (`units`: the MOQ or more)."""
    return _ceil(units / pack_size) * pack_size


def _rounding_note(net_need: int, moq: int, pack_size: int) -> str:
    notes = []
    if moq > net_need:
        notes.append(f"minimum order {moq}")
    if max(net_need, moq) % pack_size:
        notes.append(f"packs of {pack_size}")
    return f", rounded up for {' and '.join(notes)}" if notes else ""


# --- Supplier choice --------------------------------------------------------

@dataclass(frozen=True)
class SupplierOption:
    """One supplier able to sell a SKU, as the reorder policy needs to see it."""

    supplier_id: int
    priority: int  # 1 is the preferred supplier of the SKU
    active: bool
    can_deliver: bool
    lead_time_days: int
    moq: int = 1
    pack_size: int = 1
    unit_cost: Decimal | None = None


def choose_supplier(options: Sequence[SupplierOption]) -> SupplierOption | None:
    """Pick the preferred supplier that can take an order now, falling back by priority."""
    usable = [option for option in options if option.active and option.can_deliver]
    if not usable:
        return None
    # Ties on priority go to the faster supplier, then the lower id, so the choice is stable.
    return min(usable, key=lambda o: (o.priority, o.lead_time_days, o.supplier_id))


# --- Learned lead times -----------------------------------------------------

def observed_lead_time(*, promised_days: int, actual_days: Sequence[int],
                       percentile: float = 0.9, min_history: int = 3, window: int = 20) -> int:
    """Lead time to plan with: a high percentile of the supplier's recent actual lead times.

    Only the last `window` deliveries count, so a supplier that improves (or
    slips) is seen within weeks. With fewer than `min_history` deliveries the
    promised lead time is used. The percentile is nearest-rank (rank rounded
    up), so it is always a lead time that really happened; it may be shorter
    than promised when the supplier is reliably early, because customer ETAs
    should be honest in both directions.
    """
    _require(0 < percentile <= 1, "percentile must be in (0, 1]")
    _require(min_history >= 1 and window >= 1, "min_history and window must be >= 1")
    _require(all(days >= 0 for days in actual_days), "actual lead times must be >= 0")
    recent = sorted(actual_days[-window:])
    if len(recent) < min_history:
        return promised_days
    rank = max(1, _ceil(percentile * len(recent)))
    return recent[rank - 1]


def on_time_rate(records: Sequence[tuple[int, int]]) -> float | None:
    """Share of deliveries that arrived within the promised lead time; None without history."""
    if not records:
        return None
    on_time = sum(1 for promised, actual in records if actual <= promised)
    return on_time / len(records)
