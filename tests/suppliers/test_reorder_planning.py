"""Reorder planning end to end: stock, orders and POs in the database -> draft POs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from app.domain.base import utcnow
from app.domain.intents import SendPurchaseOrder
from app.domain.suppliers.models import PoStatus, PurchaseOrder
from app.domain.suppliers.rules import forecast_daily_demand, reorder_quantity
from app.domain.suppliers.service import SupplierSettings, supplier_settings

TODAY = utcnow().date()


def drafts(world) -> list[PurchaseOrder]:
    return [po for po in world.pos() if po.status == PoStatus.DRAFT]


# --- Arithmetic ----------------------------------------------------------------------


def test_backordered_units_are_ordered_rounded_up_to_the_moq_then_to_whole_packs(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M", moq=10, pack_size=6, lead_time_days=7)
    world.variant(11, "TEE-M", available=0)
    world.backorder(11, 3)

    world.plan()

    [draft] = drafts(world)
    [line] = draft.lines
    assert (line.variant_id, line.quantity, line.supplier_sku) == (11, 12, "S-TEE-M")
    assert line.expected_on == TODAY + timedelta(days=7)
    assert "3 backordered" in line.reason and "minimum order 10 and packs of 6" in line.reason
    assert draft.approved_at is None  # default: waits for the merchant


def test_no_reorder_while_enough_is_incoming(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M")
    world.variant(11, "TEE-M", available=0)
    world.po(acme, [(11, 5, TODAY + timedelta(days=3))])
    world.backorder(11, 3)

    world.plan()

    assert drafts(world) == []


def test_only_what_incoming_stock_does_not_cover_is_ordered(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M")
    world.variant(11, "TEE-M", available=0)
    world.po(acme, [(11, 5, TODAY + timedelta(days=3))])
    world.backorder(11, 7)

    world.plan()

    [draft] = drafts(world)
    assert [line.quantity for line in draft.lines] == [2]
    assert "5 incoming" in draft.lines[0].reason


def test_spare_stock_counts_against_forecast_demand(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M", lead_time_days=10)
    world.variant(11, "TEE-M", available=0)
    world.settings(forecast_days=28)
    world.history(11, [3] * 28, today=TODAY)  # steady: 3 a day, no spread
    world.level(11, 12)
    world.recompute(11)  # as the stock webhook does: the planner reads the allocation

    world.plan()

    # 0 backordered + 0 safety + 30 over 10 days - 12 on hand - 0 incoming = 18
    [line] = drafts(world)[0].lines
    assert line.quantity == 18
    assert "30 expected sales over 10 days - 12 on hand" in line.reason


def test_variable_demand_adds_safety_stock_that_grows_with_the_service_level(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M", lead_time_days=9)
    world.variant(11, "TEE-M", available=0)
    history = [0, 6, 1, 5, 2, 4] * 5
    world.history(11, history, today=TODAY)
    forecast = forecast_daily_demand(history)
    expected = {level: reorder_quantity(backordered=0, on_hand=0, incoming=0, forecast=forecast,
                                        lead_time_days=9, service_level=level, moq=1, pack_size=1)
                for level in (0.8, 0.99)}
    assert expected[0.8].quantity < expected[0.99].quantity

    for level in (0.8, 0.99):
        world.settings(service_level=level, forecast_days=len(history))
        world.plan()
        [line] = drafts(world)[0].lines
        assert line.quantity == expected[level].quantity
        assert line.reason == expected[level].explanation


def test_the_preferred_supplier_gets_the_order_and_the_next_one_when_it_cannot_deliver(world):
    acme = world.supplier("Acme", email="")  # no email, no endpoint: cannot be sent a PO
    bolt = world.supplier("Bolt")
    world.item(acme, "TEE-M", priority=1)
    world.item(bolt, "TEE-M", priority=2, lead_time_days=4)
    world.variant(11, "TEE-M", available=0)
    world.backorder(11, 2)

    world.plan()

    [draft] = drafts(world)
    assert draft.supplier_id == bolt
    assert draft.lines[0].expected_on == TODAY + timedelta(days=4)


# --- Coalescing ------------------------------------------------------------------------


def test_every_variant_needing_one_supplier_goes_on_its_single_draft(world):
    acme, bolt = world.supplier("Acme"), world.supplier("Bolt")
    for n, supplier in ((1, acme), (2, acme), (3, acme), (4, bolt)):
        world.item(supplier, f"SKU-{n}")
        world.variant(10 + n, f"SKU-{n}", available=0)
        world.backorder(10 + n, n)

    world.plan()
    world.plan()  # planning again changes nothing

    by_supplier = {po.supplier_id: sorted((line.variant_id, line.quantity) for line in po.lines)
                   for po in drafts(world)}
    assert by_supplier == {acme: [(11, 1), (12, 2), (13, 3)], bolt: [(14, 4)]}


def test_new_demand_extends_the_open_draft_instead_of_opening_another(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M")
    world.item(acme, "TEE-L")
    world.variant(11, "TEE-M", available=0)
    world.variant(12, "TEE-L", available=0)
    world.backorder(11, 2)
    world.plan()

    world.backorder(11, 3)
    world.backorder(12, 1)
    world.plan()

    [draft] = drafts(world)
    assert sorted((line.variant_id, line.quantity) for line in draft.lines) == [(11, 5), (12, 1)]


def test_a_draft_no_longer_needed_is_removed(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M")
    world.variant(11, "TEE-M", available=0)
    world.backorder(11, 2)
    world.plan()
    world.level(11, 10)  # stock turned up
    world.recompute(11)

    world.plan()

    assert drafts(world) == []


def test_drafted_supply_gives_backordered_customers_their_eta(world):
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M", lead_time_days=12)
    world.variant(11, "TEE-M", available=0)
    line_id = world.order(11, 2)
    world.recompute(11)

    world.plan()

    assert world.line(line_id).eta == TODAY + timedelta(days=12)


def test_auto_send_approves_a_new_draft_and_asks_for_dispatch_after_the_window(world):
    world.settings(po_auto_send=True, po_coalesce_minutes=15)
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M")
    world.variant(11, "TEE-M", available=0)
    world.backorder(11, 2)

    followups = world.plan()

    [draft] = drafts(world)
    assert draft.approved_at is not None
    assert SendPurchaseOrder(draft.id, 15 * 60) in followups


def test_concurrent_planners_never_open_two_drafts_for_one_supplier(world):
    acme = world.supplier("Acme")
    for n in range(1, 6):
        world.item(acme, f"SKU-{n}")
        world.variant(10 + n, f"SKU-{n}", available=0)
        world.backorder(10 + n, n)
    barrier = threading.Barrier(6)
    errors = []

    def planner():
        try:
            barrier.wait(timeout=10)
            world.plan()
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=planner) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    [draft] = drafts(world)
    assert sorted((line.variant_id, line.quantity) for line in draft.lines) == [
        (10 + n, n) for n in range(1, 6)]  # each need counted once, not once per planner


def test_the_database_itself_refuses_a_second_open_draft_for_a_supplier(world):
    acme = world.supplier("Acme")
    with pytest.raises(IntegrityError), world.session() as s:
        for number in ("PO-A", "PO-B"):
            s.add(PurchaseOrder(shop_id=world.shop_id, supplier_id=acme, number=number,
                                status=PoStatus.DRAFT, dispatch_attempts=0,
                                created_at=datetime.now(UTC)))
            s.flush()


def test_malformed_settings_fall_back_to_the_defaults(world):
    world.settings(po_auto_send="yes", service_level=1, forecast_days="lots",
                   po_coalesce_minutes=5, receiving_location_id="77")

    with world.session() as s:
        settings = supplier_settings(s, world.shop_id)

    defaults = SupplierSettings()
    assert (settings.po_auto_send, settings.service_level, settings.forecast_days) == (
        defaults.po_auto_send, defaults.service_level, defaults.forecast_days)
    assert (settings.po_coalesce_minutes, settings.receiving_location_id) == (5, 77)


def test_units_on_hand_that_cover_open_orders_are_not_counted_again_as_spare(world):
    """The demo's numbers: 4 units on hand cover the first orders, 12 units wait. Shopify's
    `available` already takes committed units off, but a stock snapshot older than the
    orders does not: spare stock is what the engine's allocation leaves uncovered."""
    acme = world.supplier("Acme")
    world.item(acme, "MUG", lead_time_days=10)
    world.variant(11, "MUG", available=4)
    for quantity in (1, 1, 1, 1, 4, 4, 4):  # the stock snapshot saw none of them
        world.order(11, quantity, sell=False)
    world.recompute(11)
    assert world.variant_row(11).backordered_units == 12

    world.plan()

    [draft] = drafts(world)
    [line] = draft.lines
    assert line.quantity == 12
    assert line.reason == ("Order 12: 12 backordered + 0 safety stock + 0 expected sales over "
                           "10 days - 0 on hand - 0 incoming = 12 needed.")
