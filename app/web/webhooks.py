"""Shopify webhooks: verify the HMAC on the raw body, store, hand off to the workers, answer."""

from __future__ import annotations

from flask import Blueprint, request

from app.domain.intake import service as intake
from app.domain.intake.topics import HANDLED_TOPICS
from app.errors import PayloadTooLarge, Unauthorized
from app.metrics import WEBHOOKS_RECEIVED
from app.web.deps import rt
from integrations.shopify.webhooks import verify_webhook

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/shopify")
def shopify():
    runtime = rt()
    body = _read_body(runtime.settings.webhook_max_bytes)
    topic = request.headers.get("X-Shopify-Topic", "")
    label = topic if topic in HANDLED_TOPICS else "other"
    if not verify_webhook(body, request.headers.get("X-Shopify-Hmac-Sha256"),
                          runtime.settings.webhook_secrets):
        WEBHOOKS_RECEIVED.labels(label, "unauthorized").inc()
        raise Unauthorized("HMAC signature is missing or does not match")
    delivery = intake.delivery_from_headers(request.headers)
    payload = intake.parse_payload(body, delivery)
    # Committed before this returns; the id reaches the workers just after (app/intake/).
    recorded = runtime.inbox.record(intake.inbox_row(delivery, payload, body))
    WEBHOOKS_RECEIVED.labels(label, _outcome(recorded)).inc()
    return "", 200


def _read_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    # A chunked body has no length to check first. Werkzeug stops reading at the maximum
    # without a word, so read one byte more: a body that has it is too large.
    request.max_content_length = limit + 1
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    return body


def _outcome(recorded: intake.Recorded) -> str:
    if recorded.duplicate:
        return "duplicate"
    return "stored" if recorded.pending else "ignored"
