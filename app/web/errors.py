"""Exceptions become HTTP answers here, once, for the whole app."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from app.errors import DomainError

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith(("/webhooks/", "/readyz", "/healthz")) or (
        request.accept_mimetypes.best == "application/json")


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        if request.path.startswith("/webhooks/"):
            return f"{exc.message}\n", exc.status_code, {"Content-Type": "text/plain"}
        body = {"error": exc.message, "fields": exc.field_errors}
        return jsonify(body), exc.status_code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _wants_json():
            return f"{exc.name}\n", exc.code, {"Content-Type": "text/plain"}
        return exc

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return "Internal error\n", 500, {"Content-Type": "text/plain"}
