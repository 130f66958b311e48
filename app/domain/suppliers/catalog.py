"""Supplier catalog CSV: parse and validate a whole file, all or nothing.

The contract ("Supplier catalog CSV" in CONTRACT.md) promises that a bad file
is rejected as a whole, with every problem named by line and column. So
`parse_catalog` either returns every row or raises `CatalogError`; it never
returns part of a file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.errors import InvalidInput

COLUMNS = (
    "supplier", "supplier_email", "sku", "supplier_sku", "unit_cost",
    "currency", "lead_time_days", "moq", "pack_size", "priority",
)
# Columns without a default must be in the header and filled on every row.
REQUIRED = ("supplier", "supplier_email", "sku", "unit_cost", "currency", "lead_time_days")

MAX_ROWS = 50_000
MAX_TEXT = 255  # Shopify's SKU limit; also fits the database columns
MAX_EMAIL = 254  # RFC 5321 path limit
MAX_LEAD_TIME_DAYS = 3650  # beyond ten years a date computed from it is meaningless
MAX_COUNT = 2**31 - 1  # a PostgreSQL integer
MAX_UNIT_COST = Decimal(10) ** 10  # NUMERIC(14, 4) keeps 10 digits before the point
SUMMARY_LIMIT = 50  # problems spelled out in the message; .problems keeps all

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")  # plain notation: no sign, no exponent
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: int() would also take "٣" or "1_000"
_CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class CatalogRow:
    supplier: str
    supplier_email: str
    sku: str
    supplier_sku: str
    unit_cost: Decimal
    currency: str
    lead_time_days: int
    moq: int
    pack_size: int
    priority: int
    line: int


@dataclass(frozen=True)
class CatalogProblem:
    line: int
    column: str | None
    message: str

    @property
    def where(self) -> str:
        """Where the problem is, as a merchant reads it: "line 4, column moq"."""
        return f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class CatalogError(InvalidInput):
    """The catalog file was rejected; `.problems` lists every reason."""

    def __init__(self, problems: Iterable[CatalogProblem]):
        self.problems = tuple(problems)
        super().__init__(_summary(self.problems), field_errors=_field_errors(self.problems))


def _summary(problems: tuple[CatalogProblem, ...]) -> str:
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"The catalog was not imported ({len(problems)} {noun}):"]
    lines += [str(p) for p in problems[:SUMMARY_LIMIT]]
    if len(problems) > SUMMARY_LIMIT:
        lines.append(f"... and {len(problems) - SUMMARY_LIMIT} more")
    return "\n".join(lines)


def _field_errors(problems: tuple[CatalogProblem, ...]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for p in problems:
        errors[p.where] = f"{errors[p.where]}; {p.message}" if p.where in errors else p.message
    return errors


class _BadCell(ValueError):
    """One cell's value is unusable; the message completes "column X: ..."."""


def parse_catalog(data: bytes | str) -> list[CatalogRow]:
    """Parse a supplier catalog CSV into rows, or raise CatalogError listing every problem."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    records = _records(reader)
    try:
        header = next(records, None)
        if header is None:
            raise CatalogError([CatalogProblem(1, None, "the file is empty; expected a header row")])
        columns = _check_header(*header)
        return _parse_rows(records, columns, header_line=header[0])
    except csv.Error as exc:  # only a pathological file, such as a cell over the size limit
        raise CatalogError([CatalogProblem(reader.line_num, None, f"not a valid CSV file: {exc}")]) from exc


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            message = "the file is not UTF-8 text; save it as \"CSV UTF-8\" and upload it again"
            raise CatalogError([CatalogProblem(line, None, message)]) from exc
    if "\x00" in text:  # no text column can store it, and no spreadsheet writes it
        line = text[: text.index("\x00")].count("\n") + 1
        raise CatalogError([CatalogProblem(line, None, "contains a NUL character; not a CSV text file")])
    return text


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number, stripped cells) of each record, skipping blank lines."""
    line = 1
    for cells in reader:
        stripped = [cell.strip() for cell in cells]
        if any(stripped):
            yield line, stripped
        line = reader.line_num + 1  # a quoted cell may span several lines


def _check_header(line: int, names: list[str]) -> list[str]:
    problems = []
    for index, name in enumerate(names):
        if name not in COLUMNS:
            shown = name or f"(blank, position {index + 1})"
            message = f"unknown column \"{shown}\"; expected only: {', '.join(COLUMNS)}"
            problems.append(CatalogProblem(line, shown, message))
        elif name in names[:index]:
            problems.append(CatalogProblem(line, name, f"column \"{name}\" appears twice"))
    for name in REQUIRED:
        if name not in names:
            problems.append(CatalogProblem(line, name, f"required column \"{name}\" is missing"))
    # Rows are only meaningful once the columns are, so a bad header is reported alone.
    if problems:
        raise CatalogError(problems)
    return names


def _parse_rows(records: Iterator[tuple[int, list[str]]], columns: list[str],
                *, header_line: int) -> list[CatalogRow]:
    rows: list[CatalogRow] = []
    problems: list[CatalogProblem] = []
    first_line_of: dict[tuple[str, str], int] = {}
    for count, (line, cells) in enumerate(records, start=1):
        if count > MAX_ROWS:
            message = f"too many rows: at most {MAX_ROWS:,} per file; split it into smaller files"
            raise CatalogError([*problems, CatalogProblem(line, None, message)])
        row, row_problems = _parse_row(line, cells, columns)
        problems += row_problems
        if row is not None:
            problems += _duplicate(row, first_line_of)
            rows.append(row)
    if not rows and not problems:
        problems.append(CatalogProblem(header_line, None, "the file has a header but no rows"))
    if problems:
        raise CatalogError(problems)
    return rows


def _duplicate(row: CatalogRow, first_line_of: dict[tuple[str, str], int]) -> list[CatalogProblem]:
    first = first_line_of.setdefault((row.supplier, row.sku), row.line)
    if first == row.line:
        return []
    message = f"duplicate of line {first}: same supplier \"{row.supplier}\" and sku \"{row.sku}\""
    return [CatalogProblem(row.line, "sku", message)]


def _parse_row(line: int, cells: list[str],
               columns: list[str]) -> tuple[CatalogRow | None, list[CatalogProblem]]:
    if len(cells) != len(columns):
        message = f"expected {len(columns)} cells like the header, found {len(cells)}"
        return None, [CatalogProblem(line, None, message)]
    values: dict[str, object] = {}
    problems = []
    for column, raw in zip(columns, cells, strict=True):
        if not raw:
            if column in REQUIRED:
                problems.append(CatalogProblem(line, column, "is required"))
            continue  # blank optional cell: its default applies
        try:
            values[column] = _PARSERS[column](raw)
        except _BadCell as exc:
            problems.append(CatalogProblem(line, column, str(exc)))
    return (None, problems) if problems else (_build_row(line, values), [])


def _build_row(line: int, values: dict[str, object]) -> CatalogRow:
    defaults = {"supplier_sku": values["sku"], "moq": 1, "pack_size": 1, "priority": 1}
    return CatalogRow(**{**defaults, **values}, line=line)


def _text(raw: str) -> str:
    if len(raw) > MAX_TEXT:
        raise _BadCell(f"must be at most {MAX_TEXT} characters")
    return raw


def _email(raw: str) -> str:
    if len(raw) > MAX_EMAIL or not _EMAIL.fullmatch(raw):
        raise _BadCell("must be an email address like orders@supplier.com")
    return raw


def _unit_cost(raw: str) -> Decimal:
    if not _DECIMAL.fullmatch(raw):
        raise _BadCell("must be a number >= 0 like 12.50 (no currency sign or thousands separator)")
    value = Decimal(raw)
    # The column is NUMERIC(14, 4): refuse what it would round or overflow.
    if value >= MAX_UNIT_COST:
        raise _BadCell(f"must be less than {MAX_UNIT_COST:,}")
    if value != value.quantize(Decimal("0.0001")):
        raise _BadCell("must have at most 4 decimal places")
    return value


def _currency(raw: str) -> str:
    if not _CURRENCY.fullmatch(raw):
        raise _BadCell("must be a 3-letter currency code like USD")
    return raw.upper()


def _whole_number(minimum: int, maximum: int, unit: str = "") -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not _DIGITS.fullmatch(raw):
            raise _BadCell(f"must be a whole number >= {minimum}")
        significant = raw.lstrip("0") or "0"
        # Compare lengths first: Python refuses to convert very long digit strings.
        if len(significant) > len(str(maximum)) or int(significant) > maximum:
            raise _BadCell(f"must be at most {maximum}{unit}")
        if int(significant) < minimum:
            raise _BadCell(f"must be a whole number >= {minimum}")
        return int(significant)

    return parse


_PARSERS: dict[str, Callable[[str], object]] = {
    "supplier": _text,
    "supplier_email": _email,
    "sku": _text,
    "supplier_sku": _text,
    "unit_cost": _unit_cost,
    "currency": _currency,
    "lead_time_days": _whole_number(0, MAX_LEAD_TIME_DAYS, " days"),
    "moq": _whole_number(1, MAX_COUNT),
    "pack_size": _whole_number(1, MAX_COUNT),
    "priority": _whole_number(1, MAX_COUNT),
}
