"""A local fake of Shopify's OAuth endpoints, served on 127.0.0.1 (a tiny WSGI app).

`/{shop}/admin/oauth/authorize` plays the merchant who approves at once: it
redirects to the app's redirect_uri with a code, the shop, the state, a
timestamp and Shopify's HMAC. `/{shop}/admin/oauth/access_token` trades a code
it issued (once) for a token. The HMAC is computed here from Shopify's
documentation, independently of ShopifyAPI, so the app's check is really tested.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import threading
import time
from urllib.parse import urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support.processes import free_port

GRANTED_SCOPES = ("read_products,write_products,read_inventory,write_inventory,write_orders,"
                  "write_order_edits,write_discounts,write_merchant_managed_fulfillment_orders,"
                  "write_third_party_fulfillment_orders")


def sign_params(params: dict[str, str], secret: str) -> str:
    """Shopify's OAuth HMAC: hex SHA-256 over the sorted `key=value` pairs joined by `&`."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class FakeShopify:
    """OAuth for one app (client id and secret); every grant is recorded."""

    def __init__(self, *, api_key: str, secret: str):
        self.api_key, self.secret = api_key, secret
        self.codes: dict[str, str] = {}  # code -> shop, until exchanged
        self.granted: list[tuple[str, str]] = []  # (shop, token)
        self.exchange_requests: list[dict] = []
        self.refuse_exchange = False
        self._tokens = itertools.count(1)

    def callback_params(self, shop: str, state: str, *, timestamp: int | None = None) -> dict:
        """What Shopify appends to the redirect_uri once the merchant approved."""
        code = secrets.token_hex(8)
        self.codes[code] = shop
        params = {"code": code, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdGVzdA", "shop": shop,
                  "state": state, "timestamp": str(timestamp or int(time.time()))}
        return {**params, "hmac": sign_params(params, self.secret)}

    def __call__(self, environ, start_response):
        request = Request(environ)
        shop, _, rest = request.path.lstrip("/").partition("/")
        if rest == "admin/oauth/authorize" and request.method == "GET":
            response = self._authorize(shop, request)
        elif rest == "admin/oauth/access_token" and request.method == "POST":
            response = self._exchange(shop, request)
        else:
            response = Response("not found", 404)
        return response(environ, start_response)

    def _authorize(self, shop: str, request: Request) -> Response:
        if request.args.get("client_id") != self.api_key:
            return Response("unknown app", 400)
        params = self.callback_params(shop, request.args.get("state", ""))
        target = f"{request.args['redirect_uri']}?{urlencode(params)}"
        return Response("", 302, {"Location": target})

    def _exchange(self, shop: str, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        self.exchange_requests.append(body)
        valid = (body.get("client_id") == self.api_key and body.get("client_secret") == self.secret
                 and self.codes.pop(body.get("code"), None) == shop)
        if self.refuse_exchange or not valid:
            return Response('{"error":"invalid_request"}', 400, mimetype="application/json")
        token = f"shpat_fake_{next(self._tokens):04d}"
        self.granted.append((shop, token))
        return Response(f'{{"access_token":"{token}","scope":"{GRANTED_SCOPES}"}}',
                        mimetype="application/json")


class ServedApp:
    """A WSGI app served by werkzeug in a thread on 127.0.0.1 (a free port, or the given one)."""

    def __init__(self, app, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(5)
