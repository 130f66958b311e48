"""Integers from a request that no row could hold (beyond BIGINT, thousands of digits)
get a clear 400 or 404, never a 500."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.domain.suppliers.models import PurchaseOrderLine
from tests.merchant.conftest import csrf_token

BEYOND_BIGINT = str(2**63)
HUGE = "9" * 5000  # beyond Python's 4300-digit int() limit
NUMBERS = [BEYOND_BIGINT, "9" * 40, HUGE]


@pytest.mark.parametrize("path", ["/app/backorders/{}", "/app/purchase-orders/{}",
                                  "/app/suppliers/{}"])
def test_a_page_id_no_row_could_have_is_not_found(merchant_client, path):
    for number in NUMBERS:
        assert merchant_client.get(path.format(number)).status_code == 404, number


@pytest.mark.parametrize("path", ["/app/settings/overrides/{}/delete",
                                  "/app/settings/alternatives/{}/delete",
                                  "/app/purchase-orders/{}/approve"])
def test_a_posted_id_no_row_could_have_is_not_found(merchant_client, path):
    token = csrf_token(merchant_client)
    for number in NUMBERS:
        assert merchant_client.post(path.format(number),
                                    data={"csrf_token": token}).status_code == 404, number


def test_a_receive_quantity_no_column_holds_is_refused(merchant_client, world):
    supplier = world.supplier("Acme")
    world.variant(101, "TEE")
    po_id = world.po(supplier, [(101, 5, date(2026, 12, 1))])
    with world.session() as session:
        line_id = session.scalar(select(PurchaseOrderLine.id))
    token = csrf_token(merchant_client)
    for number in NUMBERS:
        response = merchant_client.post(f"/app/purchase-orders/{po_id}/receive",
                                        data={"csrf_token": token, f"qty_{line_id}": number})
        assert response.status_code == 400, number
    with world.session() as session:
        assert session.scalar(select(PurchaseOrderLine.received_quantity)) == 0


@pytest.mark.parametrize("field", ["buffer", "locations", "handling_days"])
def test_a_settings_number_no_column_holds_is_refused_next_to_its_field(
        merchant_client, world, field):
    token = csrf_token(merchant_client)
    for number in NUMBERS:
        form = {"csrf_token": token, "mode": "auto", "cap_kind": "auto", "buffer": "5",
                "handling_days": "1", field: number}
        response = merchant_client.post("/app/settings/", data=form)
        assert response.status_code == 400, number
        assert "Enter a whole number" in response.get_data(as_text=True) or \
            "Choose one of the shop's locations" in response.get_data(as_text=True)


@pytest.mark.parametrize("path, form", [
    ("/app/settings/overrides", {"target": "variant:{}", "mode": "auto"}),
    ("/app/settings/overrides", {"target": "product:{}", "mode": "auto"}),
    ("/app/settings/overrides", {"target": "variant:101", "buffer": "{}"}),
    ("/app/settings/overrides", {"target": "variant:101", "fixed_cap": "{}"}),
    ("/app/settings/alternatives", {"target": "variant:{}", "alternative": "101"}),
    ("/app/settings/alternatives", {"target": "variant:101", "alternative": "{}"})])
def test_an_override_or_alternative_number_no_column_holds_is_refused(
        merchant_client, world, path, form):
    world.variant(101, "TEE")
    token = csrf_token(merchant_client)
    for number in NUMBERS:
        data = {"csrf_token": token, **{k: v.format(number) for k, v in form.items()}}
        assert merchant_client.post(path, data=data).status_code == 400, number
