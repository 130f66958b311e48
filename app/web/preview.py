"""The HTML email preview, served on its own so its inline styles can render.

Email HTML styles itself inline (mail clients ignore style sheets), which the merchant
pages' strict CSP forbids, and a `srcdoc` frame inherits that CSP. So the merchant page
stores the rendered preview for a few minutes under an unguessable key and frames this
route, whose own CSP allows inline styles and nothing else: no scripts, no requests, and
a sandbox. The key is the credential (as a status link is), so the frame also loads
inside Shopify admin, where the merchant pages authenticate with a header a frame cannot
send.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, abort
from redis.exceptions import RedisError

from app.web.deps import rt

bp = Blueprint("preview", __name__, url_prefix="/preview")

TTL_SECONDS = 600
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox")


def _key(token: str) -> str:
    return f"backorder:email-preview:{token}"


def store(html: str) -> str | None:
    """Keep a rendered preview for the frame; its token, or None when Redis is down."""
    token = secrets.token_urlsafe(24)
    try:
        rt().redis.set(_key(token), html.encode(), ex=TTL_SECONDS)
    except RedisError:
        return None
    return token


@bp.get("/email/<token>")
def email(token: str):
    """The stored preview with a CSP of its own; 404 once it expired."""
    if len(token) > 64:
        abort(404)
    try:
        html = rt().redis.get(_key(token))
    except RedisError:
        html = None
    if html is None:
        return Response("This preview has expired: press Preview again.\n", 404,
                        content_type="text/plain; charset=utf-8",
                        headers={"Content-Security-Policy": CSP})
    return Response(html, content_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": CSP, "X-Frame-Options": "SAMEORIGIN",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store"})
