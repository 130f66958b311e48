"""The Admin GraphQL transport and adapter, against `responses` mocks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import requests
import responses

from app.config import Settings
from app.domain.ports import (
    InventoryLevelInfo,
    OrderLineInfo,
    VariantInfo,
    VariantMetafields,
    VariantPolicyChange,
)
from app.errors import AuthRevoked, PermanentError, TransientError
from integrations.shopify import documents
from integrations.shopify.admin import GraphQLShopifyAdmin, build_admin
from integrations.shopify.graphql import BACKOFF_BASE, GraphQLClient

SHOP = "demo.myshopify.com"
URL = f"https://{SHOP}/admin/api/2025-01/graphql.json"
DOC = "query { shop { id } }"


class FakeClock:
    """Time that moves only when the client sleeps, so waits are exact."""

    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client(clock):
    return GraphQLClient(SHOP, "shpat_secret", url_template=Settings.shopify_admin_api_url,
                         api_version="2025-01", timeout=(3.0, 10.0), max_retries=3,
                         sleep=clock.sleep, clock=lambda: clock.now)


@pytest.fixture
def admin(client):
    return GraphQLShopifyAdmin(client)


def ok(rsps, *datas, extensions=None):
    for data in datas:
        rsps.post(URL, json={"data": data, **({"extensions": extensions} if extensions else {})})


def cost(requested, available, rate=50.0):
    return {"cost": {"requestedQueryCost": requested, "throttleStatus": {
        "maximumAvailable": 1000.0, "currentlyAvailable": available, "restoreRate": rate}}}


def sent(rsps) -> list[dict]:
    return [json.loads(call.request.body) for call in rsps.calls]


# --- transport -----------------------------------------------------------------

def test_url_follows_template_with_shop_and_version(rsps, clock):
    rsps.post("http://127.0.0.1:9/demo.myshopify.com/v/2024-10/gql", json={"data": {"a": 1}})
    client = GraphQLClient(SHOP, "t", url_template="http://127.0.0.1:9/{shop}/v/{version}/gql",
                           api_version="2024-10", timeout=1.0, sleep=clock.sleep)
    assert client.execute(DOC) == {"a": 1}


def test_request_carries_token_header_and_json_body(rsps, client):
    ok(rsps, {"shop": {"id": "gid://shopify/Shop/1"}})
    client.execute(DOC, {"x": 1})
    request = rsps.calls[0].request
    assert request.headers["X-Shopify-Access-Token"] == "shpat_secret"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"query": DOC, "variables": {"x": 1}}


def test_every_call_passes_connect_and_read_timeouts(rsps, client, clock):
    ok(rsps, {}, {})
    client.execute(DOC)
    GraphQLClient(SHOP, "t", url_template=Settings.shopify_admin_api_url, api_version="2025-01",
                  timeout=7.5, sleep=clock.sleep).execute(DOC)
    assert [c.request.req_kwargs["timeout"] for c in rsps.calls] == [(3.0, 10.0), (7.5, 7.5)]


def test_throttled_response_is_retried_after_waiting_per_restore_rate(rsps, client, clock):
    rsps.post(URL, json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                         "extensions": cost(requested=100, available=20)})
    ok(rsps, {"shop": {}})
    assert client.execute(DOC) == {"shop": {}}
    assert clock.sleeps == [pytest.approx((100 - 20) / 50)]
    assert len(rsps.calls) == 2


def test_call_waits_when_last_known_budget_is_below_expected_cost(rsps, client, clock):
    ok(rsps, {}, {}, extensions=cost(requested=100, available=30))
    client.execute(DOC)
    client.execute(DOC)
    assert clock.sleeps == [pytest.approx((100 - 30) / 50)]


def test_budget_restored_by_elapsed_time_needs_no_wait(rsps, client, clock):
    ok(rsps, {}, {}, extensions=cost(requested=100, available=30))
    client.execute(DOC)
    clock.now += 2.0  # 30 + 2 x 50 >= 100
    client.execute(DOC)
    assert clock.sleeps == []


def test_429_is_retried_after_retry_after(rsps, client, clock):
    rsps.post(URL, status=429, headers={"Retry-After": "2.5"}, json={"errors": "Throttled"})
    ok(rsps, {"done": True})
    assert client.execute(DOC) == {"done": True}
    assert clock.sleeps == [2.5]


def test_500_is_retried_with_backoff_then_succeeds(rsps, client, clock):
    rsps.post(URL, status=500, body="oops")
    ok(rsps, {"done": True})
    assert client.execute(DOC) == {"done": True}
    assert len(clock.sleeps) == 1 and BACKOFF_BASE / 2 <= clock.sleeps[0] <= BACKOFF_BASE


def test_connection_error_is_retried(rsps, client, clock):
    rsps.post(URL, body=requests.ConnectionError("reset"))
    ok(rsps, {"done": True})
    assert client.execute(DOC) == {"done": True}


def test_persistent_5xx_raises_transient_error_after_max_retries(rsps, client, clock):
    for _ in range(4):
        rsps.post(URL, status=503)
    with pytest.raises(TransientError) as raised:
        client.execute(DOC)
    assert raised.value.code == 503
    assert len(rsps.calls) == 4  # the first try and max_retries=3 retries
    for attempt, waited in enumerate(clock.sleeps):
        assert BACKOFF_BASE * 2 ** attempt / 2 <= waited <= BACKOFF_BASE * 2 ** attempt
    assert len(clock.sleeps) == 3


@pytest.mark.parametrize("status", [401, 403])
def test_revoked_token_raises_auth_revoked_without_retry(rsps, client, clock, status):
    rsps.post(URL, status=status, json={"errors": "[API] Invalid API key or access token"})
    with pytest.raises(AuthRevoked):
        client.execute(DOC)
    assert len(rsps.calls) == 1 and clock.sleeps == []


def test_other_4xx_raises_permanent_error_with_message(rsps, client):
    rsps.post(URL, status=404, json={"errors": "Not Found"})
    with pytest.raises(PermanentError, match="Not Found"):
        client.execute(DOC)
    assert len(rsps.calls) == 1


def test_graphql_errors_raise_permanent_error_with_messages(rsps, client):
    rsps.post(URL, json={"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'",
                                     "extensions": {"code": "undefinedField"}}]})
    with pytest.raises(PermanentError, match="Field 'nope'") as raised:
        client.execute(DOC)
    assert raised.value.code == "undefinedField"


def test_non_idempotent_call_is_not_retried_after_ambiguous_failure(rsps, client, clock):
    rsps.post(URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(TransientError):
        client.execute(DOC, idempotent=False)
    assert len(rsps.calls) == 1


def test_non_idempotent_call_is_retried_when_shopify_surely_did_not_run_it(rsps, client):
    rsps.post(URL, status=429, headers={"Retry-After": "1"})
    ok(rsps, {"done": True})
    assert client.execute(DOC, idempotent=False) == {"done": True}


def test_client_repr_never_shows_the_token(client):
    assert "shpat_secret" not in repr(client)


@pytest.mark.parametrize("shop", ["evil.example/#", "a@b.com", "shop.myshopify.com/x?"])
def test_shop_domain_that_would_bend_the_url_is_refused(shop):
    with pytest.raises(ValueError):
        GraphQLClient(shop, "t", url_template=Settings.shopify_admin_api_url,
                      api_version="2025-01", timeout=1.0)


# --- adapter ---------------------------------------------------------------------

PAGE_END = {"hasNextPage": False, "endCursor": "end"}


def level_node(location_id, available):
    return {"location": {"id": f"gid://shopify/Location/{location_id}"},
            "quantities": [{"name": "available", "quantity": available}],
            "updatedAt": "2025-01-02T03:04:05Z"}


def variant_node(variant_id, *, levels=((1, 4),), more_levels=False):
    page = {"hasNextPage": True, "endCursor": "lv1"} if more_levels else PAGE_END
    return {"id": f"gid://shopify/ProductVariant/{variant_id}", "sku": f"SKU-{variant_id}",
            "title": "Red", "inventoryPolicy": "DENY",
            "product": {"id": "gid://shopify/Product/7", "title": "Tee"},
            "inventoryItem": {"id": f"gid://shopify/InventoryItem/{variant_id + 1000}",
                              "tracked": True, "inventoryLevels": {
                                  "nodes": [level_node(*lv) for lv in levels], "pageInfo": page}}}


def line_node(line_id, *, current=3, unfulfilled=2, variant_id=11):
    return {"id": f"gid://shopify/LineItem/{line_id}", "title": "Tee", "quantity": 5,
            "currentQuantity": current, "unfulfilledQuantity": unfulfilled,
            "variant": None if variant_id is None else
            {"id": f"gid://shopify/ProductVariant/{variant_id}"}}


def order_node(order_id, lines, *, more_lines=False):
    page = {"hasNextPage": True, "endCursor": "ln1"} if more_lines else PAGE_END
    return {"id": f"gid://shopify/Order/{order_id}", "name": f"#{order_id}",
            "email": "a@example.com", "phone": None, "createdAt": "2025-01-02T03:04:05Z",
            "updatedAt": "2025-01-03T03:04:05Z", "cancelledAt": None,
            "lineItems": {"nodes": lines, "pageInfo": page}}


def test_policies_are_set_in_one_call_per_product(rsps, admin):
    ok(rsps, {"productVariantsBulkUpdate": {"userErrors": []}})
    admin.set_inventory_policies(7, [VariantPolicyChange(11, "CONTINUE"),
                                     VariantPolicyChange(12, "DENY")])
    [body] = sent(rsps)
    assert body["query"] == documents.PRODUCT_VARIANTS_BULK_UPDATE
    assert body["variables"] == {"productId": "gid://shopify/Product/7", "variants": [
        {"id": "gid://shopify/ProductVariant/11", "inventoryPolicy": "CONTINUE"},
        {"id": "gid://shopify/ProductVariant/12", "inventoryPolicy": "DENY"}]}


def test_user_errors_raise_permanent_error_listing_them(rsps, admin):
    ok(rsps, {"productVariantsBulkUpdate": {"userErrors": [
        {"field": ["variants", "0", "id"], "message": "Product variant does not exist"}]}})
    with pytest.raises(PermanentError, match=r"variants\.0\.id: Product variant does not exist"):
        admin.set_inventory_policies(7, [VariantPolicyChange(99, "DENY")])


def test_metafields_are_batched_25_per_call(rsps, admin):
    ok(rsps, *[{"metafieldsSet": {"userErrors": []}}] * 3)
    admin.set_variant_metafields([VariantMetafields(v, "backorderable", date(2025, 3, 1))
                                  for v in range(1, 31)])
    batches = [body["variables"]["metafields"] for body in sent(rsps)]
    assert [len(batch) for batch in batches] == [25, 25, 10]
    assert batches[0][:2] == [
        {"ownerId": "gid://shopify/ProductVariant/1", "namespace": "backorder", "key": "status",
         "type": "single_line_text_field", "value": "backorderable"},
        {"ownerId": "gid://shopify/ProductVariant/1", "namespace": "backorder", "key": "eta",
         "type": "date", "value": "2025-03-01"}]


def test_eta_that_becomes_unknown_is_deleted_not_left_stale(rsps, admin):
    ok(rsps, {"metafieldsSet": {"userErrors": []}}, {"metafieldsDelete": {"userErrors": []}})
    admin.set_variant_metafields([VariantMetafields(1, "in_stock", None),
                                  VariantMetafields(2, "backorderable", date(2025, 3, 1))])
    set_call, delete_call = sent(rsps)
    assert [m["key"] for m in set_call["variables"]["metafields"]] == ["status", "status", "eta"]
    assert delete_call["query"] == documents.METAFIELDS_DELETE
    assert delete_call["variables"]["metafields"] == [
        {"ownerId": "gid://shopify/ProductVariant/1", "namespace": "backorder", "key": "eta"}]


def test_webhooks_use_topic_enums_skip_compliance_and_tolerate_existing(rsps, admin):
    ok(rsps, {"webhookSubscriptionCreate": {"userErrors": []}},
       {"webhookSubscriptionCreate": {"userErrors": [
           {"field": ["webhookSubscription", "callbackUrl"],
            "message": "Address for this topic has already been taken"}]}})
    admin.subscribe_webhooks("https://svc.example/webhooks/shopify",
                             ["orders/partially_fulfilled", "customers/redact", "app/uninstalled"])
    assert [b["variables"]["topic"] for b in sent(rsps)] == [
        "ORDERS_PARTIALLY_FULFILLED", "APP_UNINSTALLED"]


def test_fetch_variant_converts_gids_to_numeric_ids(rsps, admin):
    ok(rsps, {"productVariant": variant_node(11, levels=[(1, 4), (2, -1)])})
    assert admin.fetch_variant(11) == VariantInfo(
        variant_id=11, product_id=7, sku="SKU-11", title="Red", inventory_item_id=1011,
        tracked=True, inventory_policy="DENY", product_title="Tee", levels=(
            InventoryLevelInfo(1, 4, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
            InventoryLevelInfo(2, -1, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))))
    assert sent(rsps)[0]["variables"]["id"] == "gid://shopify/ProductVariant/11"


def test_fetch_variant_returns_none_when_shopify_has_no_such_variant(rsps, admin):
    ok(rsps, {"productVariant": None})
    assert admin.fetch_variant(404) is None


def test_iter_variants_follows_cursors(rsps, admin):
    ok(rsps, {"productVariants": {"nodes": [variant_node(1), variant_node(2)],
                                  "pageInfo": {"hasNextPage": True, "endCursor": "p2"}}},
       {"productVariants": {"nodes": [variant_node(3)], "pageInfo": PAGE_END}})
    assert [v.variant_id for v in admin.iter_variants()] == [1, 2, 3]
    assert [b["variables"]["after"] for b in sent(rsps)] == [None, "p2"]


def test_variant_stocked_at_more_locations_than_a_page_fetches_the_rest(rsps, admin):
    ok(rsps, {"productVariants": {"nodes": [variant_node(1, more_levels=True)],
                                  "pageInfo": PAGE_END}},
       {"inventoryItem": {"inventoryLevels": {"nodes": [level_node(9, 2)], "pageInfo": PAGE_END}}})
    [variant] = admin.iter_variants()
    assert [lv.location_id for lv in variant.levels] == [1, 9]
    assert sent(rsps)[1]["variables"] == {"id": "gid://shopify/InventoryItem/1001",
                                          "first": 100, "after": "lv1"}


def test_iter_open_orders_follows_cursors_and_maps_lines(rsps, admin):
    ok(rsps, {"orders": {"nodes": [order_node(1, [line_node(5)])],
                         "pageInfo": {"hasNextPage": True, "endCursor": "o2"}}},
       {"orders": {"nodes": [order_node(2, [line_node(6, variant_id=None)])],
                   "pageInfo": PAGE_END}})
    first, second = admin.iter_open_orders()
    assert first.lines == (OrderLineInfo(5, 11, quantity=3, fulfilled_quantity=1, title="Tee"),)
    assert first.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert second.order_id == 2 and second.lines[0].variant_id is None
    assert [b["variables"]["after"] for b in sent(rsps)] == [None, "o2"]


def test_order_with_more_lines_than_a_page_fetches_the_rest(rsps, admin):
    ok(rsps, {"orders": {"nodes": [order_node(1, [line_node(5)], more_lines=True)],
                         "pageInfo": PAGE_END}},
       {"order": {"lineItems": {"nodes": [line_node(6)], "pageInfo": PAGE_END}}})
    [order] = admin.iter_open_orders()
    assert [line.line_id for line in order.lines] == [5, 6]
    assert sent(rsps)[1]["query"] == documents.ORDER_LINE_ITEMS_QUERY


def test_adjust_inventory_adds_received_stock_with_a_reference(rsps, admin):
    ok(rsps, {"inventoryAdjustQuantities": {"userErrors": []}})
    admin.adjust_inventory(inventory_item_id=21, location_id=3, delta=12, reference="PO 1001")
    assert sent(rsps)[0]["variables"] == {
        "changes": [{"delta": 12, "inventoryItemId": "gid://shopify/InventoryItem/21",
                     "locationId": "gid://shopify/Location/3"}],
        "reference": "backorder://reference/PO%201001"}


def test_adjust_inventory_is_not_retried_after_an_ambiguous_failure(rsps, admin):
    rsps.post(URL, status=502)
    with pytest.raises(TransientError):
        admin.adjust_inventory(inventory_item_id=21, location_id=3, delta=12,
                               reference="gid://backorder/PurchaseOrder/1")
    assert len(rsps.calls) == 1


def test_build_admin_uses_settings_template_version_and_timeout(rsps):
    settings = Settings(database_url="sqlite://", secret_key="k", shopify_api_version="2025-01",
                        shopify_admin_api_url="https://{shop}/custom/{version}/gql",
                        http_timeout=4.0)
    rsps.post(f"https://{SHOP}/custom/2025-01/gql", json={"data": {"productVariant": None}})
    assert build_admin(settings, SHOP, "t").fetch_variant(1) is None
    assert rsps.calls[0].request.req_kwargs["timeout"] == (4.0, 4.0)
