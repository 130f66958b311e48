"""The fakes speak the vendors' protocols: the service's real adapters work against them,
and each injected failure reaches the adapter as the vendor's own failure would."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.config import Settings
from app.domain.ports import Email, VariantMetafields, VariantPolicyChange
from app.errors import PermanentError, TransientError
from integrations import factory
from integrations.shopify.admin import build_admin
from tests.support.fake_servers import FakeShopify, FakeSmtp, FakeTwilio, ShopifyVariant

pytestmark = pytest.mark.slow
SHOP, TOKEN = "fake-check.myshopify.com", "shpat_fake_check"


def settings(**overrides) -> Settings:
    return Settings(database_url="sqlite://", secret_key="k", http_timeout=1.0, **overrides)


@pytest.fixture
def shopify():
    with FakeShopify() as fake:
        fake.hang_seconds = 1.5
        state = fake.add_shop(SHOP, TOKEN)
        for n in range(1, 31):  # more than one page of variants
            state.variants[n] = ShopifyVariant(n, 100 + n % 2, 1000 + n, sku=f"SKU-{n}",
                                               levels={7: (n, datetime(2026, 1, 1, tzinfo=UTC))})
        yield fake


def admin_for(fake: FakeShopify, token: str = TOKEN):
    return build_admin(settings(shopify_admin_api_url=fake.env()["SHOPIFY_ADMIN_API_URL"]),
                       SHOP, token)


def test_the_real_graphql_adapter_reads_and_writes_the_fake_shop(shopify):
    admin = admin_for(shopify)
    assert [v.variant_id for v in admin.iter_variants()] == list(range(1, 31))
    variant = admin.fetch_variant(5)
    assert (variant.product_id, variant.sku, variant.levels[0].available) == (101, "SKU-5", 5)
    assert admin.fetch_variant(999) is None
    admin.set_inventory_policies(101, [VariantPolicyChange(5, "CONTINUE")])
    admin.set_variant_metafields([VariantMetafields(5, "backorderable", date(2026, 12, 1)),
                                  VariantMetafields(7, "out_of_stock", None)])
    admin.subscribe_webhooks("https://example.test/webhooks/shopify", ["orders/create"])
    admin.subscribe_webhooks("https://example.test/webhooks/shopify", ["orders/create"])
    admin.adjust_inventory(inventory_item_id=1005, location_id=7, delta=3, reference="PO-1")
    state = shopify.shop(SHOP)
    assert state.variants[5].policy == "CONTINUE"
    assert state.metafields == {(5, "backorder.status"): "backorderable",
                                (5, "backorder.eta"): "2026-12-01",
                                (7, "backorder.status"): "out_of_stock"}
    assert state.webhooks == {"ORDERS_CREATE": "https://example.test/webhooks/shopify"}
    assert state.variants[5].levels[7][0] == 8
    assert list(admin.iter_open_orders()) == []
    assert shopify.errors == []


def test_shopify_rejections_and_failures_map_to_the_service_taxonomy(shopify):
    with pytest.raises(PermanentError, match="does not exist"):
        admin_for(shopify).set_inventory_policies(100, [VariantPolicyChange(5, "DENY")])
    with pytest.raises(PermanentError):  # AuthRevoked is a PermanentError
        admin_for(shopify, "wrong-token").fetch_variant(5)
    # Throttled, 429 and 500 are retried by the client until an answer comes.
    shopify.faults.next("throttled", "429", "500", times=3)
    admin_for(shopify).set_inventory_policies(101, [VariantPolicyChange(5, "CONTINUE")])
    assert [c.outcome for c in shopify.calls_of("BackorderSetInventoryPolicies", outcome=None)
            ][-4:] == ["throttled", "429", "500", "ok"]
    # A slow answer is a read timeout: retried too (the write is idempotent).
    shopify.faults.next("timeout")
    admin_for(shopify).set_inventory_policies(101, [VariantPolicyChange(5, "DENY")])
    assert shopify.shop(SHOP).variants[5].policy == "DENY"
    # A delta is never retried after an ambiguous failure.
    shopify.faults.next("timeout")
    with pytest.raises(TransientError):
        admin_for(shopify).adjust_inventory(inventory_item_id=1005, location_id=7, delta=1,
                                            reference="PO-2")


def test_the_twilio_sender_against_the_fake_and_its_failures():
    with FakeTwilio() as twilio:
        twilio.hang_seconds = 1.5
        sender = factory.sms_sender(settings(**{k.lower(): v for k, v in {
            "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_FROM_NUMBER": twilio.from_number, "TWILIO_API_URL": twilio.url}.items()}))
        result = sender.send_sms(to="+15550100001", body="Hello",
                                 status_callback="https://example.test/cb?n=42")
        assert result.sid.startswith("SM") and result.status == "queued"
        assert twilio.messages[0].notification_id == 42
        for kind in ("429", "500", "timeout", "timeout-accepted"):
            twilio.faults.next(kind)
            with pytest.raises(TransientError):
                sender.send_sms(to="+15550100001", body=kind)
        assert [m.body for m in twilio.messages] == ["Hello", "timeout-accepted"]
        assert twilio.errors == []


def test_the_smtp_sender_against_the_fake_and_its_refusals():
    with FakeSmtp() as smtp:
        env = smtp.env()
        sender = factory.email_sender(settings(
            smtp_host=env["SMTP_HOST"], smtp_port=int(env["SMTP_PORT"]), smtp_starttls=False,
            mail_from=env["MAIL_FROM"]))
        sender.send_email(Email(to="ada@example.com", subject="Hi", text="Hello",
                                message_id="notification-7@backorder.test"))
        assert smtp.messages[0].notification_id == 7
        smtp.faults.next("451")
        with pytest.raises(TransientError, match="451"):
            sender.send_email(Email(to="ada@example.com", subject="Hi", text="again"))
        assert len(smtp.messages) == 1
