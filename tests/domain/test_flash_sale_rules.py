"""Flash sales, by example: the sale rate, closing early, the measured lag, skipped stock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.inventory.batching import skipped_levels
from app.domain.inventory.payloads import LevelSnapshot
from app.domain.inventory.rules import (
    PEAK_WINDOW_SECONDS,
    RATE_WINDOW_SECONDS,
    DemandLine,
    Mode,
    Policy,
    Status,
    Supply,
    allocate,
    close_early,
    in_flight,
    order_to_deny,
    peak_rate,
    reopen_check_after,
    sale_rate,
)

TODAY = date(2026, 12, 4)
CAPPED = Policy(mode=Mode.AUTO, fixed_cap=300, lead_time_days=10)
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def selling(backordered: int, *, policy: Policy = CAPPED):
    """A sold-out variant with `backordered` one-unit orders sold past its stock."""
    lines = [DemandLine(n, T0 + timedelta(seconds=n), 1) for n in range(1, backordered + 1)]
    return allocate(lines=lines, available=-backordered, supply=[], policy=policy, today=TODAY)


def test_steady_sales_keep_the_rate_at_units_per_second():
    rate = 0.0
    for _ in range(1000):  # a unit every 20 ms: 50 a second
        rate = sale_rate(rate=rate, elapsed_seconds=0.02, units=1)
    assert rate == pytest.approx(50, rel=0.03)


def test_the_rate_decays_once_sales_stop():
    assert sale_rate(rate=50, elapsed_seconds=RATE_WINDOW_SECONDS, units=0) == pytest.approx(
        50 / 2.718281828, rel=1e-6)
    assert sale_rate(rate=50, elapsed_seconds=-3, units=0) == 50  # clocks never add units


def test_a_variant_selling_faster_than_its_capacity_lasts_closes_now():
    allocation = selling(280)  # 20 units left under the cap
    assert allocation.continue_selling and allocation.capacity == 20
    closed = close_early(allocation, rate=50, lag_seconds=0.5)  # 25 on their way
    assert (closed.status, closed.continue_selling, closed.closed_early, closed.next_eta) == (
        Status.OUT_OF_STOCK, False, True, None)


def test_a_variant_whose_capacity_outlasts_the_orders_on_their_way_keeps_selling():
    allocation = selling(280)
    assert close_early(allocation, rate=20, lag_seconds=0.5) is allocation  # 10 (x1.5) < 20


def test_closing_early_never_stops_selling_stock_on_hand():
    in_stock = allocate(lines=[], available=5, supply=[], policy=replace_cap(3), today=TODAY)
    closed = close_early(in_stock, rate=100, lag_seconds=1)
    assert closed.status == Status.IN_STOCK and not closed.continue_selling


def test_a_variant_selling_slower_than_a_flash_sale_is_left_to_the_cap():
    allocation = selling(298)
    assert close_early(allocation, rate=4, lag_seconds=2) is allocation


def test_a_variant_without_a_cap_or_already_closed_is_left_alone():
    always = selling(1000, policy=Policy(mode=Mode.ALWAYS))
    assert close_early(always, rate=1000, lag_seconds=10) is always
    full = selling(300)
    assert not full.continue_selling and close_early(full, rate=50, lag_seconds=1) is full


def test_the_peak_rate_outlives_a_sale_that_went_quiet_because_shopify_denied_it():
    rate = sale_rate(rate=50, elapsed_seconds=5, units=0)  # no orders while closed
    assert rate < 1
    assert peak_rate(peak=50, rate=rate, elapsed_seconds=PEAK_WINDOW_SECONDS) == pytest.approx(
        50 / 2.718281828, rel=1e-6)
    assert peak_rate(peak=10, rate=40, elapsed_seconds=1) == 40


def test_a_closed_variant_is_looked_at_again_once_the_peak_rate_can_have_decayed():
    after = reopen_check_after(rate=50, capacity=10, lag_seconds=0.5)  # 25 in flight
    faded = peak_rate(peak=50, rate=0, elapsed_seconds=after - 0.5)
    assert in_flight(rate=faded, lag_seconds=0.5) <= 10 + 1e-9
    assert reopen_check_after(rate=0, capacity=10, lag_seconds=0.2) == 1.0


def test_the_order_to_deny_estimate_takes_a_longer_lag_at_once_and_a_shorter_one_halfway():
    assert order_to_deny(None, 0.8) == 0.8
    assert order_to_deny(0.8, 1.2) == 1.2
    assert order_to_deny(1.2, 0.4) == pytest.approx(0.8)
    assert order_to_deny(0.5, 3600) == 60.0  # a sample from long ago is capped
    assert order_to_deny(0.5, -2) == 0.25  # a clock behind counts as no lag


def level(available: int, second: int, item: int = 1) -> LevelSnapshot:
    return LevelSnapshot(item, 9, available, T0 + timedelta(seconds=second))


def test_a_run_of_falling_stock_keeps_only_its_ends():
    levels = list(enumerate([level(5, 1), level(4, 2), level(3, 3), level(2, 4)]))
    assert skipped_levels(levels, {}) == {1, 2}


def test_a_rise_in_a_batch_is_applied_so_its_delivery_is_matched():
    levels = list(enumerate([level(5, 1), level(4, 2), level(9, 3), level(8, 4), level(7, 5)]))
    assert skipped_levels(levels, {}) == {3}


def test_stale_snapshots_are_skipped_against_the_stored_level_and_each_other():
    levels = list(enumerate([level(5, 1), level(6, 3), level(1, 2), level(4, 4, item=2)]))
    stored = {(1, 9): T0 + timedelta(seconds=1), (2, 9): None}
    assert skipped_levels(levels, stored) == {0, 2}


def replace_cap(cap: int) -> Policy:
    return Policy(mode=Mode.AUTO, fixed_cap=cap, lead_time_days=10)


def test_supply_is_not_needed_for_a_fixed_cap():
    # a guard on the example above: the capped policy sells on the lead time alone
    assert selling(0).status == Status.BACKORDERABLE
    assert allocate(lines=[], available=0, supply=[Supply(1, TODAY, 5)], policy=CAPPED,
                    today=TODAY).capacity == 300


def test_the_orders_on_their_way_are_counted_with_a_margin():
    assert in_flight(rate=100, lag_seconds=0.4) == pytest.approx(60)  # 40 measured, x1.5
