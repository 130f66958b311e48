"""The cap in words: each source the default cap adds up, used by backorders in order."""

from __future__ import annotations

from app.domain.inventory.rules import Mode, Policy
from app.domain.merchant.cap import CapFacts, explain
from app.domain.suppliers.leadtimes import NextReorder

ACME = NextReorder("Acme", moq=10, pack_size=1, drafted=False)


def words(*, status="backorderable", incoming=0, backordered=0, reorder=ACME, **policy):
    policy.setdefault("lead_time_days", 10)
    policy.setdefault("next_reorder", reorder.units if reorder else 0)
    return explain(CapFacts(status, Policy(**policy), incoming, backordered, reorder))


def test_a_sold_out_variant_names_the_next_order_from_its_supplier():
    assert words() == "Cap 10: the next order from Acme (minimum 10)"


def test_packs_are_named_with_the_minimum():
    reorder = NextReorder("Acme", moq=10, pack_size=4, drafted=False)
    assert words(reorder=reorder) == "Cap 12: the next order from Acme (minimum 10, in packs of 4)"


def test_backorders_use_open_purchase_orders_first_then_the_next_order_then_the_buffer():
    assert words(incoming=4, backordered=6, buffer=3) == (
        "Cap 11: 8 of the next order from Acme (minimum 10) + a buffer of 3")


def test_a_drafted_reorder_is_an_open_purchase_order():
    drafted = NextReorder("Acme", moq=10, pack_size=1, drafted=True)
    assert words(incoming=10, backordered=1, reorder=drafted) == (
        "Cap 9: 9 on open purchase orders not yet promised")


def test_a_variant_in_stock_says_the_cap_applies_once_stock_runs_out():
    assert words(status="in_stock") == (
        "Cap 10 once stock runs out: the next order from Acme (minimum 10)")


def test_a_reached_cap_says_so_with_what_it_was_made_of():
    drafted = NextReorder("Acme", moq=10, pack_size=1, drafted=True)
    assert words(status="out_of_stock", incoming=10, backordered=10, reorder=drafted) == (
        "Not sold beyond stock: the cap is reached, 10 backordered against 10 "
        "(10 on open purchase orders)")


def test_off_fixed_and_always_say_what_the_merchant_chose():
    assert words(mode=Mode.OFF, status="out_of_stock") == (
        "Not sold beyond stock: backorders are off")
    assert words(fixed_cap=5, backordered=2) == "Cap 3: a fixed cap of 5, 2 backordered"
    assert words(mode=Mode.ALWAYS) == "No cap: sold beyond stock even without a restock date"
