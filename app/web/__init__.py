"""The Flask app factory: one fresh app per call, wired from explicit Settings."""

from __future__ import annotations

import logging

from flask import Flask

from app.config import Settings
from app.runtime import Runtime
from app.web.deps import RowIdConverter
from app.web.sessions import BrowserSessions

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the WSGI app; reads the environment only when no settings are given."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    app = Flask(__name__)
    app.url_map.converters["id"] = RowIdConverter
    app.session_interface = BrowserSessions()
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=16 * 1024 * 1024)
    app.extensions["backorder"] = runtime or Runtime(settings)

    from app.web import (
        auth,
        errors,
        health,
        limits,
        merchant,
        preview,
        status,
        supplier,
        twilio,
        webhooks,
    )
    errors.register(app)
    for module in (webhooks, health, supplier, twilio, status, auth, merchant, preview):
        app.register_blueprint(module.bp)
    limits.install(app, settings)
    # The merchant pages run the CSRF check in their own guard (see app/web/merchant).
    _protect_forms(app, exempt=(webhooks.bp, twilio.bp, *merchant.CHECKS_OWN_CSRF))
    return app


def _protect_forms(app: Flask, *, exempt) -> None:
    """CSRF tokens on every browser form; webhooks are signed by their senders instead."""
    from flask_wtf.csrf import CSRFProtect
    # The customer and supplier pages send no Referer (their links are credentials), so
    # the HTTPS Referer check would refuse every form there; the token still protects them.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    csrf = CSRFProtect(app)
    for target in exempt:
        csrf.exempt(target)
