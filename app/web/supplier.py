"""The supplier's page, `/supplier/po/<signed token>`: view, confirm, move dates.

Four steps per request and no business logic: load the PO from the signed
link, hand the form to the domain (app/domain/suppliers/portal.py), commit,
enqueue what it asks for. A bad link is a plain 404 page.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from app import jobs
from app.db import unit_of_work
from app.domain.suppliers import portal
from app.errors import Conflict, InvalidInput
from app.security import LinkSigner
from app.web.deps import rt
from app.web.pages import html_errors, link_is_the_credential

bp = Blueprint("supplier", __name__)
SAVED = {"dates": "Your dates were saved. Thank you.",
         "confirmed": "The order is confirmed. Thank you."}


def _signer() -> LinkSigner:
    return LinkSigner(rt().settings.secret_key, portal.TOKEN_PURPOSE)


@bp.get("/supplier/po/<token>")
def show(token: str):
    return _page(token, notice=SAVED.get(request.args.get("saved", "")))


@bp.post("/supplier/po/<token>")
def update(token: str):
    confirm = request.form.get("action") == "confirm"
    try:
        with unit_of_work(rt().sessions) as session:
            po = portal.po_for_token(session, token, signer=_signer(), lock=True)
            intents = portal.update_from_supplier(session, po, request.form, confirm=confirm)
    except InvalidInput as exc:  # rolled back: nothing of the form was saved
        return _page(token, error=exc.message, errors=exc.field_errors, values=request.form), 400
    except Conflict as exc:
        return _page(token, error=exc.message), 409
    jobs.enqueue(rt().redis, intents)
    saved = "confirmed" if confirm else "dates"
    return redirect(url_for("supplier.show", token=token, saved=saved), code=303)


def _page(token: str, **context) -> str:
    with unit_of_work(rt().sessions) as session:
        view = portal.view_of(session, portal.po_for_token(session, token, signer=_signer()))
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return render_template("supplier/po.html", po=view, token=token, **context)


def _error_page(message: str, status: int):
    heading = "This link does not work" if status == 404 else "Please try again"
    return render_template("supplier/error.html", heading=heading, message=message), status


html_errors(bp, _error_page, stale_form="This page was open for too long. Reload it and send "
                                        "your changes again.")
link_is_the_credential(bp)
