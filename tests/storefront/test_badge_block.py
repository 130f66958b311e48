"""The product-page block says, in the shop's words, what the selected variant's
backorder metafields say; and it passes Shopify's own theme linter."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

from tests.storefront.block import EXTENSION, product, render, schema

REPO = Path(__file__).resolve().parents[2]
BACKORDERED = {"status": "backorderable", "eta": "2026-12-17"}


def texts(html: str) -> dict[str, tuple[str, bool]]:
    """variant id -> (text, shown)"""
    out = {}
    for attrs, body in re.findall(r"<p([^>]*data-variant-id[^>]*)>(.*?)</p>", html, re.S):
        variant_id = re.search(r'data-variant-id="(\d+)"', attrs).group(1)
        out[variant_id] = (unescape(body.strip()), " hidden" not in attrs.replace("\n", " "))
    return out


def test_each_status_reads_in_the_default_words_with_the_ship_by_date():
    sample = product({0: BACKORDERED, 1: {"status": "in_stock"}})
    [backordered, in_stock] = [str(v["id"]) for v in sample["variants"]]
    shown = texts(render(sample))
    assert shown[backordered] == ("Backorder: ships by 17 December", True)
    assert shown[in_stock] == ("In stock", False)  # rendered, shown when selected
    sold_out = texts(render(product({0: {"status": "out_of_stock"}})))
    assert list(sold_out.values())[0] == ("Sold out", True)


def test_the_wording_and_date_format_are_the_merchants():
    html = render(product({0: BACKORDERED}), backorder_text="Vorbestellung – Versand bis [date]",
                  date_format="%d/%m/%Y")
    assert list(texts(html).values())[0][0] == "Vorbestellung – Versand bis 17/12/2026"


def test_a_backorder_without_a_known_date_uses_its_own_words():
    html = render(product({0: {"status": "backorderable"}}), backorder_no_date_text="Pre-order")
    assert list(texts(html).values())[0] == ("Pre-order", True)


def test_a_variant_the_service_has_not_decided_on_shows_nothing():
    assert list(texts(render(product({}))).values())[0] == ("", False)


def test_the_merchants_text_is_escaped():
    html = render(product({0: {"status": "in_stock"}}), in_stock_text="<img src=x onerror=alert(1)>")
    assert "<img" not in html and "&lt;img" in html


def test_the_selected_variant_is_the_one_shown():
    sample = product({0: {"status": "in_stock"}, 1: {"status": "out_of_stock"}}, selected=1)
    shown = {text: visible for text, visible in texts(render(sample)).values()}
    assert shown == {"In stock": False, "Sold out": True}


def test_the_block_is_a_product_page_app_block_with_its_assets():
    block = schema()
    assert (block["target"], block["templates"]) == ("section", ["product"])
    for asset in (block["javascript"], block["stylesheet"]):
        assert (EXTENSION / "assets" / asset).is_file()
    assert 'type = "theme"' in (EXTENSION / "shopify.extension.toml").read_text()


def theme_check(extension: Path) -> tuple[int, list[dict], str]:
    result = subprocess.run(["node", "tests/support/theme-check.mjs", str(extension)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert "Cannot find package" not in result.stderr, "run `make test` (npm ci) first"
    return (result.returncode, [json.loads(line) for line in result.stdout.splitlines()],
            result.stderr)


def test_shopifys_theme_check_finds_nothing_in_the_extension():
    code, offenses, log = theme_check(EXTENSION)
    assert (code, offenses) == (0, []), log
    assert "Error" not in log  # every check ran (one that crashes only logs)
    assert re.search(r"theme-check: [1-9]\d* files", log)  # it did look at them


def test_theme_check_fails_a_block_shopify_would_refuse(tmp_path):
    broken = tmp_path / "backorder-badge"
    shutil.copytree(EXTENSION, broken)
    block = broken / "blocks" / "backorder_badge.liquid"
    block.write_text(block.read_text().replace("| escape }}", "| escape_html }}"))
    block.write_text(block.read_text().replace(".date_format.label", ".date_fromat.label"))
    (broken / "blocks" / "no_schema.liquid").write_text("<p>{{ product.title }}</p>\n")
    code, offenses, _ = theme_check(broken)
    assert code == 1
    assert {o["check"] for o in offenses} == {"UnknownFilter", "AppBlockMissingSchema",
                                              "ValidSchemaTranslations"}
