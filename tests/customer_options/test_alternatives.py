"""In-stock alternatives on the status page and the one-click switch request."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import unit_of_work
from app.domain.customer_options import alternatives
from app.domain.customer_options.models import SwitchRequest
from app.domain.inventory.models import Effect
from app.errors import InvalidInput
from tests.customer_options.conftest import add_variant
from tests.notifications.conftest import ETA
from tests.notifications.test_status_page import csrf_from, link_path

SHIRT = 511  # line 11's variant (the World gives line n the variant n + 500)
PRODUCT = 900


@pytest.fixture
def shirts(world):
    """The backordered shirt, and four variants the merchant linked in different ways."""
    world.order(1001, (11, "Linen Shirt", 2, 2, ETA), (12, "Wool Socks", 1, 0, None))
    add_variant(world, SHIRT, product_id=PRODUCT, title="Blue / M", status="backorderable")
    add_variant(world, 601, product_id=PRODUCT, title="White / M", status="in_stock")
    add_variant(world, 602, product_id=PRODUCT, title="Red / M", status="out_of_stock")
    add_variant(world, 603, product_id=901, title="Sand / M", status="in_stock")
    add_variant(world, 604, product_id=902, title="Green / M", status="in_stock")
    with unit_of_work(world.rt.sessions) as session:
        for target, alternative in (("product:900", "601"), ("variant:511", "variant:602"),
                                    ("variant:511", "603")):
            alternatives.link(session, world.shop_id, {"target": target,
                                                        "alternative": alternative})
    return link_path(world)


def switch(client, path: str, line_item_id: int, variant_id: int, *, csrf: str | None):
    form = {"line_item_id": str(line_item_id), "variant_id": str(variant_id)}
    return client.post(f"{path}/switch", data=form | ({"csrf_token": csrf} if csrf else {}))


def test_only_in_stock_alternatives_are_offered(world, mapp, shirts):
    html = mapp.test_client().get(shirts).get_data(as_text=True)

    assert "Switch to Linen Shirt / White / M" in html  # linked to the product, in stock
    assert "Switch to Linen Shirt / Sand / M" in html  # a similar product's variant, in stock
    assert "Red / M" not in html  # linked, but out of stock
    assert "Green / M" not in html  # in stock, but never linked
    assert html.count('name="variant_id"') == 2  # none for the socks, which are not waiting


def test_switch_request_is_recorded_once_and_the_merchant_alerted(world, mapp, shirts):
    client = mapp.test_client()
    csrf = csrf_from(client.get(shirts).get_data(as_text=True))

    first = switch(client, shirts, 11, 601, csrf=csrf)
    again = switch(client, shirts, 11, 601, csrf=csrf)
    other = switch(client, shirts, 11, 603, csrf=csrf)  # a second choice for the same line

    assert [r.status_code for r in (first, again, other)] == [303, 303, 303]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Your request is recorded" in page
    assert "Switch to Linen Shirt / White / M: requested" in page
    assert 'name="variant_id"' not in page  # no more buttons for that line
    with world.rt.sessions() as session:
        [request] = session.scalars(select(SwitchRequest)).all()
        assert (request.order_id, request.line_item_id, request.from_variant_id,
                request.to_variant_id) == (1001, 11, SHIRT, 601)
        alerts = session.scalars(select(Effect).where(Effect.kind == "switch_requested")).all()
        assert [(a.order_id, a.line_item_id, a.old, a.new) for a in alerts] == [
            (1001, 11, "511", "601")]


def test_a_switch_without_the_csrf_token_is_refused(world, mapp, shirts):
    client = mapp.test_client()
    client.get(shirts)

    assert switch(client, shirts, 11, 601, csrf=None).status_code == 400
    with world.rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SwitchRequest)) == 0


def test_an_alternative_that_is_not_offered_cannot_be_requested(world, mapp, shirts):
    client = mapp.test_client()
    csrf = csrf_from(client.get(shirts).get_data(as_text=True))

    for variant_id in (602, 604):  # out of stock; never linked
        response = switch(client, shirts, 11, variant_id, csrf=csrf)
        assert response.status_code == 409
        assert "no longer available" in response.get_data(as_text=True)
    assert switch(client, shirts, 12, 601, csrf=csrf).status_code == 409  # not waiting


def test_the_merchant_cannot_link_another_shops_variant_or_a_variant_to_itself(world, shirts):
    with unit_of_work(world.rt.sessions) as session:
        for form, field in (({"target": "variant:511", "alternative": "99999"}, "alternative"),
                            ({"target": "variant:511", "alternative": "511"}, "alternative"),
                            ({"target": "product:123", "alternative": "601"}, "target")):
            with pytest.raises(InvalidInput) as caught:
                alternatives.link(session, world.shop_id, form)
            assert field in caught.value.field_errors


def test_a_switch_with_ids_out_of_range_gets_a_clear_400_not_a_500(world, mapp, shirts):
    client = mapp.test_client()
    csrf = csrf_from(client.get(shirts).get_data(as_text=True))

    for line_id, variant_id in ((2**63, 601), (11, 2**63), (-1, 601), (11, 0)):
        assert switch(client, shirts, line_id, variant_id, csrf=csrf).status_code == 400
