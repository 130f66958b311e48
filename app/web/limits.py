"""Rate limits on what anyone on the internet can call without logging in: the customer's
status page, the supplier's PO page, login-link redemption, OAuth and Twilio's inbound SMS
(flask-limiter, counted in Redis so every process shares one count). Over the limit: 429
with Retry-After."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Settings

# Per client address: far above what a person clicking does, far below a script.
BLUEPRINT_LIMITS = {"status": "60 per minute", "supplier": "60 per minute"}
VIEW_LIMITS = {"auth.link": "10 per minute", "auth.redeem": "10 per minute",
               "auth.install": "20 per minute", "auth.callback": "20 per minute"}
# Twilio posts from its own addresses: count per sending phone instead.
INBOUND_SMS_LIMIT = "20 per minute"
# Blueprints that carry no limit, whose requests skip the limiter's check altogether:
# Shopify's webhooks are signed and retried by Shopify, and they are the service's
# hottest path, where finding out that no limit applies was one of the largest costs
# of a request in the web process (bench/README.md, "Intake").
UNLIMITED_BLUEPRINTS = frozenset({"webhooks"})


def install(app: Flask, settings: Settings) -> None:
    """Put the limits on the app's routes (after its blueprints are registered)."""
    if settings.proxy_hops:  # else every client behind the proxy would share its address
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)
    limiter = Limiter(get_remote_address, app=app, enabled=settings.rate_limits,
                      storage_uri=_storage_uri(settings.redis_url),
                      key_prefix="backorder:limits", strategy="moving-window",
                      headers_enabled=True, swallow_errors=True,
                      in_memory_fallback_enabled=True)
    limiter.request_filter(_unlimited)
    app.extensions["backorder_limiter"] = limiter  # the decorated views hold it weakly
    for name, limit in BLUEPRINT_LIMITS.items():
        limiter.limit(limit)(app.blueprints[name])
    for endpoint, limit in VIEW_LIMITS.items():
        app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])
    app.view_functions["twilio.inbound"] = limiter.limit(
        INBOUND_SMS_LIMIT, key_func=lambda: request.form.get("From") or get_remote_address()
    )(app.view_functions["twilio.inbound"])


def _storage_uri(redis_url: str | None) -> str:
    """The `limits` library's name for the same Redis (a socket is redis+unix:// there)."""
    if not redis_url:
        return "memory://"
    return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url


def _unlimited() -> bool:
    """flask-limiter's request filter: True skips every limit lookup for the request."""
    return request.blueprint in UNLIMITED_BLUEPRINTS
