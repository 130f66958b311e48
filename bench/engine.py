"""Engine benchmarks (issue 3).

(a) One hot variant with 100,000 open lines: the recompute through PostgreSQL
    (read the queue, allocate, diff) against the pure `allocate` on the same
    lines, measured in the same run.
(b) A flash sale of 20,000 orders for one variant, each an orders/create and its
    inventory_levels/update as Shopify sends them, processed by one RQ worker
    through the real job path; per-order cost by 2,000-order segment (it must
    stay close to linear overall: the last segment at most 1.5x the first), and
    orders/s against the same worker running no-op jobs (the engine's floor).

Run: `.venv/bin/python -m bench.engine [--lines 100000] [--orders 20000]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from rq import Queue, SimpleWorker
from sqlalchemy import insert, update

from app.config import Settings
from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.intents import ApplyEvents
from app.domain.inventory.models import (
    CustomerOrder,
    InventoryLevel,
    OrderLine,
    ShopSettings,
    Variant,
)
from app.domain.inventory.reads import weigh
from app.domain.inventory.rules import DemandLine, Policy, allocate
from app.domain.inventory.service import recompute_variants
from app.domain.shops.models import Shop
from app.domain.suppliers.supply import PLAN
from app.jobs import ALL_QUEUES, enqueue
from app.runtime import Runtime
from bench.harness import autovacuum_stand_in, private_services, signals_as_exit
from workers import context

VARIANT, ITEM, LOCATION = 1, 10, 100
GROWTH_TARGET = 1.5  # issue 13: from the first 2,000 orders to the last
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def noop() -> None:
    """The no-op job: the worker's own floor."""


def _runtime(database_url: str, redis_url: str) -> Runtime:
    return Runtime(Settings(database_url=database_url, redis_url=redis_url,
                            secret_key="bench", shopify_api_secret="bench"))


def _shop_with_variant(rt: Runtime, available: int, as_of: datetime) -> int:
    with unit_of_work(rt.sessions) as session:
        shop = Shop(domain="bench.myshopify.com", token_ciphertext=None)
        session.add(shop)
        session.flush()
        session.add(ShopSettings(shop_id=shop.id, mode="always", buffer=0, handling_days=1))
        session.add(Variant(shop_id=shop.id, variant_id=VARIANT, product_id=2,
                            inventory_item_id=ITEM, sku="HOT", details_known=True,
                            stock_confirmed=True, tracked=True))
        session.add(InventoryLevel(shop_id=shop.id, inventory_item_id=ITEM,
                                   location_id=LOCATION, available=available,
                                   source_updated_at=as_of))
        return shop.id


def _bulk_lines(rt: Runtime, shop_id: int, count: int) -> None:
    """Open lines written straight into the tables, with the variant's open-demand totals
    (what the webhook path keeps in step, state._open_demand_kept) set to match."""
    with unit_of_work(rt.sessions) as session:
        session.execute(update(Variant).where(Variant.shop_id == shop_id).values(
            open_total=count, open_checksum=sum(weigh(i, 1) for i in range(1, count + 1))))
        for start in range(0, count, 10_000):
            ids = range(start + 1, min(count, start + 10_000) + 1)
            session.execute(insert(CustomerOrder), [
                {"id": i, "shop_id": shop_id, "order_id": i, "placed_at": T0 + timedelta(seconds=i),
                 "source_updated_at": T0 + timedelta(seconds=i)} for i in ids])
            session.execute(insert(OrderLine), [
                {"shop_id": shop_id, "order_pk": i, "line_item_id": i, "variant_id": VARIANT,
                 "ordered_quantity": 1, "quantity": 1, "open_quantity": 1, "cancel_refunds": {},
                 "placed_at": T0 + timedelta(seconds=i)} for i in ids])


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_recompute(lines: int) -> dict:
    with private_services() as (database_url, redis_url):
        rt = _runtime(database_url, redis_url)
        as_of = T0 + timedelta(days=30)
        shop_id = _shop_with_variant(rt, available=lines // 2 - lines, as_of=as_of)
        _bulk_lines(rt, shop_id, lines)
        demand = [DemandLine(i, T0 + timedelta(seconds=i), 1) for i in range(1, lines + 1)]
        pure = min(_timed(lambda: allocate(lines=demand, available=lines // 2 - lines, supply=[],
                                           policy=Policy(), today=utcnow().date()))
                   for _ in range(3))

        def recompute(force_full: bool) -> None:
            with unit_of_work(rt.sessions) as session:
                if force_full:
                    session.execute(update(Variant).values(alloc_fingerprint=None))
                recompute_variants(session, shop_id, [VARIANT], plan=PLAN)
        first = _timed(lambda: recompute(True))   # writes 50% backordered lines and effects
        full = min(_timed(lambda: recompute(True)) for _ in range(3))  # reads all, no change
        fast = min(_timed(lambda: recompute(False)) for _ in range(3))  # nothing changed
        rt.close()
    return {"lines": lines, "pure_allocate_s": pure, "first_recompute_s": first,
            "full_recompute_s": full, "unchanged_recompute_s": fast,
            "full_over_pure": full / pure}


def _store_flash_sale(rt: Runtime, shop_id: int, orders: range, stock: int) -> list[int]:
    rows = []
    for n in orders:
        placed = T0 + timedelta(seconds=n)
        order = {"id": n, "name": f"#{n}", "email": f"c{n}@example.com", "created_at":
                 placed.isoformat(), "updated_at": placed.isoformat(), "line_items": [
                     {"id": n, "variant_id": VARIANT, "quantity": 1, "current_quantity": 1,
                      "fulfillable_quantity": 1, "title": "Hot item"}]}
        level = {"inventory_item_id": ITEM, "location_id": LOCATION, "available": stock - n,
                 "updated_at": placed.isoformat()}
        for topic, payload in (("orders/create", order), ("inventory_levels/update", level)):
            rows.append({"shop_domain": "bench.myshopify.com", "shop_id": shop_id,
                         "topic": topic, "dedup_key": f"{topic}|{n}", "payload": json.dumps(payload),
                         "status": EventStatus.RECEIVED, "attempts": 0, "received_at": utcnow()})
    with unit_of_work(rt.sessions) as session:
        return list(session.scalars(insert(WebhookEvent).returning(WebhookEvent.id), rows))


def _drain(rt: Runtime) -> None:
    queues = [Queue(n, connection=rt.redis) for n in ALL_QUEUES]
    SimpleWorker(queues, connection=rt.redis).work(burst=True, logging_level="WARNING")


def bench_flash_sale(orders: int, segment: int, vacuum: bool = True) -> dict:
    with private_services() as (database_url, redis_url):
        rt = _runtime(database_url, redis_url)
        context.install(rt)
        stock = 1_000
        shop_id = _shop_with_variant(rt, available=stock, as_of=T0)
        with unit_of_work(rt.sessions) as session:
            recompute_variants(session, shop_id, [VARIANT], plan=PLAN)
        per_order = []
        with autovacuum_stand_in(database_url, enabled=vacuum) as vacuumed:
            for start in range(1, orders + 1, segment):
                _store_flash_sale(rt, shop_id, range(start, start + segment), stock)
                enqueue(rt.redis, [ApplyEvents(shop_id)])
                per_order.append(_timed(lambda: _drain(rt)) / segment)
        noop_queue = Queue("webhooks", connection=rt.redis)
        for _ in range(segment):
            noop_queue.enqueue("bench.engine.noop")
        noop_per_job = _timed(lambda: _drain(rt)) / segment
        context.install(None)
        rt.close()
    return {"orders": orders, "segment": segment, "per_order_ms": [p * 1000 for p in per_order],
            "growth_last_over_first": per_order[-1] / per_order[0],
            "orders_per_s": 1 / statistics.mean(per_order), "noop_jobs_per_s": 1 / noop_per_job,
            "orders_over_noop": noop_per_job / statistics.mean(per_order), "vacuumed": vacuumed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.engine")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--segment", type=int, default=2_000)
    parser.add_argument("--no-vacuum", action="store_true",
                        help="no VACUUM stand-in when the server's autovacuum is off")
    args, _ = parser.parse_known_args(argv)
    with signals_as_exit():
        a = bench_recompute(args.lines)
        print(f"(a) recompute, one variant with {a['lines']:,} open lines")
        print(f"    pure allocate (baseline)     {a['pure_allocate_s'] * 1000:8.0f} ms")
        print(f"    first recompute (writes)     {a['first_recompute_s'] * 1000:8.0f} ms")
        print(f"    full recompute (reads all)   {a['full_recompute_s'] * 1000:8.0f} ms"
              f"   ratio to pure allocate: {a['full_over_pure']:.2f}")
        print(f"    recompute with no change     {a['unchanged_recompute_s'] * 1000:8.1f} ms")
        b = bench_flash_sale(args.orders, args.segment, vacuum=not args.no_vacuum)
        print(f"(b) flash sale, {b['orders']:,} orders of one variant (each with its stock "
              f"webhook), one worker")
        if b["vacuumed"]:
            print("    (this PostgreSQL runs with autovacuum off: the benchmark ran VACUUM (ANALYZE)"
                  " every 60 s beside the worker, as autovacuum would)")
        print("    ms per order by segment of", b["segment"], ":",
              " ".join(f"{p:.2f}" for p in b["per_order_ms"]))
        print(f"    growth, last segment over first: {b['growth_last_over_first']:.2f} "
              f"(target <= {GROWTH_TARGET:.2f})")
        print(f"    {b['orders_per_s']:.0f} orders/s vs {b['noop_jobs_per_s']:.0f} no-op jobs/s: "
              f"ratio {b['orders_over_noop']:.2f}")
    return 0 if b["growth_last_over_first"] <= GROWTH_TARGET else 2


if __name__ == "__main__":
    raise SystemExit(main())
