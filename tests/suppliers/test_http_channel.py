"""The HTTP channel: a signed JSON POST; failures sorted into transient and permanent."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

import pytest
import requests
import responses

from app.domain.ports import PurchaseOrderDoc, PurchaseOrderLineDoc
from app.domain.suppliers.models import PoStatus
from app.errors import PermanentError, TransientError
from integrations.suppliers.http import HttpSupplierChannel
from workers import suppliers as jobs

URL = "https://supplier.example/api/purchase-orders"
SECRET = "whsec_supplier"
DOC = PurchaseOrderDoc(
    number="PO-000042", shop_name="Tee Shop", supplier_name="Acme",
    supplier_email=None, supplier_endpoint=URL, currency="USD",
    lines=(PurchaseOrderLineDoc("TEE-M", "A-100", 12, "4.50", date(2026, 12, 24)),),
    link="https://backorder.test/supplier/po/token")


@responses.activate
def test_the_po_is_posted_as_json_signed_with_the_suppliers_secret():
    responses.post(URL, status=202)

    HttpSupplierChannel(secret=SECRET).send_purchase_order(DOC)

    request = responses.calls[0].request
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Backorder-Signature"] == expected
    assert request.headers["Idempotency-Key"] == "PO-000042"
    body = json.loads(request.body)
    assert body["number"] == "PO-000042" and body["link"] == DOC.link
    assert body["lines"] == [{"sku": "TEE-M", "supplier_sku": "A-100", "quantity": 12,
                              "unit_cost": "4.50", "expected_on": "2026-12-24"}]


@pytest.mark.parametrize(("answer", "error"), [
    ({"status": 503}, TransientError),
    ({"status": 429, "headers": {"Retry-After": "30"}}, TransientError),
    ({"body": requests.ConnectTimeout("slow")}, TransientError),
    ({"body": requests.ReadTimeout("slow")}, TransientError),
    ({"body": requests.ConnectionError("refused")}, TransientError),
    ({"status": 400}, PermanentError),
    ({"status": 401}, PermanentError),
    ({"status": 302, "headers": {"Location": "https://elsewhere.example/"}}, PermanentError),
])
@responses.activate
def test_failures_are_transient_or_permanent(answer, error):
    responses.post(URL, **answer)

    with pytest.raises(error):
        HttpSupplierChannel(secret=SECRET).send_purchase_order(DOC)


def test_a_supplier_without_a_secret_is_never_sent_an_unsigned_po():
    with pytest.raises(PermanentError, match="no endpoint secret"):
        HttpSupplierChannel(secret=None).send_purchase_order(DOC)


@responses.activate
def test_the_dispatch_job_sends_to_an_http_supplier_and_retries_after_a_5xx(world):
    _, po = world.http_supplier_po(URL, SECRET)
    responses.post(URL, status=502)
    responses.post(URL, status=200)

    with pytest.raises(TransientError):
        jobs.send_purchase_order(po.id)
    jobs.send_purchase_order(po.id)
    jobs.send_purchase_order(po.id)

    assert len(responses.calls) == 2
    assert {c.request.headers["Idempotency-Key"] for c in responses.calls} == {po.number}
    assert world.pos()[0].status == PoStatus.SENT
