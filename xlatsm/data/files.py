"""Files in: a CSV or XLSX as a user has it (notes above the table, a semicolon CSV with decimal commas, UTF-16
from Excel's "Unicode text", the Liu-Wu workbook) -> the rows of its table. The one place file rules live.

* Encodings: UTF-8 (with or without BOM), UTF-16 (BOM), otherwise Windows-1252.
* Separators: tab, ``;``, ``|`` or ``,``, whichever splits the lines consistently, in that order of preference
  (``;`` is chosen over ``,`` because a semicolon CSV is what European Excel writes, with decimal commas).
* The table: the longest block of rows holding numbers, with the row right above it as its header; note rows
  above and below it are skipped (``skip_rows`` and ``sheet`` override the search).
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .cells import Cell, is_blank, read_cell
from .dates import parse_date

_SEPARATORS = ("\t", ";", "|", ",")


@dataclass(frozen=True)
class RawTable:
    """The rows of a table found in a file, and where it starts (1-based line or sheet row of ``rows[0]``)."""

    rows: list[list[Any]]
    first_row: int
    source: str


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if b"\x00" in data[:200]:
        try:
            return data.decode("utf-16-le")
        except UnicodeDecodeError:
            raise InputError(f"{name} is not a text file: give a CSV or an .xlsx workbook") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _separator(lines: list[str]) -> str:
    lines = [ln for ln in lines if ln.strip()][:200]
    best, best_share = ",", 0.0
    for sep in _SEPARATORS:
        counts = [ln.count(sep) for ln in lines]
        positive = [c for c in counts if c > 0]
        if not positive:
            continue
        mode = max(set(positive), key=positive.count)
        share = positive.count(mode) / len(lines)
        if share >= 0.5:
            return sep
        if share > best_share:
            best, best_share = sep, share
    return best


def _numeric_cells(row: list[Any]) -> int:
    count = 0
    for v in row[1:]:
        kind, _ = read_cell(v, decimal_comma=isinstance(v, str) and "," in v and "." not in v)
        count += kind in (Cell.NUMBER, Cell.PERCENT)
    return count


def _data_like(row: list[Any]) -> bool:
    """A row of the table: mostly numbers, or a date followed only by numbers and missing markers (a holiday row
    of '.' or 'ND' in a FRED or H.15 file is a row of the table with every yield missing)."""
    filled = [v for v in row[1:] if not is_blank(v)]
    numbers = _numeric_cells(row)
    if numbers >= 1 and numbers * 2 >= len(filled):
        return True
    return parse_date(row[0]) is not None and bool(filled) and all(
        read_cell(v)[0] in (Cell.NUMBER, Cell.PERCENT, Cell.MISSING) for v in filled)


def find_table(rows: list[list[Any]]) -> tuple[int, int]:
    """(start, stop) of the table in ``rows``: the longest run of data rows (blank rows inside allowed), with the
    non-blank row right above it as its header when that row is not data."""
    data = [_data_like(r) for r in rows]
    blank = [all(is_blank(v) for v in r) for r in rows]
    best, best_len, i = None, 0, 0
    while i < len(rows):
        if not data[i]:
            i += 1
            continue
        j, last = i, i
        while j < len(rows) and (data[j] or blank[j]):
            if data[j]:
                last = j
            j += 1
        length = sum(data[i:last + 1])
        if length > best_len:
            best, best_len = (i, last + 1), length
        i = j
    if best is None:
        raise InputError("no table of numbers found: the file should have dates down the first column and yields "
                         "across (a header row of maturities above them)")
    start, stop = best
    if start > 0 and not blank[start - 1] and not data[start - 1]:
        start -= 1
    # (a header of numeric maturities, 3 6 12 ..., is itself a data-like row: the run already starts with it)
    return start, stop


def _read_csv(path: Path) -> list[list[Any]]:
    text = _decode(path.read_bytes(), path.name)
    lines = text.splitlines()
    sep = _separator(lines)
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    return [[None if not c.strip() else c for c in row] for row in reader]


def _read_xlsx(path: Path, sheet: str | int | None) -> tuple[list[list[Any]], str]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise InputError(f"{path.name} is not a readable .xlsx workbook ({type(exc).__name__}): open it in Excel "
                         "and save it again as .xlsx, or export the sheet as CSV") from None
    try:
        sheets = book.worksheets
        if sheet is not None:
            names = [ws.title for ws in sheets]
            if isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
                k = int(sheet) - 1
                if not 0 <= k < len(sheets):
                    raise InputError(f"{path.name} has {len(sheets)} sheet(s); --sheet {sheet} is not one of them")
                sheets = [sheets[k]]
            elif sheet in names:
                sheets = [sheets[names.index(sheet)]]
            else:
                raise InputError(f"{path.name} has no sheet {sheet!r}: its sheets are {', '.join(names)}")
        found = []      # the sheet with the largest table wins (a ReadMe sheet with a version number loses)
        for ws in sheets:
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            try:
                start, stop = find_table(rows)
            except InputError:
                continue
            found.append(((stop - start) * max((len(r) for r in rows), default=0), rows, ws.title))
        if not found:
            raise InputError(f"no sheet of {path.name} holds a table of numbers (dates down, yields across): "
                             "name the sheet with --sheet")
        _, rows, title = max(found, key=lambda f: f[0])
        return rows, title
    finally:
        book.close()


def read_table_file(path: str | Path, sheet: str | int | None = None, skip_rows: int | None = None) -> RawTable:
    """The table in a CSV/XLSX file as rows of raw cells (see the module docstring for the rules)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"file {str(path)!r} not found")
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder: give a .csv or .xlsx file")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError(f"{path.name} is an old-style .xls workbook: open it in Excel and save it as .xlsx or CSV")
    if suffix in (".xlsx", ".xlsm"):
        rows, where = _read_xlsx(path, sheet)
        source = f"{path.name}, sheet {where}"
    elif suffix in (".csv", ".txt", ".tsv", ".dat", ""):
        rows, source = _read_csv(path), path.name
    else:
        raise InputError(f"cannot read {path.name!r}: give a .csv or .xlsx file")
    width = max((len(r) for r in rows), default=0)
    rows = [list(r) + [None] * (width - len(r)) for r in rows]
    if skip_rows:
        if skip_rows >= len(rows):
            raise InputError(f"--skip-rows {skip_rows} skips every row of {path.name} ({len(rows)} rows)")
        body = rows[skip_rows:]
        stop = find_table(body)[1]
        return RawTable(rows=body[:stop], first_row=skip_rows + 1, source=source)
    if not any(not is_blank(v) for r in rows for v in r):
        raise InputError(f"{path.name} holds no data")
    start, stop = find_table(rows)
    return RawTable(rows=rows[start:stop], first_row=start + 1, source=source)
