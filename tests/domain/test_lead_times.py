"""Learned supplier lead times: what the planner uses instead of the promise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.suppliers.rules import observed_lead_time, on_time_rate


def test_short_history_uses_the_promised_lead_time():
    assert observed_lead_time(promised_days=10, actual_days=[30, 30]) == 10


def test_no_history_uses_the_promised_lead_time():
    assert observed_lead_time(promised_days=10, actual_days=[]) == 10


def test_supplier_two_weeks_late_every_time_yields_lead_time_plus_fourteen():
    assert observed_lead_time(promised_days=10, actual_days=[24] * 5) == 24


def test_percentile_picks_a_high_recent_value_not_the_worst_outlier():
    actuals = [10, 11, 12, 13, 14, 15, 16, 17, 18, 60]

    # Nearest rank: ceil(0.9 * 10) = 9th smallest.
    assert observed_lead_time(promised_days=10, actual_days=actuals) == 18


def test_percentile_rank_is_rounded_up():
    actuals = list(range(1, 26))

    # 0.28 * 25 is 7.000000000000001 in floats; the rank is still 7.
    assert observed_lead_time(promised_days=5, actual_days=actuals, percentile=0.28,
                              window=25) == 7
    assert observed_lead_time(promised_days=5, actual_days=actuals, percentile=0.29,
                              window=25) == 8


def test_supplier_reliably_early_gets_a_shorter_lead_time_than_promised():
    assert observed_lead_time(promised_days=21, actual_days=[12, 13, 12, 14]) == 14


def test_only_the_most_recent_window_counts():
    improved = [40] * 30 + [9] * 20

    assert observed_lead_time(promised_days=10, actual_days=improved) == 9
    assert observed_lead_time(promised_days=10, actual_days=improved, window=30) == 40


def test_min_history_is_configurable():
    assert observed_lead_time(promised_days=7, actual_days=[9], min_history=1) == 9
    assert observed_lead_time(promised_days=7, actual_days=[9, 9, 9], min_history=4) == 7


@pytest.mark.parametrize("kwargs", [
    {"percentile": 0}, {"percentile": 1.5}, {"window": 0}, {"min_history": 0},
    {"actual_days": [3, -1, 4]},
])
def test_observed_lead_time_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        observed_lead_time(**{"promised_days": 7, "actual_days": [5, 6, 7], **kwargs})


@given(promised=st.integers(0, 60), actuals=st.lists(st.integers(0, 365), max_size=40))
def test_observed_lead_time_is_the_promise_or_a_lead_time_that_really_happened(promised,
                                                                                actuals):
    result = observed_lead_time(promised_days=promised, actual_days=actuals)

    assert result == promised or result in actuals[-20:]


def test_on_time_rate_is_the_share_arriving_within_the_promise():
    assert on_time_rate([(10, 9), (10, 10), (10, 11), (5, 19)]) == pytest.approx(0.5)


def test_on_time_rate_without_deliveries_is_unknown():
    assert on_time_rate([]) is None


def test_always_late_supplier_is_never_on_time():
    assert on_time_rate([(7, 21)] * 3) == 0.0
