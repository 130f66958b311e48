"""SMS through Twilio's Messages API, with errors mapped to the service's taxonomy.

The `twilio` library makes every request; this module only points it at
`api_url` (so tests and local fakes can stand in for api.twilio.com), bounds
the time a call may take, and turns failures into TransientError or
PermanentError so workers know whether a retry can help.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.domain.ports import SmsResult
from app.errors import IntegrationError, PermanentError, TransientError

log = logging.getLogger(__name__)

TWILIO_API_URL = "https://api.twilio.com"
OPT_OUT = 21610  # the recipient replied STOP: never message them again unprompted
# Codes that describe the message or recipient, so no retry can succeed.
PERMANENT_CODES = frozenset({
    21211,  # invalid To number
    OPT_OUT,
    21614,  # To is not a mobile number
    21408,  # no permission to send to that region
    21606,  # From number cannot send SMS
    21601,  # To number is not SMS-capable
})
TOO_MANY_REQUESTS = 20429
LOOKUP_LIMIT = 20  # newest first: a retry follows its lost attempt within minutes
SKEW = timedelta(minutes=2)  # Twilio's dates are whole seconds from another clock


class _BaseUrlHttpClient(TwilioHttpClient):
    """Sends api.twilio.com requests to `api_url` and remembers the last response headers."""

    def __init__(self, api_url: str, timeout: float):
        # max_retries=0: retrying is the worker's decision, made from the error class.
        super().__init__(timeout=timeout, max_retries=0)
        self._api_url = api_url.rstrip("/")
        self._local = threading.local()  # one client may serve several threads

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API_URL):
            url = self._api_url + url[len(TWILIO_API_URL):]
        self._local.headers = {}
        response = super().request(method, url, *args, **kwargs)
        self._local.headers = response.headers or {}
        return response

    @property
    def last_headers(self):
        return getattr(self._local, "headers", {})


class TwilioSmsSender:
    """SmsSender backed by Twilio; sends from a number or through a Messaging Service."""

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None = None,
                 messaging_service_sid: str | None = None, api_url: str = TWILIO_API_URL,
                 timeout: float = 10):
        if not (from_number or messaging_service_sid):
            raise ValueError("from_number or messaging_service_sid is required")
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self._http = _BaseUrlHttpClient(api_url, timeout)
        # environment={}: app.config is the only reader of the environment
        # (Client would otherwise pick up TWILIO_REGION / TWILIO_EDGE and change hosts).
        self._client = Client(account_sid, auth_token, http_client=self._http, environment={})
        # Touch the lazily imported API now (a slow first import) rather than between a
        # rate-limit grant and the send it is for.
        self._client.messages  # noqa: B018

    def send_sms(self, *, to: str, body: str, status_callback: str | None = None) -> SmsResult:
        """Queue one SMS at Twilio; raise TransientError or PermanentError on failure."""
        try:
            options = self._options(status_callback)
            message = self._client.messages.create(to=to, body=body, **options)
        except (TwilioException, requests.RequestException) as exc:
            error = map_error(exc, retry_after=_retry_after(self._http.last_headers))
            log.warning("twilio send failed: %s", error, extra={"code": error.code})
            raise error from exc
        return SmsResult(sid=message.sid, status=str(message.status))

    def find_sent(self, *, to: str, body: str, since: datetime) -> SmsResult | None:
        """Look for a message an earlier attempt may have queued (its answer was lost)."""
        try:
            recent = self._client.messages.list(to=to, limit=LOOKUP_LIMIT)
        except (TwilioException, requests.RequestException) as exc:
            raise map_error(exc, retry_after=_retry_after(self._http.last_headers)) from exc
        for message in recent:
            # Twilio may add to the text (opt-out footers, trial prefixes), never remove.
            if body in (message.body or "") and (message.date_created is None
                                                 or message.date_created >= since - SKEW):
                return SmsResult(sid=message.sid, status=str(message.status))
        return None

    def _options(self, status_callback: str | None) -> dict[str, str]:
        # A Messaging Service picks the sender itself, so From is only sent without one.
        options = ({"messaging_service_sid": self._messaging_service_sid}
                   if self._messaging_service_sid else {"from_": self._from_number})
        if status_callback:
            options["status_callback"] = status_callback
        return options


def map_error(exc: Exception, *, retry_after: float | None = None) -> IntegrationError:
    """Classify a Twilio or transport failure as transient or permanent."""
    if isinstance(exc, requests.RequestException):
        return TransientError(f"twilio unreachable: {type(exc).__name__}", retry_after=retry_after)
    status = getattr(exc, "status", None) or _page_status(exc)
    code = getattr(exc, "code", None) or status
    message = f"twilio error {code} (HTTP {status}): {_describe(exc)}"
    if code in PERMANENT_CODES:
        return PermanentError(message, code=code)
    if status == 429 or code == TOO_MANY_REQUESTS or (status or 0) >= 500:
        return TransientError(message, code=code, retry_after=retry_after)
    # Any other 4xx, and client-side TwilioExceptions without a status, are our fault.
    return PermanentError(message, code=code)


def _page_status(exc: Exception) -> int | None:
    # Listing raises a bare TwilioException("Unable to fetch page", response).
    response = exc.args[1] if len(getattr(exc, "args", ())) > 1 else None
    return getattr(response, "status_code", None)


def is_opt_out(error: BaseException) -> bool:
    """True when the recipient has opted out (replied STOP) of messages from us."""
    return getattr(error, "code", None) == OPT_OUT


def _describe(exc: Exception) -> str:
    # str(TwilioRestException) adds terminal colours when stderr is a tty; use the fields.
    return str(getattr(exc, "msg", None) or getattr(exc, "detail", None)
               or getattr(exc, "title", None) or exc)


def _retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if present."""
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
