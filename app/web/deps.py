"""What handlers need from the app, looked up in one place."""

from __future__ import annotations

from flask import current_app
from werkzeug.routing import BaseConverter, ValidationError

from app.config import Settings
from app.domain.base import whole_number
from app.runtime import Runtime


def rt() -> Runtime:
    return current_app.extensions["backorder"]


def settings() -> Settings:
    return rt().settings


def row_id(raw: str | None) -> int | None:
    """A database id from a form or query value; None unless it is one (fits a BIGINT)."""
    return whole_number(raw)


class RowIdConverter(BaseConverter):
    """`<id:name>` in a route: a database id, else the route does not match (404)."""

    regex = r"\d+"

    def to_python(self, value: str) -> int:
        number = row_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))
