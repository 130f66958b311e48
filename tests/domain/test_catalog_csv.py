"""The supplier catalog CSV: what parses, and how every kind of bad file is reported."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.suppliers.catalog import (
    COLUMNS,
    MAX_ROWS,
    CatalogError,
    CatalogProblem,
    CatalogRow,
    parse_catalog,
)
from app.errors import InvalidInput

HEADER = ",".join(COLUMNS)
GOOD_LINE = "Acme,orders@acme.test,TSHIRT-M,AC-991,4.20,usd,14,12,6,1"


def catalog(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def problems_of(data: bytes | str) -> list[CatalogProblem]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data)
    return list(caught.value.problems)


def where(problems: list[CatalogProblem]) -> set[tuple[int, str | None]]:
    return {(p.line, p.column) for p in problems}


# --- good files ---------------------------------------------------------------

def test_good_file_parses_every_column():
    rows = parse_catalog(catalog(GOOD_LINE, "Bolt Ltd,hi@bolt.test,MUG,,0,EUR,0,,,2"))

    assert rows == [
        CatalogRow(supplier="Acme", supplier_email="orders@acme.test", sku="TSHIRT-M",
                   supplier_sku="AC-991", unit_cost=Decimal("4.20"), currency="USD",
                   lead_time_days=14, moq=12, pack_size=6, priority=1, line=2),
        CatalogRow(supplier="Bolt Ltd", supplier_email="hi@bolt.test", sku="MUG",
                   supplier_sku="MUG", unit_cost=Decimal("0"), currency="EUR",
                   lead_time_days=0, moq=1, pack_size=1, priority=2, line=3),
    ]


def test_utf8_bom_from_excel_is_ignored():
    rows = parse_catalog(("\ufeff" + catalog(GOOD_LINE)).encode("utf-8"))

    assert rows[0].supplier == "Acme"


def test_bom_in_already_decoded_text_is_ignored():
    assert parse_catalog("\ufeff" + catalog(GOOD_LINE))[0].supplier == "Acme"


def test_columns_may_come_in_any_order():
    header = "sku,priority,unit_cost,supplier,lead_time_days,currency,supplier_email"
    rows = parse_catalog(catalog("MUG,3,9.99,Acme,7,gbp,a@acme.test", header=header))

    assert (rows[0].sku, rows[0].priority, rows[0].currency) == ("MUG", 3, "GBP")


def test_optional_columns_may_be_left_out_and_default():
    header = "supplier,supplier_email,sku,unit_cost,currency,lead_time_days"
    row = parse_catalog(catalog("Acme,a@acme.test,MUG,1,USD,3", header=header))[0]

    assert (row.supplier_sku, row.moq, row.pack_size, row.priority) == ("MUG", 1, 1, 1)


def test_blank_optional_cells_take_their_defaults():
    row = parse_catalog(catalog("Acme,a@acme.test,MUG,,1,USD,3,,,"))[0]

    assert (row.supplier_sku, row.moq, row.pack_size, row.priority) == ("MUG", 1, 1, 1)


def test_whitespace_around_cells_and_header_names_is_stripped():
    header = " supplier , supplier_email,sku ,unit_cost,currency,lead_time_days"
    row = parse_catalog(catalog("  Acme , a@acme.test ,\tMUG , 1.5 , usd , 3 ", header=header))[0]

    assert (row.supplier, row.supplier_email, row.sku) == ("Acme", "a@acme.test", "MUG")
    assert (row.unit_cost, row.currency, row.lead_time_days) == (Decimal("1.5"), "USD", 3)


def test_line_numbers_count_file_lines_across_blank_lines_and_quoted_newlines():
    text = catalog('"Acme\nInc",a@acme.test,A,,1,USD,1,,,', "", "Acme,a@acme.test,B,,1,USD,1,,,")

    assert [row.line for row in parse_catalog(text)] == [2, 5]


def test_windows_line_endings_parse():
    text = catalog(GOOD_LINE).replace("\n", "\r\n")

    assert len(parse_catalog(text.encode())) == 1


def test_same_sku_from_two_suppliers_is_not_a_duplicate():
    rows = parse_catalog(catalog("Acme,a@acme.test,MUG,,1,USD,3,,,1",
                                 "Bolt,b@bolt.test,MUG,,1,USD,3,,,2"))

    assert [row.supplier for row in rows] == ["Acme", "Bolt"]


# --- bad cells ----------------------------------------------------------------

@pytest.mark.parametrize(("column", "value", "message"), [
    ("supplier", "", "is required"),
    ("supplier", "x" * 256, "at most 255 characters"),
    ("supplier_email", "", "is required"),
    ("supplier_email", "orders-at-acme", "email address"),
    ("supplier_email", "a b@acme.test", "email address"),
    ("sku", "", "is required"),
    ("supplier_sku", "y" * 256, "at most 255 characters"),
    ("unit_cost", "", "is required"),
    ("unit_cost", "-1", "number >= 0"),
    ("unit_cost", "$4.20", "number >= 0"),
    ("unit_cost", "1,000.00", "number >= 0"),
    ("unit_cost", "NaN", "number >= 0"),
    ("unit_cost", "1e3", "number >= 0"),
    ("currency", "", "is required"),
    ("currency", "US", "3-letter currency code"),
    ("currency", "US$", "3-letter currency code"),
    ("lead_time_days", "", "is required"),
    ("lead_time_days", "-2", "whole number >= 0"),
    ("lead_time_days", "2.5", "whole number >= 0"),
    ("lead_time_days", "3651", "at most 3650"),
    ("moq", "0", "whole number >= 1"),
    ("moq", "ten", "whole number >= 1"),
    ("moq", "9" * 5000, "at most 2147483647"),
    ("pack_size", "0", "whole number >= 1"),
    ("pack_size", "١٢", "whole number >= 1"),  # non-ASCII digits that int() would accept
    ("priority", "0", "whole number >= 1"),
    ("priority", "1_000", "whole number >= 1"),
])
def test_each_kind_of_bad_cell_is_reported_with_line_and_column(column, value, message):
    cells = dict(zip(COLUMNS, GOOD_LINE.split(","), strict=True))
    cells[column] = value
    text = catalog(GOOD_LINE.replace("TSHIRT-M", "OTHER"), csv_line(list(cells.values())))

    [problem] = problems_of(text)

    assert (problem.line, problem.column) == (3, column)
    assert message in problem.message


def test_bad_file_lists_every_problem_with_line_and_column():
    text = catalog(
        "Acme,a@acme.test,A,,1,USD,3,0,,",
        GOOD_LINE,
        ",not-an-email,B,,-1,US,x,,0,",
    )

    problems = problems_of(text)

    assert where(problems) == {
        (2, "moq"),
        (4, "supplier"), (4, "supplier_email"), (4, "unit_cost"),
        (4, "currency"), (4, "lead_time_days"), (4, "pack_size"),
    }


def test_error_message_is_a_readable_summary_of_every_problem():
    with pytest.raises(CatalogError) as caught:
        parse_catalog(catalog("Acme,a@acme.test,A,,1,USD,3,0,,", "Acme,a@acme.test,B,,1,USD,-3,,,"))

    lines = str(caught.value).splitlines()
    assert lines[0] == "The catalog was not imported (2 problems):"
    assert lines[1] == "line 2, column moq: must be a whole number >= 1"
    assert lines[2] == "line 3, column lead_time_days: must be a whole number >= 0"


def test_catalog_error_is_invalid_input_with_field_errors_by_location():
    with pytest.raises(InvalidInput) as caught:
        parse_catalog(catalog("Acme,a@acme.test,A,,1,USD,3,0,,"))

    assert caught.value.field_errors == {"line 2, column moq": "must be a whole number >= 1"}


def test_very_long_problem_lists_are_summarised_but_kept_whole():
    text = catalog(*[f"Acme,a@acme.test,S{i},,1,USD,3,0,," for i in range(60)])

    with pytest.raises(CatalogError) as caught:
        parse_catalog(text)

    assert len(caught.value.problems) == 60
    assert str(caught.value).splitlines()[-1] == "... and 10 more"


def test_row_with_wrong_number_of_cells_is_reported():
    [problem] = problems_of(catalog(GOOD_LINE + ",extra"))

    assert (problem.line, problem.column) == (2, None)
    assert "expected 10 cells" in problem.message


def test_duplicate_supplier_and_sku_is_an_error_on_the_later_line():
    text = catalog(GOOD_LINE, "Bolt,b@bolt.test,MUG,,1,USD,3,,,", GOOD_LINE.replace("4.20", "5"))

    [problem] = problems_of(text)

    assert (problem.line, problem.column) == (4, "sku")
    assert "duplicate of line 2" in problem.message


# --- bad headers and bad files ------------------------------------------------

def test_unknown_column_is_named():
    [problem] = problems_of(catalog(GOOD_LINE + ",x", header=HEADER + ",colour"))

    assert (problem.line, problem.column) == (1, "colour")
    assert '"colour"' in problem.message


def test_blank_header_cell_is_an_unknown_column():
    [problem] = problems_of(catalog(GOOD_LINE + ",", header=HEADER + ","))

    assert "blank" in problem.message


def test_header_names_are_exact():
    problems = problems_of(catalog(GOOD_LINE, header=HEADER.replace("sku,", "SKU,", 1)))

    assert where(problems) == {(1, "SKU"), (1, "sku")}


def test_missing_required_columns_are_each_named():
    problems = problems_of(catalog("Acme,MUG,3", header="supplier,sku,lead_time_days"))

    assert where(problems) == {(1, "supplier_email"), (1, "unit_cost"), (1, "currency")}
    assert all("missing" in p.message for p in problems)


def test_column_named_twice_is_an_error():
    [problem] = problems_of(catalog(GOOD_LINE + ",1", header=HEADER + ",moq"))

    assert (problem.column, problem.message) == ("moq", 'column "moq" appears twice')


def test_non_utf8_file_is_rejected_with_the_line_of_the_bad_byte():
    data = catalog(GOOD_LINE, "Café,a@cafe.test,MUG,,1,EUR,3,,,").encode("latin-1")

    [problem] = problems_of(data)

    assert problem.line == 3
    assert "not UTF-8" in problem.message


@pytest.mark.parametrize("data", [b"", "", "\n\n  \n", b"\xef\xbb\xbf", ",,,\n"])
def test_empty_file_is_rejected(data):
    [problem] = problems_of(data)

    assert "empty" in problem.message


def test_header_without_rows_is_rejected():
    [problem] = problems_of(catalog("", ""))

    assert problem.message == "the file has a header but no rows"


def test_more_than_fifty_thousand_rows_is_rejected():
    lines = [f"Acme,a@acme.test,S{i},,1,USD,3,,," for i in range(MAX_ROWS + 1)]

    [problem] = problems_of(catalog(*lines))

    assert problem.line == MAX_ROWS + 2
    assert problem.message.startswith("too many rows: at most 50,000")


def test_exactly_fifty_thousand_rows_is_accepted():
    lines = [f"Acme,a@acme.test,S{i},,1,USD,3,,," for i in range(MAX_ROWS)]

    assert len(parse_catalog(catalog(*lines))) == MAX_ROWS


def test_cell_beyond_the_csv_size_limit_is_a_catalog_error():
    [problem] = problems_of(catalog(GOOD_LINE.replace("Acme", "A" * 200_000)))

    assert "not a valid CSV file" in problem.message


# --- properties ---------------------------------------------------------------

@settings(max_examples=300)
@given(st.one_of(st.text(), st.binary(), st.text().map(lambda t: HEADER + "\n" + t)))
def test_arbitrary_input_never_raises_anything_but_catalog_error(data):
    try:
        rows = parse_catalog(data)
    except CatalogError as exc:
        assert exc.problems
    else:
        assert rows


def cell_text(max_size: int = 40) -> st.SearchStrategy[str]:
    # NUL is refused on purpose (no database text column stores it): see the test below.
    return st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=max_size).map(str.strip).filter(bool)


rows_strategy = st.fixed_dictionaries({
    "supplier": cell_text(),
    "supplier_email": st.from_regex(r"[a-z0-9.+_-]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}",
                                    fullmatch=True),
    "sku": cell_text(),
    "supplier_sku": cell_text(),
    "unit_cost": st.decimals(min_value=0, max_value=10**9, places=4),
    "currency": st.from_regex(r"[A-Z]{3}", fullmatch=True),
    "lead_time_days": st.integers(0, 3650),
    "moq": st.integers(1, 10**6),
    "pack_size": st.integers(1, 10**6),
    "priority": st.integers(1, 10),
})


@settings(max_examples=150)
@given(rows=st.lists(rows_strategy, min_size=1, max_size=8,
                     unique_by=lambda r: (r["supplier"], r["sku"])),
       columns=st.permutations(COLUMNS), bom=st.booleans())
def test_valid_rows_round_trip_through_csv(rows, columns, bom):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([[row[c] for c in columns] for row in rows])
    data = (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")

    parsed = parse_catalog(data)

    assert [{c: getattr(p, c) for c in COLUMNS} for p in parsed] == rows


def test_a_nul_character_is_refused_with_its_line():
    data = (b"supplier,supplier_email,sku,unit_cost,currency,lead_time_days\r\n"
            b"Acme,po@acme.test,TEE-M,4.50,USD,10\r\n"
            b"Ac\x00me,po@acme.test,TEE-L,4.50,USD,10\r\n")
    with pytest.raises(CatalogError) as refused:
        parse_catalog(data)
    assert [(p.line, p.message) for p in refused.value.problems] == [
        (3, "contains a NUL character; not a CSV text file")]


@pytest.mark.parametrize(("cost", "message"), [
    ("12345678901", "must be less than 10,000,000,000"),
    ("0.00001", "must have at most 4 decimal places")])
def test_a_cost_the_database_cannot_keep_exactly_is_refused(cost, message):
    data = ("supplier,supplier_email,sku,unit_cost,currency,lead_time_days\r\n"
            f"Acme,po@acme.test,TEE-M,{cost},USD,10\r\n").encode()
    with pytest.raises(CatalogError) as refused:
        parse_catalog(data)
    assert [(p.line, p.column, p.message) for p in refused.value.problems] == [
        (2, "unit_cost", message)]
