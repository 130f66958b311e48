"""The per-shop job that brings fulfilment holds and the `backorder` tag in step.

Coalesced per shop and run one at a time (workers.queues.run_coalesced), like the
variant push: each run reads the due orders, talks to Shopify outside any
transaction, and settles each order in a short unit of work of its own.
"""

from __future__ import annotations

import logging
from functools import partial

from app.domain.fulfilment import rules, service
from app.domain.intents import SyncFulfilment
from app.domain.ports import ShopifyAdmin
from app.errors import AuthRevoked, PermanentError
from workers.job import call, job
from workers.shopify import more_waiting, with_shop

log = logging.getLogger(__name__)

# Steps per order and run: a release and a hold per line at most, a tag, and spare room.
MAX_STEPS_PER_LINE, SPARE_STEPS = 3, 4


@job
def sync_fulfilment(shop_id: int) -> int:
    """Place and release the shop's holds and tags that are due; returns orders settled."""
    return with_shop(shop_id, partial(_sync, shop_id))


def _sync(shop_id: int, admin: ShopifyAdmin) -> int:
    due = call(service.due_orders, shop_id)
    for order in due:
        try:
            retry, error = _bring_in_step(admin, order), None
        except PermanentError as exc:
            if isinstance(exc, AuthRevoked):
                raise  # the shop, not this order: with_shop marks it for reconnection
            log.warning("shop %s order %s: holds and tag not in step: %s",
                        shop_id, order.order_id, exc)  # the other orders still go through
            retry, error = True, str(exc)[:1000]
        call(service.settle, shop_id, order, retry=retry, error=error)
    return more_waiting(len(due), service.BATCH, SyncFulfilment(shop_id))


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
