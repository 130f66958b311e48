"""Helpers every merchant page uses: the current shop, rendering, redirects, enqueueing."""

from __future__ import annotations

from flask import g, redirect, render_template, url_for
from werkzeug.datastructures import MultiDict

from app import jobs
from app.web.deps import rt
from app.web.merchant.embedded import carry_notices
from app.web.merchant.identity import Merchant, session_token


def merchant() -> Merchant:
    """The logged-in shop (the blueprint's guard has set it before any view runs)."""
    return g.merchant


def page(template: str, code: int = 200, **context):
    """Render a merchant page with the shop and an empty error map by default."""
    context.setdefault("errors", {})
    context.setdefault("form", MultiDict())
    return render_template(template, shop=merchant(), **context), code


def back_to(endpoint: str, **values):
    """303 to a page after a form; embedded requests keep their session token for it, and
    their messages (no cookie reaches the admin's iframe)."""
    token = session_token() if merchant().embedded else None
    if token:
        values["id_token"] = token  # valid for about a minute: enough for this redirect
        values["notices"] = carry_notices()
    return redirect(url_for(endpoint, **values), code=303)


def enqueue(intents) -> int:
    """Enqueue what a use case asked for, after its commit; returns how many went out."""
    return jobs.enqueue(rt().redis, intents)
