"""The pages and callbacks anyone can reach are rate limited: past the limit a client gets
429 with Retry-After, counted in Redis so every web process shares the count."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from app.domain.intake.models import WebhookEvent
from app.runtime import Runtime
from app.web import create_app
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, post_webhook, sample_body

TWILIO_TOKEN = "twilio-test-token"


@pytest.fixture
def limited(rt):
    """An app with the limits on (the other tests turn them off)."""
    settings = rt.settings.with_overrides(rate_limits=True, twilio_account_sid="AC1",
                                          twilio_auth_token=TWILIO_TOKEN,
                                          twilio_from_number="+14155550100")
    runtime = Runtime(settings)
    yield lambda: create_app(runtime=runtime).test_client()
    runtime.close()


def hammer(client_factory, call, limit: int):
    """`limit` calls pass, the next is refused: from one client, and from a second web
    process (a new app) that shares the count in Redis."""
    first, second = client_factory(), client_factory()
    answers = [call(first).status_code for _ in range(limit - 1)] + [call(second).status_code]
    assert 429 not in answers, answers
    refused = call(first)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # the rest of the site is not held back for that client
    assert first.get("/auth/login").status_code == first.get("/healthz").status_code == 200


@pytest.mark.parametrize("path, limit", [
    ("/status/not-a-token", 60), ("/supplier/po/not-a-token", 60),
    ("/auth/link/not-a-token", 10), ("/auth/install?shop=x.myshopify.com", 20),
    ("/auth/callback?shop=x.myshopify.com", 20)])
def test_public_pages_answer_429_with_retry_after_past_their_limit(limited, path, limit):
    hammer(limited, lambda client: client.get(path), limit)


def test_inbound_sms_is_limited_per_sending_phone(limited):
    url = "https://backorder.test/webhooks/twilio/inbound"

    def text_from(phone: str):
        form = {"From": phone, "To": "+14155550100", "Body": "HELP"}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        return lambda client: client.post("/webhooks/twilio/inbound", data=form,
                                          headers={"X-Twilio-Signature": signature})
    hammer(limited, text_from("+14155550111"), 20)
    assert text_from("+14155550122")(limited()).status_code == 200  # another phone


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address(rt):
    runtime = Runtime(rt.settings.with_overrides(rate_limits=True, proxy_hops=1))
    try:
        client = create_app(runtime=runtime).test_client()

        def visit(address: str) -> int:
            return client.get("/auth/link/not-a-token",
                              headers={"X-Forwarded-For": address}).status_code
        assert [visit("203.0.113.7") for _ in range(11)][-1] == 429
        assert visit("198.51.100.9") != 429  # another customer behind the same proxy
    finally:
        runtime.close()


def test_shopify_webhooks_are_never_rate_limited(rt, limited):
    """Shopify signs its deliveries and retries what is refused: a burst from one address,
    past every page's limit, is stored in full."""
    make_shop(rt, domain=SHOP)
    client = limited()
    answers = [post_webhook(client, "orders/create", sample_body("orders_create.2025-01.json"),
                            secret=WEBHOOK_SECRET) for _ in range(70)]
    assert {a.status_code for a in answers} == {200}
    assert not any("X-RateLimit-Limit" in a.headers for a in answers)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 70
    # the pages around them are still limited, by the same count as before
    hammer(limited, lambda c: c.get("/auth/link/not-a-token"), 10)
