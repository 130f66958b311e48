"""What the HTML blueprints share: error pages that never show a trace, strict headers,
and the headers of pages reached through a capability link."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError
from app.web.access_log import redacted

log = logging.getLogger(__name__)

ErrorPage = Callable[[str, int], object]  # (message, status) -> a Flask response


def html_errors(bp: Blueprint, page: ErrorPage, *, stale_form: str) -> None:
    """Answer every error raised in the blueprint with its own error page."""
    bp.register_error_handler(DomainError, lambda exc: page(exc.message, exc.status_code))
    bp.register_error_handler(CSRFError, lambda exc: page(stale_form, 400))
    bp.register_error_handler(
        HTTPException, lambda exc: page(exc.description or exc.name, exc.code or 500))
    bp.register_error_handler(Exception, lambda exc: _unexpected(exc, page))


def _unexpected(exc: Exception, page: ErrorPage):
    log.exception("unhandled error on %s %s", request.method, redacted(request.path))
    return page("Something went wrong on our side. Please try again later.", 500)


def security_headers(response, *, frame_ancestors: str | None = None, embedded: bool = False,
                     form_targets: tuple[str, ...] = ()):
    """CSP, framing, sniffing and referrer rules for every HTML page."""
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


def link_is_the_credential(bp: Blueprint) -> None:
    """Strict headers, as on the merchant pages, and keep pages opened by a signed link out
    of caches, search engines and Referer headers."""
    @bp.after_request
    def private(response):
        security_headers(response)
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex"
        return response
