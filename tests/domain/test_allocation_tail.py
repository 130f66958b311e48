"""The flash-sale fast path: appending at the back of the queue equals a full allocation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.inventory.rules import DemandLine, Mode, Policy, Supply, allocate, allocate_tail

TODAY = date(2026, 11, 25)
T0 = datetime(2026, 11, 1, tzinfo=UTC)

quantities = st.lists(st.integers(1, 4), min_size=0, max_size=25)
supplies = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 10)), max_size=4)
policies = st.builds(Policy, mode=st.sampled_from(list(Mode)),
                     fixed_cap=st.none() | st.integers(0, 30), buffer=st.integers(0, 5),
                     handling_days=st.integers(0, 3), lead_time_days=st.none() | st.integers(0, 30))


def lines_from(quantities, start=0):
    return [DemandLine(line_id=start + i, placed_at=T0 + timedelta(minutes=start + i), open_qty=q)
            for i, q in enumerate(quantities)]


@settings(max_examples=300, deadline=None)
@given(front=quantities, tail=quantities.filter(bool), on_hand=st.integers(0, 60),
       raw_supply=supplies, policy=policies)
def test_appending_at_the_tail_equals_allocating_the_whole_queue(front, tail, on_hand,
                                                                 raw_supply, policy):
    supply = [Supply(ref=i, expected_on=TODAY + timedelta(days=d), open_qty=q)
              for i, (d, q) in enumerate(raw_supply)]
    front_lines, tail_lines = lines_from(front), lines_from(tail, start=len(front))
    total = sum(front) + sum(tail)
    full = allocate(lines=front_lines + tail_lines, available=on_hand - total, supply=supply,
                    policy=policy, today=TODAY)
    fast = allocate_tail(tail=tail_lines, on_hand=on_hand, total_open_before=sum(front),
                         supply=supply, policy=policy, today=TODAY)
    assert fast.lines == {k: v for k, v in full.lines.items() if k in fast.lines}
    assert set(fast.lines) == {line.line_id for line in tail_lines}
    assert (fast.status, fast.backordered_units, fast.capacity, fast.next_eta,
            fast.continue_selling) == (full.status, full.backordered_units, full.capacity,
                                       full.next_eta, full.continue_selling)
