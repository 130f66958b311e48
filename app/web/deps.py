"""What handlers need from the app, looked up in one place."""

from __future__ import annotations

from flask import current_app

from app.config import Settings
from app.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["backorder"]


def settings() -> Settings:
    return rt().settings


def row_id(raw: str | None) -> int | None:
    """A database id from a form or query value; None unless it is one (fits a BIGINT)."""
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 < value < 2**63 else None
