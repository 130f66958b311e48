"""Through the real webhook and job path: any order, any duplication, the same final state.

A small Shopify simulator produces the deliveries one variant's life would cause
(orders placed, cancelled with restock, fulfilled; stock received), each a full
snapshot stamped with the time it was true, as Shopify sends them. Delivering
them shuffled and duplicated must end where in-order, once-only delivery ends.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.domain.inventory.models import OrderLine, Variant
from tests.conftest import empty_stores
from tests.engine.conftest import ITEM, LOCATION, VARIANT, at, open_storefront
from tests.support.shopify import level_payload, order_payload


@dataclass
class Simulator:
    available: int = 2
    orders: dict = field(default_factory=dict)  # id -> [qty, fulfilled, cancelled_minute]
    deliveries: list = field(default_factory=list)
    minute: int = 1

    def step(self, action: tuple) -> None:
        kind, arg = action
        self.minute += 1
        if kind == "order":
            order_id = len(self.orders) + 1
            self.orders[order_id] = [arg, 0, None, self.minute]
            self.available -= arg
            self._order(order_id, "orders/create")
            self._level()
        elif kind in ("cancel", "fulfil") and self._open_ids():
            order_id = self._open_ids()[arg % len(self._open_ids())]
            order = self.orders[order_id]
            if kind == "cancel":
                order[2] = self.minute
                self.available += order[0] - order[1]
                self._order(order_id, "orders/cancelled")
                self._level()
            else:
                order[1] = order[0]
                self._order(order_id, "orders/fulfilled")
        elif kind == "restock":
            self.available += arg
            self._level()

    def _open_ids(self) -> list[int]:
        return [i for i, o in self.orders.items() if o[2] is None and o[1] < o[0]]

    def _order(self, order_id: int, topic: str) -> None:
        qty, fulfilled, cancelled, placed = self.orders[order_id]
        payload = order_payload(order_id, [(order_id * 10, VARIANT, qty, fulfilled)],
                                created_at=at(placed), updated_at=at(self.minute),
                                cancelled_at=at(cancelled) if cancelled else None)
        self.deliveries.append((topic, payload))

    def _level(self) -> None:
        self.deliveries.append(("inventory_levels/update",
                                level_payload(ITEM, LOCATION, self.available, at(self.minute))))


actions = st.lists(st.one_of(
    st.tuples(st.just("order"), st.integers(1, 2)),
    st.tuples(st.sampled_from(["cancel", "fulfil"]), st.integers(0, 10)),
    st.tuples(st.just("restock"), st.integers(1, 3))), min_size=1, max_size=7)


def final_state(rt, client, run_jobs, fake, deliveries, *, each: bool = False) -> tuple:
    """The state after the deliveries: all sent, then applied (the workers take them in
    one batch), or with `each`, every one applied before the next is sent."""
    empty_stores(rt)
    storefront = open_storefront(rt, client, run_jobs, fake)
    storefront.stock(2, minute=1)
    storefront.settle()
    for topic, payload in deliveries:
        storefront.send(topic, payload)
        if each:
            storefront.settle()
    storefront.settle()
    with rt.sessions() as session:
        lines = session.execute(select(OrderLine.line_item_id, OrderLine.open_quantity,
                                       OrderLine.backordered, OrderLine.eta)
                                .order_by(OrderLine.line_item_id)).all()
        variant = session.scalar(select(Variant).where(Variant.variant_id == VARIANT))
        return [tuple(r) for r in lines], variant.status, variant.backordered_units


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=actions, seed=st.integers(0, 2**32), duplicates=st.integers(0, 4))
def test_shuffled_and_duplicated_deliveries_converge_to_in_order_delivery(
        rt, client, run_jobs, fake_shopify, script, seed, duplicates):
    sim = Simulator()
    for action in script:
        sim.step(action)
    in_order = final_state(rt, client, run_jobs, fake_shopify, sim.deliveries)

    rng = random.Random(seed)
    messy = sim.deliveries + [rng.choice(sim.deliveries) for _ in range(duplicates)
                              if sim.deliveries]
    rng.shuffle(messy)
    assert final_state(rt, client, run_jobs, fake_shopify, messy) == in_order

    lines, _, backordered = in_order
    open_units = sum(open_qty for _, open_qty, _, _ in lines)
    physical = sim.available + open_units  # what the warehouse holds for open orders
    assert backordered == max(0, open_units - max(0, physical))
