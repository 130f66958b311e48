"""Local HTTP and SMTP fakes of Shopify's Admin GraphQL API, Twilio and a mail relay.

Real processes (gunicorn, `backorder worker`, the CLI) talk to these over loopback
exactly as they talk to the vendors: point SHOPIFY_ADMIN_API_URL, TWILIO_API_URL and
SMTP_HOST/SMTP_PORT at them (see each class's `env()`). Each fake keeps the state
the service changes (variant policies and metafields, messages sent) and can be told
to fail for a while, the ways the vendors do:

- FakeShopify: GraphQL THROTTLED (HTTP 200 with a cost report), 429 with Retry-After,
  500, and slow answers longer than the client's timeout;
- FakeTwilio: 429 (error 20429), 500, and slow answers, either before the message is
  accepted or after (Twilio queued it; only the answer was lost);
- FakeSmtp: 451 at RCPT (greylisting, a full queue) for a while.

Failures are planned with `FaultPlan`: a number of next requests, or every request
for some seconds, cycling through the given kinds.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import itertools
import json
import re
import secrets
import threading
import time
import traceback
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from integrations.shopify import documents as docs
from integrations.shopify.fake_fulfilment import FakeFulfilment
from tests.support.processes import free_port
from tests.support.shopify_tokens import TokenAuthority

# --- failure plans -------------------------------------------------------------------


class FaultPlan:
    """Which failure, if any, the next request gets. Thread-safe; every decision is logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[str] = []
        self._windows: list[tuple[float, itertools.cycle, int, itertools.count]] = []
        self.injected: list[tuple[float, str]] = []  # (monotonic time, kind)

    def next(self, *kinds: str, times: int = 1) -> None:
        """Fail the next `times` requests, cycling through `kinds`."""
        with self._lock:
            self._queued += list(itertools.islice(itertools.cycle(kinds), times))

    def window(self, *kinds: str, seconds: float, every: int = 1) -> None:
        """For `seconds` from now, fail every `every`-th request, cycling through `kinds`."""
        with self._lock:
            self._windows.append((time.monotonic() + seconds, itertools.cycle(kinds), every,
                                  itertools.count()))

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self._windows.clear()

    @property
    def active(self) -> bool:
        with self._lock:
            now = time.monotonic()
            return bool(self._queued) or any(end > now for end, *_ in self._windows)

    def take(self) -> str | None:
        """The failure for this request (None: answer normally)."""
        with self._lock:
            now = time.monotonic()
            kind = None
            if self._queued:
                kind = self._queued.pop(0)
            else:
                self._windows = [w for w in self._windows if w[0] > now]
                for _, kinds, every, counter in self._windows:
                    if next(counter) % every == 0:
                        kind = next(kinds)
                        break
            if kind is not None:
                self.injected.append((now, kind))
            return kind

    def counts(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for _, kind in self.injected:
                out[kind] = out.get(kind, 0) + 1
            return out


# --- a small threaded HTTP server -----------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that timed out and left
        pass


class _HttpFake:
    """Base: a ThreadingHTTPServer on a free loopback port; subclasses implement `handle`
    (POST) and, where the vendor has reads, `handle_get`."""

    hang_seconds = 12.0  # longer than the service's HTTP timeout (Settings.http_timeout, 10 s)

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.faults = FaultPlan()
        self.errors: list[str] = []  # tracebacks of the fake's own failures (should stay empty)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self._serve(lambda: fake.handle(self.path, self.headers, body))

            def do_GET(self):  # noqa: N802
                self._serve(lambda: fake.handle_get(self.path, self.headers))

            def _serve(self, answer) -> None:
                try:
                    status, headers, payload = answer()
                except Exception:  # a bug in the fake itself: answer, and keep it for the test
                    fake.errors.append(traceback.format_exc())
                    status, headers, payload = 599, {}, b"fake server error"
                self._answer(status, headers, payload)

            def _answer(self, status, headers, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting (an injected slow answer)

            def log_message(self, *args):
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"{type(self).__name__}:{self.port}")

    def handle_get(self, path, headers):
        return 404, {}, b""

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def handle(self, path: str, headers, body: bytes) -> tuple[int, dict, bytes]:
        raise NotImplementedError

    def _hang(self) -> None:
        time.sleep(self.hang_seconds)


def _json(status: int, payload, **headers) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


# --- Shopify Admin GraphQL --------------------------------------------------------------

_OPERATION = re.compile(r"^\s*(query|mutation)\s+(\w+)", re.MULTILINE)
_KNOWN_DOCUMENTS = {_OPERATION.search(d).group(2): d for d in docs.ALL_DOCUMENTS}
BUCKET_MAX, RESTORE_RATE, QUERY_COST = 2000.0, 100.0, 10


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def _number(global_id: str) -> int:
    return int(str(global_id).rsplit("/", 1)[-1])


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class ShopifyVariant:
    variant_id: int
    product_id: int
    inventory_item_id: int
    sku: str | None = None
    title: str = "Default Title"
    product_title: str = "Product"
    tracked: bool = True
    policy: str = "DENY"
    levels: dict[int, tuple[int, datetime | None]] = field(default_factory=dict)


@dataclass
class ShopifyOrderLine:
    line_id: int
    variant_id: int | None
    quantity: int
    unfulfilled: int
    title: str = ""


@dataclass
class ShopifyOrder:
    order_id: int
    name: str
    created_at: datetime
    updated_at: datetime
    email: str | None = None
    phone: str | None = None
    cancelled_at: datetime | None = None
    lines: list[ShopifyOrderLine] = field(default_factory=list)


@dataclass
class ShopState:
    """One shop as the fake Admin API sees it."""

    domain: str
    token: str
    variants: dict[int, ShopifyVariant] = field(default_factory=dict)
    orders: dict[int, ShopifyOrder] = field(default_factory=dict)
    metafields: dict[tuple[int, str], str] = field(default_factory=dict)  # (variant, key) -> value
    webhooks: dict[str, str] = field(default_factory=dict)  # topic enum -> callback
    adjustments: list[tuple[int, int, int, str | None]] = field(default_factory=list)
    # (variant id, policy) in the order they were written, one entry per variant per call
    policy_writes: list[tuple[int, str]] = field(default_factory=list)
    fulfilment: FakeFulfilment = field(default_factory=FakeFulfilment)  # holds, order tags
    metafield_definitions: dict[tuple[str, str], dict] = field(default_factory=dict)

    def policies(self) -> dict[int, str]:
        return {v.variant_id: v.policy for v in self.variants.values()}


@dataclass(frozen=True)
class GraphQLCall:
    at: float
    shop: str
    operation: str
    variables: dict
    outcome: str  # "ok", or the injected failure


class FakeShopify(_HttpFake):
    """The Admin GraphQL endpoint at /{shop}/admin/api/{version}/graphql.json (or
    /{shop}/graphql.json), answering documents.py's documents, and the token endpoint at
    /{shop}/admin/oauth/access_token (`tokens`, a TokenAuthority).

    Only the exact documents in `integrations.shopify.documents` are accepted (anything
    else is a 400), with the shop's access token. State changes (policies, metafields,
    subscriptions, adjustments) are applied as Shopify would, per variant. Failure kinds:
    "throttled", "429", "500", "timeout" (the change is applied, then the answer comes
    later than the client waits), "timeout-unapplied" (nothing is applied).
    """

    def __init__(self, *, api_key: str = "fake-api-key", secret: str = "fake-api-secret") -> None:
        super().__init__()
        self._lock = threading.RLock()
        self.shops: dict[str, ShopState] = {}
        self.calls: list[GraphQLCall] = []
        self.tokens = TokenAuthority(api_key, secret)
        self.rejected: list[str] = []  # shops whose request was refused 401, in order

    def env(self) -> dict[str, str]:
        return {"SHOPIFY_ADMIN_API_URL": self.url + "/{shop}/admin/api/{version}/graphql.json"}

    def add_shop(self, domain: str, token: str) -> ShopState:
        """A shop whose app uses a fixed token (a custom app's)."""
        with self._lock:
            return self.shops.setdefault(domain, ShopState(domain, token))

    def install_expiring(self, domain: str) -> dict:
        """A shop that installed the public app: only expiring tokens work; returns the
        grant the install received."""
        self.add_shop(domain, "")
        return self.tokens.issue(domain)

    def shop(self, domain: str) -> ShopState:
        return self.shops[domain]

    def calls_of(self, operation: str, *, outcome: str | None = "ok") -> list[GraphQLCall]:
        with self._lock:
            return [c for c in self.calls if c.operation == operation
                    and (outcome is None or c.outcome == outcome)]

    # --- HTTP ------------------------------------------------------------------

    def handle(self, path, headers, body):
        path = path.split("?", 1)[0]
        if oauth := re.fullmatch(r"/([^/]+)/admin/oauth/access_token", path):
            return _json(*self.tokens.answer(oauth.group(1), _form_or_json(body)))
        match = re.fullmatch(r"/([^/]+)(?:/admin/api/[^/]+)?/graphql\.json", path)
        shop = self.shops.get(match.group(1)) if match else None
        if shop is None:
            return _json(404, {"errors": "Not Found"})
        token = headers.get("X-Shopify-Access-Token")
        if not token or not (token == shop.token or self.tokens.accepts(shop.domain, token)):
            self.rejected.append(shop.domain)
            return _json(401, {"errors": "[API] Invalid API key or access token"})
        try:
            request = json.loads(body)
            document, variables = request["query"], request.get("variables") or {}
            operation = _OPERATION.search(document).group(2)
        except (ValueError, KeyError, TypeError, AttributeError):
            return _json(400, {"errors": "could not parse the GraphQL request"})
        if _KNOWN_DOCUMENTS.get(operation) != document:
            return _json(400, {"errors": f"unknown document {operation!r}"})
        fault = self.faults.take()
        self._record(shop.domain, operation, variables, fault or "ok")
        if fault == "throttled":
            return _json(200, {"errors": [{"message": "Throttled",
                                           "extensions": {"code": "THROTTLED"}}],
                               "extensions": self._cost(available=1.0)})
        if fault == "429":
            return _json(429, {"errors": "Exceeded 2 calls per second for api client."},
                         **{"Retry-After": "1.0"})
        if fault == "500":
            return _json(500, {"errors": "Internal Server Error"})
        if fault == "timeout-unapplied":
            self._hang()
            return _json(503, {"errors": "too late"})
        with self._lock:
            data = getattr(self, "_op_" + operation)(shop, variables)
        if fault == "timeout":
            self._hang()
        return _json(200, {"data": data, "extensions": self._cost()})

    def _record(self, shop: str, operation: str, variables: dict, outcome: str) -> None:
        with self._lock:
            self.calls.append(GraphQLCall(time.monotonic(), shop, operation, variables, outcome))

    @staticmethod
    def _cost(available: float = BUCKET_MAX - QUERY_COST) -> dict:
        return {"cost": {"requestedQueryCost": QUERY_COST, "actualQueryCost": QUERY_COST,
                         "throttleStatus": {"maximumAvailable": BUCKET_MAX,
                                            "currentlyAvailable": available,
                                            "restoreRate": RESTORE_RATE}}}

    # --- mutations ---------------------------------------------------------------

    def _op_BackorderSetInventoryPolicies(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        product_id = _number(v["productId"])
        changes, errors = [], []
        for i, item in enumerate(v["variants"]):
            variant = shop.variants.get(_number(item["id"]))
            if variant is None or variant.product_id != product_id:
                errors.append({"field": ["variants", str(i), "id"],
                               "message": "Product variant does not exist"})
            elif item.get("inventoryPolicy") not in ("DENY", "CONTINUE"):
                errors.append({"field": ["variants", str(i), "inventoryPolicy"],
                               "message": "Inventory policy is invalid"})
            else:
                changes.append((variant, item["inventoryPolicy"]))
        if errors:  # Shopify applies nothing of a bulk update with user errors
            return {"productVariantsBulkUpdate": {"productVariants": None, "userErrors": errors}}
        for variant, policy in changes:
            variant.policy = policy
            shop.policy_writes.append((variant.variant_id, policy))
        return {"productVariantsBulkUpdate": {
            "productVariants": [{"id": gid("ProductVariant", variant.variant_id),
                                 "inventoryPolicy": variant.policy} for variant, _ in changes],
            "userErrors": []}}

    def _op_BackorderSetMetafields(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        written = []
        for item in v["metafields"]:
            variant_id = _number(item["ownerId"])
            if variant_id not in shop.variants:
                return {"metafieldsSet": {"metafields": None, "userErrors": [
                    {"field": ["metafields", "ownerId"], "message": "Owner does not exist",
                     "code": "INVALID"}]}}
            written.append((variant_id, item["namespace"], item["key"], item["value"]))
        for variant_id, namespace, key, value in written:
            shop.metafields[(variant_id, f"{namespace}.{key}")] = value
        return {"metafieldsSet": {"metafields": [
            {"id": gid("Metafield", abs(hash((o, ns, k))) % 10**9), "key": k, "namespace": ns}
            for o, ns, k, _ in written], "userErrors": []}}

    def _op_BackorderDeleteMetafields(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        deleted = []
        for item in v["metafields"]:
            key = (_number(item["ownerId"]), f"{item['namespace']}.{item['key']}")
            if shop.metafields.pop(key, None) is not None:
                deleted.append({"key": item["key"], "namespace": item["namespace"],
                                "ownerId": item["ownerId"]})
        return {"metafieldsDelete": {"deletedMetafields": deleted, "userErrors": []}}

    def _op_BackorderSubscribeWebhook(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        topic, callback = v["topic"], v["callbackUrl"]
        if shop.webhooks.get(topic) == callback:
            return {"webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": [
                {"field": ["webhookSubscription", "callbackUrl"],
                 "message": "Address for this topic has already been taken"}]}}
        shop.webhooks[topic] = callback
        return {"webhookSubscriptionCreate": {
            "webhookSubscription": {"id": gid("WebhookSubscription", len(shop.webhooks)),
                                    "topic": topic}, "userErrors": []}}

    def _op_BackorderAdjustInventory(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        for change in v["changes"]:
            item, location = _number(change["inventoryItemId"]), _number(change["locationId"])
            variant = next((x for x in shop.variants.values() if x.inventory_item_id == item), None)
            if variant is None or location not in variant.levels:
                return {"inventoryAdjustQuantities": {"inventoryAdjustmentGroup": None,
                                                      "userErrors": [{
                    "field": ["input", "changes"], "code": "ITEM_NOT_STOCKED_AT_LOCATION",
                    "message": "The item is not stocked at the location"}]}}
            available, _ = variant.levels[location]
            variant.levels[location] = (available + change["delta"], datetime.now(UTC))
            shop.adjustments.append((item, location, change["delta"], v.get("reference")))
        return {"inventoryAdjustQuantities": {
            "inventoryAdjustmentGroup": {"id": gid("InventoryAdjustmentGroup",
                                                   len(shop.adjustments))}, "userErrors": []}}

    def _op_BackorderHoldFulfillmentOrder(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        spec = v["hold"]
        lines = [(_number(x["id"]), x["quantity"])
                 for x in spec.get("fulfillmentOrderLineItems") or []]
        fo_id = _number(v["id"])
        before = set(shop.fulfilment.fulfillment_orders)
        hold, errors = shop.fulfilment.hold(fo_id, handle=spec.get("handle") or "",
                                            reason=spec["reason"], lines=lines or None)
        rest = sorted(set(shop.fulfilment.fulfillment_orders) - before)
        return {"fulfillmentOrderHold": {
            "fulfillmentHold": hold and {"id": gid("FulfillmentHold", hold.hold_id),
                                         "handle": hold.handle},
            "remainingFulfillmentOrder": {"id": gid("FulfillmentOrder", rest[0])} if rest else None,
            "userErrors": errors}}

    def _op_BackorderReleaseFulfillmentHold(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        fo_id = _number(v["id"])
        errors = shop.fulfilment.release(fo_id, [_number(h) for h in v["holdIds"]])
        fo = shop.fulfilment.fulfillment_orders.get(fo_id)
        return {"fulfillmentOrderReleaseHold": {
            "fulfillmentOrder": None if errors or fo is None else {
                "id": v["id"], "status": fo.status}, "userErrors": errors}}

    def _op_BackorderTagsAdd(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        return self._tags(shop, v, "tagsAdd", add=True)

    def _op_BackorderTagsRemove(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        return self._tags(shop, v, "tagsRemove", add=False)

    @staticmethod
    def _tags(shop: ShopState, v: dict, root: str, *, add: bool) -> dict:
        errors = shop.fulfilment.change_tags(_number(v["id"]), v["tags"], add=add)
        return {root: {"node": None if errors else {"id": v["id"]},
                       "userErrors": [{"field": e["field"], "message": e["message"]}
                                      for e in errors]}}

    def _op_BackorderCreateMetafieldDefinition(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        definition = v["definition"]
        key = (definition["namespace"], definition["key"])
        if key in shop.metafield_definitions:
            return {"metafieldDefinitionCreate": {"createdDefinition": None, "userErrors": [
                {"field": ["definition", "key"], "code": "TAKEN",
                 "message": "Key is in use for Product variant metafields on the 'backorder' "
                            "namespace."}]}}
        shop.metafield_definitions[key] = definition
        return {"metafieldDefinitionCreate": {"createdDefinition": {
            "id": gid("MetafieldDefinition", len(shop.metafield_definitions)),
            "namespace": key[0], "key": key[1]}, "userErrors": []}}

    # --- queries -----------------------------------------------------------------

    def _variant_node(self, variant: ShopifyVariant, levels: int) -> dict:
        level_nodes = [{"location": {"id": gid("Location", location)},
                        "quantities": [{"name": "available", "quantity": available}],
                        "updatedAt": _iso(at)}
                       for location, (available, at) in sorted(variant.levels.items())]
        return {"id": gid("ProductVariant", variant.variant_id), "sku": variant.sku,
                "title": variant.title, "inventoryPolicy": variant.policy,
                "product": {"id": gid("Product", variant.product_id),
                            "title": variant.product_title},
                "inventoryItem": {"id": gid("InventoryItem", variant.inventory_item_id),
                                  "tracked": variant.tracked,
                                  "inventoryLevels": _page(level_nodes, levels, None)}}

    def _op_BackorderVariant(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        variant = shop.variants.get(_number(v["id"]))
        return {"productVariant": None if variant is None
                else self._variant_node(variant, v["levels"])}

    def _op_BackorderVariants(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        nodes = [self._variant_node(x, v["levels"]) for _, x in sorted(shop.variants.items())]
        return {"productVariants": _page(nodes, v["first"], v.get("after"))}

    def _op_BackorderInventoryLevels(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        item = _number(v["id"])
        variant = next((x for x in shop.variants.values() if x.inventory_item_id == item), None)
        if variant is None:
            return {"inventoryItem": None}
        levels = self._variant_node(variant, 10**6)["inventoryItem"]["inventoryLevels"]["nodes"]
        return {"inventoryItem": {"inventoryLevels": _page(levels, v["first"], v.get("after"))}}

    def _order_node(self, order: ShopifyOrder, lines: int) -> dict:
        return {"id": gid("Order", order.order_id), "name": order.name, "email": order.email,
                "phone": order.phone, "createdAt": _iso(order.created_at),
                "updatedAt": _iso(order.updated_at), "cancelledAt": _iso(order.cancelled_at),
                "lineItems": _page([self._line_node(line) for line in order.lines], lines, None)}

    @staticmethod
    def _line_node(line: ShopifyOrderLine) -> dict:
        return {"id": gid("LineItem", line.line_id), "title": line.title, "variantTitle": None,
                "quantity": line.quantity, "currentQuantity": line.quantity,
                "unfulfilledQuantity": line.unfulfilled,
                "variant": None if line.variant_id is None
                else {"id": gid("ProductVariant", line.variant_id)}}

    def _op_BackorderOpenOrders(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        open_orders = [o for _, o in sorted(shop.orders.items()) if o.cancelled_at is None
                       and any(line.unfulfilled for line in o.lines)]
        nodes = [self._order_node(o, v["lines"]) for o in open_orders]
        return {"orders": _page(nodes, v["first"], v.get("after"))}

    def _op_BackorderOrderFulfilment(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        order_id = _number(v["id"])
        if order_id not in shop.fulfilment.tags:
            return {"order": None}
        nodes = [_fulfillment_order_node(fo) for fo in shop.fulfilment.of_order(order_id)]
        return {"order": {"id": v["id"], "tags": sorted(shop.fulfilment.tags[order_id]),
                          "fulfillmentOrders": _page(nodes, v["orders"], None)}}

    def _op_BackorderOrderLineItems(self, shop: ShopState, v: dict) -> dict:  # noqa: N802
        order = shop.orders.get(_number(v["id"]))
        if order is None:
            return {"order": None}
        nodes = [self._line_node(line) for line in order.lines]
        return {"order": {"lineItems": _page(nodes, v["first"], v.get("after"))}}


def _form_or_json(body: bytes) -> dict:
    try:
        parsed = json.loads(body)
    except ValueError:
        return dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
    return parsed if isinstance(parsed, dict) else {}


def _fulfillment_order_node(fo) -> dict:
    return {"id": gid("FulfillmentOrder", fo.fo_id), "status": fo.status,
            "fulfillmentHolds": [{"id": gid("FulfillmentHold", h.hold_id), "handle": h.handle,
                                  "heldByRequestingApp": h.mine} for h in fo.holds],
            "lineItems": _page([{"id": gid("FulfillmentOrderLineItem", x.fo_line_id),
                                 "remainingQuantity": x.remaining,
                                 "lineItem": {"id": gid("LineItem", x.line_item_id)}}
                                for x in fo.lines], 10**6, None)}


def _page(nodes: list, first: int, after: str | None) -> dict:
    start = int(after) if after else 0
    chunk = nodes[start:start + first]
    more = start + first < len(nodes)
    return {"nodes": chunk, "pageInfo": {"hasNextPage": more,
                                         "endCursor": str(start + first) if more else None}}


# --- Twilio Messages API -----------------------------------------------------------------


@dataclass(frozen=True)
class SmsRecord:
    sid: str
    to: str
    sender: str | None
    body: str
    status_callback: str | None
    at: float
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def notification_id(self) -> int | None:
        """The service names the message in its status callback URL (`?n=<id>`)."""
        if not self.status_callback:
            return None
        values = urllib.parse.parse_qs(urllib.parse.urlparse(self.status_callback).query)
        return int(values["n"][0]) if "n" in values else None


class FakeTwilio(_HttpFake):
    """POST /2010-04-01/Accounts/{sid}/Messages.json with HTTP basic auth, as Twilio answers it.

    Every accepted message is kept in `messages`. Failure kinds: "429" (error 20429 with
    Retry-After), "500" (error 20500), "timeout" (the message is NOT accepted, the answer
    comes too late), "timeout-accepted" (the message IS accepted and sent; only the answer
    comes too late, as when Twilio is slow or the network drops the reply).
    With `callbacks=True`, each accepted message gets a signed "delivered" status callback.
    """

    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None,
                 callbacks: bool = False, callback_delay: float = 0.2) -> None:
        super().__init__()
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.from_number = "+15005550006"
        self.callbacks = callbacks
        self.callback_delay = callback_delay
        self.messages: list[SmsRecord] = []
        self.callback_answers: list[int] = []
        self._lock = threading.Lock()

    def env(self) -> dict[str, str]:
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "TWILIO_FROM_NUMBER": self.from_number, "TWILIO_API_URL": self.url}

    def _refused(self, path, headers):
        """404 or 401 as Twilio answers them, or None for an authenticated Messages request."""
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if path.split("?", 1)[0] != expected:
            return _json(404, {"code": 20404, "message": "The requested resource was not found",
                               "status": 404})
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if headers.get("Authorization") != f"Basic {credentials}":
            return _json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        return None

    def handle_get(self, path, headers):
        """The Messages list, newest first, filtered by To, one page of PageSize."""
        refused = self._refused(path, headers)
        if refused:
            return refused
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(path).query))
        size = int(query.get("PageSize", 50))
        with self._lock:
            found = [m for m in reversed(self.messages) if m.to == query.get("To", m.to)]
        uri = path
        return _json(200, {"messages": [self._resource(m) for m in found[:size]],
                           "page": 0, "page_size": size, "start": 0, "end": len(found[:size]),
                           "uri": uri, "first_page_uri": uri, "next_page_uri": None,
                           "previous_page_uri": None})

    def handle(self, path, headers, body):
        refused = self._refused(path, headers)
        if refused:
            return refused
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if not form.get("To") or not form.get("Body"):
            return _json(400, {"code": 21604, "message": "A 'To' phone number is required.",
                               "status": 400})
        fault = self.faults.take()
        if fault == "429":
            return _json(429, {"code": 20429, "message": "Too Many Requests", "status": 429,
                               "more_info": "https://www.twilio.com/docs/errors/20429"},
                         **{"Retry-After": "1"})
        if fault == "500":
            return _json(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
        if fault == "timeout":
            self._hang()
            return _json(503, {"code": 20503, "message": "Service Unavailable", "status": 503})
        record = self._accept(form)
        if fault == "timeout-accepted":
            self._hang()
        return _json(201, self._resource(record))

    def _accept(self, form: Mapping[str, str]) -> SmsRecord:
        record = SmsRecord(sid="SM" + secrets.token_hex(16), to=form["To"],
                           sender=form.get("From"), body=form["Body"],
                           status_callback=form.get("StatusCallback"), at=time.monotonic())
        with self._lock:
            self.messages.append(record)
        if self.callbacks and record.status_callback:
            threading.Timer(self.callback_delay, self._callback, (record,)).start()
        return record

    def _resource(self, record: SmsRecord) -> dict:
        now = record.created.strftime("%a, %d %b %Y %H:%M:%S +0000")
        return {"sid": record.sid, "account_sid": self.account_sid, "to": record.to,
                "from": record.sender, "body": record.body, "status": "queued",
                "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
                "date_created": now, "date_updated": now, "date_sent": None,
                "error_code": None, "error_message": None, "price": None,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{record.sid}.json"}

    def _callback(self, record: SmsRecord) -> None:
        from twilio.request_validator import RequestValidator
        params = {"MessageSid": record.sid, "SmsSid": record.sid, "MessageStatus": "delivered",
                  "AccountSid": self.account_sid, "To": record.to, "From": record.sender or ""}
        signature = RequestValidator(self.auth_token).compute_signature(record.status_callback,
                                                                        params)
        request = urllib.request.Request(
            record.status_callback, data=urllib.parse.urlencode(params).encode(),
            headers={"X-Twilio-Signature": signature,
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        with self._lock:
            self.callback_answers.append(status)

    def by_notification(self) -> dict[int | None, list[SmsRecord]]:
        with self._lock:
            out: dict[int | None, list[SmsRecord]] = {}
            for record in self.messages:
                out.setdefault(record.notification_id, []).append(record)
            return out


# --- SMTP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailRecord:
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    at: float

    @property
    def notification_id(self) -> int | None:
        """The service's Message-ID is <notification-<id>@host>."""
        match = re.fullmatch(r"<notification-(\d+)@[^>]+>", self.message_id or "")
        return int(match.group(1)) if match else None


class _MailHandler:
    def __init__(self, fake: FakeSmtp):
        self.fake = fake

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        fault = self.fake.faults.take()
        if fault == "451":
            return "451 4.3.0 Mail server temporarily rejected message, try again later"
        if fault == "421":
            return "421 4.7.0 Service not available, closing transmission channel"
        if fault == "timeout-accepted":
            envelope.hang_reply = True
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.fake.record(MailRecord(message_id=str(message.get("Message-ID", "")),
                                    sender=envelope.mail_from,
                                    recipients=tuple(envelope.rcpt_tos),
                                    subject=str(message.get("Subject", "")),
                                    at=time.monotonic()))
        if getattr(envelope, "hang_reply", False):  # accepted, but the reply comes too late
            await asyncio.sleep(self.fake.hang_seconds)
        return "250 2.0.0 OK: queued"


class FakeSmtp:
    """An aiosmtpd server on loopback that keeps every accepted message.

    Failure kinds (taken per RCPT): "451" (try again later), "421" (closing), and
    "timeout-accepted" (the message is queued but the final reply comes too late).
    """

    hang_seconds = 12.0

    def __init__(self) -> None:
        self.port = free_port()
        self.faults = FaultPlan()
        self.messages: list[MailRecord] = []
        self._lock = threading.Lock()
        self._controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port)

    def env(self) -> dict[str, str]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_STARTTLS": "false",
                "MAIL_FROM": "Backorders <backorders@shop.test>"}

    def record(self, message: MailRecord) -> None:
        with self._lock:
            self.messages.append(message)

    def by_notification(self) -> dict[int | None, list[MailRecord]]:
        with self._lock:
            out: dict[int | None, list[MailRecord]] = {}
            for record in self.messages:
                out.setdefault(record.notification_id, []).append(record)
            return out

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> FakeSmtp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def duplicates(groups: Mapping[int | None, Iterable]) -> dict[int | None, int]:
    """Notification ids that reached the customer more than once, with how often."""
    return {key: len(list(items)) for key, items in groups.items() if len(list(items)) > 1}
