"""The supplier's page: view, confirm, move dates (and only the covered ETAs move)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_wtf.csrf import CSRFProtect

from app.domain.base import utcnow
from app.domain.suppliers import portal
from app.domain.suppliers.models import PoStatus, PurchaseOrder
from app.security import LinkSigner

TODAY = utcnow().date()


def day(n: int):
    return TODAY + timedelta(days=n)


@pytest.fixture
def shop(world):
    """Variant 11: customers A and B short 2 each; variant 12: customer C short 3.

    An earlier PO brings 2 of variant 11 on day 5 (A's). Acme's PO under test
    brings 2 of variant 11 (B's) and 3 of variant 12 (C's) on day 10.
    """
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M")
    world.item(acme, "TEE-L")
    world.variant(11, "TEE-M", available=0)
    world.variant(12, "TEE-L", available=0)
    world.po(acme, [(11, 2, day(5))])
    po_id = world.po(acme, [(11, 2, day(10)), (12, 3, day(10))])
    lines = {"A": world.order(11, 2), "B": world.order(11, 2), "C": world.order(12, 3)}
    world.recompute(11, 12)
    world.lines = lines
    world.po_id = po_id
    return world


def link_token(world, po_id: int, purpose: str = portal.TOKEN_PURPOSE) -> str:
    with world.session() as s:
        po = s.get(PurchaseOrder, po_id)
        url = portal.supplier_link(LinkSigner(world.rt.settings.secret_key, purpose), po,
                                   public_url="https://backorder.test")
    return url.rsplit("/", 1)[1]


def po_line_ids(world, po_id: int) -> dict[int, int]:
    """PO line id by variant id."""
    po = next(p for p in world.pos() if p.id == po_id)
    return {line.variant_id: line.id for line in po.lines}


def submit(client, token: str, data: dict):
    """POST the supplier's form as a browser would: with the CSRF token the page carries."""
    page = client.get(f"/supplier/po/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return client.post(f"/supplier/po/{token}",
                       data={**data, **({"csrf_token": csrf.group(1)} if csrf else {})})


def etas(world) -> dict[str, object]:
    return {name: world.line(line_id).eta for name, line_id in world.lines.items()}


def test_the_supplier_sees_the_po_from_the_emailed_link(shop, client):
    response = client.get(f"/supplier/po/{link_token(shop, shop.po_id)}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Tee Shop" in html and "Acme" in html and "TEE-M" in html and "S-TEE-L" in html
    for line_id in po_line_ids(shop, shop.po_id).values():
        assert f'name="expected_on_{line_id}" value="{day(10).isoformat()}"' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_confirming_records_it_and_moves_no_eta(shop, client):
    before = etas(shop)
    token = link_token(shop, shop.po_id)

    response = submit(client, token, {"action": "confirm"})

    assert response.status_code == 303
    po = next(p for p in shop.pos() if p.id == shop.po_id)
    assert po.status == PoStatus.CONFIRMED and po.confirmed_at is not None
    assert etas(shop) == before
    assert "The order is confirmed" in client.get(response.location).get_data(as_text=True)


def test_a_supplier_moving_a_date_later_moves_the_affected_etas_and_only_those(shop, client):
    assert etas(shop) == {"A": day(5), "B": day(10), "C": day(10)}
    line_ids = po_line_ids(shop, shop.po_id)

    response = submit(client, link_token(shop, shop.po_id), {
        "action": "save", f"expected_on_{line_ids[11]}": day(20).isoformat(),
        f"expected_on_{line_ids[12]}": day(10).isoformat()})

    assert response.status_code == 303
    assert etas(shop) == {"A": day(5), "B": day(20), "C": day(10)}


def test_an_invalid_date_is_shown_next_to_its_field_and_nothing_is_saved(shop, client):
    line_ids = po_line_ids(shop, shop.po_id)
    token = link_token(shop, shop.po_id)

    response = submit(client, token, {
        "action": "confirm", f"expected_on_{line_ids[11]}": day(30).isoformat(),
        f"expected_on_{line_ids[12]}": "next tuesday"})

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="expected_on_{line_ids[12]}-error">Enter a date like', html)
    assert 'value="next tuesday"' in html  # what the supplier typed stays in the form
    po = next(p for p in shop.pos() if p.id == shop.po_id)
    assert po.status == PoStatus.SENT
    assert {line.expected_on for line in po.lines} == {day(10)}
    assert etas(shop) == {"A": day(5), "B": day(10), "C": day(10)}


def test_a_date_in_the_past_is_refused(shop, client):
    line_ids = po_line_ids(shop, shop.po_id)

    response = submit(client, link_token(shop, shop.po_id), {
        "action": "save", f"expected_on_{line_ids[11]}": day(-1).isoformat()})

    assert response.status_code == 400
    assert "cannot be in the past" in response.get_data(as_text=True)


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token: "not-a-token",
])
def test_a_tampered_link_is_a_plain_404_page(shop, client, mangle):
    response = client.get(f"/supplier/po/{mangle(link_token(shop, shop.po_id))}")

    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "This link does not work" in html and "Traceback" not in html


def test_a_link_signed_for_another_purpose_is_refused(shop, client):
    other = link_token(shop, shop.po_id, purpose="customer-status")

    assert client.get(f"/supplier/po/{other}").status_code == 404


def test_an_expired_link_is_refused_and_changes_nothing(shop, client, monkeypatch):
    monkeypatch.setattr(portal, "TOKEN_MAX_AGE", -1)

    response = client.get(f"/supplier/po/{link_token(shop, shop.po_id)}")

    assert response.status_code == 404 and "expired" in response.get_data(as_text=True)


def test_a_received_po_is_shown_but_can_no_longer_be_changed(shop, client):
    with shop.session() as s:
        s.get(PurchaseOrder, shop.po_id).status = PoStatus.RECEIVED
    token = link_token(shop, shop.po_id)

    assert "can no longer be changed" in client.get(f"/supplier/po/{token}").get_data(
        as_text=True)
    assert submit(client, token, {"action": "confirm"}).status_code == 409


def test_the_form_carries_a_csrf_token_when_the_app_protects_forms(shop, app):
    if "csrf" not in app.extensions:
        CSRFProtect(app)
    client = app.test_client()
    token = link_token(shop, shop.po_id)
    html = client.get(f"/supplier/po/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    refused = client.post(f"/supplier/po/{token}", data={"action": "confirm"})
    accepted = client.post(f"/supplier/po/{token}",
                           data={"action": "confirm", "csrf_token": csrf})
    assert "Please try again" in refused.get_data(as_text=True)

    assert refused.status_code == 400
    assert accepted.status_code == 303
