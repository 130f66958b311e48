"""Rows for tests, with sensible defaults (factory-boy over SQLAlchemy sessions)."""

from __future__ import annotations

import factory

from app.domain.shops.models import Shop
from app.security import TokenCipher


class ShopFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Shop
        sqlalchemy_session_persistence = "commit"

    domain = factory.Sequence(lambda n: f"shop-{n}.myshopify.com")
    name = factory.LazyAttribute(lambda o: o.domain.split(".")[0].title())
    active = True
    token_ciphertext = factory.LazyFunction(
        lambda: TokenCipher("s3cret-test-key").encrypt("shpat_test_token"))


def make_shop(rt, **kwargs) -> Shop:
    """A committed shop in the runtime's database."""
    session = rt.sessions()
    try:
        ShopFactory._meta.sqlalchemy_session = session
        return ShopFactory(**kwargs)
    finally:
        session.close()
