"""Pure rules of the customer options: settings, when a wait earns a code, codes and values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.domain.customer_options.rules import (
    OptionSettings,
    discount_code,
    discount_text,
    parse_value,
    wait_is_long,
)

ON = OptionSettings(goodwill_enabled=True, goodwill_after_days=14)
PLACED = date(2030, 1, 1)


def test_every_option_is_off_by_default_and_malformed_values_fall_back():
    assert OptionSettings.from_extra({}) == OptionSettings()
    assert not OptionSettings().edit_order_on_cancel and not OptionSettings().goodwill_enabled
    odd = OptionSettings.from_extra({"customer_options": {
        "edit_order_on_cancel": "yes", "goodwill_after_days": -3, "goodwill_kind": "free",
        "goodwill_value": "lots"}})
    assert odd == OptionSettings()


def test_a_wait_earns_a_code_only_past_the_threshold_or_without_a_date():
    assert not wait_is_long(ON, placed_on=PLACED, etas=[date(2030, 1, 15)])
    assert wait_is_long(ON, placed_on=PLACED, etas=[date(2030, 1, 2), date(2030, 1, 16)])
    assert wait_is_long(ON, placed_on=PLACED, etas=[None])
    assert not wait_is_long(OptionSettings(), placed_on=PLACED, etas=[None])


def test_values_are_bounded_per_kind_with_at_most_two_decimals():
    assert parse_value("percentage", "12.5") == Decimal("12.5")
    assert parse_value("percentage", "101") is None
    assert parse_value("fixed_amount", "5.999") is None
    assert parse_value("fixed_amount", "NaN") is None
    assert discount_text("percentage", Decimal("10")) == "10% off"
    assert discount_text("fixed_amount", Decimal("5")) == "5.00 off"


def test_codes_name_the_order_and_end_in_the_random_suffix():
    assert discount_code("#1001", 555, "ABC234") == "WAIT-1001-ABC234"
    assert discount_code("", 555, "ABC234") == "WAIT-555-ABC234"
