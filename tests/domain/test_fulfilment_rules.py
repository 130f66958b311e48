"""The next step towards Shopify showing exactly the backordered units held, and the tag."""

from __future__ import annotations

from app.domain.fulfilment.rules import (
    Blocked,
    Hold,
    Release,
    Tag,
    handle_for,
    next_step,
)
from app.domain.ports import (
    FulfilmentHoldInfo,
    FulfilmentLineInfo,
    FulfilmentOrderInfo,
    OrderFulfilment,
)

A, B = 5, 6


def fo(fo_id, *lines, status="OPEN", holds=()):
    return FulfilmentOrderInfo(fo_id, status, tuple(FulfilmentLineInfo(fo_id * 10 + n, line, qty)
                                                    for n, (line, qty) in enumerate(lines)),
                               tuple(holds))


def mine(hold_id, line):
    return FulfilmentHoldInfo(hold_id, handle_for(line), mine=True)


def order(*fos, tags=()):
    return OrderFulfilment(1, tuple(tags), tuple(fos))


def test_backordered_units_are_held_from_an_unheld_fulfillment_order():
    assert next_step(order(fo(1, (A, 3), (B, 1))), held={A: 2, B: 0}, tagged=True) == Hold(
        1, handle_for(A), ((10, 2),))


def test_once_held_the_order_is_tagged_then_nothing_is_left_to_do():
    held = order(fo(1, (A, 2), status="ON_HOLD", holds=[mine(9, A)]), fo(2, (A, 1), (B, 1)))
    assert next_step(held, held={A: 2, B: 0}, tagged=True) == Tag(add=True)
    tagged = order(*held.fulfillment_orders, tags=["Backorder"])
    assert next_step(tagged, held={A: 2, B: 0}, tagged=True) is None


def test_more_held_than_backordered_releases_the_lines_hold():
    state = order(fo(1, (A, 2), status="ON_HOLD", holds=[mine(9, A)]), fo(2, (A, 1)),
                  tags=["backorder"])
    assert next_step(state, held={A: 1}, tagged=True) == Release(1, (9,))


def test_a_covered_order_loses_its_tag_after_its_holds():
    state = order(fo(1, (A, 2), status="ON_HOLD", holds=[mine(9, A)]), tags=["backorder", "vip"])
    assert next_step(state, held={A: 0}, tagged=False) == Release(1, (9,))
    released = order(fo(1, (A, 2)), tags=["backorder", "vip"])
    assert next_step(released, held={A: 0}, tagged=False) == Tag(add=False)


def test_other_holds_are_never_ours_even_with_our_handle():
    theirs = FulfilmentHoldInfo(7, handle_for(A), mine=False)
    state = order(fo(1, (A, 2), status="ON_HOLD", holds=[theirs]))
    # All of that fulfillment order is to be held: ours goes on top of theirs.
    assert next_step(state, held={A: 2}, tagged=False) == Hold(1, handle_for(A), None)
    assert next_step(state, held={A: 0}, tagged=False) is None


def test_a_held_fulfillment_order_with_other_units_is_not_split_and_the_line_waits():
    merchant = FulfilmentHoldInfo(7, "", mine=False)
    state = order(fo(1, (A, 3), (B, 1), status="ON_HOLD", holds=[merchant]))
    assert next_step(state, held={A: 2, B: 0}, tagged=True) == Tag(add=True)
    tagged = order(*state.fulfillment_orders, tags=["backorder"])
    assert next_step(tagged, held={A: 2, B: 0}, tagged=True) == Blocked((A,))


def test_closed_fulfillment_orders_are_left_alone():
    state = order(fo(1, (A, 2), status="CLOSED", holds=[mine(9, A)]))
    assert next_step(state, held={A: 2}, tagged=False) is None
    assert next_step(state, held={A: 0}, tagged=False) is None
