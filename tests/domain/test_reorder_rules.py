"""Reorder arithmetic: forecast, safety stock, quantities and supplier choice."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.suppliers.rules import (
    DemandForecast,
    ReorderDecision,
    SupplierOption,
    choose_supplier,
    forecast_daily_demand,
    reorder_quantity,
    safety_stock,
)

NO_DEMAND = DemandForecast(mean=0.0, stdev=0.0)


def decide(**overrides) -> ReorderDecision:
    args = dict(backordered=0, on_hand=0, incoming=0, forecast=NO_DEMAND, lead_time_days=7,
                service_level=0.95, moq=1, pack_size=1)
    return reorder_quantity(**{**args, **overrides})


# --- forecast -----------------------------------------------------------------

def test_forecast_of_constant_demand_is_that_constant_with_no_spread():
    forecast = forecast_daily_demand([4] * 30)

    assert forecast.mean == pytest.approx(4)
    assert forecast.stdev == pytest.approx(0, abs=1e-12)


def test_forecast_without_history_is_zero():
    assert forecast_daily_demand([]) == DemandForecast(mean=0.0, stdev=0.0)


def test_forecast_of_one_day_is_that_day():
    assert forecast_daily_demand([5]) == DemandForecast(mean=5.0, stdev=0.0)


def test_forecast_of_two_days_uses_the_spread_of_the_days_themselves():
    forecast = forecast_daily_demand([2, 6], alpha=0.5)

    assert forecast.mean == pytest.approx(4)
    assert forecast.stdev == pytest.approx(2)


def test_forecast_follows_exponential_smoothing_and_error_stdev():
    forecast = forecast_daily_demand([10, 0, 10, 0], alpha=0.5)

    # Levels 10 -> 5 -> 7.5 -> 3.75; one-day-ahead errors -10, +5, -7.5.
    assert forecast.mean == pytest.approx(3.75)
    assert forecast.stdev == pytest.approx(statistics.stdev([-10, 5, -7.5]))


def test_forecast_weighs_recent_days_more():
    rising = forecast_daily_demand([0] * 10 + [10] * 5)

    assert 5 < rising.mean < 10


@pytest.mark.parametrize("alpha", [0, -0.1, 1.5])
def test_forecast_rejects_alpha_outside_zero_to_one(alpha):
    with pytest.raises(ValueError, match="alpha"):
        forecast_daily_demand([1, 2, 3], alpha=alpha)


def test_forecast_rejects_negative_demand():
    with pytest.raises(ValueError, match="daily units"):
        forecast_daily_demand([1, -2, 3])


# --- safety stock -------------------------------------------------------------

def test_safety_stock_is_z_times_stdev_times_root_lead_time_rounded_up():
    forecast = DemandForecast(mean=3.0, stdev=2.0)

    # z(0.95) = 1.6449; 1.6449 * 2 * sqrt(9) = 9.87
    assert safety_stock(forecast, 9, 0.95) == 10


def test_safety_stock_formula_matches_the_textbook_z():
    z = statistics.NormalDist().inv_cdf(0.95)

    assert safety_stock(DemandForecast(0, 1.0), 16) == math.ceil(z * 4)


def test_safety_stock_is_zero_without_spread_or_lead_time():
    assert safety_stock(DemandForecast(mean=5.0, stdev=0.0), 14) == 0
    assert safety_stock(DemandForecast(mean=5.0, stdev=3.0), 0) == 0


def test_higher_service_level_holds_more_safety_stock():
    forecast = DemandForecast(mean=5.0, stdev=3.0)

    assert safety_stock(forecast, 10, 0.99) > safety_stock(forecast, 10, 0.90)


def test_service_level_below_half_never_gives_negative_safety_stock():
    assert safety_stock(DemandForecast(mean=5.0, stdev=3.0), 10, 0.2) == 0


@pytest.mark.parametrize("level", [0, 1, 1.2])
def test_safety_stock_rejects_impossible_service_levels(level):
    with pytest.raises(ValueError, match="service_level"):
        safety_stock(DemandForecast(mean=1.0, stdev=1.0), 5, level)


# --- reorder quantity ---------------------------------------------------------

def test_backorders_alone_are_reordered_exactly():
    decision = decide(backordered=5)

    assert (decision.quantity, decision.net_need) == (5, 5)


def test_quantity_rounds_up_to_moq_then_to_pack_multiple():
    decision = decide(backordered=5, moq=20, pack_size=12)

    assert (decision.quantity, decision.net_need) == (24, 5)


def test_quantity_rounds_up_to_pack_multiple_above_moq():
    assert decide(backordered=25, moq=10, pack_size=6).quantity == 30


def test_need_already_a_pack_multiple_is_not_rounded():
    assert decide(backordered=24, moq=10, pack_size=6).quantity == 24


def test_no_reorder_while_enough_is_incoming():
    decision = decide(backordered=8, incoming=10, moq=50)

    assert (decision.quantity, decision.net_need) == (0, -2)


def test_on_hand_stock_reduces_the_need():
    assert decide(backordered=3, on_hand=2).quantity == 1


def test_expected_sales_over_the_lead_time_are_covered():
    decision = decide(forecast=DemandForecast(mean=1.5, stdev=0.0), lead_time_days=7)

    # ceil(1.5 * 7) = 11 units will sell before the order can arrive.
    assert decision.quantity == 11


def test_safety_stock_is_added_to_the_need():
    forecast = DemandForecast(mean=2.0, stdev=2.0)

    decision = decide(backordered=4, forecast=forecast, lead_time_days=9)

    # 4 backordered + 10 safety + 18 expected sales
    assert decision.net_need == 32


def test_explanation_breaks_the_quantity_down_for_the_merchant():
    decision = decide(backordered=5, on_hand=1, incoming=2, moq=20, pack_size=12,
                      forecast=DemandForecast(mean=1.0, stdev=0.0), lead_time_days=4)

    assert decision.explanation == (
        "Order 24: 5 backordered + 0 safety stock + 4 expected sales over 4 days"
        " - 1 on hand - 2 incoming = 6 needed, rounded up for minimum order 20 and packs of 12."
    )


def test_explanation_of_no_reorder_says_so():
    decision = decide(backordered=1, incoming=3)

    assert decision.explanation.startswith("No reorder: 1 backordered")
    assert "\n" not in decision.explanation


def test_reorder_rejects_negative_stock_and_zero_packs():
    with pytest.raises(ValueError):
        decide(on_hand=-1)
    with pytest.raises(ValueError):
        decide(pack_size=0)


@given(backordered=st.integers(0, 1000), on_hand=st.integers(0, 1000),
       incoming=st.integers(0, 1000), mean=st.floats(0, 100), stdev=st.floats(0, 50),
       lead=st.integers(0, 120), moq=st.integers(1, 500), pack=st.integers(1, 100))
def test_any_order_covers_the_need_in_whole_packs_at_or_above_moq(
        backordered, on_hand, incoming, mean, stdev, lead, moq, pack):
    decision = decide(backordered=backordered, on_hand=on_hand, incoming=incoming,
                      forecast=DemandForecast(mean, stdev), lead_time_days=lead,
                      moq=moq, pack_size=pack)

    if decision.net_need <= 0:
        assert decision.quantity == 0
    else:
        assert decision.quantity >= max(decision.net_need, moq)
        assert decision.quantity % pack == 0
        assert decision.quantity - pack < max(decision.net_need, moq)  # no extra pack


# --- supplier choice ----------------------------------------------------------

def option(supplier_id: int, priority: int, *, active: bool = True, can_deliver: bool = True,
           lead_time_days: int = 7) -> SupplierOption:
    return SupplierOption(supplier_id=supplier_id, priority=priority, active=active,
                          can_deliver=can_deliver, lead_time_days=lead_time_days)


def test_preferred_supplier_is_the_lowest_priority_number():
    assert choose_supplier([option(1, 2), option(2, 1), option(3, 3)]).supplier_id == 2


def test_inactive_preferred_supplier_falls_back_to_the_next():
    chosen = choose_supplier([option(1, 1, active=False), option(2, 3), option(3, 2)])

    assert chosen.supplier_id == 3


def test_supplier_that_cannot_deliver_falls_back_to_the_next():
    assert choose_supplier([option(1, 1, can_deliver=False), option(2, 2)]).supplier_id == 2


def test_no_usable_supplier_gives_none():
    assert choose_supplier([option(1, 1, active=False), option(2, 2, can_deliver=False)]) is None
    assert choose_supplier([]) is None


def test_equal_priority_goes_to_the_faster_supplier_then_the_lower_id():
    fast = option(9, 1, lead_time_days=3)
    assert choose_supplier([option(1, 1, lead_time_days=10), fast]) is fast
    assert choose_supplier([option(5, 1), option(4, 1)]).supplier_id == 4
