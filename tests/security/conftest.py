"""The merchant pages' fixtures (a fake Shopify, shop worlds, a logged-in client)."""

from tests.merchant.conftest import admin, merchant_client, shopify, world  # noqa: F401
