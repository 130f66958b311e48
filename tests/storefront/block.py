"""The storefront block rendered the way a shop's product page renders it.

python-liquid renders `blocks/backorder_badge.liquid` against a product built from
Shopify's `products/update` sample, with the variant metafields the service writes
(`backorder.status`, `backorder.eta`) and the block settings the merchant edits in the
theme editor (defaults from the block's own schema). Shopify's `{% schema %}` tag is
registered here: it renders nothing, as on a storefront.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from liquid import Environment
from liquid.builtin.tags.comment_tag import CommentNode
from liquid.exceptions import LiquidSyntaxError
from liquid.tag import Tag
from liquid.token import TOKEN_EOF, TOKEN_TAG

from tests.conftest import load_json

EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "backorder-badge"
BLOCK = EXTENSION / "blocks" / "backorder_badge.liquid"


class SchemaTag(Tag):
    """Shopify's `{% schema %}`: JSON for the theme editor, nothing on the page."""

    name, end = "schema", "endschema"

    def parse(self, stream) -> CommentNode:
        token = stream.eat(TOKEN_TAG)
        body = []
        while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
            if stream.current.kind == TOKEN_EOF:
                raise LiquidSyntaxError("schema tag was never closed", token=token)
            body.append(stream.current.value)
            next(stream)
        return CommentNode(token, "".join(body))


def _environment() -> Environment:
    env = Environment()
    env.add_tag(SchemaTag)
    return env


def schema() -> dict:
    text = BLOCK.read_text()
    return json.loads(re.search(r"{% schema %}(.*){% endschema %}", text, re.S).group(1))


def default_settings() -> dict:
    return {s["id"]: s.get("default") for s in schema()["settings"]}


def product(metafields: dict[int, dict], *, selected: int | None = None) -> dict:
    """Shopify's sample product; `metafields` maps a variant's position (0, 1) to its
    backorder metafields, e.g. {"status": "backorderable", "eta": "2026-12-17"}."""
    sample = load_json("shopify/webhooks/products_update.2025-01.json")
    variants = [{"id": v["id"], "title": v["title"],
                 "metafields": {"backorder": {k: {"value": value}
                                              for k, value in metafields.get(i, {}).items()}}}
                for i, v in enumerate(sample["variants"])]
    chosen = variants[selected or 0]
    return {"id": sample["id"], "title": sample["title"], "variants": variants,
            "selected_or_first_available_variant": chosen}


def render(product_: dict, **settings) -> str:
    """The block's HTML for this product, with the merchant's settings over the defaults."""
    template = _environment().from_string(BLOCK.read_text())
    return template.render(product=product_, block={
        "id": "backorder-badge-1", "settings": {**default_settings(), **settings}})
