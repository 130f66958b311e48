"""Learned lead times: a supplier that is always two weeks late is planned as such."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.base import utcnow
from app.domain.suppliers import receiving
from app.domain.suppliers.leadtimes import lead_time_days_for, supplier_performance

TODAY = utcnow().date()


@pytest.fixture
def late_supplier(world):
    """Acme promises 7 days and delivered four POs, each 21 days after it was sent."""
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M", lead_time_days=7)
    world.variant(11, "TEE-M", available=0)
    for n in range(4):
        sent_at = utcnow() - timedelta(days=100 - 21 * n)
        po_id = world.po(acme, [(11, 1, (sent_at + timedelta(days=7)).date())],
                         sent_at=sent_at, promised_days=7)
        [line] = next(p for p in world.pos() if p.id == po_id).lines
        with world.session() as s:
            receiving.receive_purchase_order(s, po_id, {line.id: 1},
                                             now=sent_at + timedelta(days=21))
    world.acme = acme
    return world


def test_the_engine_plans_with_the_lead_time_the_supplier_really_keeps(late_supplier):
    with late_supplier.session() as s:
        assert lead_time_days_for(s, shop_id=late_supplier.shop_id, sku="TEE-M") == 21


def test_a_customer_no_po_covers_gets_an_eta_three_weeks_out_not_one(late_supplier):
    late_supplier.level(11, 0)  # the received units have shipped
    customer = late_supplier.order(11, 2)

    late_supplier.recompute(11)

    assert late_supplier.line(customer).eta == TODAY + timedelta(days=21)


def test_a_new_po_expects_the_goods_when_the_supplier_really_delivers(late_supplier):
    late_supplier.level(11, 0)
    customer = late_supplier.order(11, 2)
    late_supplier.recompute(11)

    late_supplier.plan()

    [line] = [line for po in late_supplier.pos() if po.status.value == "draft" for line in po.lines]
    assert (line.promised_lead_time_days, line.expected_on) == (7, TODAY + timedelta(days=21))
    assert late_supplier.line(customer).eta == TODAY + timedelta(days=21)


def test_the_merchant_sees_the_on_time_rate_and_observed_against_promised(late_supplier):
    with late_supplier.session() as s:
        [acme] = supplier_performance(s, late_supplier.shop_id)

    assert (acme.name, acme.deliveries, acme.on_time_rate) == ("Acme", 4, 0.0)
    assert (acme.promised_days, acme.observed_days, acme.average_delay_days) == (7, 21, 14.0)


def test_a_supplier_without_history_is_planned_with_its_promise(world):
    bolt = world.supplier("Bolt")
    world.item(bolt, "TEE-L", lead_time_days=5)

    with world.session() as s:
        [performance] = supplier_performance(s, world.shop_id)
        assert lead_time_days_for(s, shop_id=world.shop_id, sku="TEE-L") == 5
    assert (performance.deliveries, performance.on_time_rate, performance.observed_days) == (
        0, None, 5)
