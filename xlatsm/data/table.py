"""Rows of cells (an Excel range, or the table found in a file) -> a numeric, dated frame. The layout rules:

* fully blank rows and columns at the edges of the selection are dropped (a range selected too large);
* the first row is a header when it holds text that is not a number (tenors such as ``3M``), or when its
  first cell is a label (``date``) above a first column of dates: then numbers in it are maturities;
* the first column is the dates when its cells are dates in a recognised form (:mod:`.dates`), or labels when
  they are text; every other cell follows the cell rules of :mod:`.cells`;
* a row with numbers but no date, a non-date in the date column ('Average'), a refused cell: errors naming it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .cells import Cell, apply_percent_rule, decimal_comma_in_use, describe, is_blank, read_cell, why_refused
from .dates import parse_date, read_date_column

GENERIC_PREFIX = "y"     # columns of a range or array without a header: y1, y2, ...


def generic_columns(n: int) -> list[str]:
    return [f"{GENERIC_PREFIX}{j + 1}" for j in range(n)]


def is_generic(columns: Sequence[Any]) -> bool:
    """True for the labels :func:`generic_columns` makes (the data had no header row)."""
    return all(str(c) == f"{GENERIC_PREFIX}{j + 1}" for j, c in enumerate(columns))


_DATE_WORDS = {"date", "dates", "month", "months", "period", "time", "yyyymm", "yyyymmdd", "day", "obs",
               "observation_date", "observation date", "as of", "asof", "trade date", "valuation date"}


@dataclass
class Table:
    """A parsed table: ``values`` (T, p) with NaN = missing, its ``index`` (dates or labels or 1..T),
    ``columns`` (the header labels, raw), ``row_names`` (how messages name each row), and what was assumed."""

    values: np.ndarray
    index: pd.Index
    columns: list[Any]
    row_names: list[str]
    notes: list[str] = field(default_factory=list)
    percent_cells: int = 0
    missing_text_cells: int = 0
    percent_stated: bool = False


def _rectangle(rows: Any) -> list[list[Any]]:
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__len__"):
        raise InputError("expected a range of cells (rows of values), got a single value")
    rows = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else [r] for r in rows]
    if not rows or not any(rows):
        raise InputError("the range is empty: select the cells holding the data")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise InputError(f"ragged range: rows have {sorted(widths)} cells; select a rectangular block")
    return rows


def _trim(rows: list[list[Any]], first_row: int) -> tuple[list[list[Any]], int]:
    filled_rows = [i for i, r in enumerate(rows) if any(not is_blank(v) for v in r)]
    if not filled_rows:
        raise InputError("every cell of the range is blank: select the cells holding the data")
    top, bottom = filled_rows[0], filled_rows[-1] + 1
    rows = rows[top:bottom]
    width = len(rows[0])
    filled_cols = [j for j in range(width) if any(not is_blank(r[j]) for r in rows)]
    left, right = filled_cols[0], filled_cols[-1] + 1
    return [r[left:right] for r in rows], first_row + top


def _is_text_label(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and read_cell(value)[0] == Cell.BAD \
        and parse_date(value) is None


def _header_row(rows: list[list[Any]]) -> bool:
    first = rows[0]
    if any(_is_text_label(v) for v in first[1:]):
        return True
    if len(first) == 1:
        return _is_text_label(first[0])
    corner = first[0]
    corner_label = is_blank(corner) or _is_text_label(corner)
    if corner_label and len(rows) > 1 and parse_date(rows[1][0]) is not None:
        return True           # numeric maturities (3, 6, 120) under a 'date' corner above a column of dates
    return bool(isinstance(corner, str) and corner.strip().lower() in _DATE_WORDS)


def parse_rows(rows: Sequence[Sequence[Any]], first_row: int = 1, where: str = "row") -> Table:
    """Rows of raw cells -> :class:`Table` (rules in the module docstring). ``first_row`` is the number of
    ``rows[0]`` in the user's sheet or file, so messages name the row the user sees."""
    rows, first_row = _trim(_rectangle(rows), first_row)
    notes: list[str] = []
    # title rows above the table ('Maturity (years)', 'Zero-coupon yields, percent'): one filled cell in a wide range
    while len(rows) > 2 and len(rows[0]) >= 3 and sum(not is_blank(v) for v in rows[0]) == 1 \
            and isinstance(next(v for v in rows[0] if not is_blank(v)), str):
        notes.append(f"title row {next(v for v in rows[0] if not is_blank(v))!r} left out")
        rows, first_row = rows[1:], first_row + 1
    # a row counter in front of the dates (a DataFrame saved with its 0..n index): not data
    if len(rows) > 2 and len(rows[0]) >= 3 and str(rows[0][0] or "").strip().lower() in ("", "index", "unnamed: 0"):
        counter = [r[0] for r in rows[1:]]
        if all(isinstance(read_cell(v)[1], float) and read_cell(v)[0] == Cell.NUMBER for v in counter):
            numbers = [read_cell(v)[1] for v in counter]
            if numbers == list(range(int(numbers[0]), int(numbers[0]) + len(numbers))) and \
                    read_date_column([r[1] for r in rows[1:]]) is not None:
                rows = [r[1:] for r in rows]
                notes.append("a row counter in front of the dates left out")
    across = [v for v in rows[0][1:] if not is_blank(v)]
    if len(across) >= 2 and sum(parse_date(v) is not None for v in across) * 2 > len(across):
        raise InputError("the dates run across the first row: put the dates down the first column and the "
                         "maturities across (copy the block, then Paste Special > Transpose)")
    header = None
    if _header_row(rows):
        header, rows = rows[0], rows[1:]
        first_row += 1
    if not rows:
        raise InputError("the range holds a header row but no data rows below it")
    first_col = [r[0] for r in rows]
    row_labels = [f"{where} {first_row + i}" for i in range(len(rows))]
    corner = header[0] if header is not None else None
    dated = read_date_column(first_col, row_labels,
                             strict=isinstance(corner, str) and corner.strip().lower() in _DATE_WORDS)
    notes += list(dated.notes) if dated is not None else []
    non_blank = [v for v in first_col if not is_blank(v)]
    text_index = dated is None and bool(non_blank) and all(_is_text_label(v) for v in non_blank)
    index_col = dated is not None or text_index or (
        header is not None and len(header) > 1 and (is_blank(corner) or _is_text_label(corner))
        and not _looks_like_tenor(corner))
    data = [r[1:] for r in rows] if index_col else rows
    if header is not None:
        columns = list(header[1:] if index_col else header)
    else:
        columns = generic_columns(len(data[0]) if data else 0)
    if not columns:
        raise InputError("the range has no data columns: select dates and the value columns beside them")
    offset = 1 if index_col else 0
    col_names = [str(c).strip() if not is_blank(c) else f"column {j + 1 + offset} of the range"
                 for j, c in enumerate(columns)]
    if dated is not None:
        index = dated.index
        row_names = [f"{lab} ({d:%Y-%m-%d})" if not pd.isna(d) else lab for lab, d in zip(row_labels, index)]
    elif text_index:
        index = pd.Index([str(v).strip() if not is_blank(v) else "" for v in first_col])
        row_names = [f"{lab} ({v})" for lab, v in zip(row_labels, index)]
    else:
        index = pd.RangeIndex(1, len(rows) + 1)
        row_names = row_labels
    texts = [v for r in data for v in r if isinstance(v, str)]
    comma = decimal_comma_in_use(texts)
    if comma:
        notes.append("commas read as decimal commas (7,79 = 7.79)")
    values = np.full((len(data), len(columns)), np.nan)
    percent_mask = np.zeros(values.shape, bool)
    missing_text = 0
    for i, r in enumerate(data):
        for j, v in enumerate(r):
            kind, number = read_cell(v, comma)
            if kind == Cell.BAD:
                raise InputError(f"the cell at {row_names[i]}, {col_names[j]} holds {describe(v)}: {why_refused(v)}")
            if kind == Cell.MISSING and isinstance(v, str) and v.strip():
                missing_text += 1
            percent_mask[i, j] = kind == Cell.PERCENT
            values[i, j] = number
    if dated is not None:
        undated = [i for i, d in enumerate(index) if pd.isna(d) and np.isfinite(values[i]).any()]
        if undated:
            raise InputError(f"{row_names[undated[0]]} holds numbers but no date: fill in its date or remove the row")
        keep = ~pd.isna(index)
        if not keep.all():
            values, index = values[keep], index[keep]
            row_names = [n for n, k in zip(row_names, keep) if k]
    if missing_text:
        notes.append(f"{missing_text} cell(s) holding placeholders such as '-', 'n/a' or Excel errors read as missing")
    # a column with neither a label nor a number (hidden or left empty inside the selection) is no maturity
    empty = [j for j in range(values.shape[1]) if is_blank(columns[j]) and np.all(np.isnan(values[:, j]))]
    if empty and len(empty) < values.shape[1]:
        keep = [j for j in range(values.shape[1]) if j not in empty]
        values, percent_mask = values[:, keep], percent_mask[:, keep]
        columns = [columns[j] for j in keep]
        notes.append(f"{len(empty)} empty column(s) without a label left out")
    stated = apply_percent_rule(values, percent_mask)
    return Table(values=values, index=index, columns=columns, row_names=row_names, notes=notes,
                 percent_cells=int(percent_mask.sum()), missing_text_cells=missing_text, percent_stated=stated)


def _looks_like_tenor(value: Any) -> bool:
    from .tenors import tenor_to_years

    try:
        tenor_to_years(value)
        return True
    except InputError:
        return False
