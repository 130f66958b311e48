"""The Flask app factory: one fresh app per call, wired from explicit Settings."""

from __future__ import annotations

import logging

from flask import Flask

from app.config import Settings
from app.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the WSGI app; reads the environment only when no settings are given."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=16 * 1024 * 1024)
    app.extensions["backorder"] = runtime or Runtime(settings)

    from app.web import errors, health, webhooks
    errors.register(app)
    for module in (webhooks, health):
        app.register_blueprint(module.bp)
    if settings.bench_routes:
        app.add_url_rule("/bench/bare", "bench_bare", _bare, methods=["POST"])
    return app


def _bare():
    """The benchmark's baseline: same app and server, reads the body, does nothing else."""
    from flask import request
    request.get_data(cache=False)
    return "", 200
