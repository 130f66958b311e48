"""Backorder allocation, by example: who waits, until when, and what the variant sells."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.inventory.effects import (
    Effect,
    EffectKind,
    LineState,
    diff,
    line_states,
)
from app.domain.inventory.rules import (
    DemandLine,
    Mode,
    Policy,
    Status,
    Supply,
    allocate,
    newer,
)

TODAY = date(2024, 5, 1)
T0 = datetime(2024, 4, 1, 9, 0, tzinfo=UTC)
NO_SUPPLIER = Policy()
SUPPLIER_30_DAYS = Policy(lead_time_days=30, buffer=100)


def line(line_id: int, qty: int = 1, *, minute: int | None = None, priority: int = 0):
    """A line placed `minute` minutes after T0 (by default: in line id order)."""
    placed_at = T0 + timedelta(minutes=line_id if minute is None else minute)
    return DemandLine(line_id=line_id, placed_at=placed_at, open_qty=qty, priority=priority)


def po(ref: int, qty: int, *, days: int) -> Supply:
    return Supply(ref=ref, expected_on=TODAY + timedelta(days=days), open_qty=qty)


def split(allocation) -> dict[int, tuple[int, int]]:
    """line id -> (covered, backordered), to compare queues at a glance."""
    return {i: (a.covered, a.backordered) for i, a in allocation.lines.items()}


def run(lines, *, available, supply=(), policy=SUPPLIER_30_DAYS):
    return allocate(lines=lines, available=available, supply=supply, policy=policy, today=TODAY)


# --- Who is covered, who waits ----------------------------------------------


def test_variant_with_units_left_is_in_stock_and_covers_every_line():
    result = run([line(1, 2), line(2)], available=4)

    assert split(result) == {1: (2, 0), 2: (1, 0)}
    assert result.status is Status.IN_STOCK
    assert result.backordered_units == 0
    assert result.next_eta == TODAY


def test_oversell_backorders_the_newest_lines():
    # 3 units were in stock; four one-unit orders took `available` to -1.
    result = run([line(1), line(2), line(3), line(4)], available=-1)

    assert split(result) == {1: (1, 0), 2: (1, 0), 3: (1, 0), 4: (0, 1)}
    assert result.backordered_units == 1


def test_partial_restock_fills_oldest_lines_first_and_splits_a_line():
    lines = [line(1, 2), line(2, 3), line(3, 2)]
    before = run(lines, available=-7)  # sold 7 from an empty shelf
    after = run(lines, available=-3)  # 4 units restocked

    assert split(before) == {1: (0, 2), 2: (0, 3), 3: (0, 2)}
    assert split(after) == {1: (2, 0), 2: (2, 1), 3: (0, 2)}


def test_cancelling_a_covered_order_frees_its_unit_for_the_oldest_backordered_line():
    # Spree's bug gave the freed unit to whichever backorder it met first; the
    # queue must hand it to the oldest waiting line, never to a newer one.
    before = run([line(1), line(2), line(3), line(4)], available=-2)
    after = run([line(1), line(3), line(4)], available=-1)  # 2 cancelled, restocked

    assert split(before) == {1: (1, 0), 2: (1, 0), 3: (0, 1), 4: (0, 1)}
    assert split(after) == {1: (1, 0), 3: (1, 0), 4: (0, 1)}


def test_cancelling_a_backordered_order_moves_nobody_out_of_turn():
    after = run([line(1), line(2), line(4)], available=-1)  # 3 cancelled

    assert split(after) == {1: (1, 0), 2: (1, 0), 4: (0, 1)}


def test_fulfilment_does_not_move_the_queue():
    # Shopify does not touch `available` on fulfilment, only the line's open qty.
    before = run([line(1, 2), line(2)], available=-1)
    after = run([line(1, 0), line(2)], available=-1)

    assert split(before) == {1: (2, 0), 2: (0, 1)}
    assert split(after) == {2: (0, 1)}


def test_priority_goes_first_then_placed_time_then_line_id():
    lines = [
        line(1, minute=0),
        line(7, minute=5),
        line(3, minute=5),
        line(9, minute=9, priority=-1),
    ]

    result = run(lines, available=-3)  # one unit to cover four lines

    assert list(result.lines) == [9, 1, 3, 7]
    assert split(result) == {9: (1, 0), 1: (0, 1), 3: (0, 1), 7: (0, 1)}


def test_lines_with_nothing_open_are_left_out():
    result = run([line(1, 0), line(2, -1), line(3)], available=0)

    assert list(result.lines) == [3]


def test_shortfall_larger_than_our_open_demand_backorders_all_of_it():
    # Demand we do not track (older orders, other channels) took stock below zero.
    result = run([line(1), line(2)], available=-5)

    assert split(result) == {1: (0, 1), 2: (0, 1)}
    assert result.backordered_units == 2


def test_two_open_lines_with_one_id_are_rejected():
    with pytest.raises(ValueError, match="same line_id"):
        run([line(1), line(1, minute=5)], available=0)


# --- ETAs ---------------------------------------------------------------------


def test_each_backordered_line_gets_the_date_of_the_po_covering_its_last_unit():
    supply = [po(20, 3, days=30), po(10, 2, days=10), po(30, 1, days=30)]
    lines = [line(1), line(2, 2), line(3, 2), line(4)]

    result = run(lines, available=-6, supply=supply)

    # Units 1-2 come with PO 10, units 3-5 with PO 20, unit 6 with PO 30 (same day, ref after).
    assert {i: a.eta for i, a in result.lines.items()} == {
        1: TODAY + timedelta(days=10),
        2: TODAY + timedelta(days=30),  # units 2 and 3: the later one decides
        3: TODAY + timedelta(days=30),
        4: TODAY + timedelta(days=30),
    }


def test_units_beyond_open_pos_get_the_observed_supplier_lead_time():
    result = run([line(1), line(2)], available=-2, supply=[po(1, 1, days=5)])

    assert result.lines[1].eta == TODAY + timedelta(days=5)
    assert result.lines[2].eta == TODAY + timedelta(days=30)
    assert result.next_eta == TODAY + timedelta(days=30)


def test_units_beyond_open_pos_never_get_a_date_before_the_last_po():
    # A reorder landing in 30 days would first serve the lines waiting for the
    # 45-day PO, so the line behind them still waits for that PO.
    result = run([line(1), line(2)], available=-2, supply=[po(1, 1, days=45)])

    assert result.lines[2].eta == result.lines[1].eta == TODAY + timedelta(days=45)
    assert result.next_eta == TODAY + timedelta(days=45)


def test_covered_lines_have_no_eta():
    result = run([line(1), line(2)], available=-1, supply=[po(1, 5, days=5)])

    assert result.lines[1].eta is None
    assert result.lines[2].eta == TODAY + timedelta(days=5)


def test_handling_days_are_added_to_every_eta():
    policy = Policy(lead_time_days=30, buffer=5, handling_days=2)

    backordered = run([line(1)], available=-1, supply=[po(1, 1, days=5)], policy=policy)
    in_stock = run([line(1)], available=1, policy=policy)

    assert backordered.lines[1].eta == TODAY + timedelta(days=7)
    assert backordered.next_eta == TODAY + timedelta(days=32)  # beyond the PO
    assert in_stock.next_eta == TODAY + timedelta(days=2)


# --- Status and cap -------------------------------------------------------------


def test_without_a_supplier_auto_mode_is_out_of_stock_once_stock_runs_out():
    result = run([line(1)], available=-1, policy=Policy(buffer=10))

    assert result.lines[1].eta is None
    assert result.capacity == 9
    assert result.status is Status.OUT_OF_STOCK
    assert result.next_eta is None


def test_auto_mode_sells_while_an_open_po_gives_the_next_unit_a_date():
    result = run([line(1)], available=-1, supply=[po(1, 3, days=8)], policy=NO_SUPPLIER)

    assert result.status is Status.BACKORDERABLE
    assert result.capacity == 2
    assert result.next_eta == TODAY + timedelta(days=8)


def test_mode_off_never_sells_past_zero_but_still_dates_existing_backorders():
    policy = Policy(mode=Mode.OFF, lead_time_days=30)
    result = run([line(1)], available=-1, supply=[po(1, 5, days=3)], policy=policy)

    assert result.status is Status.OUT_OF_STOCK
    assert result.capacity == 0
    assert result.next_eta is None
    assert result.lines[1].eta == TODAY + timedelta(days=3)


def test_mode_off_with_units_left_is_still_in_stock():
    assert run([], available=2, policy=Policy(mode=Mode.OFF)).status is Status.IN_STOCK


def test_mode_always_keeps_selling_without_a_date_and_without_a_cap():
    result = run([line(1)], available=-1, policy=Policy(mode=Mode.ALWAYS))

    assert result.status is Status.BACKORDERABLE
    assert result.capacity is None
    assert result.next_eta is None


def test_fixed_cap_reached_makes_the_variant_out_of_stock():
    policy = Policy(fixed_cap=3, lead_time_days=30)
    below = run([line(1), line(2)], available=-2, policy=policy)
    reached = run([line(1), line(2), line(3)], available=-3, policy=policy)

    assert (below.status, below.capacity) == (Status.BACKORDERABLE, 1)
    assert (reached.status, reached.capacity) == (Status.OUT_OF_STOCK, 0)


def test_fixed_cap_also_limits_mode_always():
    result = run([line(1)], available=-1, policy=Policy(mode=Mode.ALWAYS, fixed_cap=1))

    assert (result.status, result.capacity) == (Status.OUT_OF_STOCK, 0)


def test_default_cap_is_unpromised_incoming_supply_plus_buffer():
    policy = Policy(buffer=2, lead_time_days=20)
    supply = [po(1, 4, days=5), po(2, 6, days=9)]

    some_promised = run([line(1, 3)], available=-3, supply=supply, policy=policy)
    all_promised = run([line(1, 10)], available=-10, supply=supply, policy=policy)
    buffer_used = run([line(1, 12)], available=-12, supply=supply, policy=policy)

    assert some_promised.capacity == 10 - 3 + 2
    assert (all_promised.capacity, all_promised.status) == (2, Status.BACKORDERABLE)
    assert all_promised.next_eta == TODAY + timedelta(days=20)  # the buffer rides on lead time
    assert (buffer_used.capacity, buffer_used.status) == (0, Status.OUT_OF_STOCK)


# --- Effects ----------------------------------------------------------------------


def effects_between(before, after, *, closed=None):
    return diff(
        before_lines=line_states(before),
        before_status=before.status,
        after=after,
        closed=closed or {},
    )


def test_first_allocation_announces_backordered_lines_and_the_status():
    result = run([line(1), line(2)], available=-1, supply=[po(1, 5, days=5)])

    effects = diff(before_lines={}, before_status=None, after=result, closed={})

    assert effects == [
        Effect(EffectKind.LINE_BACKORDERED, 2, None, "2024-05-06"),
        Effect(EffectKind.VARIANT_STATUS_CHANGED, None, None, "backorderable"),
    ]


def test_a_backorder_without_a_date_is_announced_with_no_eta():
    before = run([line(1)], available=0, policy=Policy(mode=Mode.ALWAYS))
    after = run([line(1), line(2)], available=-1, policy=Policy(mode=Mode.ALWAYS))

    assert effects_between(before, after) == [
        Effect(EffectKind.LINE_BACKORDERED, 2, None, None),
    ]


def test_supplier_slip_moves_the_eta_of_waiting_lines_only():
    lines = [line(1), line(2), line(3)]
    before = run(lines, available=-2, supply=[po(1, 1, days=5), po(2, 1, days=9)])
    after = run(lines, available=-2, supply=[po(1, 1, days=12), po(2, 1, days=9)])

    assert effects_between(before, after) == [
        Effect(EffectKind.LINE_ETA_CHANGED, 2, "2024-05-06", "2024-05-10"),
        Effect(EffectKind.LINE_ETA_CHANGED, 3, "2024-05-10", "2024-05-13"),
    ]


def test_restock_announces_ready_to_ship_and_the_status_flip():
    lines = [line(1), line(2)]
    before = run(lines, available=-1)
    after = run(lines, available=1)

    assert effects_between(before, after) == [
        Effect(EffectKind.LINE_READY_TO_SHIP, 2, "2024-05-31", None),
        Effect(EffectKind.VARIANT_STATUS_CHANGED, None, "backorderable", "in_stock"),
    ]


def test_closing_a_backordered_line_cancels_its_backorder_unless_it_shipped():
    lines = [line(1), line(2), line(3), line(4)]
    before = run(lines, available=-4)
    after = run([], available=0)
    closed = {1: "cancelled", 2: "refunded", 3: "removed", 4: "fulfilled"}

    assert effects_between(before, after, closed=closed) == [
        Effect(EffectKind.LINE_BACKORDER_CANCELLED, 1, "2024-05-31", "cancelled"),
        Effect(EffectKind.LINE_BACKORDER_CANCELLED, 2, "2024-05-31", "refunded"),
        Effect(EffectKind.LINE_BACKORDER_CANCELLED, 3, "2024-05-31", "removed"),
    ]


def test_closing_a_line_that_never_waited_says_nothing():
    before = run([line(1)], available=0)
    after = run([], available=1)

    assert effects_between(before, after, closed={1: "cancelled"}) == [
        Effect(EffectKind.VARIANT_STATUS_CHANGED, None, "backorderable", "in_stock"),
    ]


def test_an_unknown_close_reason_is_a_bug_not_a_silent_no_op():
    before = run([line(1)], available=-1)
    with pytest.raises(ValueError):
        effects_between(before, run([], available=0), closed={1: "canceled"})


def test_effects_come_by_line_id_with_the_variant_effect_last():
    before_lines = {9: LineState(1, TODAY), 2: LineState(1, None)}
    after = run([line(5), line(7)], available=-2)

    effects = diff(
        before_lines=before_lines,
        before_status=Status.IN_STOCK,
        after=after,
        closed={9: "cancelled", 2: "removed"},
    )

    assert [(e.line_id, e.kind) for e in effects] == [
        (2, EffectKind.LINE_BACKORDER_CANCELLED),
        (5, EffectKind.LINE_BACKORDERED),
        (7, EffectKind.LINE_BACKORDERED),
        (9, EffectKind.LINE_BACKORDER_CANCELLED),
        (None, EffectKind.VARIANT_STATUS_CHANGED),
    ]


def test_diff_of_identical_state_is_empty():
    result = run([line(1, 2), line(2, 3)], available=-4, supply=[po(1, 2, days=3)])

    assert effects_between(result, result) == []


def test_stored_status_may_be_the_plain_string():
    result = run([line(1)], available=1)

    assert diff(before_lines={}, before_status="in_stock", after=result, closed={}) == []


# --- Last writer wins -------------------------------------------------------------


def test_newer_accepts_the_first_and_later_snapshots_and_ignores_stale_or_repeated_ones():
    assert newer(None, T0)
    assert newer(T0, T0 + timedelta(seconds=1))
    assert not newer(T0, T0)
    assert not newer(T0, T0 - timedelta(seconds=1))
