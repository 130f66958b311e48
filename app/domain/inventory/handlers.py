"""Webhook topic handlers for orders, refunds, inventory and products.

Each one: parse the payload, lock the affected variants (sorted, before any
other row), store the snapshot unless it is stale, and name the variants it changed.
The caller recomputes those once, after every event of its batch is stored. What a
stock rise receives (`receipts`) comes in as a port (ports.py), wired by the topic
registry.
"""

from __future__ import annotations

from sqlalchemy import select, update

from app.domain.intake.service import HandlerContext
from app.domain.inventory import payloads, state
from app.domain.inventory.models import CustomerOrder, OrderLine, Variant
from app.domain.inventory.ports import StockReceipts


def _recompute(ctx: HandlerContext, variant_ids) -> None:
    ctx.touched.update(variant_ids)


def handle_order(ctx: HandlerContext) -> None:
    """orders/create, updated, cancelled, fulfilled, partially_fulfilled: the order's new state."""
    snap = payloads.parse_order(ctx.payload)
    state.lock_or_create_variants(ctx.session, ctx.shop.id, snap.variant_ids)
    book = ctx.plan.orders if ctx.plan is not None else None
    _recompute(ctx, state.apply_order(ctx.session, ctx.shop.id, snap, book=book))


def handle_refund(ctx: HandlerContext) -> None:
    """refunds/create: units refunded before shipping leave the queue."""
    order_id, refunded_at, cancels = payloads.parse_refund_cancels(ctx.payload)
    if not cancels:
        return
    variant_ids = ctx.session.scalars(
        select(OrderLine.variant_id).join(CustomerOrder, CustomerOrder.id == OrderLine.order_pk)
        .where(CustomerOrder.shop_id == ctx.shop.id, CustomerOrder.order_id == order_id)).all()
    state.lock_variants(ctx.session, ctx.shop.id, [v for v in variant_ids if v])
    _recompute(ctx, state.apply_refund(ctx.session, ctx.shop.id, order_id, cancels,
                                       at=refunded_at))


def handle_inventory_level(ctx: HandlerContext, *,
                           receipts: StockReceipts) -> None:
    """inventory_levels/update: the newest `available` at one location."""
    snap = payloads.parse_level(ctx.payload)
    variant_ids = state.variants_of_item(ctx.session, ctx.shop.id, snap.inventory_item_id)
    # A rise may receive PO lines: their POs are locked first, as every PO use case does.
    receipts.lock_open_purchase_orders(ctx.session, ctx.shop.id, variant_ids)
    state.lock_variants(ctx.session, ctx.shop.id, variant_ids)
    _recompute(ctx, state.apply_level(ctx.session, ctx.shop.id, snap, receipts=receipts))


def handle_inventory_item(ctx: HandlerContext) -> None:
    """inventory_items/update: whether Shopify tracks the item, and its SKU."""
    item_id, tracked, sku = payloads.parse_item(ctx.payload)
    variant_ids = state.variants_of_item(ctx.session, ctx.shop.id, item_id)
    state.lock_variants(ctx.session, ctx.shop.id, variant_ids)
    values = {"tracked": tracked}
    if sku:
        values["sku"] = sku
    ctx.session.execute(update(Variant).where(Variant.shop_id == ctx.shop.id,
                                              Variant.inventory_item_id == item_id).values(**values))
    _recompute(ctx, variant_ids)


def handle_product_update(ctx: HandlerContext) -> None:
    """products/update: variant details; variants no longer listed are gone."""
    product_id, updated_at, variants = payloads.parse_product_variants(ctx.payload)
    ids = [v.variant_id for v in variants]
    state.lock_or_create_variants(ctx.session, ctx.shop.id, ids)
    changed = {v.variant_id for v in variants
               if state.apply_variant_info(ctx.session, ctx.shop.id, v, updated_at)}
    changed |= state.mark_deleted(ctx.session, ctx.shop.id, product_id, keep=ids)
    _recompute(ctx, changed)


def handle_product_delete(ctx: HandlerContext) -> None:
    """products/delete: its variants can no longer be sold or restocked."""
    product_id = payloads.require_int(ctx.payload, "id")
    _recompute(ctx, state.mark_deleted(ctx.session, ctx.shop.id, product_id))
