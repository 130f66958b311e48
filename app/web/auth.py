"""Install and login: Shopify OAuth, one-time login links, logout.

OAuth (CONTRACT.md: GET /auth/install?shop=..., GET /auth/callback):
install keeps a random `state` in the signed session cookie and sends the
merchant to Shopify; the callback accepts only a sanitised *.myshopify.com
domain, Shopify's HMAC and a fresh timestamp (ShopifyAPI's checks), and the
state it handed out, used once. The code is traded for an expiring offline
token, stored encrypted with its refresh token (merchant.install, shared with
token exchange), the shop's webhooks are subscribed, its catalog sync is queued,
and a fresh cookie session starts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from urllib.parse import urlparse

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError

from app.domain.shops.service import normalise_domain
from app.errors import DomainError, Forbidden, IntegrationError, Unauthorized
from app.web.deps import rt, settings
from app.web.merchant import identity, oauth, safe_next, security_headers
from app.web.merchant.install import install as install_shop
from integrations.shopify.tokens import shopify_origin

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")
# How long an install may take between our redirect and Shopify's callback.
STATE_MAX_AGE = 15 * 60


@bp.record_once
def _cookie_rules(state) -> None:
    """The session cookie: HttpOnly, SameSite=Lax (Shopify's redirect back is a top-level
    GET, which Lax lets through), Secure whenever the service is served over HTTPS."""
    public_url = state.app.extensions["backorder"].settings.public_url
    state.app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                            SESSION_COOKIE_SECURE=public_url.startswith("https://"),
                            PERMANENT_SESSION_LIFETIME=12 * 3600)


@bp.get("/login")
def login():
    """Ask for the shop domain (OAuth), or explain login links for custom-app shops."""
    return render_template("merchant/login.html", next=request.args.get("next", ""),
                           shop_value=request.args.get("shop", ""))


@bp.get("/install")
def install():
    """Send the merchant to Shopify to approve the app's scopes."""
    oauth.require_credentials(settings())
    domain = normalise_domain(request.args.get("shop", ""))
    if "hmac" in request.args and not oauth.valid_callback(settings(), request.args.to_dict()):
        raise Forbidden("The request from Shopify could not be verified.")
    state = secrets.token_urlsafe(24)
    _redis_or_unavailable(lambda redis: redis.set(_state_key(state), domain, ex=STATE_MAX_AGE))
    session["oauth"] = {"state": state, "shop": domain, "next": request.args.get("next", "")}
    return redirect(oauth.permission_url(settings(), domain, state))


def _state_key(state: str) -> str:
    return f"backorder:oauth-state:{hashlib.sha256(state.encode()).hexdigest()}"


def _use_state(state: str, domain: str) -> bool:
    """Whether this server issued `state` for `domain` and nobody used it yet; a replayed
    cookie carries a state the first callback used up."""
    stored, deleted = _redis_or_unavailable(
        lambda redis: redis.pipeline().get(_state_key(state)).delete(_state_key(state)).execute())
    return deleted == 1 and stored is not None and hmac.compare_digest(
        stored.decode() if isinstance(stored, bytes) else str(stored), domain)


def _redis_or_unavailable(call):
    try:
        return call(rt().redis)
    except RedisError as exc:
        raise Unauthorized("Sign-in cannot be checked right now; try again shortly.") from exc


@bp.get("/callback")
def callback():
    """Shopify's redirect back: verify everything, store the token, subscribe, log in."""
    oauth.require_credentials(settings())
    params = request.args.to_dict()
    domain = normalise_domain(params.get("shop", ""))
    expected = session.pop("oauth", None) or {}  # one use, whatever happens next
    if not oauth.valid_callback(settings(), params):
        raise Forbidden("The request from Shopify could not be verified.")
    if not (hmac.compare_digest(str(expected.get("state", "")), params.get("state", "-"))
            and expected.get("shop") == domain and _use_state(params["state"], domain)):
        raise Forbidden("This sign-in did not start here or has expired; start the install again.")
    grant = rt().shopify_tokens().exchange_code(domain, params.get("code", ""))
    shop = install_shop(rt(), domain, grant)
    identity.login(shop)
    log.info("shop %s installed the app (scopes %s)", domain, grant.scopes)
    return redirect(safe_next(expected.get("next")))


@bp.get("/link/<token>")
def link(token: str):
    """A login link shows a button first, so a link preview cannot use it up."""
    identity.check_login_link(settings(), token)
    return render_template("merchant/login_link.html", token=token)


@bp.post("/link/<token>")
def redeem(token: str):
    identity.login(identity.redeem_login_link(rt(), token))
    return redirect(url_for("merchant.dashboard.index"), code=303)


@bp.post("/logout")
def logout():
    identity.logout(rt())
    return redirect(url_for("auth.login"), code=303)


def _shopify_form_target() -> str:
    """The origin the install redirect goes to, for the login page's CSP form-action."""
    url = urlparse(shopify_origin(settings(), "{shop}"))
    return f"{url.scheme}://{url.netloc.replace('{shop}', '*.myshopify.com')}"


@bp.after_request
def headers(response):
    return security_headers(response, form_targets=(_shopify_form_target(),))


def _login_page(message: str, status: int):
    return render_template("merchant/login.html", error=message, next="",
                           shop_value=request.args.get("shop", "")), status


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    return _login_page(exc.message, exc.status_code)


@bp.errorhandler(IntegrationError)
def shopify_error(exc: IntegrationError):
    log.warning("install failed talking to Shopify: %s", exc)
    return _login_page("Shopify did not complete the installation. Please try again.", 502)


@bp.errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    return _login_page("This page was open too long. Please try again.", 400)
