"""Backorder allocation: a pure function from one variant's state to its queue.

Shopify delivers webhooks late, twice and out of order, so nothing here applies
deltas. The service stores the newest snapshot of each order and inventory
level (see `newer`), then calls `allocate` with the whole state of a variant;
the same state always gives the same allocation, and `diff` (in
`app.domain.inventory.effects`) turns two allocations into effects.

Shopify semantics: `available` drops when an order is placed (below zero when
overselling under CONTINUE), rises on restock or cancel-with-restock, and does
not move on fulfilment. So the physical units that can cover our open demand
are `available + open demand`, never fewer than zero.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import accumulate
from math import exp, log
from operator import attrgetter


class Status(StrEnum):
    IN_STOCK = "in_stock"
    BACKORDERABLE = "backorderable"
    OUT_OF_STOCK = "out_of_stock"


class Mode(StrEnum):
    OFF = "off"  # never backorder: DENY as soon as stock runs out
    AUTO = "auto"  # backorder only while a restock date is known
    ALWAYS = "always"  # keep selling even without a date


@dataclass(frozen=True, slots=True)
class DemandLine:
    """One open order line of the variant."""

    line_id: int  # Shopify line item id: the stable tie-break
    placed_at: datetime  # the order's created_at
    open_qty: int  # ordered - fulfilled - cancelled/removed - refunded&restocked
    priority: int = 0  # lower goes first; merchant priority rules may set it


@dataclass(frozen=True, slots=True)
class Supply:
    """One open purchase-order line of the variant."""

    ref: int  # PO line id: the tie-break between lines due the same day
    expected_on: date
    open_qty: int  # ordered - received


@dataclass(frozen=True, slots=True)
class Policy:
    """The merchant's backorder settings for the variant."""

    mode: Mode = Mode.AUTO
    fixed_cap: int | None = None  # max backordered units; None = default cap
    buffer: int = 0  # units allowed beyond unpromised incoming supply (default cap)
    handling_days: int = 0  # added to every ETA
    lead_time_days: int | None = None  # supplier's observed lead time; None = no supplier
    # Units of the next reorder no PO holds yet (its MOQ in whole packs), where the
    # variant's supplier can receive POs: incoming for the default cap, so a sold-out
    # variant with a supplier sells from the start. 0 once a draft PO holds it.
    next_reorder: int = 0


@dataclass(frozen=True, slots=True)
class LineAllocation:
    line_id: int
    covered: int
    backordered: int
    # Date the unit covering the line's last backordered unit arrives, plus
    # handling; None when the line is covered or that unit has no date.
    eta: date | None


@dataclass(frozen=True, slots=True)
class VariantAllocation:
    lines: dict[int, LineAllocation]  # every open line, iterating in queue order
    status: Status
    backordered_units: int
    capacity: int | None  # more units that may be backordered now; None = unlimited
    next_eta: date | None  # when a new one-unit order would ship; None = cannot sell
    # Whether Shopify may keep selling once stock runs out (inventoryPolicy CONTINUE):
    # the status the variant would have at zero stock is backorderable.
    continue_selling: bool = False
    # Closed before its cap because the orders on their way would fill it (a flash sale).
    closed_early: bool = False


def newer(stored_updated_at: datetime | None, incoming_updated_at: datetime) -> bool:
    """Whether an incoming snapshot should replace the stored one (last writer wins)."""
    # Strictly newer only: a redelivery of the same snapshot is a no-op.
    return stored_updated_at is None or incoming_updated_at > stored_updated_at


def allocate(
    *,
    lines: Iterable[DemandLine],
    available: int,
    supply: Iterable[Supply],
    policy: Policy,
    today: date,
) -> VariantAllocation:
    """Split the variant's open demand into covered and backordered units, with ETAs."""
    queue = queue_order(lines)
    total_open = sum(line.open_qty for line in queue)
    on_hand = max(0, available + total_open)
    schedule = _Schedule.build(supply=supply, policy=policy, today=today)
    return _summarise(
        _allocate_lines(queue, on_hand=on_hand, schedule=schedule),
        available=available, total_open=total_open, on_hand=on_hand,
        schedule=schedule, policy=policy, today=today)


def allocate_tail(
    *,
    tail: Iterable[DemandLine],
    on_hand: int,
    total_open_before: int,
    supply: Iterable[Supply],
    policy: Policy,
    today: date,
) -> VariantAllocation:
    """Allocate lines appended behind a queue whose on-hand, supply and policy did not change.

    Equal to `allocate` over the whole queue restricted to the tail lines (and equal
    in status, capacity and dates), but it never looks at the lines in front: a
    flash sale costs the same per order at the 20,000th order as at the first.
    """
    queue = queue_order(tail)
    total_open = total_open_before + sum(line.open_qty for line in queue)
    schedule = _Schedule.build(supply=supply, policy=policy, today=today)
    lines = _allocate_lines(queue, on_hand=max(0, on_hand - total_open_before),
                            schedule=schedule, position=max(0, total_open_before - on_hand))
    return _summarise(lines, available=on_hand - total_open, total_open=total_open,
                      on_hand=on_hand, schedule=schedule, policy=policy, today=today)


def _summarise(lines: dict[int, LineAllocation], *, available: int, total_open: int,
               on_hand: int, schedule: _Schedule, policy: Policy, today: date
               ) -> VariantAllocation:
    backordered = max(0, total_open - on_hand)
    capacity = _capacity(policy=policy, incoming=schedule.total, backordered=backordered)
    next_unit_eta = schedule.eta(backordered + 1)  # where a new order would queue
    status = _status(
        available=available, policy=policy, capacity=capacity, next_unit_eta=next_unit_eta
    )
    return VariantAllocation(
        lines=lines,
        status=status,
        backordered_units=backordered,
        capacity=capacity,
        next_eta=_next_eta(status, next_unit_eta, policy=policy, today=today),
        continue_selling=_status(available=0, policy=policy, capacity=capacity,
                                 next_unit_eta=next_unit_eta) == Status.BACKORDERABLE,
    )


def queue_order(lines: Iterable[DemandLine]) -> list[DemandLine]:
    """The open lines in the order stock serves them: priority, placed time, line id."""
    open_lines = [line for line in lines if line.open_qty > 0]
    # Stable single-key passes, least significant first: faster than one tuple key on
    # long queues, since each pass compares one homogeneous type (bench/README.md).
    open_lines.sort(key=attrgetter("line_id"))
    open_lines.sort(key=attrgetter("placed_at"))
    if any(line.priority for line in open_lines):
        open_lines.sort(key=attrgetter("priority"))
    return open_lines


class _Schedule:
    """Which date each backordered unit gets, already shifted by handling days."""

    __slots__ = ("_ends", "_etas", "_beyond", "total")

    def __init__(self, ends: list[int], etas: list[date], beyond: date | None):
        self._ends = ends  # cumulative open quantity at the end of each supply line
        self._etas = etas
        self._beyond = beyond  # ETA of units past every supply line
        self.total = ends[-1] if ends else 0

    @classmethod
    def build(cls, *, supply: Iterable[Supply], policy: Policy, today: date) -> _Schedule:
        incoming = sorted(
            (s for s in supply if s.open_qty > 0), key=attrgetter("expected_on", "ref")
        )
        handling = timedelta(days=policy.handling_days)
        etas = [s.expected_on + handling for s in incoming]
        beyond = None
        if policy.lead_time_days is not None:
            beyond = today + timedelta(days=policy.lead_time_days) + handling
            # Units that arrive go to the front of the queue, so a reorder landing
            # before the last open PO still leaves the back of the queue waiting for
            # that PO: never promise a later customer an earlier date.
            if etas:
                beyond = max(beyond, etas[-1])
        return cls(ends=list(accumulate(s.open_qty for s in incoming)), etas=etas, beyond=beyond)

    def eta(self, unit: int) -> date | None:
        """ETA of the unit-th backordered unit (1-based)."""
        index = bisect_left(self._ends, unit)
        return self._etas[index] if index < len(self._etas) else self._beyond


def _allocate_lines(
    queue: list[DemandLine], *, on_hand: int, schedule: _Schedule, position: int = 0
) -> dict[int, LineAllocation]:
    allocations: dict[int, LineAllocation] = {}
    remaining = on_hand
    # `position`: backordered units handed out so far, in queue order (non-zero when
    # allocating a tail behind lines already allocated).
    for line in queue:
        covered = min(line.open_qty, remaining)
        remaining -= covered
        short = line.open_qty - covered
        position += short
        eta = schedule.eta(position) if short else None
        allocations[line.line_id] = LineAllocation(line.line_id, covered, short, eta)
    if len(allocations) != len(queue):
        # Two lines under one id would silently lose demand from the totals.
        raise ValueError("allocate() got two open lines with the same line_id")
    return allocations


def _capacity(*, policy: Policy, incoming: int, backordered: int) -> int | None:
    if policy.mode == Mode.OFF:
        return 0  # backorders are off: nothing more may be backordered
    if policy.fixed_cap is not None:
        return max(0, policy.fixed_cap - backordered)
    if policy.mode == Mode.ALWAYS:
        return None
    # Default cap: incoming units not yet promised to a customer (the next reorder's
    # too), plus the buffer.
    return max(0, incoming + policy.next_reorder + policy.buffer - backordered)


def _status(
    *, available: int, policy: Policy, capacity: int | None, next_unit_eta: date | None
) -> Status:
    if available > 0:
        return Status.IN_STOCK
    if policy.mode == Mode.OFF or capacity == 0:
        return Status.OUT_OF_STOCK
    if policy.mode == Mode.AUTO and next_unit_eta is None:
        # AUTO never sells a unit it cannot give a customer a date for.
        return Status.OUT_OF_STOCK
    return Status.BACKORDERABLE


def _next_eta(
    status: Status, next_unit_eta: date | None, *, policy: Policy, today: date
) -> date | None:
    if status == Status.IN_STOCK:
        return today + timedelta(days=policy.handling_days)
    return next_unit_eta if status == Status.BACKORDERABLE else None


# --- flash sales ------------------------------------------------------------------

# How far back the sale rate looks: long enough to smooth the bursts in which batches
# of orders arrive, short enough that the estimate catches up with a sale that starts
# all at once (an average over a longer window would still read a fraction of the real
# rate when the cap is reached) and forgets one that stopped within seconds.
RATE_WINDOW_SECONDS = 1.0


def sale_rate(*, rate: float, elapsed_seconds: float, units: int,
              window: float = RATE_WINDOW_SECONDS) -> float:
    """Units ordered per second, an exponentially decaying average: `rate` as it was
    `elapsed_seconds` ago, plus `units` ordered since. Steady sales of r a second keep it at r.
    """
    return rate * exp(-max(0.0, elapsed_seconds) / window) + max(0, units) / window


# How long a variant remembers the fastest it sold. While Shopify denies, no orders come,
# so nothing tells whether shoppers are still trying: a variant opened again into a sale
# still on sells at full speed at once, past its cap if little is left. So the peak fades
# over a minute: one closed early with little left opens again a minute or two after the
# sale ended, one with much left sooner.
PEAK_WINDOW_SECONDS = 60.0


def peak_rate(*, peak: float, rate: float, elapsed_seconds: float) -> float:
    """The fastest recent sale rate: `peak` decayed over `elapsed_seconds`, or `rate`."""
    return max(rate, peak * exp(-max(0.0, elapsed_seconds) / PEAK_WINDOW_SECONDS))


# Below this many units a second a sale is no flash sale: the DENY that the cap itself
# triggers reaches Shopify before the next order, and a lone order of a few units must
# not close a variant with a few left.
FLASH_RATE = 5.0


def close_early(allocation: VariantAllocation, *, rate: float,
                lag_seconds: float) -> VariantAllocation:
    """Stop selling now when the orders on their way would use up what the cap allows.

    Shopify keeps selling under CONTINUE until DENY reaches it, `lag_seconds` after the
    newest order the engine has seen: about `rate * lag_seconds` units are already sold
    and not yet known here (`in_flight` counts them with a margin). Stock on hand is no risk (Shopify never sells past it under
    DENY), so only backorder capacity counts. Selling a little under the cap for a few
    seconds is fine; selling past it breaks a promise to a customer.
    """
    capacity = allocation.capacity
    if (not allocation.continue_selling or capacity is None or rate < FLASH_RATE
            or capacity > in_flight(rate=rate, lag_seconds=lag_seconds)):
        return allocation
    if allocation.status == Status.IN_STOCK:
        return replace(allocation, continue_selling=False, closed_early=True)
    return replace(allocation, status=Status.OUT_OF_STOCK, next_eta=None,
                   continue_selling=False, closed_early=True)


def reopen_check_after(*, rate: float, capacity: int | None, lag_seconds: float) -> float:
    """Seconds until a variant closed early may open again if no more orders come: the
    orders on their way have arrived (`lag_seconds`) and the peak rate has decayed to what
    the capacity left allows."""
    expected = in_flight(rate=rate, lag_seconds=lag_seconds)
    if not capacity or expected <= capacity:
        return max(1.0, lag_seconds)
    return max(1.0, lag_seconds + PEAK_WINDOW_SECONDS * log(expected / capacity))


# The measured lag is one close's; under load the time from an order to DENY spreads
# (the slowest webhooks of a batch wait about three times as long as the median). A guess
# too long only closes a little early; one too short sells past the cap.
IN_FLIGHT_MARGIN = 1.5


def in_flight(*, rate: float, lag_seconds: float) -> float:
    """Units Shopify sells before a DENY decided now reaches it, on the safe side."""
    return rate * lag_seconds * IN_FLIGHT_MARGIN


# A sample beyond this is no flash sale's lag (a clock far off, an order from long ago).
MAX_ORDER_TO_DENY_SECONDS = 60.0


def order_to_deny(estimate: float | None, sample_seconds: float) -> float:
    """The shop's order-to-DENY estimate after one more measured close.

    A longer sample is taken at once and a shorter one only halfway: a lag guessed too
    short sells past the cap, one guessed too long only closes a little early.
    """
    sample = min(max(0.0, sample_seconds), MAX_ORDER_TO_DENY_SECONDS)
    if estimate is None or sample >= estimate:
        return sample
    return (estimate + sample) / 2
