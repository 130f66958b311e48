"""Check X-Twilio-Signature on Twilio's webhooks (status callbacks, inbound SMS).

The algorithm is twilio's own RequestValidator, so the port quirks (Twilio may
sign with or without :443/:80) and JSON bodies (bodySHA256 in the URL) behave
exactly as the library's maintainers decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlparse

from twilio.request_validator import RequestValidator


def verify_twilio_signature(auth_token: str, url: str, params: Mapping | str | bytes | None,
                            signature: str | None) -> bool:
    """True when `signature` is Twilio's signature of this request.

    `url` is the full URL Twilio requested (scheme, host, query string).
    `params` is the form (a dict, or a MultiDict such as Flask's request.form
    when a field repeats), or the raw body for JSON webhooks whose URL carries
    bodySHA256.
    """
    if not (auth_token and signature):
        return False
    if isinstance(params, str | bytes):
        body = _text(params)
        # Without bodySHA256 the body is not covered by the signature at all.
        if body is None or "bodySHA256" not in parse_qs(urlparse(url).query):
            return False
        params = body
    return RequestValidator(auth_token).validate(url, params or {}, signature)


def _text(body: str | bytes) -> str | None:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
