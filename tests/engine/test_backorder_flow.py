"""The engine end to end: signed webhooks in, allocation, effects and Shopify writes out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.domain.base import utcnow
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import CustomerOrder, Effect, OrderLine, Variant
from tests.engine.conftest import ITEM, PRODUCT, VARIANT, at
from tests.support.shopify import order_payload


def lines(rt) -> dict[int, tuple[int, object]]:
    with rt.sessions() as session:
        rows = session.execute(select(OrderLine.line_item_id, OrderLine.backordered,
                                      OrderLine.eta).order_by(OrderLine.line_item_id)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def effects(rt) -> list[tuple[str, int | None]]:
    with rt.sessions() as session:
        rows = session.execute(select(Effect.kind, Effect.line_item_id).order_by(Effect.id)).all()
    return [tuple(r) for r in rows]


def variant(rt) -> Variant:
    with rt.sessions() as session:
        return session.scalar(select(Variant).where(Variant.variant_id == VARIANT))


def eta_in(days: int):
    return utcnow().date() + timedelta(days=days)


def test_overselling_backorders_the_newest_line_with_an_eta_from_the_supplier_lead_time(storefront):
    storefront.stock(2, minute=0)
    for n in (1, 2, 3):
        storefront.order(n, minute=n)
        storefront.stock(2 - n, minute=n)
    storefront.settle()
    # Lead time 10 days plus 1 handling day; the two oldest orders are covered.
    assert lines(storefront.rt) == {10: (0, None), 20: (0, None), 30: (1, eta_in(11))}
    assert ("line_backordered", 30) in effects(storefront.rt)
    assert variant(storefront.rt).status == "backorderable"


def test_a_backorderable_variant_keeps_selling_in_shopify_with_its_status_and_eta(storefront):
    storefront.stock(0, minute=0)
    storefront.settle()
    assert storefront.fake.policies[VARIANT] == "CONTINUE"
    assert storefront.fake.metafields[(VARIANT, "status")] == "backorderable"
    assert storefront.fake.metafields[(VARIANT, "eta")] == eta_in(11).isoformat()


def test_without_a_supplier_the_variant_is_out_of_stock_and_shopify_stops_selling(storefront):
    from app.db import unit_of_work
    from app.domain.suppliers.models import SupplierItem
    with unit_of_work(storefront.rt.sessions) as session:
        session.query(SupplierItem).delete()
    storefront.stock(0, minute=0)
    storefront.settle()
    assert variant(storefront.rt).status == "out_of_stock"
    assert storefront.fake.policies[VARIANT] == "DENY"


def test_restock_fills_oldest_backorder_first_and_says_ready_to_ship(storefront):
    storefront.stock(0, minute=0)
    for n in (1, 2, 3):
        storefront.order(n, minute=n)
        storefront.stock(-n, minute=n)
    storefront.settle()
    storefront.stock(-1, minute=10)  # two units arrive
    storefront.settle()
    assert lines(storefront.rt)[10] == (0, None)
    assert lines(storefront.rt)[20] == (0, None)
    assert lines(storefront.rt)[30][0] == 1
    ready = [line for kind, line in effects(storefront.rt) if kind == "line_ready_to_ship"]
    assert ready == [10, 20]


def test_replaying_every_webhook_has_no_second_effect(storefront):
    storefront.stock(0, minute=0)
    storefront.order(1, minute=1)
    storefront.stock(-1, minute=1)
    storefront.settle()
    before = effects(storefront.rt)
    storefront.stock(0, minute=0)  # stale: older than the stored snapshot
    storefront.order(1, minute=1)  # the same order again (new event id, same state)
    storefront.settle()
    assert effects(storefront.rt) == before


def test_a_stock_webhook_racing_ahead_of_its_order_converges_once_the_order_arrives(storefront):
    """Shopify sends an order and its stock change separately, in either order.

    A drop in stock with no order to explain it looks exactly like stock written
    off, so order 1 is uncovered until order 2 arrives; the flip is recorded as
    effects, and customer messages are held long enough to net it out.
    """
    storefront.stock(1, minute=0)
    storefront.order(1, minute=1)
    storefront.stock(0, minute=1)
    storefront.settle()
    storefront.stock(-1, minute=2)  # order 2's stock change arrives first
    storefront.settle()
    storefront.order(2, minute=2)
    storefront.settle()
    assert lines(storefront.rt) == {10: (0, None), 20: (1, eta_in(11))}
    line_effects = [e for e in effects(storefront.rt) if e[0].startswith("line")]
    assert line_effects == [("line_backordered", 10), ("line_ready_to_ship", 10),
                            ("line_backordered", 20)]


def test_an_order_arriving_before_its_stock_webhook_moves_no_one(storefront):
    storefront.stock(1, minute=0)
    storefront.order(1, minute=1)
    storefront.settle()  # the stock webhook (available 0) has not arrived yet
    storefront.order(2, minute=2)
    storefront.settle()
    storefront.stock(-1, minute=2)
    storefront.settle()
    assert lines(storefront.rt) == {10: (0, None), 20: (1, eta_in(11))}
    line_effects = [e for e in effects(storefront.rt) if e[0].startswith("line")]
    assert line_effects == [("line_backordered", 20)]


def test_cancelling_one_order_never_fills_another_out_of_turn(storefront):
    storefront.stock(0, minute=0)
    payloads = {}
    for n in (1, 2, 3):
        payloads[n] = storefront.order(n, minute=n)
        storefront.stock(-n, minute=n)
    storefront.settle()
    cancelled = order_payload(3, [(30, VARIANT, 1)], created_at=at(3), updated_at=at(20),
                              cancelled_at=at(20))
    storefront.send("orders/cancelled", cancelled)
    storefront.stock(-2, minute=20)  # the cancelled unit goes back to stock
    storefront.settle()
    assert lines(storefront.rt)[10][0] == 1 and lines(storefront.rt)[20][0] == 1
    assert ("line_backorder_cancelled", 30) in effects(storefront.rt)
    assert not [e for e in effects(storefront.rt) if e == ("line_ready_to_ship", 20)]


def test_a_partial_restock_splits_a_line_that_it_covers_only_in_part(storefront):
    storefront.stock(0, minute=0)
    storefront.order(1, 3, minute=1)
    storefront.stock(-3, minute=1)
    storefront.settle()
    storefront.stock(-1, minute=5)
    storefront.settle()
    with storefront.rt.sessions() as session:
        line = session.scalar(select(OrderLine))
    assert (line.open_quantity, line.backordered) == (3, 1)


def test_an_order_for_an_unknown_variant_asks_shopify_for_it(storefront):
    storefront.fake.add_variant(5005, product_id=PRODUCT, sku="SKU-5", inventory_item_id=ITEM + 1,
                                available={4001: 5})
    storefront.order(7, minute=1, variant=5005)
    storefront.settle()
    with storefront.rt.sessions() as session:
        known = session.scalar(select(Variant).where(Variant.variant_id == 5005))
    assert known.details_known and known.status == "in_stock"
    assert ("fetch_variant", (5005,)) in [(m, a[:1]) for m, a in storefront.fake.calls]


def test_unmanaged_variants_are_never_written_to_shopify(storefront):
    from app.db import unit_of_work
    with unit_of_work(storefront.rt.sessions) as session:
        session.query(Variant).update({"managed": False})
    storefront.fake.calls.clear()
    storefront.stock(0, minute=0)
    storefront.settle()
    assert not [m for m, _ in storefront.fake.calls if m.startswith("set_")]


def test_a_custom_line_item_without_variant_is_ignored(storefront):
    payload = order_payload(8, [(80, None, 1)], created_at=at(1))
    storefront.send("orders/create", payload)
    storefront.settle()
    assert lines(storefront.rt) == {}


def test_a_line_item_already_stored_under_another_order_fails_the_event_and_changes_nothing(
        storefront):
    storefront.order(1, minute=1, line_id=10)
    storefront.settle()
    storefront.order(2, minute=2, line_id=10)  # Shopify's line item ids are unique
    storefront.settle()

    with storefront.rt.sessions() as session:
        failed = session.scalars(select(WebhookEvent).where(
            WebhookEvent.status == EventStatus.FAILED)).all()
        orders = session.scalars(select(CustomerOrder.order_id)).all()
    assert [e.last_error for e in failed] == [
        "InvalidInput: line item 10 belongs to another order"]
    assert orders == [1]
    assert list(lines(storefront.rt)) == [10]
