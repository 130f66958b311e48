"""The merchant pages through the Flask test client: settings, overrides, catalog upload,
purchase orders and the backorder queue, each change checked in the database."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.db import unit_of_work
from app.domain.inventory.models import ShopSettings, VariantOverride
from app.domain.notifications.service import notify_settings
from app.domain.shops.models import Shop
from app.domain.suppliers.models import PoStatus, PurchaseOrder, Supplier
from app.domain.suppliers.reorder import plan_reorders
from app.domain.suppliers.service import supplier_settings
from tests.merchant.conftest import csrf_token
from tests.suppliers.world import now

GOOD_CSV = (b"supplier,supplier_email,sku,supplier_sku,unit_cost,currency,lead_time_days,moq,"
            b"pack_size,priority\nAcme,orders@acme.example,TEE-M,AC-1,4.50,USD,7,1,1,1\n")
BAD_CSV = (b"supplier,supplier_email,sku,unit_cost,currency,lead_time_days\n"
           b"Acme,orders@acme.example,TEE-M,4.50,USD,7\n"
           b"Acme,not-an-email,TEE-L,cheap,USD,-3\n")


def settings_form(**changes) -> dict:
    form = {"mode": "auto", "cap_kind": "auto", "buffer": "100", "handling_days": "0",
            "po_coalesce_minutes": "10", "eta_change_threshold_days": "1",
            "email_enabled": "on", "quiet_enabled": "on", "quiet_start": "21:00",
            "quiet_end": "08:00"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def backordered_tee(world, *, supplier: bool = True) -> int:
    """TEE-M: 1 in stock, 3 ordered, so 2 units wait; Acme restocks it in 7 days."""
    if supplier:
        world.item(world.supplier("Acme"), "TEE-M", lead_time_days=7)
    world.variant(11, "TEE-M", available=1)
    for _ in range(3):
        world.order(11, 1)
    world.recompute(11)
    return 11


def status_of(world, variant_id: int) -> str:
    return world.variant_row(variant_id).status


# --- Settings ------------------------------------------------------------------------


def test_invalid_settings_are_shown_next_to_each_field_and_nothing_is_saved(
        rt, merchant_client, world):
    with unit_of_work(rt.sessions) as s:
        before = s.get(ShopSettings, world.shop_id)
        before = (before.mode, before.buffer, before.handling_days, dict(before.extra))
    form = settings_form(mode="sometimes", buffer="-4", handling_days="ten", quiet_end="21:00",
                         cap_kind="fixed", fixed_cap="", po_auto_send="on")
    response = merchant_client.post("/app/settings/",
                                    data={"csrf_token": csrf_token(merchant_client), **form})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    for field in ("mode", "buffer", "handling_days", "fixed_cap", "quiet_end"):
        assert f'id="{field}-error"' in body, field
    assert re.search(r'id="buffer"[^>]*value="-4"[^>]*aria-invalid="true"', body)
    assert "nothing was saved" in body
    with unit_of_work(rt.sessions) as s:
        after = s.get(ShopSettings, world.shop_id)
        assert (after.mode, after.buffer, after.handling_days, dict(after.extra)) == before


def test_a_settings_change_recomputes_every_variant(rt, merchant_client, world, run_jobs):
    backordered_tee(world)
    assert status_of(world, 11) == "backorderable"
    response = merchant_client.post("/app/settings/", data={
        "csrf_token": csrf_token(merchant_client), **settings_form(mode="off")})
    assert response.status_code == 303
    notice = merchant_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Settings saved. Every variant is being recomputed." in notice
    run_jobs()
    assert status_of(world, 11) == "out_of_stock"
    row = re.search(r'<tr data-variant="11">.*?</tr>',
                    merchant_client.get("/app/backorders/").get_data(as_text=True), re.S)
    assert "Out of stock" in row.group(0)


def test_reorder_and_message_settings_are_saved_where_their_services_read_them(
        rt, merchant_client, world):
    form = settings_form(po_auto_send="on", po_coalesce_minutes="0", sms_enabled="on",
                         email_enabled=None, quiet_enabled=None, eta_change_threshold_days="3")
    assert merchant_client.post("/app/settings/", data={
        "csrf_token": csrf_token(merchant_client), **form}).status_code == 303
    with unit_of_work(rt.sessions) as s:
        reorder, notify = supplier_settings(s, world.shop_id), notify_settings(s, world.shop_id)
    assert reorder.po_auto_send and reorder.po_coalesce_minutes == 0
    assert notify.sms_enabled and not notify.email_enabled and notify.quiet_hours is None
    assert notify.eta_change_threshold_days == 3
    page = merchant_client.get("/app/settings/").get_data(as_text=True)
    assert re.search(r'id="sms_enabled"[^>]*checked', page)
    assert not re.search(r'id="quiet_enabled"[^>]*checked', page)


def test_holding_backorders_in_fulfilment_is_on_for_a_new_shop_and_can_be_turned_off(
        rt, merchant_client, world):
    page = merchant_client.get("/app/settings/").get_data(as_text=True)
    assert re.search(r'id="hold_backorders"[^>]*checked', page)
    assert merchant_client.post("/app/settings/", data={
        "csrf_token": csrf_token(merchant_client), **settings_form()}).status_code == 303
    with unit_of_work(rt.sessions) as s:
        assert s.get(ShopSettings, world.shop_id).hold_backorders is False
    page = merchant_client.get("/app/settings/").get_data(as_text=True)
    assert not re.search(r'id="hold_backorders"[^>]*checked', page)


def test_a_variant_override_applies_to_that_variant_only(rt, merchant_client, world, run_jobs):
    backordered_tee(world)
    world.variant(12, "TEE-L", available=0)
    token = csrf_token(merchant_client)
    response = merchant_client.post("/app/settings/overrides", data={
        "csrf_token": token, "target": "variant:11", "mode": "off", "note": "discontinued"})
    assert response.status_code == 303
    run_jobs()
    assert status_of(world, 11) == "out_of_stock"
    page = merchant_client.get("/app/settings/").get_data(as_text=True)
    assert "discontinued" in page and "TEE-M" in page
    with unit_of_work(rt.sessions) as s:
        override_id = s.scalar(select(VariantOverride.id))
    assert merchant_client.post(f"/app/settings/overrides/{override_id}/delete",
                                data={"csrf_token": token}).status_code == 303
    run_jobs()
    assert status_of(world, 11) == "backorderable"


def test_an_empty_override_is_refused_next_to_its_field(merchant_client, world):
    world.variant(11, "TEE-M", available=0)
    response = merchant_client.post("/app/settings/overrides", data={
        "csrf_token": csrf_token(merchant_client), "target": "variant:11", "buffer": "x"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="buffer-error"' in body


# --- Suppliers and the catalog ----------------------------------------------------------


def upload(client, data: bytes, name: str = "catalog.csv"):
    import io
    return client.post("/app/suppliers/catalog", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/app/suppliers/"), "catalog": (io.BytesIO(data), name)})


def test_a_bad_catalog_lists_every_problem_by_line_and_imports_nothing(rt, merchant_client, world):
    response = upload(merchant_client, BAD_CSV)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    problems = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]+)</td>', body)
    assert ("3", "supplier_email") in problems and ("3", "unit_cost") in problems
    assert ("3", "lead_time_days") in problems
    with unit_of_work(rt.sessions) as s:
        assert s.scalar(select(Supplier).where(Supplier.shop_id == world.shop_id)) is None


def test_a_good_catalog_is_imported_and_listed(merchant_client, world, run_jobs):
    world.variant(11, "TEE-M", available=0)
    response = upload(merchant_client, GOOD_CSV)
    assert response.status_code == 303
    page = merchant_client.get("/app/suppliers/").get_data(as_text=True)
    assert "catalog.csv: imported 1 rows" in page and "Acme" in page
    run_jobs()
    assert status_of(world, 11) == "backorderable"  # a supplier now restocks it


def test_an_upload_without_a_file_says_so(merchant_client, world):
    response = merchant_client.post("/app/suppliers/catalog", data={
        "csrf_token": csrf_token(merchant_client, "/app/suppliers/")})
    assert response.status_code == 400
    assert 'id="catalog-error">Choose a CSV file' in response.get_data(as_text=True)


# --- Purchase orders ---------------------------------------------------------------------


def draft_po(world) -> PurchaseOrder:
    backordered_tee(world)
    with world.session() as s:
        plan_reorders(s, world.shop_id)
    po, = world.pos()
    return po


def test_a_draft_is_approved_sent_and_received_in_two_parts(rt, merchant_client, world,
                                                           run_jobs):
    po = draft_po(world)
    listing = merchant_client.get("/app/purchase-orders/").get_data(as_text=True)
    assert po.number in listing and "waiting for approval" in listing
    token = csrf_token(merchant_client, f"/app/purchase-orders/{po.id}")
    assert merchant_client.post(f"/app/purchase-orders/{po.id}/approve",
                                data={"csrf_token": token}).status_code == 303
    run_jobs()
    po, = world.pos()
    assert po.status == PoStatus.SENT
    line = po.lines[0]
    response = merchant_client.post(f"/app/purchase-orders/{po.id}/receive", data={
        "csrf_token": token, "action": "lines", f"qty_{line.id}": str(line.quantity + 5)})
    assert response.status_code == 400
    assert f'id="qty_{line.id}-error">only {line.quantity} still expected' in \
        response.get_data(as_text=True)
    assert merchant_client.post(f"/app/purchase-orders/{po.id}/receive", data={
        "csrf_token": token, "action": "lines", f"qty_{line.id}": "1"}).status_code == 303
    assert world.pos()[0].status == PoStatus.PARTIALLY_RECEIVED
    assert merchant_client.post(f"/app/purchase-orders/{po.id}/receive", data={
        "csrf_token": token, "action": "all"}).status_code == 303
    run_jobs()
    po, = world.pos()
    assert po.status == PoStatus.RECEIVED and po.lines[0].received_quantity == line.quantity
    assert world.variant_row(11).backordered_units == 0


def test_approving_twice_is_a_conflict_not_a_second_send(merchant_client, world, run_jobs):
    po = draft_po(world)
    token = csrf_token(merchant_client, f"/app/purchase-orders/{po.id}")
    assert merchant_client.post(f"/app/purchase-orders/{po.id}/approve",
                                data={"csrf_token": token}).status_code == 303
    run_jobs()
    again = merchant_client.post(f"/app/purchase-orders/{po.id}/approve",
                                 data={"csrf_token": token})
    assert again.status_code == 409


# --- Backorders ----------------------------------------------------------------------


def test_the_queue_shows_who_waits_in_what_order_with_each_lines_eta(merchant_client, world):
    backordered_tee(world)
    page = merchant_client.get("/app/backorders/11").get_data(as_text=True)
    rows = re.findall(r'<tr( class="waiting")?>\s*<td class="num">(\d)</td>', page)
    assert [(bool(waiting), pos) for waiting, pos in rows] == [
        (False, "1"), (True, "2"), (True, "3")]
    eta = (now().date() + timedelta(days=7)).isoformat()
    assert page.count(eta) >= 2


def test_the_variant_list_filters_by_status_and_searches_orders(merchant_client, world):
    backordered_tee(world)
    world.variant(12, "MUG", available=4)
    world.recompute(12)
    both = merchant_client.get("/app/backorders/").get_data(as_text=True)
    assert "TEE-M" in both and "MUG" in both
    waiting = merchant_client.get("/app/backorders/?status=backorderable").get_data(as_text=True)
    assert "TEE-M" in waiting and "MUG" not in waiting
    by_email = merchant_client.get("/app/backorders/?q=c@example").get_data(as_text=True)
    assert "TEE-M" in by_email and "MUG" not in by_email
    nothing = merchant_client.get("/app/backorders/?q=%25_").get_data(as_text=True)
    assert "No variants match." in nothing


# --- Message templates ----------------------------------------------------------------


def test_a_template_is_previewed_with_sample_data_before_anything_is_saved(
        rt, merchant_client, world):
    token = csrf_token(merchant_client, "/app/settings/messages?kind=eta_changed")
    response = merchant_client.post("/app/settings/messages", data={
        "csrf_token": token, "kind": "eta_changed", "action": "preview",
        "sms": "{{ shop.name }}: <b>{{ lines[0].title }}</b> now {{ lines[0].eta }}"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="preview-sms">Tee Shop: &lt;b&gt;Merino Beanie&lt;/b&gt; now' in body
    with unit_of_work(rt.sessions) as s:
        assert not notify_settings(s, world.shop_id).templates


def test_a_template_that_does_not_render_is_refused_next_to_its_field(rt, merchant_client,
                                                                      world):
    token = csrf_token(merchant_client, "/app/settings/messages")
    response = merchant_client.post("/app/settings/messages", data={
        "csrf_token": token, "kind": "backordered", "action": "save",
        "subject": "{% if %}", "sms": "fine"})
    assert response.status_code == 400
    assert 'id="subject-error"' in response.get_data(as_text=True)
    with unit_of_work(rt.sessions) as s:
        assert not notify_settings(s, world.shop_id).templates


def test_parts_the_liquid_migration_could_not_convert_are_named_until_saved(
        rt, merchant_client, world):
    with unit_of_work(rt.sessions) as s:
        row = s.get(ShopSettings, world.shop_id) or ShopSettings(shop_id=world.shop_id)
        row.extra = {"notifications": {"liquid_conversion": {"backordered": {
            "subject": "default: '9**9' is not a plain expression", "sms": "converted"}}}}
        s.add(row)
    page = merchant_client.get("/app/settings/messages?kind=backordered").get_data(as_text=True)
    assert re.search(r'id="unconverted".*Email subject: &#39;9\*\*9&#39; is not a plain', page,
                     re.S)
    assert "Text message (SMS):" not in page.split('id="unconverted"')[1].split("</div>")[0]
    token = csrf_token(merchant_client, "/app/settings/messages")
    merchant_client.post("/app/settings/messages", data={
        "csrf_token": token, "kind": "backordered", "action": "save",
        "subject": "About {{ order.name }}"})
    page = merchant_client.get("/app/settings/messages?kind=backordered").get_data(as_text=True)
    assert 'id="unconverted"' not in page


def test_a_saved_template_is_what_the_notifier_reads_and_reset_forgets_it(
        rt, merchant_client, world):
    token = csrf_token(merchant_client, "/app/settings/messages")
    sms = "{{ shop.name }}: {% for l in lines %}{{ l.title }} {{ l.status_text }}{% endfor %}"
    assert merchant_client.post("/app/settings/messages", data={
        "csrf_token": token, "kind": "backordered", "action": "save", "sms": sms}
    ).status_code == 303
    with unit_of_work(rt.sessions) as s:
        assert notify_settings(s, world.shop_id).templates == {"backordered": {"sms": sms}}
    page = merchant_client.get("/app/settings/messages?kind=backordered")
    assert sms.replace("{{", "").split()[0] in page.get_data(as_text=True)
    merchant_client.post("/app/settings/messages", data={
        "csrf_token": token, "kind": "backordered", "action": "reset"})
    with unit_of_work(rt.sessions) as s:
        assert not notify_settings(s, world.shop_id).templates


def test_the_backorders_and_variant_pages_say_what_the_cap_is_made_of(merchant_client, world):
    with world.session() as s:
        s.get(ShopSettings, world.shop_id).buffer = 0
    acme = world.supplier("Acme")
    world.item(acme, "MUG-RED", moq=10, lead_time_days=10)
    world.variant(11, "MUG-RED", available=0)
    world.recompute(11)

    words = "Cap 10: the next order from Acme (minimum 10)"
    assert words in merchant_client.get("/app/backorders/").get_data(as_text=True)
    assert words in merchant_client.get("/app/backorders/11").get_data(as_text=True)


def test_a_variant_that_does_not_sell_says_why_instead_of_a_cap(merchant_client, world):
    with world.session() as s:
        s.get(ShopSettings, world.shop_id).buffer = 19
    world.variant(12, "MUG", available=0)  # nobody supplies it
    world.recompute(12)

    page = merchant_client.get("/app/backorders/").get_data(as_text=True)
    [cell] = re.findall(r'<td class="cap[^"]*">([^<]*)</td>', page)
    assert cell == ("Not sold beyond stock: no supplier that can receive a purchase order "
                    "sells it, and no purchase order brings it")


def test_a_receipt_shopify_cannot_get_says_why_on_the_po_page(merchant_client, world, run_jobs):
    po = draft_po(world)
    with world.session() as s:
        s.get(Shop, world.shop_id).token_ciphertext = None  # like the demo shop
    token = csrf_token(merchant_client, f"/app/purchase-orders/{po.id}")
    merchant_client.post(f"/app/purchase-orders/{po.id}/approve", data={"csrf_token": token})
    run_jobs()
    assert merchant_client.post(f"/app/purchase-orders/{po.id}/receive", data={
        "csrf_token": token, "action": "all"}).status_code == 303
    run_jobs()

    page = merchant_client.get(f"/app/purchase-orders/{po.id}").get_data(as_text=True)
    receipts = page[page.index('id="receipts"'):]
    assert re.search(r"failed <span class=\"hint\">Could not update Shopify: this shop has no "
                     r"Admin API access; reconnect it</span>", receipts)
    assert 'id="no-admin-access"' in page


def test_the_html_email_preview_is_framed_from_its_own_route_with_its_own_csp(
        merchant_client):
    page = merchant_client.get("/app/settings/messages?kind=backordered")
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    src = re.search(r'id="preview-html"[^>]* src="([^"]+)"', page.get_data(as_text=True)).group(1)

    framed = merchant_client.get(src)

    assert framed.status_code == 200
    assert '<body style="font-family: sans-serif;' in framed.get_data(as_text=True)
    csp = framed.headers["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in csp and "script-src" not in csp
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp
    assert merchant_client.get(src + "x").status_code == 404
