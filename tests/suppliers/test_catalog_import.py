"""`backorder catalog import FILE --shop DOMAIN`: all rows or none, re-import updates."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from app import cli
from app.domain.suppliers.models import Supplier, SupplierItem

HEADER = "supplier,supplier_email,sku,supplier_sku,unit_cost,currency,lead_time_days,moq,pack_size,priority\n"
GOOD = HEADER + (
    "Acme,orders@acme.example,TEE-M,A-100,4.50,usd,7,10,5,1\n"
    "Acme,orders@acme.example,TEE-L,A-101,4.75,USD,7,,,\n"
    "Bolt,sales@bolt.example,TEE-M,B-9,5.10,USD,3,1,1,2\n")


def run_import(rt, monkeypatch, tmp_path, world, content: str):
    monkeypatch.setattr(cli._Context, "_rt", rt)
    path = tmp_path / "catalog.csv"
    path.write_text(content, encoding="utf-8")
    return CliRunner().invoke(cli.cli, ["catalog", "import", str(path),
                                        "--shop", world.shop.domain])


def counts(world):
    with world.session() as s:
        return (s.scalar(select(func.count()).select_from(Supplier)),
                s.scalar(select(func.count()).select_from(SupplierItem)))


def items(world) -> dict[tuple[str, str], SupplierItem]:
    with world.session() as s:
        rows = s.execute(select(Supplier.name, SupplierItem).join(
            Supplier, Supplier.id == SupplierItem.supplier_id)).all()
        return {(name, item.sku): item for name, item in rows}


def test_a_good_catalog_creates_suppliers_and_items_with_defaults(rt, monkeypatch, tmp_path,
                                                                    world):
    result = run_import(rt, monkeypatch, tmp_path, world, GOOD)

    assert result.exit_code == 0, result.output
    assert "imported 3 rows: suppliers 2 new" in result.output
    assert counts(world) == (2, 3)
    acme_m = items(world)[("Acme", "TEE-M")]
    assert (acme_m.moq, acme_m.pack_size, acme_m.currency, acme_m.lead_time_days) == (10, 5, "USD", 7)
    acme_l = items(world)[("Acme", "TEE-L")]
    assert (acme_l.moq, acme_l.pack_size, acme_l.priority) == (1, 1, 1)


def test_a_bad_catalog_lists_every_problem_and_applies_nothing(rt, monkeypatch, tmp_path, world):
    bad = HEADER + ("Acme,orders@acme.example,TEE-M,A-100,4.50,USD,7,10,5,1\n"
                    "Acme,not-an-email,TEE-L,A-101,-3,USD,seven,,,\n")

    result = run_import(rt, monkeypatch, tmp_path, world, bad)

    assert result.exit_code == 1
    assert "3 problem(s)" in result.output
    assert "line 3, column supplier_email" in result.output
    assert "line 3, column unit_cost" in result.output
    assert "line 3, column lead_time_days" in result.output
    assert counts(world) == (0, 0)


def test_an_unknown_column_is_named_and_nothing_is_applied(rt, monkeypatch, tmp_path, world):
    result = run_import(rt, monkeypatch, tmp_path, world, HEADER.strip() + ",colour\n")

    assert result.exit_code == 1
    assert 'unknown column "colour"' in result.output
    assert counts(world) == (0, 0)


def test_reimporting_updates_rows_and_never_duplicates_them(rt, monkeypatch, tmp_path, world):
    run_import(rt, monkeypatch, tmp_path, world, GOOD)
    changed = GOOD.replace("TEE-M,A-100,4.50,usd,7,10,5,1", "TEE-M,A-100,4.20,USD,9,12,6,1")
    changed = changed.replace("orders@acme.example", "po@acme.example")

    result = run_import(rt, monkeypatch, tmp_path, world, changed)

    assert result.exit_code == 0, result.output
    assert "suppliers 0 new, 1 updated; items 0 new, 1 updated, 2 unchanged" in result.output
    assert counts(world) == (2, 3)
    acme_m = items(world)[("Acme", "TEE-M")]
    assert (str(acme_m.unit_cost), acme_m.lead_time_days, acme_m.moq, acme_m.pack_size) == (
        "4.2000", 9, 12, 6)
    with world.session() as s:
        assert s.scalar(select(Supplier.email).where(Supplier.name == "Acme")) == "po@acme.example"


def test_importing_a_catalog_makes_a_sold_out_variant_backorderable(rt, monkeypatch, tmp_path,
                                                                      world, run_jobs):
    world.variant(11, "TEE-M", available=0)
    world.recompute(11)
    assert world.variant_row(11).status == "out_of_stock"  # no supplier: no date to promise

    result = run_import(rt, monkeypatch, tmp_path, world, GOOD)

    assert result.exit_code == 0, result.output
    assert world.variant_row(11).status == "backorderable"


def test_an_unknown_shop_is_an_error(rt, monkeypatch, tmp_path, world):
    monkeypatch.setattr(cli._Context, "_rt", rt)
    path = tmp_path / "catalog.csv"
    path.write_text(GOOD)

    result = CliRunner().invoke(cli.cli, ["catalog", "import", str(path),
                                          "--shop", "nope.myshopify.com"])

    assert result.exit_code != 0
    assert counts(world) == (0, 0)
