"""Turn what a user hands over (DataFrame, array, CSV/XLSX path, or an Excel range as nested lists) into clean panels.

Conventions fixed here, once, for the whole package:

* rows are dates (time-major), columns are series or maturities; blank cells, NaN, ``None`` and Excel error
  values (``#N/A`` ...) are *missing* and stay in the panel as NaN (the Kalman filter handles them);
* leading and trailing all-blank rows (an Excel range selected too long) are dropped, interior ones kept;
* yields inside the core are decimals per year and maturities are years; the units the user wrote are detected
  (or stated) and recorded so results can be reported back in them.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .tenors import maturities_to_years, years_to_label

_EXCEL_ERRORS = {"#N/A", "#VALUE!", "#DIV/0!", "#NUM!", "#REF!", "#NAME?", "#NULL!", "#GETTING_DATA", "#SPILL!",
                 "#CALC!", "NA", "N/A", "NAN", "."}
YIELD_UNITS = ("auto", "percent", "decimal")


@dataclass(frozen=True)
class Observations:
    """A (T, p) panel of observations with NaN for missing cells, and its row index and column labels."""

    values: np.ndarray
    index: pd.Index
    columns: list[str]

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.index, columns=self.columns)


@dataclass(frozen=True)
class YieldPanel:
    """Zero-coupon yields ready for estimation.

    ``yields`` is (T, N) in decimals per year (0.05 = 5%), ``maturities`` is (N,) in years, strictly increasing.
    ``yield_units`` ("percent" or "decimal") and ``maturity_units`` ("tenor", "months" or "years") record how the
    input was written; :meth:`to_input_units` converts a yield-like array back.
    """

    yields: np.ndarray
    maturities: np.ndarray
    dates: pd.Index
    labels: list[str]
    yield_units: str
    maturity_units: str
    notes: list[str] = field(default_factory=list)

    @property
    def scale(self) -> float:
        """Multiply a decimal yield by this to get the user's units (100 for percent)."""
        return 100.0 if self.yield_units == "percent" else 1.0

    def to_input_units(self, decimals: np.ndarray) -> np.ndarray:
        return np.asarray(decimals) * self.scale

    @property
    def frame(self) -> pd.DataFrame:
        """The yields in the user's units, labelled."""
        return pd.DataFrame(self.to_input_units(self.yields), index=self.dates, columns=self.labels)


# ----------------------------------------------------------------------------------------------------------------
# cells -> numbers
# ----------------------------------------------------------------------------------------------------------------
def _cell_to_float(value: Any) -> float | None:
    """float for a numeric cell, NaN for a blank/missing one, None for text that is not a number."""
    if value is None:
        return np.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "" or text.upper() in _EXCEL_ERRORS:
            return np.nan
        try:
            return float(text.replace(",", ""))
        except ValueError:
            return None
    return None


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    if all(pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns):
        return frame.to_numpy(dtype=float)
    out = np.empty(frame.shape)
    raw = frame.to_numpy(dtype=object)
    for (i, j), value in np.ndenumerate(raw):
        number = _cell_to_float(value)
        if number is None:
            raise InputError(
                f"cell in row {i + 1} ({frame.index[i]}), column {frame.columns[j]!r} holds {value!r}, "
                "which is not a number: clear it or type a number (blank cells count as missing)"
            )
        out[i, j] = number
    return out


def _is_date(value: Any) -> bool:
    if isinstance(value, (_dt.date, _dt.datetime, pd.Timestamp, np.datetime64)):
        return True
    if isinstance(value, str) and _cell_to_float(value) is None:
        try:
            pd.Timestamp(value)
            return True
        except (ValueError, TypeError):
            return False
    return False


def table_to_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """An Excel range as nested lists -> DataFrame, detecting a header row and a date (index) column.

    The first row is a header when one of its cells (after the first) is text that is not a number; the first
    column is an index when its cells (below the header) are dates, or text, or when the header's first cell is
    text over a numeric header (as in ``date | 3M | 6M``).
    """
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__len__"):
        raise InputError("expected a range of cells (rows of values), got a single value")
    rows = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else [r] for r in rows]
    if not rows or not any(rows):
        raise InputError("the range is empty: select the cells holding the data")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise InputError(f"ragged range: rows have {sorted(widths)} cells; select a rectangular block")
    header = None
    first = rows[0]
    corner = first[0]
    corner_is_label = corner is None or (isinstance(corner, str) and _cell_to_float(corner) is None
                                         and not _is_date(corner))
    if any(isinstance(v, str) and v.strip() and _cell_to_float(v) is None for v in first[1:]) or (
        len(first) == 1 and isinstance(first[0], str) and _cell_to_float(first[0]) is None
    ) or (corner_is_label and len(rows) > 1 and _is_date(rows[1][0])):
        # a row of labels, or numeric maturities (3, 6, 120) under a "date" corner above a column of dates
        header, rows = first, rows[1:]
    if not rows:
        raise InputError("the range holds a header row but no data rows below it")
    first_col = [r[0] for r in rows]
    non_blank = [v for v in first_col if v is not None and not (isinstance(v, str) and not v.strip())]
    index_col = bool(non_blank) and (
        all(_is_date(v) for v in non_blank)
        or all(isinstance(v, str) and _cell_to_float(v) is None for v in non_blank)
        or (header is not None and (header[0] is None or (isinstance(header[0], str)
                                                          and _cell_to_float(header[0]) is None
                                                          and not _looks_like_tenor(header[0]))))
    )
    data = [r[1:] for r in rows] if index_col else rows
    if index_col:
        index = pd.Index(first_col)
        if all(_is_date(v) for v in non_blank) and len(non_blank) == len(first_col):
            index = pd.DatetimeIndex(pd.to_datetime(first_col))
    else:
        index = pd.RangeIndex(1, len(rows) + 1)
    if header is not None:
        columns = header[1:] if index_col else header
        columns = [("" if c is None else c) for c in columns]
    else:
        columns = [f"y{j + 1}" for j in range(len(data[0]) if data else 0)]
    if not columns:
        raise InputError("the range has no data columns: select dates and the value columns beside them")
    return pd.DataFrame(data, index=index, columns=columns)


def _looks_like_tenor(value: Any) -> bool:
    from .tenors import tenor_to_years

    try:
        tenor_to_years(value)
        return True
    except InputError:
        return False


def to_frame(data: Any) -> pd.DataFrame:
    """Accept a DataFrame, a 2-D array, nested lists (an Excel range) or a CSV/XLSX path; return a DataFrame."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, (str, Path)):
        return read_table_file(data)
    if isinstance(data, np.ndarray) and data.dtype != object:
        if data.ndim == 1:
            data = data[:, None]
        if data.ndim != 2:
            raise InputError(f"expected a 2-D panel (dates x series), got an array with {data.ndim} dimensions")
        return pd.DataFrame(data, index=pd.RangeIndex(1, data.shape[0] + 1),
                            columns=[f"y{j + 1}" for j in range(data.shape[1])])
    return table_to_frame(data)


def read_table_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV (comma or semicolon separated) or XLSX file: dates in the first column, series across."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"file {str(path)!r} not found")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        raw = pd.read_excel(path, header=None)
        return table_to_frame(raw.where(raw.notna(), None).values.tolist())
    if suffix not in (".csv", ".txt", ".tsv"):
        raise InputError(f"cannot read {path.name!r}: give a .csv or .xlsx file")
    frame = pd.read_csv(path, sep=None, engine="python", index_col=0)
    try:
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index.astype(str).str.replace(":", "-")))
    except (ValueError, TypeError):
        pass
    return frame


def _trim_blank_rows(frame: pd.DataFrame, values: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    filled = ~np.all(np.isnan(values), axis=1)
    first, last = np.argmax(filled), len(filled) - np.argmax(filled[::-1])
    return frame.iloc[first:last], values[first:last]


def read_observations(data: Any) -> Observations:
    """Any accepted input -> :class:`Observations` (numeric, NaN = missing).

    All-blank rows at the top and bottom of a *range or file* (a selection made too long) are dropped; arrays and
    DataFrames are taken as they are, because there every row is a date the caller meant."""
    frame = to_frame(data)
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise InputError("the data has no rows or no columns")
    values = _numeric(frame)
    if np.all(np.isnan(values)):
        raise InputError("every cell of the data is blank: select the cells holding the data")
    if not isinstance(data, (np.ndarray, pd.DataFrame, pd.Series)):
        frame, values = _trim_blank_rows(frame, values)
    empty = np.all(np.isnan(values), axis=0)
    if empty.any():
        names = [str(c) for c, e in zip(frame.columns, empty) if e]
        raise InputError(f"column(s) {names} hold no numbers: remove them from the range or fill them in")
    return Observations(values=values, index=frame.index, columns=[str(c) for c in frame.columns])


def detect_yield_units(values: np.ndarray, yield_units: str = "auto") -> str:
    """'percent' or 'decimal'. Auto: percent when any |yield| exceeds 0.5 (a 50% decimal yield is not a yield)."""
    if yield_units not in YIELD_UNITS:
        raise InputError(f"yield_units must be one of {YIELD_UNITS}, not {yield_units!r}")
    if yield_units != "auto":
        return yield_units
    return "percent" if np.nanmax(np.abs(values)) > 0.5 else "decimal"


def read_panel(data: Any, maturities: Sequence | None = None, yield_units: str = "auto",
               maturity_units: str = "auto") -> YieldPanel:
    """Any accepted input -> :class:`YieldPanel` (decimals, years), recording the units it was written in.

    ``maturities`` overrides the column labels (numbers in ``maturity_units`` or tenor labels).
    """
    obs = read_observations(data)
    labels = list(maturities) if maturities is not None else obs.columns
    if len(labels) != obs.values.shape[1]:
        raise InputError(f"{len(labels)} maturities given for {obs.values.shape[1]} yield columns: "
                         "give one maturity per column")
    years, units_read = maturities_to_years(labels, maturity_units)   # also checks they are positive, increasing
    y_units = detect_yield_units(obs.values, yield_units)
    scale = 100.0 if y_units == "percent" else 1.0
    notes = [f"yields read as {y_units}", f"maturities read as {units_read}"]
    return YieldPanel(yields=obs.values / scale, maturities=years, dates=obs.index,
                      labels=[years_to_label(m) for m in years],
                      yield_units=y_units, maturity_units=units_read, notes=notes)
