"""What a user hands over (DataFrame, array, CSV/XLSX path, or an Excel range as nested lists) -> clean panels.

This module only orchestrates; each rule lives in one place:

* cells (blank, placeholders, Excel errors, decimal commas, ``4.5%``, refused cells): :mod:`.cells`;
* dates (recognised forms, order, duplicates, frequency, gaps): :mod:`.dates`;
* range layout (header row, date column, edges): :mod:`.table`; files (encodings, separators, notes around the
  table, sheets): :mod:`.files`;
* maturities (tenor spellings, numbers in months or years): :mod:`.tenors`;
* yield units (decimal, percent, basis points) and the agreement of columns, rows and cells: :mod:`.units`.

Conventions fixed here, once, for the whole package: rows are dates (time-major), columns are series or
maturities; missing cells stay in the panel as NaN (the Kalman filter handles them); yields inside the core are
decimals per year and maturities are years; the units the user wrote are detected (or stated) and recorded so
results can be reported back in them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .cells import TOO_LARGE, Cell, apply_percent_rule, describe, read_cell, why_refused
from .dates import infer_frequency, read_date_column, regularise_dates
from .files import read_table_file
from .table import Table, generic_columns, is_generic, parse_rows
from .tenors import maturities_to_years, years_to_label
from .units import (SCALE, YIELD_UNITS, check_columns_move, check_scale_agreement, decide_yield_units,
                    normalise_yield_units)

__all__ = ["Observations", "YieldPanel", "read_observations", "read_panel", "table_to_frame", "to_frame",
           "select", "YIELD_UNITS"]


@dataclass(frozen=True)
class Observations:
    """A (T, p) panel of observations with NaN for missing cells, its row index and column labels, and the notes
    of what was assumed while reading it."""

    values: np.ndarray
    index: pd.Index
    columns: list[str]
    notes: tuple[str, ...] = ()
    row_names: tuple[str, ...] = ()
    percent_cells: int = 0
    percent_stated: bool = False

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.index, columns=self.columns)

    def row_name(self, t: int) -> str:
        return self.row_names[t] if self.row_names else f"row {t + 1}"


@dataclass(frozen=True)
class YieldPanel:
    """Zero-coupon yields ready for estimation.

    ``yields`` is (T, N) in decimals per year (0.05 = 5%), ``maturities`` is (N,) in years, strictly increasing.
    ``yield_units`` ("decimal", "percent" or "bp") and ``maturity_units`` ("tenor", "months" or "years") record
    how the input was written; :meth:`to_input_units` converts a yield-like array back.
    """

    yields: np.ndarray
    maturities: np.ndarray
    dates: pd.Index
    labels: list[str]
    yield_units: str
    maturity_units: str
    notes: list[str] = field(default_factory=list)
    units_certain: bool = True

    @property
    def scale(self) -> float:
        """Multiply a decimal yield by this to get the user's units (100 for percent, 10000 for bp)."""
        return SCALE[self.yield_units]

    def to_input_units(self, decimals: np.ndarray) -> np.ndarray:
        return np.asarray(decimals) * self.scale

    @property
    def frame(self) -> pd.DataFrame:
        """The yields in the user's units, labelled."""
        return pd.DataFrame(self.to_input_units(self.yields), index=self.dates, columns=self.labels)

    @property
    def median_level(self) -> float:
        """Median |yield| in decimals: how high this panel's rates are (to judge the units of a single curve)."""
        return float(np.nanmedian(np.abs(self.yields)))

    @property
    def periods_per_year(self) -> int:
        """Data frequency from the dates (12 when there are none)."""
        if isinstance(self.dates, pd.DatetimeIndex) and len(self.dates) >= 2:
            return infer_frequency(self.dates).periods_per_year
        return 12


# ----------------------------------------------------------------------------------------------------------------
# inputs -> Table
# ----------------------------------------------------------------------------------------------------------------
def _frame_table(frame: pd.DataFrame) -> Table:
    """A DataFrame (or array) as a Table: its cells through the cell rules, its index through the date rules."""
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise InputError("the data has no rows or no columns")
    notes: list[str] = []
    if isinstance(frame.index, pd.RangeIndex) and frame.shape[1] >= 2:
        first = frame.iloc[:, 0]
        if not pd.api.types.is_numeric_dtype(first) or pd.api.types.is_datetime64_any_dtype(first):
            dated = read_date_column(list(first))
            if dated is not None:       # pd.read_csv(f) / read_excel without index_col: the dates are column 1
                frame = frame.iloc[:, 1:].set_axis(dated.index, axis=0)
                notes.append(f"column {str(first.name)!r} read as the dates")
    index = frame.index
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp(how="end").normalize()
    elif not isinstance(index, (pd.DatetimeIndex, pd.RangeIndex)) and (
            index.dtype == object or pd.api.types.is_string_dtype(index)):
        dated = read_date_column(list(index), [f"row {i + 1}" for i in range(len(index))])
        if dated is not None:
            index, notes = dated.index, notes + list(dated.notes)
    elif isinstance(index, pd.Index) and pd.api.types.is_integer_dtype(index) and not isinstance(index, pd.RangeIndex):
        dated = read_date_column(list(index))          # YYYYMM or Excel serials as the index
        if dated is not None:
            index, notes = dated.index, notes + list(dated.notes)
    if isinstance(index, pd.DatetimeIndex):
        row_names = [f"row {i + 1} ({d:%Y-%m-%d})" if not pd.isna(d) else f"row {i + 1}" for i, d in enumerate(index)]
    else:
        row_names = [f"row {i + 1} ({v})" if not isinstance(frame.index, pd.RangeIndex) else f"row {i + 1}"
                     for i, v in enumerate(index)]
    col_names = [str(c) for c in frame.columns]
    numeric = all(pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
                  for c in frame.columns)
    percent_mask = np.zeros(frame.shape, bool)
    if numeric:
        values = frame.to_numpy(dtype=float)
        bad = ~np.isnan(values) & ~np.isfinite(values)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"the cell at {row_names[i]}, {col_names[j]} holds {describe(values[i, j])}: "
                             f"{why_refused(values[i, j])}")
    else:
        raw = frame.to_numpy(dtype=object)
        from .cells import decimal_comma_in_use

        comma = decimal_comma_in_use([v for v in raw.ravel() if isinstance(v, str)])
        values = np.empty(raw.shape)
        for (i, j), v in np.ndenumerate(raw):
            kind, number = read_cell(v, comma)
            if kind == Cell.BAD:
                raise InputError(f"the cell at {row_names[i]}, {col_names[j]} holds {describe(v)}: {why_refused(v)}")
            percent_mask[i, j] = kind == Cell.PERCENT
            values[i, j] = number
    stated = apply_percent_rule(values, percent_mask)
    return Table(values=values, index=index, columns=list(frame.columns), row_names=row_names, notes=notes,
                 percent_cells=int(percent_mask.sum()), percent_stated=stated)


def _table(data: Any, sheet=None, skip_rows=None) -> tuple[Table, bool]:
    """(Table, trim): ``trim`` says whether blank rows at the edges may be dropped (ranges and files: a selection
    made too long) or not (arrays and DataFrames: every row is a date the caller meant)."""
    if isinstance(data, pd.DataFrame):
        return _frame_table(data), False
    if isinstance(data, pd.Series):
        return _frame_table(data.to_frame()), False
    if isinstance(data, (str, Path)):
        raw = read_table_file(data, sheet=sheet, skip_rows=skip_rows)
        return parse_rows(raw.rows, first_row=raw.first_row, where=f"{raw.source} row"), True
    if isinstance(data, np.ndarray) and data.dtype != object:
        if data.ndim == 1:
            data = data[:, None]
        if data.ndim != 2:
            raise InputError(f"expected a 2-D panel (dates x series), got an array with {data.ndim} dimensions")
        frame = pd.DataFrame(data, index=pd.RangeIndex(1, data.shape[0] + 1),
                             columns=generic_columns(data.shape[1]))
        return _frame_table(frame), False
    return parse_rows(data), True


def table_to_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """An Excel range as nested lists -> DataFrame (header row and date column detected; see :mod:`.table`)."""
    t = parse_rows(rows)
    return pd.DataFrame(t.values, index=t.index, columns=t.columns)


def to_frame(data: Any) -> pd.DataFrame:
    """Accept a DataFrame, a 2-D array, nested lists (an Excel range) or a CSV/XLSX path; return a DataFrame."""
    return read_observations(data).frame


def _trim_blank_rows(t: Table) -> Table:
    filled = ~np.all(np.isnan(t.values), axis=1)
    first, last = int(np.argmax(filled)), len(filled) - int(np.argmax(filled[::-1]))
    return Table(values=t.values[first:last], index=t.index[first:last], columns=t.columns,
                 row_names=t.row_names[first:last], notes=t.notes, percent_cells=t.percent_cells,
                 missing_text_cells=t.missing_text_cells, percent_stated=t.percent_stated)


def read_observations(data: Any, sheet: str | int | None = None, skip_rows: int | None = None) -> Observations:
    """Any accepted input -> :class:`Observations` (numeric, NaN = missing), with the date rules applied.

    All-blank rows at the top and bottom of a *range or file* are dropped; arrays and DataFrames are taken as
    they are. A column with no number at all is an error naming it."""
    if isinstance(data, Observations):
        return data
    t, trim = _table(data, sheet, skip_rows)
    if t.values.size == 0:
        raise InputError("the data has no rows or no columns")
    if np.all(np.isnan(t.values)):
        raise InputError("every cell of the data is blank: select the cells holding the data")
    if trim:
        t = _trim_blank_rows(t)
    columns = [str(c).strip() if c is not None else "" for c in t.columns]
    empty = np.all(np.isnan(t.values), axis=0)
    if empty.any():
        names = [c or f"column {j + 1}" for j, (c, e) in enumerate(zip(columns, empty)) if e]
        raise InputError(f"column(s) {names} hold no numbers: remove them from the range or fill them in")
    frame = pd.DataFrame(t.values, index=t.index, columns=columns)
    notes = list(t.notes)
    row_names = list(t.row_names)
    if isinstance(frame.index, pd.DatetimeIndex):
        before = len(frame)
        order = pd.Series(range(len(frame)), index=frame.index)
        frame, more = regularise_dates(frame, row_names)
        notes += more
        if len(frame) != before or more:
            positions = order.reindex(frame.index)
            row_names = [row_names[int(p)] if not pd.isna(p) else f"inserted ({d:%Y-%m-%d})"
                         for p, d in zip(positions.to_numpy(), frame.index)]
    return Observations(values=frame.to_numpy(dtype=float), index=frame.index, columns=list(frame.columns),
                        notes=tuple(notes), row_names=tuple(row_names), percent_cells=t.percent_cells,
                        percent_stated=t.percent_stated)


def select(obs: Observations, maturities: Sequence | None = None, start=None, end=None,
           maturity_units: str = "auto") -> Observations:
    """The columns named by ``maturities`` (by label, or else as tenors matched by their value in years: ``10Y``
    picks ``m120``) and the dates from ``start`` to ``end`` (inclusive; any recognised date form)."""
    values, index, columns, names = obs.values, obs.index, list(obs.columns), list(obs.row_names)
    keys = {str(c).strip().lower(): j for j, c in enumerate(columns)}
    if maturities and all(str(m).strip().lower() in keys for m in maturities):     # by label
        picks = [keys[str(m).strip().lower()] for m in maturities]
        values, columns = values[:, picks], [columns[j] for j in picks]
    elif maturities:                                                                # by maturity
        have, _ = maturities_to_years(columns, maturity_units, ordered=False)
        want, _ = maturities_to_years(list(maturities), maturity_units, ordered=False)
        picks = []
        for w, label in zip(want, maturities):
            hit = np.flatnonzero(np.abs(have - w) < 1e-6)
            if not len(hit):
                raise InputError(f"maturity {label} is not among the columns ({', '.join(columns)})")
            picks.append(int(hit[0]))
        values, columns = values[:, picks], [columns[j] for j in picks]
    if start is not None or end is not None:
        if not isinstance(index, pd.DatetimeIndex):
            raise InputError("start/end need dates in the first column")
        from .dates import parse_date

        keep = np.ones(len(index), bool)
        from .dates import period_end

        for bound, name, cmp in ((start, "start", np.greater_equal), (end, "end", np.less_equal)):
            if bound is None:
                continue
            stamp = parse_date(bound) if name == "start" else period_end(bound)   # --end 2019: through December
            if stamp is None:
                raise InputError(f"{name} {bound!r} is not a date: write it as 2001-03-31 or 2001-03")
            keep &= cmp(index.values, stamp.to_datetime64())
        if not keep.any():
            raise InputError(f"no dates between {start or 'the start'} and {end or 'the end'} "
                             f"(the data runs {index[0]:%Y-%m-%d} to {index[-1]:%Y-%m-%d})")
        values, index = values[keep], index[keep]
        names = [n for n, k in zip(names, keep) if k] if names else names
    return Observations(values=values, index=index, columns=columns, notes=obs.notes, row_names=tuple(names),
                        percent_cells=obs.percent_cells, percent_stated=obs.percent_stated)


def read_panel(data: Any, maturities: Sequence | None = None, yield_units: str = "auto",
               maturity_units: str = "auto", sheet=None, skip_rows=None) -> YieldPanel:
    """Any accepted input -> :class:`YieldPanel` (decimals, years), recording the units it was written in.

    ``maturities`` overrides the column labels (numbers in ``maturity_units`` or tenor labels).
    """
    obs = data if isinstance(data, Observations) else read_observations(data, sheet, skip_rows)
    if maturities is None and is_generic(obs.columns):
        raise InputError("the data have no header row of maturities: add one (3M, 1Y, 10Y ...) above the yields, "
                         "or give the maturities (the maturities argument)")
    labels = list(maturities) if maturities is not None else obs.columns
    from .dates import parse_date

    if maturities is None and len(labels) >= 2 and sum(parse_date(c) is not None for c in labels) * 2 > len(labels):
        raise InputError("the column labels are dates: the dates should run down the rows and the maturities "
                         "across (transpose the table)")
    if len(labels) != obs.values.shape[1]:
        raise InputError(f"{len(labels)} maturities given for {obs.values.shape[1]} yield columns: "
                         "give one maturity per column")
    years, units_read = maturities_to_years(labels, maturity_units, ordered=False)
    order = np.argsort(years, kind="stable")
    notes_sorted = []
    if np.any(np.diff(years) < 0) and len(np.unique(years)) == len(years):     # columns out of order: sort them
        obs = Observations(values=obs.values[:, order], index=obs.index, columns=[obs.columns[j] for j in order],
                           notes=obs.notes, row_names=obs.row_names, percent_cells=obs.percent_cells,
                           percent_stated=obs.percent_stated)
        labels, years = [labels[j] for j in order], years[order]
        notes_sorted = ["columns sorted by maturity (" + ", ".join(str(c) for c in labels) + ")"]
    maturities_to_years(labels, maturity_units)          # positive, each once
    yield_units = normalise_yield_units(yield_units)
    row_names = list(obs.row_names) or [f"row {t + 1}" for t in range(len(obs.index))]
    col_names = [str(c) for c in labels]
    huge = np.argwhere(np.abs(np.nan_to_num(obs.values)) >= TOO_LARGE)
    if len(huge):
        t, j = huge[0]
        raise InputError(f"the cell at {row_names[t]}, {col_names[j]} holds {describe(obs.values[t, j])}: "
                         f"{why_refused(obs.values[t, j])}")
    check_columns_move(obs.values, col_names)
    if yield_units == "auto":
        check_scale_agreement(obs.values, row_names, col_names,
                              percent_text=obs.percent_cells > 0 and not obs.percent_stated)
    per_year = infer_frequency(obs.index).periods_per_year if isinstance(obs.index, pd.DatetimeIndex) else 12
    stated = "percent" if obs.percent_stated else None
    decision = decide_yield_units(obs.values, yield_units, per_year, stated)
    values = obs.values
    notes = [decision.note, f"maturities read as {units_read}"] + notes_sorted + list(obs.notes)
    return YieldPanel(yields=values / SCALE[decision.units], maturities=years, dates=obs.index,
                      labels=[years_to_label(m) for m in years], yield_units=decision.units,
                      maturity_units=units_read, notes=notes, units_certain=decision.certain)
