"""The merchant's day in headless Chromium: install through OAuth against a local fake
Shopify, change a setting and see it take effect, upload a bad then a good catalog,
approve and receive a purchase order, and read the dashboard's charts.

Debian's chromium (installed by `make test`) is driven by Playwright; the app and the
fake Shopify are served by werkzeug on 127.0.0.1. A screenshot of every page goes to
test-artifacts/merchant/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.ports import OrderLineInfo
from tests.merchant.conftest import shot
from tests.merchant.test_pages import BAD_CSV, GOOD_CSV
from tests.suppliers.world import now

pytestmark = pytest.mark.browser
SHOP = "demo-tees.myshopify.com"


def seed_shopify(admin) -> None:
    """The shop as Shopify knows it: a tee oversold by two, a mug in stock."""
    admin.add_variant(101, product_id=10, sku="TEE-M", title="M", product_title="Classic Tee",
                      available={1: -2})
    admin.add_variant(102, product_id=20, sku="MUG", product_title="Trail Mug", available={1: 5})
    placed = now() - timedelta(hours=2)
    for n in range(3):
        admin.add_order(5000 + n, lines=[OrderLineInfo(7000 + n, 101, 1, title="Classic Tee")],
                        email=f"buyer{n}@example.com", created_at=placed + timedelta(minutes=n))


def tee_status(page, live) -> str:
    page.goto(f"{live.url}/app/backorders/")
    return page.locator('tr[data-variant="101"] td.status').inner_text()


def test_a_merchant_installs_configures_and_restocks(page, live, admin, run_jobs):
    seed_shopify(admin)
    install(page, live)
    run_jobs()  # the catalog sync queued at install
    assert tee_status(page, live) == "Out of stock"  # no supplier, no restock date
    shot(page, "03-backorders-before")
    change_mode_to_always(page, live)
    run_jobs()
    assert tee_status(page, live) == "Backorderable"
    shot(page, "05-backorders-after-setting")
    upload_catalogs(page, live)
    run_jobs()  # recompute with the supplier's lead time, then plan the reorder
    approve_and_receive(page, live, run_jobs)
    page.goto(f"{live.url}/app/backorders/101")
    assert page.locator("#queue tbody tr").count() == 3
    shot(page, "10-variant-queue")
    read_dashboard(page, live)
    preview_a_message(page, live)


def install(page, live) -> None:
    page.goto(f"{live.url}/auth/login")
    page.fill("#shop", SHOP)
    shot(page, "01-login")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/app/")
    assert page.locator("#shop-domain").inner_text() == SHOP
    shot(page, "02-dashboard-after-install")


def change_mode_to_always(page, live) -> None:
    page.goto(f"{live.url}/app/settings/")
    page.check("#mode-always")
    page.fill("#buffer", "-5")
    page.click("#save-settings")
    assert page.locator("#buffer-error").inner_text().startswith("Enter a whole number")
    page.fill("#buffer", "10")
    page.click("#save-settings")
    assert "Settings saved" in page.locator(".banner.notice").inner_text()
    shot(page, "04-settings")


def upload_catalogs(page, live) -> None:
    page.goto(f"{live.url}/app/suppliers/")
    page.set_input_files("#catalog", files=[{"name": "bad.csv", "mimeType": "text/csv",
                                             "buffer": BAD_CSV}])
    page.click("form[enctype] button[type=submit]")
    problems = page.locator("#catalog-problems tbody tr")
    assert problems.count() == 3 and "unit_cost" in problems.nth(1).inner_text()
    shot(page, "06-catalog-bad")
    page.set_input_files("#catalog", files=[{"name": "good.csv", "mimeType": "text/csv",
                                             "buffer": GOOD_CSV.replace(b"TEE-M,", b"TEE-M,")}])
    page.click("form[enctype] button[type=submit]")
    assert "imported 1 rows" in page.locator(".banner.notice").inner_text()
    assert page.locator("#suppliers").inner_text().count("Acme") == 1
    shot(page, "07-catalog-good")


def approve_and_receive(page, live, run_jobs) -> None:
    page.goto(f"{live.url}/app/purchase-orders/")
    page.locator("#purchase-orders tbody a").first.click()
    assert page.locator("#po-status").inner_text() == "waiting for approval"
    page.click("#approve")
    assert "Approved" in page.locator(".banner.notice").inner_text()
    run_jobs()  # the dispatch job emails the supplier (console backend)
    page.reload()
    assert page.locator("#po-status").inner_text() == "sent"
    shot(page, "08-purchase-order-sent")
    page.click("#receive-all")
    assert "Received" in page.locator(".banner.notice").inner_text()
    assert page.locator("#po-status").inner_text() == "received"
    run_jobs()
    shot(page, "09-purchase-order-received")


def read_dashboard(page, live) -> None:
    page.goto(f"{live.url}/app/")
    assert page.locator("#chart-backordered path.line").count() == 1
    assert page.locator("#chart-waits rect.bar").count() >= 1  # the received PO filled lines
    assert page.locator("#chart-suppliers rect.bar").count() == 1
    assert page.locator("#chart-messages").is_visible()
    box = page.locator("#chart-backordered").bounding_box()
    assert box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    shot(page, "11-dashboard")


def preview_a_message(page, live) -> None:
    page.goto(f"{live.url}/app/settings/")
    page.click("#edit-templates")
    page.fill("#tpl-sms", "{{ shop.name }}: {{ lines[0].title }} ships {{ lines[0].eta }}. "
              "{{ status_url }}")
    page.click("#preview-templates")
    assert page.locator("#preview-sms").inner_text().startswith(f"{SHOP}: Merino Beanie")
    # The HTML email's inline styles apply: its frame has a CSP of its own.
    email = page.frame_locator("#preview-html").locator("body")
    assert "Merino Beanie" in email.inner_text()
    assert email.evaluate("b => getComputedStyle(b).color") == "rgb(34, 34, 34)"
    shot(page, "12-message-templates")
