"""A supplier's HTTP endpoint: its secret is stored encrypted like shop tokens, and its
URL is https to a public address (never this service's own network), loopback only where
a test setting allows it."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pytest
import responses
from sqlalchemy import select

from app.domain.suppliers.models import Supplier
from app.domain.suppliers.service import set_http_endpoint
from app.errors import InvalidInput, PermanentError
from app.security import TokenCipher
from integrations.suppliers.http import HttpSupplierChannel
from tests.suppliers.test_http_channel import DOC, URL
from tests.suppliers.world import World
from workers import suppliers as jobs

PUBLIC = {"supplier.example": ["93.184.215.14"], "inside.example": ["10.0.0.5"],
          "rebound.example": ["93.184.215.14", "169.254.169.254"]}


def resolve(host: str) -> list[str]:
    return PUBLIC.get(host, [])


REFUSED = ["http://supplier.example/po", "ftp://supplier.example/po",
           "https://127.0.0.1/po", "https://localhost/po", "https://[::1]/po",
           "https://10.1.2.3/po", "https://192.168.0.10/po", "https://169.254.169.254/latest",
           "https://[fd00::1]/po", "https://inside.example/po", "https://rebound.example/po",
           "https://user:pw@supplier.example/po", "https:///po"]


def test_only_https_to_a_public_address_can_be_set(rt):
    world = World(rt)
    supplier_id = world.supplier("Acme")
    cipher = TokenCipher(rt.settings.secret_key)
    with world.session() as session:
        for url in REFUSED:
            with pytest.raises(InvalidInput):
                set_http_endpoint(session, world.shop_id, supplier_id, url=url,
                                  secret_ciphertext=cipher.encrypt("s"), resolve=resolve)
        set_http_endpoint(session, world.shop_id, supplier_id, url="https://supplier.example/po",
                          secret_ciphertext=cipher.encrypt("s"), resolve=resolve)
        # a fake supplier on this machine, where the tests allow it
        set_http_endpoint(session, world.shop_id, supplier_id, url="http://127.0.0.1:8152/po",
                          secret_ciphertext=cipher.encrypt("s"), allow_loopback=True)


@responses.activate
def test_the_channel_refuses_a_private_address_at_send_time_and_posts_nothing():
    for url in ("https://127.0.0.1/po", "https://169.254.169.254/latest", "http://supplier.example/"):
        with pytest.raises(PermanentError, match="endpoint URL"):
            HttpSupplierChannel(secret="s").send_purchase_order(
                dataclasses.replace(DOC, supplier_endpoint=url))
    assert len(responses.calls) == 0
    responses.post("http://127.0.0.1:8152/po", status=200)
    HttpSupplierChannel(secret="s", allow_loopback=True).send_purchase_order(
        dataclasses.replace(DOC, supplier_endpoint="http://127.0.0.1:8152/po"))
    assert len(responses.calls) == 1


@responses.activate
def test_the_secret_is_stored_encrypted_and_still_signs_the_po(rt):
    world = World(rt)
    acme, po = world.http_supplier_po(URL, "whsec_acme")
    responses.post(URL, status=200)
    jobs.send_purchase_order(po.id)
    [call] = responses.calls
    expected = hmac.new(b"whsec_acme", call.request.body, hashlib.sha256).hexdigest()
    assert call.request.headers["X-Backorder-Signature"] == f"sha256={expected}"
    with world.session() as session:
        row = session.scalar(select(Supplier).where(Supplier.id == acme))
        assert row.endpoint_secret is None and "whsec_acme" not in row.endpoint_secret_ciphertext
