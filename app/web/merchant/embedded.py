"""Inside Shopify admin: what App Bridge pages need that the cookie session gives standalone.

The admin's iframe is a third-party context, where browsers withhold this service's
session cookie, so a message flashed before a redirect would be lost on the way. An
embedded redirect carries its messages in the URL instead, signed so that nobody can
make the app show words it did not write; App Bridge shows them as toasts.
"""

from __future__ import annotations

from flask import get_flashed_messages, request

from app.errors import NotFound
from app.security import LinkSigner
from app.web import deps

PURPOSE = "embedded-notices"
MAX_AGE = 120  # seconds: a redirect is followed at once


def _signer() -> LinkSigner:
    return LinkSigner(deps.settings().secret_key, PURPOSE)


def carry_notices() -> str | None:
    """This request's flashed messages, signed for the redirect's URL; None when none."""
    notices = get_flashed_messages(with_categories=True)
    return _signer().sign([[category, message] for category, message in notices]) \
        if notices else None


def notices(*, embedded: bool) -> list[tuple[str, str]]:
    """(category, message) to show: flashed ones standalone, carried ones embedded."""
    if not embedded:
        return get_flashed_messages(with_categories=True)
    carried = request.args.get("notices")
    try:
        payload = _signer().load(carried, max_age_seconds=MAX_AGE) if carried else []
    except NotFound:
        return []
    return [(str(category), str(message)) for category, message in payload]
