"""What handlers need from the app, looked up in one place."""

from __future__ import annotations

from flask import current_app

from app.config import Settings
from app.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["backorder"]


def settings() -> Settings:
    return rt().settings
