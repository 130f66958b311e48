"""A small, cost-aware transport for one shop's Admin GraphQL endpoint.

Shopify limits GraphQL by calculated query cost (a leaky bucket reported in
`extensions.cost`), so the client remembers the last bucket state and what
each document asked for, and waits before a call that would be throttled.
Failures are sorted once, here, into the service's taxonomy: TransientError
after the retries run out, AuthRevoked for 401/403, PermanentError for the rest.
A 401 first asks the token source for a new token (an expiring token that lapsed)
and sends the request once more: Shopify ran nothing, so even a mutation may.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from app.domain.ports import AccessTokenSource
from app.errors import AuthRevoked, PermanentError, TransientError

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds before the first retry (before jitter)
BACKOFF_CAP = 30.0
_SHOP_DOMAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*(:\d+)?")


@dataclass(frozen=True)
class _Bucket:
    available: float
    maximum: float
    restore_rate: float
    seen_at: float


class _Retry(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, message: str, *, code: str | int, wait: float | None = None,
                 applied_maybe: bool = True):
        super().__init__(message)
        self.code = code
        self.wait = wait
        # False only when Shopify surely did not run the request (throttled,
        # 429, connect timeout): then even a non-idempotent mutation may retry.
        self.applied_maybe = applied_maybe


class StaticToken:
    """A token that never changes (a custom app's): nothing to renew it with."""

    def __init__(self, token: str):
        self._token = token

    def __repr__(self) -> str:  # never shows the token
        return "StaticToken()"

    def current(self) -> str:
        return self._token

    def renew(self, rejected: str) -> str:
        raise AuthRevoked("Shopify answered 401: the access token no longer works", code=401)


class GraphQLClient:
    """Executes GraphQL documents against one shop's Admin API."""

    def __init__(self, shop_domain: str, access_token: str | AccessTokenSource, *,
                 url_template: str,
                 api_version: str, timeout: float | tuple[float, float],
                 session: requests.Session | None = None, max_retries: int = 5,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        if not _SHOP_DOMAIN.fullmatch(shop_domain):
            raise ValueError(f"not a shop domain: {shop_domain!r}")
        self.shop_domain = shop_domain
        self.url = url_template.format(shop=shop_domain, version=api_version)
        self.timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.max_retries = max_retries
        self._tokens = StaticToken(access_token) if isinstance(access_token, str) else access_token
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._bucket: _Bucket | None = None
        self._costs: dict[str, float] = {}

    def __repr__(self) -> str:  # never shows the token
        return f"GraphQLClient({self.shop_domain!r}, url={self.url!r})"

    def execute(self, document: str, variables: Mapping[str, Any] | None = None, *,
                idempotent: bool = True) -> dict:
        """Run one document and return its `data`; retry what is worth retrying.

        With idempotent=False (a delta, not a set) only failures where Shopify
        surely did not run the request are retried here; an ambiguous one
        (read timeout, 5xx) is raised at once so no retry can apply it twice.
        """
        for attempt in range(self.max_retries + 1):
            self._wait_for_budget(document)
            try:
                return self._attempt(document, dict(variables or {}))
            except _Retry as failure:
                if attempt == self.max_retries or (failure.applied_maybe and not idempotent):
                    raise TransientError(str(failure), code=failure.code,
                                         retry_after=failure.wait) from None
                wait = failure.wait if failure.wait is not None else _backoff(attempt)
                log.warning("shopify %s: %s; retry %d in %.2fs", self.shop_domain,
                            failure, attempt + 1, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    # --- one attempt -------------------------------------------------------

    def _attempt(self, document: str, variables: dict) -> dict:
        token = self._tokens.current()
        response = self._post(document, variables, token)
        if response.status_code == 401:
            response = self._post(document, variables, self._tokens.renew(token))
        _check_status(response)
        body = _json(response)
        self._observe_cost(document, body)
        _check_errors(body)
        return body.get("data") or {}

    def _post(self, document: str, variables: dict, token: str) -> requests.Response:
        headers = {"X-Shopify-Access-Token": token, "Accept": "application/json"}
        try:
            return self._session.post(self.url, json={"query": document, "variables": variables},
                                      headers=headers, timeout=self.timeout)
        except requests.ConnectTimeout as exc:
            raise _Retry(f"connect timeout: {exc}", code="timeout", applied_maybe=False) from exc
        except requests.Timeout as exc:
            raise _Retry(f"read timeout: {exc}", code="timeout") from exc
        except requests.ConnectionError as exc:
            raise _Retry(f"connection error: {exc}", code="connection") from exc

    # --- cost-aware throttling ---------------------------------------------

    def _wait_for_budget(self, document: str) -> None:
        expected = self._costs.get(document)
        bucket = self._bucket
        if expected is None or bucket is None or bucket.restore_rate <= 0:
            return
        elapsed = max(0.0, self._clock() - bucket.seen_at)
        available = min(bucket.maximum, bucket.available + elapsed * bucket.restore_rate)
        if expected - available > 1e-6:  # float dust after an exact wait is no deficit
            self._sleep((expected - available) / bucket.restore_rate)

    def _observe_cost(self, document: str, body: dict) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus")
        if cost.get("requestedQueryCost") is not None:
            self._costs[document] = float(cost["requestedQueryCost"])
        if status:
            self._bucket = _Bucket(float(status["currentlyAvailable"]),
                                   float(status["maximumAvailable"]),
                                   float(status["restoreRate"]), self._clock())


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter, so many workers do not retry in step."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)
    return random.uniform(delay / 2, delay)


def _check_status(response: requests.Response) -> None:
    status = response.status_code
    if status in (401, 403):
        raise AuthRevoked(f"Shopify answered {status}: the access token no longer works",
                          code=status)
    if status == 429:
        raise _Retry("HTTP 429 Too Many Requests", code=429, applied_maybe=False,
                     wait=_retry_after(response))
    if status >= 500:
        raise _Retry(f"HTTP {status} from Shopify", code=status)
    if status >= 400:
        raise PermanentError(f"HTTP {status} from Shopify: {_error_text(response)}",
                             code=status)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _error_text(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return response.text[:200]
    return errors if isinstance(errors, str) else _messages(errors or [])


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError as exc:
        # A 2xx that is not JSON comes from something in between, not Shopify.
        raise _Retry("response is not JSON", code="invalid_response") from exc
    if not isinstance(body, dict):
        raise _Retry("response is not a JSON object", code="invalid_response")
    return body


def _check_errors(body: dict) -> None:
    errors = body.get("errors")
    if not errors:
        return
    if isinstance(errors, str):
        raise PermanentError(errors)
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    if "THROTTLED" in codes:
        raise _Retry("throttled", code="THROTTLED", applied_maybe=False,
                     wait=_throttle_wait(body))
    raise PermanentError(_messages(errors), code=next((c for c in codes if c), None))


def _throttle_wait(body: dict) -> float | None:
    """Seconds until the bucket holds what the query asked for."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    requested, rate = cost.get("requestedQueryCost"), status.get("restoreRate")
    if requested is None or not rate:
        return None
    return max(0.0, (float(requested) - float(status.get("currentlyAvailable", 0))) / float(rate))


def _messages(errors: list) -> str:
    return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                     for e in errors)
