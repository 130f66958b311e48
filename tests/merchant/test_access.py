"""Security of the merchant pages: login required, one shop never reaches another's data,
CSRF on every form, escaped output, security headers, no secrets in pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.db import unit_of_work
from app.domain.inventory.models import ShopSettings, VariantOverride
from app.domain.suppliers.models import PoReceipt, PoStatus, PurchaseOrder, PurchaseOrderLine
from app.domain.suppliers.receiving import receive_purchase_order
from tests.merchant.conftest import csrf_token, login
from tests.suppliers.world import now


def merchant_rules(app, method: str) -> list[str]:
    """Every /app route for `method`, with 1 for each id: what a stranger would try."""
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/app") and method in rule.methods:
            paths.append(re.sub(r"<(?:int|id):\w+>", "1", rule.rule))
    return sorted(set(paths))


@pytest.fixture
def shop_b(other_world):
    """Shop B with a variant, a supplier, a draft and a sent PO, a receipt and an override."""
    w = other_world
    supplier = w.supplier("Bravo Supplies")
    w.item(supplier, "B-SECRET-SKU")
    w.variant(901, "B-SECRET-SKU", available=5)
    ids = {"variant": 901, "supplier": supplier}
    with w.session() as s:
        for status in (PoStatus.DRAFT, PoStatus.SENT):
            po = PurchaseOrder(shop_id=w.shop_id, supplier_id=supplier, number=f"B-{status.value}",
                               status=status, dispatch_attempts=0, sent_at=now())
            po.lines.append(PurchaseOrderLine(shop_id=w.shop_id, variant_id=901, sku="B-SECRET-SKU",
                                              quantity=10, received_quantity=0))
            s.add(po)
            s.flush()
            ids[status.value] = po.id
            ids[f"{status.value}_line"] = po.lines[0].id
        s.add(VariantOverride(shop_id=w.shop_id, variant_id=901, mode="off"))
        s.flush()
        ids["override"] = s.scalar(select(VariantOverride.id))
    with w.session() as s:
        receive_purchase_order(s, ids["sent"], {ids["sent_line"]: 2}, shop_id=w.shop_id)
    with w.session() as s:
        ids["receipt"] = s.scalar(select(PoReceipt.id))
    return ids


def snapshot(rt, shop_id: int) -> tuple:
    """What a cross-shop attempt must leave untouched."""
    with unit_of_work(rt.sessions) as s:
        pos = s.execute(select(PurchaseOrder.id, PurchaseOrder.status, PurchaseOrder.approved_at,
                               PurchaseOrder.sent_at).where(PurchaseOrder.shop_id == shop_id)
                        .order_by(PurchaseOrder.id)).all()
        lines = s.execute(select(PurchaseOrderLine.id, PurchaseOrderLine.received_quantity)
                          .order_by(PurchaseOrderLine.id)).all()
        receipts = s.execute(select(PoReceipt.id, PoReceipt.push_status)).all()
        overrides = s.scalar(select(func.count()).select_from(VariantOverride))
        settings = s.get(ShopSettings, shop_id)
        return (pos, lines, receipts, overrides, settings.mode, settings.buffer)


def test_every_page_needs_a_login(app, client):
    for path in merchant_rules(app, "GET"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/auth/login" in response.headers["Location"], path


def test_every_form_needs_a_login(app, client):
    for path in merchant_rules(app, "POST"):
        assert client.post(path, data={}).status_code == 401, path


def test_every_form_refuses_a_post_without_the_csrf_token(rt, app, merchant_client, world):
    before = snapshot(rt, world.shop_id)
    for path in merchant_rules(app, "POST"):
        response = merchant_client.post(path, data={"mode": "off", "buffer": "1"})
        assert response.status_code == 400, path
        assert "Reload the page" in response.get_data(as_text=True)
    wrong = merchant_client.post("/app/settings/", data={"csrf_token": "forged", "mode": "off"})
    assert wrong.status_code == 400
    assert snapshot(rt, world.shop_id) == before


def test_logout_and_login_links_need_the_csrf_token_too(client, world):
    assert client.post("/auth/logout").status_code == 400
    assert client.post("/auth/link/anything").status_code == 400


def test_another_shops_pages_are_not_found(merchant_client, shop_b):
    for path in (f"/app/backorders/{shop_b['variant']}", f"/app/suppliers/{shop_b['supplier']}",
                 f"/app/purchase-orders/{shop_b['draft']}", f"/app/purchase-orders/{shop_b['sent']}"):
        response = merchant_client.get(path)
        assert response.status_code == 404, path
        assert "B-SECRET-SKU" not in response.get_data(as_text=True)


def test_another_shops_records_cannot_be_changed(rt, merchant_client, other_world, shop_b):
    before = snapshot(rt, other_world.shop_id)
    token = csrf_token(merchant_client)
    attempts = {
        f"/app/purchase-orders/{shop_b['draft']}/approve": {},
        f"/app/purchase-orders/{shop_b['sent']}/receive": {"action": "all"},
        f"/app/purchase-orders/{shop_b['sent']}/resolve": {"delivered": "yes"},
        f"/app/purchase-orders/{shop_b['sent']}/receipts/{shop_b['receipt']}/resolve":
            {"applied": "yes"},
        f"/app/settings/overrides/{shop_b['override']}/delete": {},
    }
    for path, form in attempts.items():
        response = merchant_client.post(path, data={"csrf_token": token, **form})
        assert response.status_code == 404, path
    target = merchant_client.post("/app/settings/overrides", data={
        "csrf_token": token, "target": f"variant:{shop_b['variant']}", "mode": "always"})
    assert target.status_code == 400 and "Choose a product or variant of this shop" in \
        target.get_data(as_text=True)
    assert snapshot(rt, other_world.shop_id) == before


def test_another_shops_locations_cannot_be_chosen(rt, merchant_client, world, shop_b):
    form = {"csrf_token": csrf_token(merchant_client), "mode": "auto", "cap_kind": "auto",
            "buffer": "0", "handling_days": "1", "po_coalesce_minutes": "10",
            "eta_change_threshold_days": "1", "locations": "1"}  # shop B's location
    response = merchant_client.post("/app/settings/", data=form)
    assert response.status_code == 400
    assert "Choose one of the shop&#39;s locations." in response.get_data(as_text=True)


def test_lists_show_only_the_logged_in_shops_data(merchant_client, world, shop_b):
    world.variant(101, "A-SKU", available=1)
    for path in ("/app/", "/app/backorders/", "/app/backorders/?q=B-SECRET",
                 "/app/suppliers/", "/app/purchase-orders/", "/app/settings/"):
        body = merchant_client.get(path).get_data(as_text=True)
        for secret in ("B-SECRET-SKU", "Bravo Supplies", "B-draft", "B-sent"):
            assert secret not in body, (path, secret)
    assert "A-SKU" in merchant_client.get("/app/backorders/").get_data(as_text=True)


def test_pages_carry_security_headers(app, merchant_client):
    for path in merchant_rules(app, "GET"):
        response = merchant_client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
    login_page = merchant_client.get("/auth/login")
    assert "frame-ancestors 'none'" in login_page.headers["Content-Security-Policy"]


def test_the_session_cookie_is_http_only_and_lax(client, world):
    login(client, world.shop)
    response = client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # PUBLIC_URL is https in the tests' settings


def test_shop_data_is_escaped(rt, merchant_client, world):
    from app.domain.inventory.models import Variant
    world.variant(101, "<img src=x onerror=alert(1)>", available=1)
    with unit_of_work(rt.sessions) as s:
        s.scalar(select(Variant).where(Variant.variant_id == 101)).product_title = \
            "<script>alert('x')</script>"
    for path in ("/app/backorders/", "/app/backorders/101", "/app/settings/"):
        body = merchant_client.get(path).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body, path
        assert "&lt;script&gt;" in body or "&lt;img" in body, path


def test_pages_never_show_secrets(rt, app, merchant_client, world):
    secrets = (rt.settings.shopify_api_secret, rt.settings.secret_key, "shpat_test_token",
               world.shop.token_ciphertext)
    for path in merchant_rules(app, "GET") + ["/auth/login"]:
        body = merchant_client.get(path).get_data(as_text=True)
        for secret in secrets:
            assert secret not in body, path
