"""The customer's status page, reached from the signed link in every message.

A bad, tampered or expired link gets a plain page that says so (404), never a
stack trace. Cancelling a line is a POST form protected by CSRF.
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.notifications import customer
from app.domain.notifications.links import StatusLinks
from app.errors import DomainError, InvalidInput
from app.web.deps import rt, settings
from workers import queues

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
                           cancelled=request.args.get("cancelled") == "1")


@bp.post("/status/<token>/cancel")
def cancel(token: str):
    """Cancel one backordered line; the engine's follow-ups are enqueued after commit."""
    shop_id, order_id = _read(token)
    line_item_id = request.form.get("line_item_id", type=int)
    if line_item_id is None:
        raise InvalidInput("Choose the item to cancel.")
    with unit_of_work(rt().sessions) as session:
        followups = customer.cancel_line(session, shop_id, order_id, line_item_id, now=utcnow())
    queues.enqueue_all(rt().redis, followups)
    return redirect(url_for("status.page", token=token, cancelled="1"), code=303)


def _error_page(message: str, status: int):
    return render_template("status/error.html", message=message, status=status), status


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    return _error_page(exc.message, exc.status_code)


@bp.errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    return _error_page("This page was open for too long. Please reload it and try again.", 400)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return _error_page(exc.description or exc.name, exc.code or 500)


@bp.errorhandler(Exception)
def unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _error_page("Something went wrong on our side. Please try again later.", 500)


@bp.after_request
def private(response):
    # The link is the credential: keep it out of caches, search engines and Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
