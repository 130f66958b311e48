"""Hostile and sloppy input never gets a 500, a half-applied write, or an unclear answer.

- Webhooks with the right shape but wrong contents (ids and quantities of the wrong type,
  missing fields, wrong nesting), for every topic: stored and answered 200, then their
  processing either applies them or fails with the reason on the event, changing nothing.
- Supplier catalog CSV files with one thing wrong: imported whole or not at all, and a
  refusal is a CatalogError naming the line, never a database error.
- The customer status page and the supplier page with random links and random forms, and
  the merchant's settings form with random values: never a 500, and a refused form
  changes nothing.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from app.db import unit_of_work
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.models import Base
from app.domain.notifications.links import StatusLinks
from app.domain.suppliers.catalog import COLUMNS, CatalogError
from app.domain.suppliers.service import import_catalog
from tests.conftest import WEBHOOK_SECRET
from tests.support.shopify import SHOP, level_payload, order_payload, post_webhook
from workers import jobs

HYPOTHESIS = settings(max_examples=60, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])
NOW = datetime.now(UTC).replace(microsecond=0)
VARIANT, ITEM, LOCATION, ORDER = 61001, 63001, 64001, 70001


def snapshot(rt, *, skip: tuple[str, ...] = ("webhook_events",)) -> dict[str, str]:
    """A digest of every table's rows: equal digests, nothing written."""
    out = {}
    with rt.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in skip:
                out[table.name] = conn.execute(text(
                    f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    f"FROM {table.name} t")).scalar_one()
    return out


# --- webhooks ----------------------------------------------------------------------------

def _templates() -> dict[str, dict]:
    """A valid payload per topic, about the shop's one variant and order."""
    at = (NOW - timedelta(hours=1)).isoformat()
    order = order_payload(ORDER, [(ORDER * 10, VARIANT, 2)], created_at=at, phone="+15550101234")
    return {
        "orders/create": order, "orders/updated": order, "orders/cancelled": order,
        "orders/fulfilled": order, "orders/partially_fulfilled": order,
        "refunds/create": {"id": 5001, "order_id": ORDER, "created_at": at,
                           "refund_line_items": [{"id": 6001, "line_item_id": ORDER * 10,
                                                  "quantity": 1, "restock_type": "cancel"}]},
        "inventory_levels/update": level_payload(ITEM, LOCATION, 3, at),
        "inventory_items/update": {"id": ITEM, "sku": "HARD-1", "tracked": True,
                                   "updated_at": at},
        "products/update": {"id": 62001, "title": "Hard", "updated_at": at, "variants": [
            {"id": VARIANT, "sku": "HARD-1", "title": "Default", "inventory_item_id": ITEM,
             "inventory_management": "shopify", "inventory_policy": "deny"}]},
        "products/delete": {"id": 62001},
        "customers/data_request": {"shop_domain": SHOP, "customer": {"id": 900000 + ORDER,
                                   "email": "customer@example.com"}, "orders_requested": [ORDER]},
        "customers/redact": {"shop_domain": SHOP, "customer": {"id": 900000 + ORDER,
                             "email": "customer@example.com"}, "orders_to_redact": [ORDER]},
    }


TEMPLATES = _templates()
wrong_value = st.one_of(
    # Finite floats: NaN and Infinity are not JSON (RFC 8259), so a body carrying them is
    # malformed, answered 400 and never stored (the fuzz tests cover malformed bodies).
    st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(["12", "", "1e3", "\u0000", "2026-13-45"]),
    st.integers(-10, -1), st.sampled_from([2**63, -(2**63) - 1, 2**70, 10**30]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                          max_size=2))


def _paths(value, prefix=()) -> list[tuple]:
    """Every key path into a payload (dict keys and list indexes)."""
    found = []
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, child in items:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


@st.composite
def broken_deliveries(draw):
    topic = draw(st.sampled_from(sorted(TEMPLATES)))
    payload = copy.deepcopy(TEMPLATES[topic])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]  # a missing field
        else:
            parent[path[-1]] = draw(wrong_value)  # a field of the wrong type or range
    return topic, payload


@pytest.fixture
def hard_shop(rt, client, run_jobs, monkeypatch):
    """A shop that knows the variant and the order the templates mention."""
    from app.domain.inventory import state
    from app.domain.ports import InventoryLevelInfo, VariantInfo
    from app.domain.suppliers.shopify_receipts import RECEIPTS
    from integrations.shopify.fake import FakeShopifyAdmin
    from tests.support.factories import make_shop
    fake = FakeShopifyAdmin()
    fake.add_variant(VARIANT, product_id=62001, sku="HARD-1", inventory_item_id=ITEM,
                     available={LOCATION: 1})
    monkeypatch.setattr(rt, "admin_factory", lambda domain, token: fake)
    shop = make_shop(rt, domain=SHOP)
    with unit_of_work(rt.sessions) as session:
        state.apply_fetched_variant(session, shop.id, VariantInfo(
            VARIANT, 62001, "HARD-1", "Default", ITEM, True, "DENY",
            (InventoryLevelInfo(LOCATION, 1, NOW - timedelta(days=1)),)), fetched_at=NOW,
            receipts=RECEIPTS)
    body = TEMPLATES["orders/create"]
    assert post_webhook(client, "orders/create", body, secret=WEBHOOK_SECRET).status_code == 200
    run_jobs()
    return shop


# What intake's payload checks answer (app/domain/intake/checks.py): a timestamp the worker
# could not store, or a shop named in the body that is not the header's.
INTAKE_REFUSALS = re.compile(r"is not an ISO 8601 timestamp|names another shop")


@HYPOTHESIS
@given(delivery=broken_deliveries())
@example(delivery=("customers/data_request", {"customer": 1.0, "orders_requested": [ORDER]}))
@example(delivery=("customers/redact", {"orders_to_redact": True}))
@example(delivery=("inventory_items/update", {**TEMPLATES["inventory_items/update"], "sku": "\x00"}))
@example(delivery=("products/update", {**TEMPLATES["products/update"], "id": 10**30}))
@example(delivery=("orders/create", {**TEMPLATES["orders/create"], "id": 2**63}))
def test_plausible_but_wrong_webhooks_are_stored_then_fail_cleanly_or_apply(
        rt, client, hard_shop, delivery):
    topic, payload = delivery
    event = uuid.uuid4().hex
    response = post_webhook(client, topic, payload, secret=WEBHOOK_SECRET, event_id=event)
    with rt.sessions() as session:
        event_id = session.scalar(select(WebhookEvent.id).where(WebhookEvent.event_id == event))
    if response.status_code == 400:  # intake refuses what the worker could never apply
        assert INTAKE_REFUSALS.search(response.get_data(as_text=True)), response.get_data()
        assert event_id is None, "refused but stored"
        return
    assert response.status_code == 200, response.get_data(as_text=True)
    assert event_id is not None, "accepted but not stored"
    before = snapshot(rt)
    with suppress(Exception):  # re-raised for RQ's retries; the row says why
        jobs.process_webhook(event_id)
    with rt.sessions() as session:
        row = session.get(WebhookEvent, event_id)
    if row.status == EventStatus.PROCESSED:
        return
    assert row.last_error, f"{topic} {row.status.value} without a reason"
    assert snapshot(rt) == before, f"{topic}: a failed event changed state: {row.last_error}"
    # A bad payload is the sender's fault, named as such (InvalidInput names the field);
    # anything else is a hole in the parsing that shows as a crash in the failed registry.
    assert row.last_error.startswith(("InvalidInput:", "TransientError:")), (
        f"{topic} failed with an unexpected error: {row.last_error}\n"
        f"payload: {json.dumps(payload)[:600]}")


# --- supplier catalog CSV --------------------------------------------------------------------

VALID_ROWS = [["Acme", "po@acme.test", "HARD-1", "A-1", "4.50", "USD", "10", "1", "1", "1"],
              ["Acme", "po@acme.test", "HARD-2", "A-2", "3", "usd", "7", "2", "6", "1"],
              ["Zed", "orders@zed.test", "HARD-1", "Z-1", "5.10", "EUR", "21", "1", "1", "2"]]
bad_cell = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "-1", "1e3", "12,50", "$4", "٣", "1_000", "99999999999999",
                     "12345678901.5", "0.00001", "4294967296", "\u0000", "x" * 300,
                     "a@b", "2147483648", "00000000000000000007", " 7 "]))


def _csv(rows: list[list[str]], header: list[str]) -> bytes:
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


@st.composite
def catalog_files(draw):
    rows = [list(r) for r in VALID_ROWS[:draw(st.integers(1, 3))]]
    header = list(COLUMNS)
    kind = draw(st.sampled_from(["cell", "cell", "cell", "column", "duplicate", "bytes",
                                 "short row"]))
    if kind == "cell":
        row, col = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(header) - 1))
        rows[row][col] = draw(bad_cell)
        return _csv(rows, header)
    if kind == "column":
        header.append(draw(st.sampled_from(["colour", "Supplier", "", "sku"])))
        for row in rows:
            row.append("x")
        return _csv(rows, header)
    if kind == "duplicate":
        return _csv(rows + [rows[0]], header)
    if kind == "short row":
        rows[-1] = rows[-1][:draw(st.integers(0, len(header) - 1))]
        return _csv(rows, header)
    data = _csv(rows, header)
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.sampled_from([b"\xff", b"\x00", b"\xe2\x82", b"\r"])) + data[at:]


@pytest.fixture
def catalog_shop(rt):
    from tests.support.factories import make_shop
    return make_shop(rt)


BAD_COST = _csv([VALID_ROWS[0][:4] + ["12345678901"] + VALID_ROWS[0][5:]], list(COLUMNS))
NUL_NAME = _csv([["Ac\x00me"] + VALID_ROWS[0][1:]], list(COLUMNS))


@HYPOTHESIS
@given(data=catalog_files())
@example(data=BAD_COST)
@example(data=NUL_NAME)
def test_a_catalog_file_is_imported_whole_or_refused_with_the_line_and_nothing_written(
        rt, catalog_shop, data):
    before = snapshot(rt)
    try:
        with unit_of_work(rt.sessions) as session:
            import_catalog(session, catalog_shop.id, data)
    except CatalogError as exc:
        assert exc.problems and all(p.line >= 1 for p in exc.problems)
        assert str(exc).strip()
        assert snapshot(rt) == before, "a refused file changed something"
        return
    except Exception as exc:  # noqa: BLE001 - the assertion below reports it
        assert snapshot(rt) == before, "a failed import changed something"
        pytest.fail(f"a bad file raised {type(exc).__name__} instead of CatalogError: "
                    f"{str(exc)[:300]}\nfile: {data[:400]!r}")


# --- status, supplier and settings pages ------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
tokens = st.one_of(st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF,
                                         blacklist_characters="/?#%"), min_size=1, max_size=80),
                   st.from_regex(r"[A-Za-z0-9_\-\.]{10,120}", fullmatch=True))
form_values = st.dictionaries(
    st.sampled_from(["line_item_id", "action", "csrf_token", "confirm", "expected_on_1",
                     "expected_on_2", "note", "quantity"]),
    st.one_of(st.text(max_size=30), st.integers().map(str),
              st.sampled_from(["confirm", "", "2026-02-30", "9999-12-31", "0", "-1"])),
    max_size=5)


def _ok(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert response.get_data(as_text=True).strip(), "an error without a message"


@HYPOTHESIS
@given(token=tokens, form=form_values)
def test_random_links_and_forms_on_the_customer_and_supplier_pages_never_500(
        client, token, form):
    _ok(client.get(f"/status/{token}"))
    _ok(client.post(f"/status/{token}/cancel", data=form))
    _ok(client.get(f"/supplier/po/{token}"))
    _ok(client.post(f"/supplier/po/{token}", data=form))


@pytest.fixture
def pages(rt, client):
    """A real order behind a status link and a sent PO behind a supplier link."""
    from app.domain.suppliers import portal
    from app.security import LinkSigner
    from tests.suppliers.world import World
    world = World(rt)
    acme = world.supplier("Acme")
    world.item(acme, "TEE-M")
    world.variant(11, "TEE-M", available=0)
    line = world.order(11, 2)
    po_id = world.po(acme, [(11, 2, NOW.date() + timedelta(days=10))])
    world.recompute(11)
    with world.session() as session:
        from app.domain.inventory.models import CustomerOrder
        from app.domain.suppliers.models import PurchaseOrder
        order_id = session.get(CustomerOrder, world.line(line).order_pk).order_id
        supplier_url = portal.supplier_link(
            LinkSigner(rt.settings.secret_key, portal.TOKEN_PURPOSE),
            session.get(PurchaseOrder, po_id), public_url=rt.settings.public_url)
    status_token = StatusLinks(rt.settings.secret_key, rt.settings.public_url).token(
        world.shop_id, order_id)
    return world, line, status_token, supplier_url.rsplit("/", 1)[1]


def _with_csrf(client, path: str, form: dict) -> dict:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    return {**form, **({"csrf_token": match.group(1)} if match else {})}


@HYPOTHESIS
@given(form=form_values, line_id=st.one_of(st.none(), st.integers(), st.text(max_size=8)))
@example(form={}, line_id=2**63)
def test_random_forms_on_real_status_and_supplier_pages_never_500_nor_half_apply(
        rt, client, pages, form, line_id):
    world, line, status_token, supplier_token = pages
    form = dict(form)
    if line_id is not None:
        form["line_item_id"] = str(line_id)
    status_path, supplier_path = f"/status/{status_token}", f"/supplier/po/{supplier_token}"
    before = snapshot(rt)
    response = client.post(status_path + "/cancel", data=_with_csrf(client, status_path, form))
    _ok(response)
    if response.status_code >= 400:
        assert snapshot(rt) == before, "a refused cancel changed something"
    before = snapshot(rt)
    response = client.post(supplier_path, data=_with_csrf(client, supplier_path, form))
    _ok(response)
    if response.status_code >= 400:
        assert snapshot(rt) == before, "a refused supplier form changed something"


settings_forms = st.fixed_dictionaries({}, optional={
    name: st.one_of(st.text(max_size=12), st.sampled_from(["", "0", "-1", "99999999", "on",
                                                           "12:30", "25:00", "1.5", "auto",
                                                           "fixed", "always", "off"]))
    for name in ("mode", "cap_kind", "fixed_cap", "buffer", "handling_days",
                 "po_coalesce_minutes", "receiving_location_id", "eta_change_threshold_days",
                 "quiet_start", "quiet_end", "po_auto_send", "email_enabled", "sms_enabled",
                 "quiet_enabled", "locations")})


@pytest.fixture
def merchant(rt, client, monkeypatch):
    from integrations.shopify.fake import FakeShopifyAdmin
    from tests.merchant.conftest import login
    from tests.suppliers.world import World
    world = World(rt)
    world.variant(11, "TEE-M", available=3)
    monkeypatch.setattr(rt, "admin_factory", lambda domain, token: FakeShopifyAdmin())
    login(client, world.shop)
    return world


@HYPOTHESIS
@given(form=settings_forms)
def test_random_settings_forms_are_saved_whole_or_refused_without_a_change(
        rt, client, merchant, form):
    before = snapshot(rt)
    response = client.post("/app/settings/", data=_with_csrf(client, "/app/settings/", form))
    _ok(response)
    assume(response.status_code >= 400)
    assert snapshot(rt) == before, "a refused settings form changed something"


def test_a_refused_settings_form_says_what_to_fix(rt, client, merchant):
    response = client.post("/app/settings/", data=_with_csrf(
        client, "/app/settings/", {"mode": "sometimes", "buffer": "-3"}))
    assert response.status_code == 400
    assert "nothing was saved" in response.get_data(as_text=True)



@HYPOTHESIS
@given(data=catalog_files())
@example(data=BAD_COST)
def test_a_catalog_upload_on_the_merchant_page_never_500s_nor_half_applies(
        rt, client, merchant, data):
    import io
    before = snapshot(rt)
    form = _with_csrf(client, "/app/suppliers/", {})
    form["catalog"] = (io.BytesIO(data), "catalog.csv")
    response = client.post("/app/suppliers/catalog", data=form,
                           content_type="multipart/form-data")
    _ok(response)
    if response.status_code >= 400:
        assert snapshot(rt) == before, "a refused catalog upload changed something"
