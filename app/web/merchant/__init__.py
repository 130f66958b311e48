"""The merchant's pages under /app: one parent blueprint that guards its children.

Every child (dashboard, backorders, purchase orders, suppliers, settings, requests)
inherits the guard: login required, then CSRF on every form, then the views,
which only ever query and change the logged-in shop's rows. Requests carrying
a Shopify session token skip the CSRF token: the bearer token is not sent by
the browser on its own, so a forged form cannot carry it (the cookie session
is what CSRF protects).

Embedded in Shopify admin, a page may be framed by that shop's admin and by
admin.shopify.com, nobody else (CSP frame-ancestors, per shop). A document load
from the admin without a session token gets the "bounce" page: App Bridge hands
it a token and it loads the page again with it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from app.domain.shops.service import normalise_domain
from app.errors import DomainError, Unauthorized
from app.web import deps
from app.web.merchant import embedded as embedded_page
from app.web.merchant.identity import current_merchant
from app.web.merchant.install import ExchangeFailed
from app.web.pages import html_errors
from integrations.shopify.tokens import shopify_origin

log = logging.getLogger(__name__)
bp = Blueprint("merchant", __name__, url_prefix="/app")


@bp.before_request
def guard():
    """Log in first; then the CSRF check (create_app exempts these blueprints for it)."""
    g.merchant = current_merchant(deps.rt())
    if g.merchant is None:
        if request.method != "GET":
            raise Unauthorized("Please log in again.")
        here = request.full_path.rstrip("?")
        if request.args.get("embedded") == "1" and request.args.get("shop"):
            return _bounce()
        if request.args.get("shop"):  # opened from Shopify (app store, admin): install or re-auth
            return redirect(url_for("auth.install", shop=request.args["shop"], next=request.path))
        return redirect(url_for("auth.login", next=here))
    if not g.merchant.embedded:
        current_app.extensions["csrf"].protect()
    return None


def _bounce():
    """A page that only asks App Bridge for a session token and comes back with it."""
    g.embedding_shop = _admin_shop(request.args["shop"])
    return render_template("merchant/bounce.html", shopify_api_key=_api_key(),
                           embedded=True), 200


def _admin_shop(domain: str) -> str | None:
    try:
        return normalise_domain(domain)
    except DomainError:
        return None


def _admin_origin(domain: str) -> str:
    """The shop's admin origin: `https://{shop}` (or the fake Shopify's host in tests)."""
    url = urlparse(shopify_origin(deps.settings(), domain))
    return f"{url.scheme}://{url.netloc}"


@bp.after_request
def headers(response):
    domain = g.get("embedding_shop")
    shop_admin = _admin_origin(domain) if domain else None
    return security_headers(response, frame_ancestors=shop_admin, embedded=bool(shop_admin))


def security_headers(response, *, frame_ancestors: str | None = None, embedded: bool = False,
                     form_targets: tuple[str, ...] = ()):
    """CSP, framing, sniffing and referrer rules for every page of the merchant and auth pages."""
    ancestors = f"{frame_ancestors} https://admin.shopify.com" if frame_ancestors else "'none'"
    scripts = "'self' https://cdn.shopify.com" if embedded else "'self'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        # frame-src: the HTML email preview, served with a CSP of its own (app/web/preview)
        f"connect-src 'self'; frame-src 'self'; "
        f"form-action 'self' {' '.join(form_targets)}".rstrip()
        + f"; base-uri 'none'; object-src 'none'; frame-ancestors {ancestors}")
    if not frame_ancestors:  # X-Frame-Options cannot name an origin: CSP alone governs embedding
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None) -> str:
    """Where to go after login: a path under /app on this site, never another host."""
    parsed = urlparse(target or "")
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/app"):
        return url_for("merchant.dashboard.index")
    return target


# --- Errors, once for all merchant pages -------------------------------------------------


def _error_page(message: str, status: int):
    return render_template("merchant/error.html", message=message, status=status,
                           shop=g.get("merchant")), status


html_errors(bp, _error_page, stale_form="This form was open too long or came from elsewhere. "
                                        "Reload the page and try again.")


@bp.errorhandler(ExchangeFailed)
def exchange_failed(exc: ExchangeFailed):
    """Nothing was stored: opening the app again starts over."""
    return _error_page("Shopify did not hand this app its access to your shop, so it is not "
                       "installed yet. Reload the app from your Shopify admin to try again.", 502)


def _api_key() -> str:
    return deps.settings().shopify_api_key or ""


@bp.context_processor
def embedding():
    """App Bridge needs the (public) API key on embedded pages; its toasts, the notices."""
    merchant = g.get("merchant")
    embedded = bool(merchant and merchant.embedded)
    return {"embedded": embedded, "shopify_api_key": _api_key(),
            "notices": embedded_page.notices(embedded=embedded)}


# Imported last: the children import this package's helpers.
from app.web.merchant import (  # noqa: E402
    backorders,
    dashboard,
    purchase_orders,
    requests,
    suppliers,
)
from app.web.merchant import settings as settings_pages  # noqa: E402

CHILDREN = (dashboard.bp, backorders.bp, purchase_orders.bp, suppliers.bp, settings_pages.bp,
            requests.bp)
for _child in CHILDREN:
    bp.register_blueprint(_child)
# Blueprints that run the CSRF check themselves, in `guard` (see the module docstring).
CHECKS_OWN_CSRF = (bp, *CHILDREN)
