"""Backorder allocation, as properties: invariants, a reference model, and convergence.

The convergence tests play a tiny Shopify for one variant, deliver its webhook
snapshots late, twice and out of order, and check that last-writer-wins state
plus `allocate` ends where in-order delivery ends, with no effect left to emit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.inventory.effects import CloseReason, diff, line_states
from app.domain.inventory.rules import (
    DemandLine,
    Mode,
    Policy,
    Status,
    Supply,
    VariantAllocation,
    allocate,
    newer,
)

TODAY = date(2024, 5, 1)
T0 = datetime(2024, 4, 1, 9, 0, tzinfo=UTC)

# Few distinct times, priorities and dates, so ties are common and tie-breaks get tested.
demand_lines = st.lists(
    st.builds(
        DemandLine,
        line_id=st.integers(1, 10_000),
        placed_at=st.integers(0, 5).map(lambda m: T0 + timedelta(minutes=m)),
        open_qty=st.integers(-1, 4),
        priority=st.integers(-1, 1),
    ),
    max_size=12,
    unique_by=lambda line: line.line_id,
)
supplies = st.lists(
    st.builds(
        Supply,
        ref=st.integers(1, 1_000),
        expected_on=st.integers(0, 20).map(lambda d: TODAY + timedelta(days=d)),
        open_qty=st.integers(-1, 5),
    ),
    max_size=4,
    unique_by=lambda s: s.ref,
)
policies = st.builds(
    Policy,
    mode=st.sampled_from(Mode),
    fixed_cap=st.none() | st.integers(0, 8),
    buffer=st.integers(0, 4),
    handling_days=st.integers(0, 3),
    lead_time_days=st.none() | st.integers(0, 30),
)
availables = st.integers(-20, 10)
# The reference-model test checks every line exactly, so the single invariants
# need fewer examples: this keeps the whole file within a few seconds.
invariant = settings(max_examples=50, deadline=None)


def queue_key(line: DemandLine):
    return (line.priority, line.placed_at, line.line_id)


def run(lines, available, supply, policy) -> VariantAllocation:
    return allocate(lines=lines, available=available, supply=supply, policy=policy, today=TODAY)


# --- Invariants ----------------------------------------------------------------


@invariant
@given(demand_lines, availables, supplies, policies)
def test_backordered_units_are_open_demand_minus_what_stock_covers(
    lines, available, supply, policy
):
    result = run(lines, available, supply, policy)

    total_open = sum(line.open_qty for line in lines if line.open_qty > 0)
    expected = max(0, total_open - max(0, available + total_open))
    assert result.backordered_units == expected
    assert sum(a.backordered for a in result.lines.values()) == expected


@invariant
@given(demand_lines, availables, supplies, policies)
def test_every_open_line_is_split_into_covered_and_backordered_units(
    lines, available, supply, policy
):
    result = run(lines, available, supply, policy)

    open_lines = {line.line_id: line for line in lines if line.open_qty > 0}
    assert result.lines.keys() == open_lines.keys()
    for line_id, a in result.lines.items():
        assert a.line_id == line_id
        assert a.covered >= 0 and a.backordered >= 0
        assert a.covered + a.backordered == open_lines[line_id].open_qty
        assert (a.eta is None) if a.backordered == 0 else True


@invariant
@given(demand_lines, availables, supplies, policies)
def test_no_line_is_covered_while_an_earlier_line_waits(lines, available, supply, policy):
    result = run(lines, available, supply, policy)

    in_queue = [
        result.lines[line.line_id] for line in sorted(lines, key=queue_key) if line.open_qty > 0
    ]
    assert list(result.lines.values()) == in_queue  # lines iterate in queue order
    waiting_seen = False
    for a in in_queue:
        assert not (waiting_seen and a.covered > 0)
        waiting_seen = waiting_seen or a.backordered > 0


@invariant
@given(demand_lines, availables, supplies, policies)
def test_etas_never_decrease_along_the_queue(lines, available, supply, policy):
    result = run(lines, available, supply, policy)

    etas = [a.eta for a in result.lines.values() if a.backordered > 0 and a.eta is not None]
    assert etas == sorted(etas)


@invariant
@given(demand_lines, availables, supplies, policies)
def test_status_follows_stock_mode_cap_and_dates(lines, available, supply, policy):
    result = run(lines, available, supply, policy)

    if available > 0:
        assert result.status is Status.IN_STOCK
        assert result.next_eta == TODAY + timedelta(days=policy.handling_days)
    elif result.status is Status.BACKORDERABLE:
        assert policy.mode is not Mode.OFF
        assert result.capacity is None or result.capacity > 0
        assert result.next_eta is not None or policy.mode is Mode.ALWAYS
    else:
        assert result.status is Status.OUT_OF_STOCK
        assert result.next_eta is None
    assert (result.capacity is None) == (policy.mode is Mode.ALWAYS and policy.fixed_cap is None)


@settings(max_examples=200, deadline=None)
@given(demand_lines, availables, supplies, policies)
def test_allocate_matches_a_unit_by_unit_reference_model(lines, available, supply, policy):
    result = run(lines, available, supply, policy)

    expected_lines, next_unit_date = reference_model(lines, available, supply, policy)
    assert {i: (a.covered, a.backordered, a.eta) for i, a in result.lines.items()} == (
        expected_lines
    )
    if result.status is Status.BACKORDERABLE:
        assert result.next_eta == next_unit_date


@invariant
@given(demand_lines, availables, supplies, policies, st.randoms(use_true_random=False))
def test_the_order_inputs_arrive_in_does_not_matter(lines, available, supply, policy, rnd):
    shuffled_lines, shuffled_supply = list(lines), list(supply)
    rnd.shuffle(shuffled_lines)
    rnd.shuffle(shuffled_supply)

    assert run(shuffled_lines, available, shuffled_supply, policy) == run(
        lines, available, supply, policy
    )


def reference_model(lines, available, supply, policy):
    """The rules spelled out one unit at a time: slow, obvious, and independent."""
    handling = timedelta(days=policy.handling_days)
    units = [line for line in sorted(lines, key=queue_key) for _ in range(line.open_qty)]
    on_hand = max(0, available + len(units))
    incoming = sorted((s for s in supply if s.open_qty > 0), key=lambda s: (s.expected_on, s.ref))
    unit_dates = [s.expected_on + handling for s in incoming for _ in range(s.open_qty)]
    beyond = None
    if policy.lead_time_days is not None:
        beyond = max([TODAY + timedelta(days=policy.lead_time_days) + handling, *unit_dates])

    def date_of(k: int):  # k-th backordered unit, 1-based
        return unit_dates[k - 1] if k <= len(unit_dates) else beyond

    result = {line.line_id: (0, 0, None) for line in units}
    for position, line in enumerate(units):
        covered, backordered, eta = result[line.line_id]
        if position < on_hand:
            result[line.line_id] = (covered + 1, backordered, eta)
        else:
            result[line.line_id] = (covered, backordered + 1, date_of(position - on_hand + 1))
    return result, date_of(len(units) - min(on_hand, len(units)) + 1)


# --- Convergence under Shopify's delivery ------------------------------------------


@dataclass(frozen=True)
class OrderSnapshot:
    """An orders/* webhook body, reduced to this variant's single line."""

    order_id: int
    created_at: datetime
    updated_at: datetime
    quantity: int
    fulfilled: int = 0
    cancelled: bool = False


@dataclass(frozen=True)
class LevelSnapshot:
    """An inventory_levels/update webhook body."""

    available: int
    updated_at: datetime


@dataclass
class FakeShopify:
    """One variant's truth; every change emits the snapshot Shopify would deliver."""

    available: int = 0
    orders: dict[int, OrderSnapshot] = field(default_factory=dict)
    deliveries: list[OrderSnapshot | LevelSnapshot] = field(default_factory=list)
    tick: int = 0

    def _now(self) -> datetime:
        self.tick += 1
        return T0 + timedelta(seconds=self.tick)

    def _save(self, order: OrderSnapshot) -> None:
        self.orders[order.order_id] = order
        self.deliveries.append(order)

    def _set_available(self, available: int) -> None:
        self.available = available
        self.deliveries.append(LevelSnapshot(available, self._now()))

    def open_orders(self) -> list[OrderSnapshot]:
        return [o for o in self.orders.values() if not o.cancelled and o.fulfilled < o.quantity]

    def place(self, qty: int) -> None:
        now = self._now()
        self._save(OrderSnapshot(len(self.orders) + 1, now, now, qty))
        self._set_available(self.available - qty)

    def cancel_with_restock(self, order: OrderSnapshot) -> None:
        self._save(replace(order, cancelled=True, updated_at=self._now()))
        self._set_available(self.available + order.quantity - order.fulfilled)

    def fulfil(self, order: OrderSnapshot, qty: int) -> None:
        # Shopify leaves `available` alone: the unit left stock when it was ordered.
        fulfilled = min(order.quantity, order.fulfilled + qty)
        self._save(replace(order, fulfilled=fulfilled, updated_at=self._now()))

    def restock(self, qty: int) -> None:
        self._set_available(self.available + qty)

    def set_inventory(self, available: int) -> None:
        self._set_available(available)


events = st.lists(
    st.tuples(
        st.sampled_from(["place", "place", "cancel", "fulfil", "restock", "set"]),
        st.integers(0, 99),
    ),
    max_size=25,
)


def play(script, start: int) -> FakeShopify:
    shop = FakeShopify()
    shop.set_inventory(start)
    for kind, n in script:
        open_orders = shop.open_orders()
        if kind == "place":
            shop.place(1 + n % 3)
        elif kind == "cancel" and open_orders:
            shop.cancel_with_restock(open_orders[n % len(open_orders)])
        elif kind == "fulfil" and open_orders:
            shop.fulfil(open_orders[n % len(open_orders)], 1 + n % 2)
        elif kind == "restock":
            shop.restock(1 + n % 5)
        elif kind == "set":
            shop.set_inventory(n % 8)
    return shop


@dataclass(frozen=True)
class Stored:
    """What the service keeps: the newest snapshot of each order and of the level."""

    orders: dict[int, OrderSnapshot] = field(default_factory=dict)
    level: LevelSnapshot | None = None


def receive(stored: Stored, delivery: OrderSnapshot | LevelSnapshot) -> Stored:
    """Last writer wins: keep a snapshot only if it is newer than the stored one."""
    if isinstance(delivery, LevelSnapshot):
        current = stored.level.updated_at if stored.level else None
        return replace(stored, level=delivery) if newer(current, delivery.updated_at) else stored
    old = stored.orders.get(delivery.order_id)
    if not newer(old.updated_at if old else None, delivery.updated_at):
        return stored
    return replace(stored, orders={**stored.orders, delivery.order_id: delivery})


def demand(orders) -> list[DemandLine]:
    return [
        DemandLine(o.order_id, o.created_at, 0 if o.cancelled else o.quantity - o.fulfilled)
        for o in orders
    ]


def allocate_stored(stored: Stored, supply, policy) -> VariantAllocation:
    available = stored.level.available if stored.level else 0
    return run(demand(stored.orders.values()), available, supply, policy)


@dataclass
class Service:
    """receive -> allocate -> diff -> store, one delivery at a time, like the worker."""

    supply: list[Supply]
    policy: Policy
    stored: Stored = field(default_factory=Stored)
    lines: dict = field(default_factory=dict)
    status: Status | None = None

    def handle(self, delivery):
        self.stored = receive(self.stored, delivery)
        after = allocate_stored(self.stored, self.supply, self.policy)
        closed = {
            o.order_id: CloseReason.CANCELLED if o.cancelled else CloseReason.FULFILLED
            for o in self.stored.orders.values()
            if o.order_id not in after.lines
        }
        effects = diff(
            before_lines=self.lines, before_status=self.status, after=after, closed=closed
        )
        self.lines, self.status = line_states(after), after.status
        return effects


@settings(max_examples=200, deadline=None)
@given(events, st.integers(0, 6), supplies, policies, st.data())
def test_any_order_and_any_repetition_of_deliveries_converges(script, start, supply, policy, data):
    shop = play(script, start)
    truth = run(demand(shop.orders.values()), shop.available, supply, policy)
    extras = data.draw(st.lists(st.sampled_from(shop.deliveries), max_size=10))
    scrambled = data.draw(st.permutations(shop.deliveries + extras))

    in_order = functools.reduce(receive, shop.deliveries, Stored())
    converged = functools.reduce(receive, scrambled, Stored())

    assert allocate_stored(in_order, supply, policy) == truth
    assert allocate_stored(converged, supply, policy) == truth
    assert (
        diff(before_lines=line_states(truth), before_status=truth.status, after=truth, closed={})
        == []
    )


@settings(max_examples=100, deadline=None)
@given(events, st.integers(0, 6), supplies, policies, st.data())
def test_redelivering_anything_after_convergence_emits_no_effect(
    script, start, supply, policy, data
):
    shop = play(script, start)
    service = Service(supply=supply, policy=policy)
    for delivery in data.draw(st.permutations(shop.deliveries)):
        service.handle(delivery)

    for delivery in shop.deliveries:
        assert service.handle(delivery) == []
