"""Expiring offline tokens: refreshed before they lapse and after a 401, one refresh per
shop at a time, recovered when a refresh answer is lost, and a dead refresh token asks the
merchant to reconnect. Jobs run with the real Admin API client against the fake Shopify
on loopback (tests/support/fake_servers.py), whose token endpoint rotates refresh tokens
as Shopify does (tests/support/shopify_tokens.py).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.inventory.models import Variant
from app.domain.ports import OfflineGrant
from app.domain.shops import credentials
from app.domain.shops.models import Shop
from app.errors import TransientError
from app.security import TokenCipher
from tests.merchant.conftest import login
from tests.support.factories import make_shop
from tests.support.fake_servers import FakeShopify, ShopifyVariant
from workers import shopify as shopify_jobs

SHOP = "expiring-tees.myshopify.com"


@pytest.fixture
def shopify(rt, monkeypatch):
    """The fake Shopify on loopback; the runtime's Admin API and token endpoint point at it."""
    with FakeShopify(api_key=rt.settings.shopify_api_key,
                     secret=rt.settings.shopify_api_secret) as fake:
        monkeypatch.setattr(rt, "settings", rt.settings.with_overrides(
            shopify_admin_api_url=fake.env()["SHOPIFY_ADMIN_API_URL"], http_timeout=1.0))
        yield fake


def installed(rt, fake: FakeShopify, *, expires_in: timedelta = timedelta(hours=1)) -> int:
    """A shop that installed the public app: its expiring grant stored as the install does."""
    answer = fake.install_expiring(SHOP)
    for n in range(1, 61):
        fake.shop(SHOP).variants[n] = ShopifyVariant(n, 100 + n % 3, 1000 + n, sku=f"SKU-{n}",
                                                     levels={1: (5, None)})
    grant = OfflineGrant(answer["access_token"], answer["scope"], utcnow() + expires_in,
                         answer["refresh_token"], utcnow() + timedelta(days=90))
    ciphertext, refresh = credentials.seal(grant, TokenCipher(rt.settings.secret_key))
    shop = make_shop(rt, domain=SHOP, token_ciphertext=ciphertext, scopes=answer["scope"])
    with unit_of_work(rt.sessions) as session:
        refresh.apply(session.get(Shop, shop.id))
    return shop.id


def stored(rt, shop_id: int) -> tuple[str, str | None, bool]:
    """The shop's access token, refresh token (decrypted) and whether it must reconnect."""
    cipher = TokenCipher(rt.settings.secret_key)
    with unit_of_work(rt.sessions) as session:
        shop = session.get(Shop, shop_id)
        refresh = shop.refresh_token_ciphertext and cipher.decrypt(shop.refresh_token_ciphertext)
        return cipher.decrypt(shop.token_ciphertext), refresh, shop.needs_reinstall


def synced_variants(rt) -> int:
    with unit_of_work(rt.sessions) as session:
        return len(session.scalars(select(Variant.id)).all())


def refreshes(fake: FakeShopify) -> list[dict]:
    return fake.tokens.grants_of("refresh_token")


def test_a_token_that_expires_in_the_middle_of_a_sync_is_refreshed_and_the_sync_completes(
        rt, shopify):
    shop_id = installed(rt, shopify)
    first_token, first_refresh, _ = stored(rt, shop_id)
    pages = shopify._op_BackorderVariants

    def expire_after_the_first_page(shop, variables):
        if not variables.get("after"):
            shopify.tokens.advance(3600 + 1)  # Shopify's clock: the token lapses now
        return pages(shop, variables)
    shopify._op_BackorderVariants = expire_after_the_first_page

    assert shopify_jobs.sync_shop(shop_id) == 60
    assert synced_variants(rt) == 60
    assert shopify.rejected == [SHOP]  # one 401, then the refreshed token worked
    assert [r["refresh_token"] for r in refreshes(shopify)] == [first_refresh]
    token, refresh, reconnect = stored(rt, shop_id)
    assert (token, refresh) != (first_token, first_refresh) and refresh and not reconnect


def test_a_token_close_to_its_expiry_is_refreshed_before_shopify_refuses_it(rt, shopify):
    shop_id = installed(rt, shopify, expires_in=timedelta(minutes=2))
    _, first_refresh, _ = stored(rt, shop_id)
    assert shopify_jobs.sync_shop(shop_id) == 60
    assert shopify.rejected == []  # refreshed ahead of time, never refused
    assert [r["refresh_token"] for r in refreshes(shopify)] == [first_refresh]
    with unit_of_work(rt.sessions) as session:
        expires_at = session.get(Shop, shop_id).token_expires_at
    assert expires_at > utcnow() + timedelta(minutes=50)


def test_two_workers_refreshing_one_shop_at_once_refresh_it_once(rt, shopify):
    shop_id = installed(rt, shopify, expires_in=timedelta(minutes=1))
    shopify.tokens.answer_delay = 0.3  # both workers are inside the refresh at once
    results, errors = [], []

    def worker(variant_id: int) -> None:
        try:
            results.append(shopify_jobs.admin_for(shop_id).fetch_variant(variant_id))
        except Exception as exc:  # reported below, with the other worker's outcome
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and len(results) == 2
    assert len(refreshes(shopify)) == 1
    # What is stored is the newest pair: the next refresh is accepted.
    _, refresh, _ = stored(rt, shop_id)
    shopify.tokens.advance(3600 + 1)
    assert shopify_jobs.admin_for(shop_id).fetch_variant(3).variant_id == 3
    assert refreshes(shopify)[-1]["refresh_token"] == refresh
    assert not stored(rt, shop_id)[2]


def test_a_lost_refresh_answer_is_recovered_by_refreshing_again(rt, shopify):
    shop_id = installed(rt, shopify, expires_in=timedelta(minutes=1))
    before = stored(rt, shop_id)
    shopify.tokens.faults.append("lost")  # Shopify rotates, the answer never arrives
    shopify.tokens.lost_answer_seconds = 1.5
    with pytest.raises(TransientError):
        shopify_jobs.sync_shop(shop_id)  # RQ retries the job later
    assert stored(rt, shop_id) == before  # nothing half stored
    assert shopify_jobs.sync_shop(shop_id) == 60  # the retry: the previous token still works
    sent = [r["refresh_token"] for r in refreshes(shopify)]
    assert sent == [before[1], before[1]]
    _, refresh, reconnect = stored(rt, shop_id)
    assert refresh != before[1] and not reconnect
    # Once the new refresh token is used, the old one is gone for good.
    shopify.tokens.advance(3600 + 1)
    assert shopify_jobs.sync_shop(shop_id) == 60
    assert shopify.tokens.answer(SHOP, {**refreshes(shopify)[0]})[1] == {"error": "invalid_grant"}


@pytest.mark.parametrize("death", ["revoked", "expired"])
def test_a_dead_refresh_token_marks_the_shop_as_needing_to_reconnect(
        rt, shopify, client, death):
    shop_id = installed(rt, shopify, expires_in=timedelta(minutes=1))
    if death == "revoked":
        shopify.tokens.revoke(SHOP)
    else:
        with unit_of_work(rt.sessions) as session:
            session.get(Shop, shop_id).refresh_token_expires_at = utcnow() - timedelta(seconds=1)
    assert shopify_jobs.sync_shop(shop_id) == 0  # not retried: only the merchant can fix it
    assert stored(rt, shop_id)[2]
    assert shopify_jobs.admin_for(shop_id) is None  # no job calls Shopify meanwhile
    calls = len(shopify.calls)
    shopify_jobs.push_variants(shop_id)
    assert len(shopify.calls) == calls
    with unit_of_work(rt.sessions) as session:
        login(client, session.get(Shop, shop_id))
    page = client.get("/app/").get_data(as_text=True)
    assert 'id="reconnect"' in page and "reconnect" in page


def test_a_custom_app_token_is_never_refreshed(rt, shopify):
    shopify.add_shop(SHOP, "shpat_custom")
    shop = make_shop(rt, domain=SHOP,
                     token_ciphertext=TokenCipher(rt.settings.secret_key).encrypt("shpat_custom"))
    shopify.shop(SHOP).variants[1] = ShopifyVariant(1, 100, 1000, sku="SKU-1")
    assert shopify_jobs.sync_shop(shop.id) == 1
    shopify.shop(SHOP).token = "shpat_rotated_by_the_merchant"
    assert shopify_jobs.sync_shop(shop.id) == 0
    assert refreshes(shopify) == [] and stored(rt, shop.id)[2]  # a 401 is a reinstall, as ever
