"""The customer's status page, reached from the signed link in every message.

A bad, tampered or expired link gets a plain page that says so (404), never a
stack trace. Cancelling a line and asking to switch it to an in-stock alternative
are POST forms protected by CSRF.
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for

from app import jobs
from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.notifications import customer
from app.domain.notifications.links import StatusLinks
from app.domain.suppliers.service import recompute
from app.errors import InvalidInput
from app.web.deps import row_id, rt, settings
from app.web.pages import html_errors, link_is_the_credential

log = logging.getLogger(__name__)
bp = Blueprint("status", __name__)


def _read(token: str) -> tuple[int, int]:
    return StatusLinks(settings().secret_key, settings().public_url).read(token)


@bp.get("/status/<token>")
def page(token: str):
    """The order's lines, their state and date, what was sent, and cancel buttons."""
    shop_id, order_id = _read(token)
    with unit_of_work(rt().sessions) as session:
        view = customer.status_page(session, shop_id, order_id)
    return render_template("status/page.html", view=view, token=token,
                           cancelled=request.args.get("cancelled") == "1",
                           switched=request.args.get("switched") == "1")


@bp.post("/status/<token>/cancel")
def cancel(token: str):
    """Cancel a backordered line, or only its backordered units (`units=backordered`);
    the engine's follow-ups are enqueued after commit."""
    shop_id, order_id = _read(token)
    line_item_id = row_id(request.form.get("line_item_id"))
    if line_item_id is None:
        raise InvalidInput("Choose the item to cancel.")
    only_backordered = request.form.get("units") == "backordered"
    with unit_of_work(rt().sessions) as session:
        intents = customer.cancel_line(session, shop_id, order_id, line_item_id, now=utcnow(),
                                         recompute=recompute, only_backordered=only_backordered)
    jobs.enqueue(rt().redis, intents)
    return redirect(url_for("status.page", token=token, cancelled="1"), code=303)


@bp.post("/status/<token>/switch")
def switch(token: str):
    """Ask for an in-stock alternative to a backordered line; a repeated click adds nothing."""
    shop_id, order_id = _read(token)
    line_item_id = row_id(request.form.get("line_item_id"))
    variant_id = row_id(request.form.get("variant_id"))
    if line_item_id is None or variant_id is None:
        raise InvalidInput("Choose the item and its alternative.")
    with unit_of_work(rt().sessions) as session:
        customer.request_switch(session, shop_id, order_id, line_item_id, variant_id,
                                now=utcnow())
    return redirect(url_for("status.page", token=token, switched="1"), code=303)


def _error_page(message: str, status: int):
    return render_template("status/error.html", message=message, status=status), status


html_errors(bp, _error_page,
            stale_form="This page was open for too long. Please reload it and try again.")
link_is_the_credential(bp)
