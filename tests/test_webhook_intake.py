"""POST /webhooks/shopify: verify, store, enqueue, answer, and never lose an event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.domain.customers.models import CustomerDataExport
from app.domain.intake.models import EventStatus, WebhookEvent
from integrations.shopify.webhooks import sign_webhook, verify_webhook
from tests.conftest import FIXTURES, WEBHOOK_SECRET, load_json
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, post_webhook, sample_body, webhook_headers

SAMPLES = sorted(p.name for p in (FIXTURES / "shopify" / "webhooks").glob("*.json")
                 if not p.name.endswith(".source.json"))
SAMPLE_TOPICS = {
    "orders_create": "orders/create", "orders_updated": "orders/updated",
    "orders_cancelled": "orders/cancelled", "products_update": "products/update",
    "refunds_create": "refunds/create", "inventory_levels_update": "inventory_levels/update",
    "customers_data_request": "customers/data_request", "customers_redact": "customers/redact",
    "shop_redact": "shop/redact",
}


def events(rt) -> list[WebhookEvent]:
    with rt.sessions() as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_shopify_sample_payload_signed_is_accepted_and_stored(rt, client, sample):
    make_shop(rt, domain=SHOP)
    raw = sample_body(sample)
    response = post_webhook(client, SAMPLE_TOPICS[sample.split(".")[0]], raw,
                            secret=WEBHOOK_SECRET)
    assert response.status_code == 200
    [stored] = events(rt)
    assert stored.payload.encode() == raw  # the raw bytes, exactly as signed
    assert stored.status == EventStatus.RECEIVED


def test_stored_payloads_are_compressed_with_lz4_where_postgresql_has_it(rt, client):
    """pglz cost PostgreSQL about 60% more CPU per 12 KB order (migration 0008)."""
    make_shop(rt, domain=SHOP)
    raw = sample_body("orders_create.2025-01.json")
    assert post_webhook(client, "orders/create", raw, secret=WEBHOOK_SECRET).status_code == 200
    with rt.engine.connect() as db:
        has_lz4 = db.exec_driver_sql("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                     "WHERE name = 'default_toast_compression'").scalar()
        method = db.exec_driver_sql(
            "SELECT pg_column_compression(payload) FROM webhook_events").scalar()
    assert method == ("lz4" if has_lz4 else "pglz")
    [stored] = events(rt)
    assert stored.payload.encode() == raw


def test_shopify_hmac_known_answer_vectors_pass():
    vectors = load_json("shopify/hmac/shopify_hmac_vectors.json")["webhook_hmac"]["vectors"]
    for vector in vectors:
        body = vector["raw_body"].encode()
        assert sign_webhook(body, vector["secret"]) == vector["expected_x_shopify_hmac_sha256"]
        assert verify_webhook(body, vector["expected_x_shopify_hmac_sha256"], [vector["secret"]])
        assert not verify_webhook(body, "fake", [vector["secret"]])
        assert not verify_webhook(body, "", [vector["secret"]])


def test_body_changed_by_one_byte_is_rejected_and_not_stored(rt, client):
    make_shop(rt, domain=SHOP)
    body = json.dumps({"id": 1, "note": "hello"}).encode()
    headers = webhook_headers(body, "orders/create", secret=WEBHOOK_SECRET)
    tampered = body.replace(b"hello", b"hellp")
    assert client.post("/webhooks/shopify", data=tampered, headers=headers).status_code == 401
    assert events(rt) == []


def test_missing_hmac_is_401_even_for_compliance_topics(client):
    body = b'{"shop_id": 1}'
    headers = webhook_headers(body, "shop/redact", secret=WEBHOOK_SECRET)
    del headers["X-Shopify-Hmac-Sha256"]
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 401


def test_previous_secret_is_accepted_during_rotation(rt, session_runtime):
    from app.web import create_app
    rotated = session_runtime.settings.with_overrides(
        shopify_api_secret="new-secret", shopify_api_secret_previous=WEBHOOK_SECRET)
    client = create_app(rotated).test_client()
    response = post_webhook(client, "orders/create", {"id": 5}, secret=WEBHOOK_SECRET)
    assert response.status_code == 200
    response = post_webhook(client, "orders/create", {"id": 6}, secret="wrong")
    assert response.status_code == 401


def test_headers_are_read_case_insensitively(rt, client):
    make_shop(rt, domain=SHOP)
    body = b'{"id": 7}'
    headers = {k.lower(): v for k, v in webhook_headers(body, "orders/create",
                                                         secret=WEBHOOK_SECRET).items()}
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    assert [e.topic for e in events(rt)] == ["orders/create"]


def test_same_event_delivered_three_times_is_stored_once_and_has_one_effect(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    payload = sample_body("customers_data_request.2025-01.json")
    for attempt in range(3):
        response = post_webhook(client, "customers/data_request", payload,
                                secret=WEBHOOK_SECRET, webhook_id=f"retry-{attempt}",
                                event_id="event-42")
        assert response.status_code == 200
    run_jobs()
    assert len(events(rt)) == 1
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CustomerDataExport)) == 1


def test_webhook_id_recognises_duplicates_when_no_event_id_is_sent(rt, client):
    make_shop(rt, domain=SHOP)
    body = b'{"id": 8}'
    for _ in range(2):
        headers = webhook_headers(body, "orders/create", secret=WEBHOOK_SECRET,
                                  webhook_id="same-webhook")
        del headers["X-Shopify-Event-Id"]
        assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    assert len(events(rt)) == 1


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "body is not valid JSON"),
    (b"[1, 2]", "body is not a JSON object"),
    (b"\xff\xfe", "body is not valid JSON"),
    (b'{"total": NaN}', "body is not valid JSON"),
    (b'{"note": "\\ud800"}', "body is not valid JSON"),  # a lone surrogate
    (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body is not valid JSON"),  # too deep
])
def test_malformed_body_is_400_with_a_one_line_reason(rt, client, body, reason):
    headers = webhook_headers(body, "orders/create", secret=WEBHOOK_SECRET)
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_data(as_text=True) == reason + "\n"
    assert events(rt) == []


@pytest.mark.parametrize("body", [
    b'{"id": 1, "count": 123456789012345678901234567890}',  # beyond 64 bits
    b'{"id": 1, "total": 1.5e300, "note": "\\u00e9\\ud83d\\ude00"}',
    b' \n{"id": 1}\n ',
])
def test_any_valid_json_object_is_stored_as_sent(rt, client, body):
    """simdjson refuses integers beyond 64 bits: orjson has the last word, so valid JSON
    is never refused (Shopify would retry it, then drop the subscription)."""
    make_shop(rt, domain=SHOP)
    assert post_webhook(client, "orders/create", body, secret=WEBHOOK_SECRET).status_code == 200
    [stored] = events(rt)
    assert stored.payload.encode() == body and json.loads(stored.payload)["id"] == 1
    assert stored.resource_id == 1


@pytest.mark.parametrize("header", ["X-Shopify-Topic", "X-Shopify-Shop-Domain"])
def test_missing_required_header_is_400_naming_it(client, header):
    body = b'{"id": 1}'
    headers = webhook_headers(body, "orders/create", secret=WEBHOOK_SECRET)
    del headers[header]
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 400
    assert header in response.get_data(as_text=True)


@pytest.mark.parametrize("header, value", [
    ("X-Shopify-Shop-Domain", "a" * 250 + ".myshopify.com"),
    ("X-Shopify-Event-Id", "e" * 101),
    ("X-Shopify-Webhook-Id", "w" * 101),
    ("X-Shopify-API-Version", "2026-10" * 3),
])
def test_a_header_longer_than_its_column_holds_is_400_naming_it(rt, client, header, value):
    body = b'{"id": 1}'
    headers = {**webhook_headers(body, "t" * 100, secret=WEBHOOK_SECRET), header: value}
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 400
    assert header in response.get_data(as_text=True)
    assert events(rt) == []


def test_the_longest_headers_accepted_fit_their_columns(rt, client):
    body = b'{"id": 1}'
    headers = {**webhook_headers(body, "t" * 100, secret=WEBHOOK_SECRET),
               "X-Shopify-Shop-Domain": "a" * 241 + ".myshopify.com",
               "X-Shopify-Event-Id": "e" * 100, "X-Shopify-API-Version": "v" * 20}
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    assert len(events(rt)) == 1


def test_body_over_the_limit_is_413(rt, client):
    body = json.dumps({"id": 1, "note": "x" * 300_000}).encode()
    headers = webhook_headers(body, "orders/create", secret=WEBHOOK_SECRET)
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 413
    assert events(rt) == []


def test_unknown_topic_and_unknown_shop_are_acknowledged_and_kept_as_ignored(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    assert post_webhook(client, "carts/update", {"id": 1}, secret=WEBHOOK_SECRET).status_code == 200
    assert post_webhook(client, "orders/create", {"id": 2}, secret=WEBHOOK_SECRET,
                        shop="stranger.myshopify.com").status_code == 200
    assert run_jobs() == 0  # nothing was enqueued
    assert [(e.topic, e.status) for e in events(rt)] == [
        ("carts/update", EventStatus.IGNORED), ("orders/create", EventStatus.IGNORED)]
