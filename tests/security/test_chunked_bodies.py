"""A chunked body (no Content-Length) over the intake limit is refused with 413, not cut."""

from __future__ import annotations

import io

from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, webhook_headers


def chunked_post(client, body: bytes):
    headers = webhook_headers(body, "orders/create", secret=WEBHOOK_SECRET)
    headers["Transfer-Encoding"] = "chunked"
    # what gunicorn does for a chunked request: it ends the stream and says so
    return client.post("/webhooks/shopify", input_stream=io.BytesIO(body), headers=headers,
                       environ_overrides={"wsgi.input_terminated": True})


def padded(size: int) -> bytes:
    head = b'{"id": 1, "note": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def test_a_chunked_body_over_the_limit_gets_413_and_one_of_the_limit_is_stored(rt, client):
    make_shop(rt, domain=SHOP)
    limit = rt.settings.webhook_max_bytes
    for size in (limit + 1, 4 * limit):
        response = chunked_post(client, padded(size))
        assert response.status_code == 413, (size, response.get_data(as_text=True))
    assert chunked_post(client, padded(limit)).status_code == 200
