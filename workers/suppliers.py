"""Supplier jobs: plan reorders, send a PO, push received stock to Shopify.

Each job takes ids, runs the domain in its own transactions and enqueues
intents after commit. Sending and pushing are split around the provider
call (claim, commit, call, record, commit) so a retried job never repeats a
call that succeeded; see app/domain/suppliers/dispatch.py and receiving.py for
the crash window that split leaves and how it is settled.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.suppliers import dispatch, receiving, reorder
from app.domain.suppliers.models import PurchaseOrder
from app.domain.suppliers.portal import TOKEN_PURPOSE
from app.errors import IntegrationError, TransientError
from app.security import LinkSigner, TokenCipher
from integrations.suppliers import supplier_channel
from workers.context import runtime
from workers.job import call, job, run, unit
from workers.shopify import admin_for

log = logging.getLogger(__name__)
NO_ADMIN_ACCESS = "Could not update Shopify: this shop has no Admin API access; reconnect it"
# Shopify failures after which the delta surely was not applied (the client says so).
NOT_APPLIED_CODES = {429, "THROTTLED"}


def _record_dispatch_failure(session, po_id: int, *, error: str, final: bool) -> None:
    dispatch.record_failure(session, po_id, error, permanent=final)


@job
def plan_reorders(shop_id: int) -> None:
    """Bring every supplier's draft PO in line with the shop's needs."""
    run(reorder.plan_reorders, shop_id)


@job(record=_record_dispatch_failure, of=(IntegrationError,))
def send_purchase_order(po_id: int) -> None:
    """Send one PO at most once; transient failures re-raise so RQ retries with backoff."""
    rt = runtime()
    signer = LinkSigner(rt.settings.secret_key, TOKEN_PURPOSE)
    with unit() as work:
        claim, redated = dispatch.claim_dispatch(work.session, po_id, signer=signer,
                                                 public_url=rt.settings.public_url)
        work.then(redated)
    if claim is None:
        return
    secret = claim.endpoint_secret_ciphertext
    channel = supplier_channel(rt.settings, endpoint_url=claim.endpoint_url,
                               endpoint_secret=TokenCipher(rt.settings.secret_key).decrypt(secret)
                               if secret else None)
    channel.send_purchase_order(claim.doc)  # a failure is recorded by the job wrapper
    # Crash window: the supplier has the PO and this commit has not happened yet.
    _record_sent(rt, po_id)
    log.info("purchase order %s sent", claim.doc.number)


def _record_sent(rt, po_id: int) -> None:
    call(dispatch.record_sent, po_id)


@job
def push_receipts(po_id: int) -> None:
    """Add the PO's received units to Shopify, each receipt at most once."""
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        ids = receiving.pending_receipt_ids(session, po_id)
        shop_id = session.scalar(select(PurchaseOrder.shop_id).where(PurchaseOrder.id == po_id))
    admin = admin_for(shop_id) if ids and shop_id is not None else None
    if ids and admin is None:  # no retry can help: say so where the merchant looks
        call(receiving.fail_pending_receipts, po_id, NO_ADMIN_ACCESS)
        log.warning("purchase order %s: %s", po_id, NO_ADMIN_ACCESS)
        return
    for receipt_id in ids:
        _push_receipt(rt, admin, receipt_id)


def _push_receipt(rt, admin, receipt_id: int) -> None:
    push = call(receiving.claim_receipt, receipt_id)
    if push is None:
        return
    try:
        admin.adjust_inventory(inventory_item_id=push.inventory_item_id,
                               location_id=push.location_id, delta=push.delta,
                               reference=push.reference)
    except IntegrationError as exc:
        _record_push_failure(rt, receipt_id, exc)
        raise
    # Crash window: Shopify has the units and this commit has not happened yet.
    call(receiving.record_receipt_pushed, receipt_id)


def _record_push_failure(rt, receipt_id: int, exc: IntegrationError) -> None:
    if isinstance(exc, TransientError) and exc.code in NOT_APPLIED_CODES:
        outcome = receiving.PENDING  # throttled before running: retrying is safe
    elif isinstance(exc, TransientError):
        outcome = receiving.UNKNOWN  # a timeout or 5xx may have applied the delta
    else:
        outcome = receiving.FAILED
    call(receiving.record_receipt_failure, receipt_id, f"{type(exc).__name__}: {exc}",
         outcome=outcome)

