"""The rendered block on a product page in headless Chromium: the shopper switches
variants and the badge follows, whichever way the theme changes the selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.storefront.block import EXTENSION, product, render, schema
from tests.support.browser import chromium, new_page

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "storefront"
SAMPLE = product({0: {"status": "backorderable", "eta": "2026-12-17"},
                  1: {"status": "in_stock"}})
FIRST, SECOND = (str(v["id"]) for v in SAMPLE["variants"])


def asset(name: str) -> str:
    return (EXTENSION / "assets" / name).read_text()


def page_html(picker: str) -> str:
    """A product page: the theme's product form with its variant picker, the app block,
    and the block's assets where Shopify puts them (stylesheet in head, script deferred)."""
    block = schema()
    return f"""<!doctype html><html><head><meta charset="utf-8">
<style>{asset(block["stylesheet"])}</style></head><body>
<section class="shopify-section">
  <form method="post" action="/cart/add">{picker}<button>Add to cart</button></form>
  {render(SAMPLE)}
</section>
<script>{asset(block["javascript"])}</script></body></html>"""


SELECT = (f'<select name="id"><option value="{FIRST}">Pink</option>'
          f'<option value="{SECOND}">Red</option></select>')
RADIOS = (f'<label><input type="radio" name="id" value="{FIRST}" checked>Pink</label>'
          f'<label><input type="radio" name="id" value="{SECOND}">Red</label>')
# Themes like Dawn keep the variant in a hidden field their own script sets, then tell
# the page; this one announces it with a `variant:change` event.
HIDDEN = (f'<input type="hidden" name="id" value="{FIRST}">'
          f'<button type="button" id="pick-red" onclick="'
          f"this.form.elements.id.value='{SECOND}';"
          f"document.dispatchEvent(new CustomEvent('variant:change'))\">Red</button>")


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    with new_page(browser, width=900, height=600, timeout_ms=5_000) as opened:
        yield opened


def wait_shown(page, variant_id: str) -> None:
    page.wait_for_function(f"!document.querySelector('[data-variant-id=\"{variant_id}\"]').hidden")


def badge(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-backorder-badge] p:visible").all_inner_texts()]


def open_page(page, picker: str) -> None:
    page.set_content(page_html(picker))
    assert badge(page) == ["Backorder: ships by 17 December"]


def test_choosing_another_variant_in_a_select_switches_the_badge(page):
    open_page(page, SELECT)
    page.select_option("select[name=id]", SECOND)
    wait_shown(page, SECOND)
    assert badge(page) == ["In stock"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "badge-in-stock.png"))
    page.select_option("select[name=id]", FIRST)
    wait_shown(page, FIRST)
    assert badge(page) == ["Backorder: ships by 17 December"]


def test_variant_radio_buttons_switch_the_badge(page):
    open_page(page, RADIOS)
    page.get_by_label("Red").check()
    wait_shown(page, SECOND)
    assert badge(page) == ["In stock"]


def test_a_theme_script_that_sets_the_variant_and_announces_it_switches_the_badge(page):
    open_page(page, HIDDEN)
    page.click("#pick-red")
    wait_shown(page, SECOND)
    assert badge(page) == ["In stock"]
