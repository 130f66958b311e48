"""The customer's status page and the supplier's PO page send the merchant pages' strict
headers (CSP without inline code, no framing, no sniffing), and carry no inline code the
CSP would block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"
INLINE = re.compile(r"<style|<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|\sstyle\s*=", re.IGNORECASE)


@pytest.mark.parametrize("path", ["/status/not-a-token", "/supplier/po/not-a-token"])
def test_status_and_supplier_pages_send_strict_headers(client, path):
    response = client.get(path)
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "no-referrer"  # the link is a credential


@pytest.mark.parametrize("folder", ["status", "supplier"])
def test_status_and_supplier_templates_carry_no_inline_code_or_styles(client, folder):
    pages = {page.name: page.read_text() for page in (TEMPLATES / folder).glob("*.html")}
    found = {name: INLINE.findall(text) for name, text in pages.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}
    linked = {name for text in pages.values()
              for name in re.findall(r"filename='([^']+)'", text)}
    assert linked and all(client.get(f"/static/{name}").status_code == 200 for name in linked)
