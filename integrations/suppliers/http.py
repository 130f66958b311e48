"""Purchase orders by HTTP: a JSON POST to the supplier's endpoint, HMAC-signed.

The body is signed with the supplier's endpoint secret (HMAC-SHA256, hex, in
`X-Backorder-Signature: sha256=...`) so the supplier can check it came from
us, and carries `Idempotency-Key: <PO number>` so a retry after an ambiguous
failure (a timeout) is recognisable as the same order. Timeouts, connection
errors, 408, 429 and 5xx are TransientError; other answers that are not 2xx
are PermanentError. Redirects are not followed: a signed POST is not replayed
to an address nobody configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket

import requests

from app.domain.ports import PurchaseOrderDoc
from app.domain.suppliers.endpoints import check_endpoint_url
from app.errors import InvalidInput, PermanentError, TransientError

SIGNATURE_HEADER = "X-Backorder-Signature"
RETRYABLE = {408, 425, 429}


class HttpSupplierChannel:
    """SupplierChannel that POSTs the PO as JSON to the supplier's endpoint."""

    def __init__(self, *, secret: str | None, timeout: float | tuple[float, float] = (5, 20),
                 session: requests.Session | None = None, allow_loopback: bool = False):
        self._secret = secret
        self._allow_loopback = allow_loopback
        self._timeout = timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # never shows the secret
        return "HttpSupplierChannel()"

    def send_purchase_order(self, po: PurchaseOrderDoc) -> None:
        """POST the PO; raise TransientError or PermanentError when it was not accepted."""
        if not po.supplier_endpoint:
            raise PermanentError(f"supplier {po.supplier_name!r} has no endpoint URL")
        if not self._secret:
            raise PermanentError(f"supplier {po.supplier_name!r} has no endpoint secret")
        try:  # again at send time: a host name may point elsewhere since it was set
            check_endpoint_url(po.supplier_endpoint, allow_loopback=self._allow_loopback,
                               resolve=addresses_of)
        except InvalidInput as exc:
            raise PermanentError(f"supplier {po.supplier_name!r}: {exc.message}") from exc
        body = encode(po)
        headers = {"Content-Type": "application/json", "Idempotency-Key": po.number,
                   SIGNATURE_HEADER: sign(body, self._secret)}
        response = self._post(po.supplier_endpoint, body, headers)
        _check(response)

    def _post(self, url: str, body: bytes, headers: dict) -> requests.Response:
        try:
            return self._session.post(url, data=body, headers=headers, timeout=self._timeout,
                                      allow_redirects=False)
        except requests.Timeout as exc:
            raise TransientError(f"supplier endpoint timed out: {exc}", code="timeout") from exc
        except requests.ConnectionError as exc:
            raise TransientError(f"supplier endpoint unreachable: {exc}",
                                 code="connection") from exc
        except requests.RequestException as exc:  # e.g. an invalid URL: retrying cannot help
            raise PermanentError(f"supplier endpoint refused the request: {exc}") from exc


def encode(po: PurchaseOrderDoc) -> bytes:
    """The JSON body: stable key order, so the same PO always has the same signature."""
    payload = {
        "type": "purchase_order", "number": po.number, "shop": po.shop_name,
        "supplier": po.supplier_name, "currency": po.currency, "link": po.link,
        "lines": [{"sku": line.sku, "supplier_sku": line.supplier_sku,
                   "quantity": line.quantity, "unit_cost": line.unit_cost,
                   "expected_on": line.expected_on.isoformat() if line.expected_on else None}
                  for line in po.lines]}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The signature header value a supplier recomputes over the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _check(response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    text = response.text[:200]
    if status in RETRYABLE or status >= 500:
        raise TransientError(f"supplier endpoint answered {status}: {text}", code=status,
                             retry_after=_retry_after(response))
    raise PermanentError(f"supplier endpoint answered {status}: {text}", code=status)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def addresses_of(host: str) -> list[str]:
    """The addresses `host` resolves to; none when it does not resolve (the POST fails)."""
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, None)]
    except (socket.gaierror, UnicodeError):
        return []
