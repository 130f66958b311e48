"""The per-shop job that brings fulfilment holds and the `backorder` tag in step.

Coalesced per shop and run one at a time (workers.queues.run_coalesced), like the
variant push: each run reads the due orders, talks to Shopify outside any
transaction, and settles each order in a short unit of work of its own.
"""

from __future__ import annotations

import logging

from app.db import unit_of_work
from app.domain.followups import sync_fulfilment as sync_followup
from app.domain.fulfilment import rules, service
from app.domain.ports import ShopifyAdmin
from app.errors import AuthRevoked, PermanentError
from workers import queues
from workers.context import runtime
from workers.shopify import admin_for, needs_reinstall

log = logging.getLogger(__name__)

# Steps per order and run: a release and a hold per line at most, a tag, and spare room.
MAX_STEPS_PER_LINE, SPARE_STEPS = 3, 4


def sync_fulfilment(shop_id: int) -> int:
    """Place and release the shop's holds and tags that are due; returns orders settled."""
    rt = runtime()
    admin = admin_for(shop_id)
    if admin is None:
        return 0
    with unit_of_work(rt.sessions) as session:
        due = service.due_orders(session, shop_id)
    for order in due:
        try:
            retry, error = _bring_in_step(admin, order), None
        except AuthRevoked as exc:
            needs_reinstall(shop_id, exc)
            return 0
        except PermanentError as exc:  # this order only: the others still go through
            log.warning("shop %s order %s: holds and tag not in step: %s",
                        shop_id, order.order_id, exc)
            retry, error = True, str(exc)[:1000]
        with unit_of_work(rt.sessions) as session:
            service.settle(session, shop_id, order, retry=retry, error=error)
    if len(due) == service.BATCH:  # more waiting: continue in a fresh job
        queues.enqueue(rt.redis, sync_followup(shop_id))
    return len(due)


def _bring_in_step(admin: ShopifyAdmin, order: service.DueOrder) -> bool:
    """Apply one step at a time, reading Shopify before each; True when a hold must wait."""
    for _ in range(MAX_STEPS_PER_LINE * len(order.held) + SPARE_STEPS):
        state = admin.order_fulfilment(order.order_id)
        if state is None:  # the order is gone from Shopify: nothing left to hold or tag
            return False
        step = rules.next_step(state, held=order.held, tagged=order.tagged)
        if step is None:
            return False
        if isinstance(step, rules.Blocked):
            log.info("order %s: lines %s wait behind another hold", order.order_id,
                     step.line_item_ids)
            return True
        _apply(admin, order.order_id, step)
    raise PermanentError(f"order {order.order_id}: holds still changing after every step")


def _apply(admin: ShopifyAdmin, order_id: int, step: rules.Step) -> None:
    if isinstance(step, rules.Hold):
        admin.hold_fulfillment_order(step.fo_id, handle=step.handle, lines=step.lines)
    elif isinstance(step, rules.Release):
        admin.release_fulfillment_holds(step.fo_id, step.hold_ids)
    elif step.add:
        admin.add_order_tags(order_id, [rules.TAG])
    else:
        admin.remove_order_tags(order_id, [rules.TAG])
