"""Purchase orders: list, approve (which sends), receive fully or partly, settle the unknowns.

Every change goes through app.domain.suppliers with the logged-in shop's id,
which refuses (NotFound) a PO of any other shop.
"""

from __future__ import annotations

from flask import Blueprint, flash, request

from app.db import unit_of_work
from app.domain.base import INTEGER_MAX, whole_number
from app.domain.merchant import purchasing
from app.domain.suppliers import dispatch, receiving
from app.errors import InvalidInput
from app.web.deps import rt
from app.web.merchant.common import back_to, enqueue, merchant, page

bp = Blueprint("purchase_orders", __name__, url_prefix="/purchase-orders")


@bp.get("/")
def index():
    status = request.args.get("status", "")
    with unit_of_work(rt().sessions) as session:
        rows = purchasing.po_list(session, merchant().shop_id, status=status or None)
    return page("merchant/purchase_orders.html", rows=rows, status=status,
                statuses=purchasing.STATUSES)


@bp.get("/<id:po_id>")
def show(po_id: int):
    return _detail(po_id)


def _detail(po_id: int, status: int = 200, **context):
    with unit_of_work(rt().sessions) as session:
        detail = purchasing.po_detail(session, merchant().shop_id, po_id)
    return page("merchant/purchase_order.html", status, detail=detail, **context)


def _done(po_id: int, message: str):
    flash(message, "notice")
    return back_to("merchant.purchase_orders.show", po_id=po_id)


@bp.post("/<id:po_id>/approve")
def approve(po_id: int):
    """The merchant's go-ahead: the PO is sent to the supplier now."""
    with unit_of_work(rt().sessions) as session:
        intents = dispatch.approve_purchase_order(session, merchant().shop_id, po_id)
    enqueue(intents)
    return _done(po_id, "Approved: the purchase order is on its way to the supplier.")


@bp.post("/<id:po_id>/resolve")
def resolve(po_id: int):
    """An interrupted send: the supplier has it (mark sent), or send it again."""
    delivered = request.form.get("delivered") == "yes"
    with unit_of_work(rt().sessions) as session:
        intents = dispatch.resolve_uncertain_dispatch(session, merchant().shop_id, po_id,
                                                        delivered=delivered)
    enqueue(intents)
    return _done(po_id, "Marked as sent." if delivered else "Sending it again.")


@bp.post("/<id:po_id>/receive")
def receive(po_id: int):
    """Receive what arrived, per line; "receive all" takes every open quantity."""
    with unit_of_work(rt().sessions) as session:
        detail = purchasing.po_detail(session, merchant().shop_id, po_id)
    try:
        quantities = _quantities(detail, request.form)
        with unit_of_work(rt().sessions) as session:
            intents = receiving.receive_purchase_order(session, po_id, quantities,
                                                         shop_id=merchant().shop_id)
    except InvalidInput as exc:
        errors = {_field(key): message for key, message in exc.field_errors.items()}
        return _detail(po_id, 400, error=exc.message, errors=errors, form=request.form)
    enqueue(intents)
    return _done(po_id, f"Received {sum(quantities.values())} units.")


def _quantities(detail: purchasing.PoDetail, form) -> dict[int, int]:
    if form.get("action") == "all":
        return {line.id: line.open for line in detail.lines if line.open}
    quantities, errors = {}, {}
    for line in detail.lines:
        raw = (form.get(f"qty_{line.id}") or "").strip()
        quantity = whole_number(raw, 0, INTEGER_MAX)
        if raw and quantity is None:
            errors[f"line {line.id}"] = "Enter a whole number."
        elif quantity:
            quantities[line.id] = quantity
    if errors:
        raise InvalidInput("Nothing was received; fix the quantities.", field_errors=errors)
    return quantities


def _field(key: str) -> str:
    """The domain names lines "line 12"; the form calls the field qty_12."""
    return f"qty_{key.removeprefix('line ')}" if key.startswith("line ") else key


@bp.post("/<id:po_id>/receipts/<id:receipt_id>/resolve")
def resolve_receipt(po_id: int, receipt_id: int):
    """A receipt whose push to Shopify failed or may have happened: settle it."""
    applied = request.form.get("applied") == "yes"
    with unit_of_work(rt().sessions) as session:
        purchasing.po_detail(session, merchant().shop_id, po_id)  # NotFound for other shops
        intents = receiving.resolve_receipt_push(session, merchant().shop_id, receipt_id,
                                                   applied=applied)
    enqueue(intents)
    return _done(po_id, "Marked as in Shopify." if applied else "Adding the units again.")
