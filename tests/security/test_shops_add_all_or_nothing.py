"""`backorder shops add` either registers a shop whose webhooks are subscribed, or leaves
nothing behind and says so: a shop that looks active but gets no webhooks is worse than
none."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from app import cli as cli_module
from app.domain.shops.models import Shop
from app.errors import PermanentError, TransientError
from app.security import TokenCipher
from integrations.shopify.fake import FakeShopifyAdmin
from tests.support.factories import make_shop

DOMAIN = "new-shop.myshopify.com"


def registration(shop: Shop) -> tuple:
    return (shop.active, shop.token_ciphertext, shop.installed_at, shop.session_version)


def shops_add(rt, monkeypatch, token: str):
    monkeypatch.setattr(cli_module._Context, "_rt", rt)
    return CliRunner().invoke(cli_module.cli, ["shops", "add", DOMAIN, "--token", token])


def shopify_failing_once(rt, monkeypatch, error) -> None:
    fake = FakeShopifyAdmin()
    fake.fail_next(1, error)
    monkeypatch.setattr(rt, "admin_factory", lambda domain, token: fake)


def test_a_failed_subscription_registers_nothing_and_says_what_to_do(rt, monkeypatch):
    shopify_failing_once(rt, monkeypatch, TransientError("503 from Shopify"))
    result = shops_add(rt, monkeypatch, "shpat_new")
    assert result.exit_code != 0
    assert "webhooks failed" in result.output and "run the same command again" in (
        result.output)
    with rt.sessions() as session:
        assert session.scalars(select(Shop)).all() == []
    monkeypatch.setattr(rt, "admin_factory", lambda domain, token: FakeShopifyAdmin())
    assert shops_add(rt, monkeypatch, "shpat_new").exit_code == 0


def test_a_failed_re_add_leaves_the_shop_as_it_was(rt, monkeypatch):
    make_shop(rt, domain=DOMAIN)
    with rt.sessions() as session:
        before = registration(session.scalar(select(Shop)))
    shopify_failing_once(rt, monkeypatch, PermanentError("ACCESS_DENIED"))
    assert shops_add(rt, monkeypatch, "shpat_other").exit_code != 0
    with rt.sessions() as session:
        shop = session.scalar(select(Shop))
    assert registration(shop) == before
    assert TokenCipher(rt.settings.secret_key).decrypt(shop.token_ciphertext) == "shpat_test_token"
