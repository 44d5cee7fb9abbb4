"""The input edge, table-driven: ordinary and unusual spreadsheets and files, through the spreadsheet functions (as
xlwings hands ranges over: nested lists, None for blanks, datetimes, "#N/A" text or integer codes for errors), the
Python API, the data layer and the command line.

Each case ends in one of two outcomes, checked:
* a fit whose numbers equal the clean fit of the same data after unit conversion (pricing errors in bp identical,
  fitted yields and factors in matching units, unit-free parameters identical), or the stated reading of a cell;
* a message that names the cell, row or column and the fix, as one ``#xlatsm:`` cell, one ``XlatsmError`` or one
  ``xlatsm:`` line, and never "internal error" or a traceback.
"""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm.cli import main
from xlatsm.data import read_panel
from xlatsm.errors import XlatsmError
from xlatsm.excel import udfs
from xlatsm.excel.cache import CACHE

T = 96            # eight years of month-ends keep each jsz fit well under a second
LABELS = ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]


@pytest.fixture(scope="module")
def clean():
    frame = xlatsm.load_sample().iloc[:T, :7].copy()
    frame.columns = LABELS
    return frame


@pytest.fixture(scope="module")
def clean_fit(clean):
    return xlatsm.fit_atsm(clean, method="jsz")


def rows_of(frame: pd.DataFrame, corner="date", values=None, dates=None):
    """An Excel range as xlwings delivers it: header row, a date column of datetimes, floats."""
    values = frame.to_numpy() if values is None else values
    dates = [d.to_pydatetime() for d in frame.index] if dates is None else dates
    out = [[corner] + list(frame.columns)]
    out += [[d] + [None if (isinstance(v, float) and np.isnan(v)) else v for v in row]
            for d, row in zip(dates, values.tolist())]
    return out


def cell(rows, r, c, value):
    rows = [list(x) for x in rows]
    rows[r][c] = value
    return rows


def assert_same_fit(result, clean_fit, factor=1.0):
    """Same model as the clean fit, with yields ``factor`` times the clean (percent) numbers."""
    np.testing.assert_allclose(result.pricing_errors.to_numpy(), clean_fit.pricing_errors.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.fitted_yields.to_numpy(), clean_fit.fitted_yields.to_numpy() * factor,
                               rtol=1e-6, atol=1e-9 * factor)
    np.testing.assert_allclose(np.sort_complex(result.params.lamQ), np.sort_complex(clean_fit.params.lamQ), rtol=1e-6)
    np.testing.assert_allclose(result.params.K1P, clean_fit.params.K1P, rtol=1e-5, atol=1e-8)


def assert_message(text: str, *parts: str):
    assert "internal error" not in text.lower() and "Traceback" not in text, text
    for part in parts:
        assert re.search(part, text, flags=re.S), (part, text)


# ----------------------------------------------------------------------------------------------------------------
# the case table
# ----------------------------------------------------------------------------------------------------------------
def bp_thousands(frame):
    return rows_of(frame, values=np.array([[f"{v * 100:,.4f}" for v in row] for row in frame.to_numpy()],
                                          dtype=object))


def comma_text(frame):
    return rows_of(frame, values=np.array([[f"{v:.4f}".replace(".", ",") for v in row] for row in frame.to_numpy()],
                                          dtype=object))


def with_percent_signs(frame):
    return rows_of(frame, values=np.array([[f"{v:.4f}%" for v in row] for row in frame.to_numpy()], dtype=object))


def serial_dates(frame):
    return rows_of(frame, dates=[float((d - pd.Timestamp("1899-12-30")).days) for d in frame.index])


def yyyymm(frame):
    return rows_of(frame, dates=[d.year * 100 + d.month for d in frame.index])


def relabel(frame, labels, corner="date"):
    out = rows_of(frame, corner=corner)
    out[0] = [corner] + list(labels)
    return out


def rows_scaled(frame, rows_slice, factor):
    values = frame.to_numpy().copy()
    values[rows_slice] *= factor
    return rows_of(frame, values=values)


def cols_scaled(frame, cols, factor):
    values = frame.to_numpy().copy()
    values[:, cols] *= factor
    return rows_of(frame, values=values)


def padded(frame):
    rows = rows_of(frame)
    rows = [[None] + r + [None, None] for r in rows]
    blank = [None] * len(rows[0])
    return [blank, blank] + rows + [blank] * 5


# (id, builder(frame) -> rows, options, expected)
#   expected: ("fit", factor)                  same fit as clean, yields factor x percent
#             ("error", part, part...)         one message containing every regex part
FIT_CASES = [
    ("percent", lambda f: rows_of(f), {}, ("fit", 1.0)),
    ("decimals", lambda f: rows_of(f / 100), {}, ("fit", 0.01)),
    ("basis points", lambda f: rows_of(f * 100), {}, ("fit", 100.0)),
    ("bp stated", lambda f: rows_of(f * 100), {"yield_units": "bp"}, ("fit", 100.0)),
    ("bp alias", lambda f: rows_of(f * 100), {"yield_units": "basis points"}, ("fit", 100.0)),
    ("percent stated", lambda f: rows_of(f), {"yield_units": "percent"}, ("fit", 1.0)),
    ("decimal stated", lambda f: rows_of(f / 100), {"yield_units": "decimal"}, ("fit", 0.01)),
    ("percent signs", with_percent_signs, {}, ("fit", 1.0)),
    ("decimal commas", comma_text, {}, ("fit", 1.0)),
    ("bp with thousands separators", bp_thousands, {}, ("fit", 100.0)),
    ("numbers as text with blanks", lambda f: rows_of(f, values=np.array(
        [[f"  {v:.6f} " for v in row] for row in f.to_numpy()], dtype=object)), {}, ("fit", 1.0)),
    ("Excel serial dates", serial_dates, {}, ("fit", 1.0)),
    ("YYYYMM dates", yyyymm, {}, ("fit", 1.0)),
    ("ISO text dates", lambda f: rows_of(f, dates=[f"{d:%Y-%m-%d}" for d in f.index]), {}, ("fit", 1.0)),
    ("YYYY:MM text dates", lambda f: rows_of(f, dates=[f"{d:%Y:%m}" for d in f.index]), {}, ("fit", 1.0)),
    ("day-first text dates", lambda f: rows_of(f, dates=[f"{d:%d/%m/%Y}" for d in f.index]), {}, ("fit", 1.0)),
    ("month-first text dates", lambda f: rows_of(f, dates=[f"{d:%m/%d/%Y}" for d in f.index]), {}, ("fit", 1.0)),
    ("dates with times", lambda f: rows_of(f, dates=[d.to_pydatetime() + dt.timedelta(hours=17) for d in f.index]),
     {}, ("fit", 1.0)),
    ("descending dates", lambda f: [rows_of(f)[0]] + rows_of(f)[1:][::-1], {}, ("fit", 1.0)),
    ("Treasury headers", lambda f: relabel(f, ["1 Yr", "2 Yr", "3 Yr", "4 Yr", "5 Yr", "6 Yr", "9 Yr"]), {},
     ("fit", 1.0)),
    ("Liu-Wu headers", lambda f: relabel(f, ["  12 m", "  24 m", "  36 m", "  48 m", "  60 m", "  72 m", " 108 m"]),
     {}, ("fit", 1.0)),
    ("Treasury XML headers", lambda f: relabel(f, [f"BC_{n}YEAR" for n in (1, 2, 3, 4, 5, 6, 9)]), {}, ("fit", 1.0)),
    ("Bloomberg headers", lambda f: relabel(f, [f"USGG{n}YR Index" for n in (1, 2, 3, 4, 5, 6, 9)]), {},
     ("fit", 1.0)),
    ("Refinitiv headers", lambda f: relabel(f, [f"US{n}YT=RR" for n in (1, 2, 3, 4, 5, 6, 9)]), {}, ("fit", 1.0)),
    ("headers with units and words", lambda f: relabel(f, [f"{n}Y yield (%)" for n in (1, 2, 3, 4, 5, 6, 9)]), {},
     ("fit", 1.0)),
    ("GSW headers", lambda f: relabel(f, [f"SVENY{n:02d}" for n in (1, 2, 3, 4, 5, 6, 9)]), {}, ("fit", 1.0)),
    ("month-prefixed headers", lambda f: relabel(f, [f"m{12 * n:03d}" for n in (1, 2, 3, 4, 5, 6, 9)]), {},
     ("fit", 1.0)),
    ("numeric months stated", lambda f: relabel(f, [12, 24, 36, 48, 60, 72, 108]), {"maturity_units": "months"},
     ("fit", 1.0)),
    ("numeric years stated", lambda f: relabel(f, [1, 2, 3, 4, 5, 6, 9]), {"maturity_units": "years"}, ("fit", 1.0)),
    ("numeric months above 50", lambda f: relabel(f, [12, 24, 36, 48, 60, 72, 108]), {}, ("fit", 1.0)),
    ("selection too large", padded, {}, ("fit", 1.0)),
    ("columns out of order", lambda f: [[r[0]] + [r[i] for i in (3, 1, 2, 7, 4, 6, 5)] for r in rows_of(f)], {},
     ("fit", 1.0)),
    ("mmm-yy text dates", lambda f: rows_of(f, dates=[f"{d:%b-%y}" for d in f.index]), {}, ("fit", 1.0)),
    ("dotted first-of-month dates", lambda f: rows_of(f, dates=[f"01.{d:%m.%Y}" for d in f.index]), {}, ("fit", 1.0)),
    ("yy-mm-dd text dates", lambda f: rows_of(f, dates=[f"{d:%y-%m-%d}" for d in f.index]), {}, ("fit", 1.0)),

    ("blank corner", lambda f: rows_of(f, corner=None), {}, ("fit", 1.0)),
]

ERROR_CASES = [
    ("columns in decimals inside percent", lambda f: cols_scaled(f, [2, 3], 0.01), {},
     ("error", "'3Y', '4Y'", "100 times too small", "same unit")),
    ("column in bp inside percent", lambda f: cols_scaled(f, [5], 100.0), {}, ("error", "'6Y'", "100 times too large")),
    ("last rows in decimals", lambda f: rows_scaled(f, slice(-4, None), 0.01), {},
     ("error", "4 row", r"row 94 \(1993-07-30\)", "100 times too small", "same unit")),
    ("one cell in bp on the last row", lambda f: cell(rows_of(f), T, 7, f.iloc[-1, 6] * 100), {},
     ("error", r"row 97 \(1993-10-29\), 9Y holds", "100 times too large", "another unit")),
    ("one cell in bp on the first row", lambda f: cell(rows_of(f), 1, 1, f.iloc[0, 0] * 100), {},
     ("error", r"row 2 \(1985-11-29\), 1Y holds", "100 times too large")),
    ("a maturity turns decimal mid-sample", lambda f: rows_of(f, values=np.column_stack(
        [f.to_numpy()[:, :6], np.r_[f.to_numpy()[:60, 6], f.to_numpy()[60:, 6] / 100]])), {},
     ("error", r"column '9Y' looks 100 times too small from row 62 \(1990-11-30\) on \(36 dates\)")),
    ("the short end in decimals", lambda f: cols_scaled(f, [0], 0.01), {}, ("error", "'1Y'", "100 times too small")),
    ("the long end in decimals", lambda f: cols_scaled(f, [6], 0.01), {}, ("error", "'9Y'", "100 times too small")),
    ("percent text among numbers", lambda f: cell(rows_of(f), 50, 4, f"{f.iloc[49, 3]:.2f}%"), {},
     ("error", r"row 51 .*, 4Y holds", "100 times too small", "4.5%' text cell is 0.045")),
    ("typo 10x", lambda f: cell(rows_of(f), 40, 3, f.iloc[39, 2] * 10), {},
     ("error", r"row 41 \(1989-02-28\), 3Y", "slipped decimal point")),
    ("typo 1/10", lambda f: cell(rows_of(f), 60, 5, f.iloc[59, 4] / 10), {},
     ("error", r"row 61 .*, 5Y", "slipped decimal point")),
    ("TRUE in a cell", lambda f: cell(rows_of(f), 5, 2, True), {}, ("error", r"row 6 \(1986-03-31\), 2Y", "TRUE")),
    ("infinity", lambda f: cell(rows_of(f), 7, 1, float("inf")), {}, ("error", r"row 8 .*, 1Y", "infinity")),
    ("1e300", lambda f: cell(rows_of(f), 7, 1, 1e300), {}, ("error", r"row 8 .*, 1Y", "not a rate")),
    ("word in a cell", lambda f: cell(rows_of(f), 9, 4, "tbd"), {}, ("error", r"row 10 .*, 4Y holds 'tbd'",
                                                                        "type a number")),
    ("quote text", lambda f: cell(rows_of(f), 9, 4, "4.5 bid"), {}, ("error", "4Y holds '4.5 bid'")),
    ("Average row", lambda f: rows_of(f) + [["Average"] + list(f.mean().round(4))], {},
     ("error", "row 98", "'Average'", "not a date")),
    ("note row under the data", lambda f: rows_of(f) + [["Source: FRB"] + [None] * 7], {},
     ("error", "row 98", "not a date")),
    ("duplicated row", lambda f: rows_of(f)[:11] + rows_of(f)[10:], {}, ("error", "row 11", "row 12", "duplicate")),
    ("date typo out of order", lambda f: cell(rows_of(f), 30, 0, dt.datetime(1998, 4, 30)), {},
     ("error", r"row 31 \(1998-04-30\) is later than the row below it", "check that date")),
    ("monthly turns weekly", lambda f: rows_of(f) + [[f.index[-1].to_pydatetime() + dt.timedelta(days=7 * k)]
                                                     + list(f.iloc[-1]) for k in range(1, 4)], {},
     ("error", "row 98", "7 days after", "monthly -> weekly", "one frequency")),
    ("numbers without a date", lambda f: cell(rows_of(f), 20, 0, None), {}, ("error", "row 21", "no date")),
    ("numeric maturities ambiguous", lambda f: relabel(f, [1, 2, 3, 4, 5, 6, 9]), {},
     ("error", "could be months or years", "maturity_units")),
    ("unknown tenor", lambda f: relabel(f, ["1Y", "2Y", "3Y", "4Z", "5Y", "6Y", "9Y"]), {},
     ("error", "unknown tenor label '4Z'")),
    ("forward-rate header", lambda f: relabel(f, [f"SVENF{n:02d}" for n in (1, 2, 3, 4, 5, 6, 9)]), {},
     ("error", "unknown tenor label 'SVENF01'")),
    ("duplicate maturity", lambda f: relabel(f, ["1Y", "2Y", "2Y", "4Y", "5Y", "6Y", "9Y"]), {},
     ("error", "'2Y' appears twice")),
    ("mixed maturity spellings", lambda f: relabel(f, ["1Y", "2Y", 3, "4Y", "5Y", "6Y", "9Y"]), {},
     ("error", "mix tenor labels and bare numbers")),
    ("constant column", lambda f: cols_scaled(f, [3], 0.0), {}, ("error", "'4Y' holds 0 on every date")),
    ("identical columns", lambda f: rows_of(f, values=np.column_stack([f.to_numpy()[:, :4], f.to_numpy()[:, 3:6]])),
     {}, ("error", "'4Y' and '5Y' are identical")),
    ("empty interior column", lambda f: cols_scaled(f, [2], np.nan), {}, ("error", r"\['3Y'\] hold no numbers")),
    ("single value", lambda f: "10Y", {}, ("error", "single value|file '10Y' not found")),
    ("one-cell range", lambda f: [[4.5]], {}, ("error", "single value|no header row of maturities")),
    ("transposed range", lambda f: [list(x) for x in zip(*rows_of(f))], {}, ("error", "dates run across", "Transpose")),
    ("no header", lambda f: rows_of(f)[1:], {}, ("error", "no header row of maturities", "add one")),
    ("ragged", lambda f: [r[:-1] if i == 5 else r for i, r in enumerate(rows_of(f))], {}, ("error", "ragged")),
    ("header only", lambda f: rows_of(f)[:1], {}, ("error", "no data rows")),
    ("too few dates", lambda f: rows_of(f.iloc[:10]), {}, ("error", "too few", "at least")),
    ("all blank", lambda f: [[None] * 3] * 3, {}, ("error", "blank")),
    ("bad yield_units", lambda f: rows_of(f), {"yield_units": "furlongs"}, ("error", "yield_units must be one of")),
    ("bad maturity_units", lambda f: rows_of(f), {"maturity_units": "decades"},
     ("error", "maturity_units must be one of")),
    ("bad method", lambda f: rows_of(f), {"method": "gmm"}, ("error", "method must be")),
    ("too many factors", lambda f: rows_of(f), {"n_factors": 6}, ("error", "n_factors must be a whole number")),
    ("fewer maturities than factors", lambda f: [r[:3] for r in rows_of(f)], {}, ("error", "cannot identify 3")),
    ("day/month mixed orders", lambda f: rows_of(f, dates=[f"{d:%d/%m/%Y}" if i % 2 else f"{d:%m/%d/%Y}"
                                                          for i, d in enumerate(f.index)]), {},
     ("error", "mixes day/month/year and month/day/year")),
]


def call_cell(rows, options, output="errors"):
    return udfs.ATSM_FIT(rows, None, options.get("n_factors", 3), output, options.get("method", "jsz"),
                         options.get("yield_units", "auto"), options.get("maturity_units", "auto"))


@pytest.mark.parametrize("name, build, options, expected", FIT_CASES + ERROR_CASES,
                         ids=[c[0] for c in FIT_CASES + ERROR_CASES])
def test_cells(name, build, options, expected, clean, clean_fit):
    rows = build(clean)
    block = call_cell(rows, options)
    head = block[0][0]
    if expected[0] == "fit":
        assert not str(head).startswith("#xlatsm"), head
        assert block[0][1:] == LABELS
        np.testing.assert_allclose(block[1][1:], clean_fit.pricing_errors.to_numpy(), rtol=1e-6)
    else:
        assert isinstance(head, str) and head.startswith("#xlatsm: ") and len(block) == 1, block
        assert_message(head, *expected[1:])


@pytest.mark.parametrize("name, build, options, expected", FIT_CASES + ERROR_CASES,
                         ids=[c[0] for c in FIT_CASES + ERROR_CASES])
def test_python(name, build, options, expected, clean, clean_fit):
    rows = build(clean)
    kwargs = {k: v for k, v in options.items() if k in ("yield_units", "maturity_units", "method", "n_factors")}
    kwargs.setdefault("method", "jsz")
    if expected[0] == "fit":
        result = xlatsm.fit_atsm(rows, **kwargs)
        assert_same_fit(result, clean_fit, expected[1])
    else:
        with pytest.raises(XlatsmError) as info:
            xlatsm.fit_atsm(rows, **kwargs)
        assert_message(str(info.value), *expected[1:])


# ----------------------------------------------------------------------------------------------------------------
# cells read as missing or as numbers (the data layer's verdict on one cell)
# ----------------------------------------------------------------------------------------------------------------
MISSING = [None, "", "   ", "#N/A", "#VALUE!", "#DIV/0!", "#SPILL!", "#CALC!", "#GETTING_DATA", "-", "--", "n/a",
           "N/A", "NA", "n.a.", "NaN", "null", ".", "ND", float("nan"), -2146826246, -2146826238, -2146826245]


@pytest.mark.parametrize("value", MISSING, ids=[repr(v) for v in MISSING])
def test_missing_markers(value, clean):
    rows = cell(rows_of(clean), 12, 3, value)
    panel = read_panel(rows)
    assert np.isnan(panel.yields[11, 2]) and np.isfinite(panel.yields[11, [0, 1, 3]]).all()
    assert np.isfinite(np.delete(panel.yields.ravel(), 11 * 7 + 2)).all()
    if isinstance(value, str) and value.strip():
        assert any("read as missing" in n for n in panel.notes)


NUMBERS = [("4.25", 4.25), (" 4.25 ", 4.25), ("4,25", 4.25), ("4.25%", 0.0425), ("\u22120.15", -0.15),
           ("1.5e0", 1.5), (4, 4.0), (np.float32(4.5), 4.5)]


@pytest.mark.parametrize("value, number", NUMBERS, ids=[repr(v) for v, _ in NUMBERS])
def test_numbers_written_as_text(value, number, clean):
    rows = cell(rows_of(clean), 12, 3, value)
    panel = read_panel(rows, yield_units="percent")
    assert panel.yields[11, 2] == pytest.approx(number / 100)


def test_missing_cell_under_the_default_method_fits_with_kalman(clean):
    rows = cell(rows_of(clean), 12, 3, "#N/A")
    block = udfs.ATSM_FIT(rows)
    summary = dict((r[0], r[1]) for r in block)
    assert summary["method"].startswith("kalman") and summary["converged"] == "yes"
    notes = [r[1] for r in block if r[0] == "note"]
    assert any("kalman" in n and "blank" in n for n in notes), notes
    assert any("read as missing" in n for n in notes), notes


def test_a_missing_month_becomes_a_blank_row(clean):
    rows = rows_of(clean)
    del rows[30]
    panel = read_panel(rows)
    assert panel.yields.shape == (T, 7) and np.isnan(panel.yields[29]).all()
    assert panel.dates[29] == clean.index[29].normalize() + pd.offsets.MonthEnd(0)
    assert any("inserted as blank rows" in n for n in panel.notes)


def test_percent_formatted_cells_with_a_few_percent_texts(clean):
    """Cells formatted as % arrive as 0.045; two typed as text '4.47%' are the same numbers, as in Excel."""
    rows = rows_of(clean / 100)
    rows[-1][6] = f"{clean.iloc[-1, 5]:.4f}%"
    rows[-1][7] = f"{clean.iloc[-1, 6]:.4f}%"
    panel = read_panel(rows)
    assert panel.yield_units == "decimal"
    np.testing.assert_allclose(panel.yields, clean.to_numpy() / 100, rtol=1e-4)


def test_negative_low_rates_in_percent_are_not_decimals():
    """A yield-curve-control panel in percent, -0.3% to 0.1%, moving ~1 bp a month: as decimals it would hold
    -30% yields, which the unit rule excludes."""
    rng = np.random.default_rng(3)
    base = -0.1 + np.cumsum(rng.normal(0, 0.012, size=(120, 1)), axis=0) + np.linspace(-0.15, 0.1, 5)
    frame = pd.DataFrame(base, index=pd.date_range("2016-01-31", periods=120, freq="ME"),
                         columns=["3M", "1Y", "2Y", "5Y", "10Y"])
    panel = read_panel(frame)
    assert panel.yield_units == "percent" and panel.yields.min() > -0.01


def test_low_rate_percent_panel_is_read_as_percent(clean):
    """A JGB-like curve: every yield below 0.5 (percent), moving a few bp a month."""
    jgb = 0.05 * clean
    panel = read_panel(rows_of(jgb))
    assert panel.yield_units == "percent"
    low_decimal = read_panel(rows_of(jgb / 100))
    assert low_decimal.yield_units == "decimal"
    np.testing.assert_allclose(panel.yields, low_decimal.yields)


def test_ambiguous_units_are_said_with_the_override():
    """A move between the ranges of two units: the reading is called uncertain and the override named."""
    rng = np.random.default_rng(0)
    levels = 10 + np.cumsum(rng.normal(0, 1.2, size=(60, 1)), axis=0) + np.arange(4)
    frame = pd.DataFrame(levels, index=pd.date_range("2000-01-31", periods=60, freq="ME"),
                         columns=["1Y", "2Y", "3Y", "5Y"])
    panel = read_panel(frame)
    assert not panel.units_certain
    assert any("uncertain" in n and "yield_units=" in n for n in panel.notes)


# ----------------------------------------------------------------------------------------------------------------
# handles, re-use, nothing lost
# ----------------------------------------------------------------------------------------------------------------
def test_smooth_states_matches_columns_and_units(clean):
    rows = rows_of(clean)
    handle = udfs.ATSM_FIT(rows, None, 3, "handle", "kalman")[0][0]
    reference = udfs.SMOOTH_STATES(rows, handle)
    assert not str(reference[0][0]).startswith("#xlatsm"), reference[0][0]
    shuffled = [[r[0]] + [r[i] for i in (7, 3, 1, 2, 6, 4, 5)] for r in rows]
    np.testing.assert_allclose(np.array(udfs.SMOOTH_STATES(shuffled, handle)[1:])[:, 1:].astype(float),
                               np.array(reference[1:])[:, 1:].astype(float), rtol=1e-9)
    decimals = rows_of(clean / 100)
    np.testing.assert_allclose(np.array(udfs.SMOOTH_STATES(decimals, handle)[1:])[:, 1:].astype(float),
                               np.array(reference[1:])[:, 1:].astype(float), rtol=1e-9)
    vendor = relabel(clean, [f"SVENY{n:02d}" for n in (1, 2, 3, 4, 5, 6, 9)])
    np.testing.assert_allclose(np.array(udfs.SMOOTH_STATES(vendor, handle)[1:])[:, 1:].astype(float),
                               np.array(reference[1:])[:, 1:].astype(float), rtol=1e-9)
    assert_message(udfs.SMOOTH_STATES([r[:6] for r in rows], handle)[0][0], "lack 6Y, 9Y", "add the column")
    # today's curve alone, in another unit: judged by its level against the model's data
    for factor in (0.01, 1.0, 100.0):
        one = udfs.SMOOTH_STATES(rows_of(clean.iloc[-1:] * factor), handle)
        alone = udfs.SMOOTH_STATES(rows_of(clean.iloc[-1:]), handle)
        np.testing.assert_allclose(one[1][1:], alone[1][1:], rtol=1e-9)
    # a column the model does not know ('2s10s') is left out
    extra = rows_of(clean.assign(**{"2s10s": clean["9Y"] - clean["2Y"]}))
    np.testing.assert_allclose(np.array(udfs.SMOOTH_STATES(extra, handle)[1:])[:, 1:].astype(float),
                               np.array(reference[1:])[:, 1:].astype(float), rtol=1e-9)


def test_lgssm_smoothing_matches_series_by_label(clean):
    rows = rows_of(clean)
    handle = udfs.LGSSM_EM(rows, 2, 1, "handle", 50)[0][0]
    reference = np.array(udfs.SMOOTH_STATES(rows, handle)[1:])[:, 1:].astype(float)
    shuffled = [[r[0]] + r[1:][::-1] for r in rows]
    np.testing.assert_allclose(np.array(udfs.SMOOTH_STATES(shuffled, handle)[1:])[:, 1:].astype(float), reference,
                               rtol=1e-9)


def test_handle_cells_showing_errors_pass_the_message_on(clean):
    upstream = call_cell(relabel(clean, ["1Y", "2Y", "3Y", "4Z", "5Y", "6Y", "9Y"]), {}, "handle")[0][0]
    assert upstream.startswith("#xlatsm:")
    message = udfs.SMOOTH_STATES(rows_of(clean), upstream)[0][0]
    assert_message(message, "model cell shows an error", "unknown tenor label '4Z'")
    assert "no longer in memory" not in message
    assert_message(udfs.XLATSM_GET("#N/A")[0][0], "model cell shows #N/A")


def test_a_bad_cell_loses_nothing(clean):
    good = rows_of(clean)
    first = call_cell(good, {})
    runs = CACHE.fits_run
    bad = cell(good, 40, 3, clean.iloc[39, 2] * 10)
    snapshot = [list(r) for r in bad]
    assert call_cell(bad, {})[0][0].startswith("#xlatsm:")
    assert bad == snapshot                                    # the user's cells are not touched
    assert call_cell(good, {}) == first and CACHE.fits_run == runs   # the good fit is still cached


# ----------------------------------------------------------------------------------------------------------------
# units invariance, every estimator's data path
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("factor, units", [(0.01, "decimal"), (1.0, "percent"), (100.0, "bp")])
def test_units_invariance_through_every_route(factor, units, clean, clean_fit, tmp_path):
    frame = clean * factor
    result = xlatsm.fit_atsm(frame, method="jsz")
    assert result.units == units
    assert_same_fit(result, clean_fit, factor)
    path = tmp_path / "curve.csv"
    frame.to_csv(path)
    assert main(["atsm", str(path), "--method", "jsz", "--out", str(tmp_path / "o")]) == 0
    errors = pd.read_csv(tmp_path / "o" / "pricing_errors_bp.csv", index_col=0).iloc[:, 0].to_numpy()
    np.testing.assert_allclose(errors, clean_fit.pricing_errors.to_numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# the command line: files as users have them
# ----------------------------------------------------------------------------------------------------------------
def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


def cli_fit_equals_clean(tmp_path, clean_fit, out="o"):
    errors = pd.read_csv(tmp_path / out / "pricing_errors_bp.csv", index_col=0).iloc[:, 0].to_numpy()
    np.testing.assert_allclose(errors, clean_fit.pricing_errors.to_numpy(), rtol=1e-6)


def test_cli_semicolon_csv_with_decimal_commas(tmp_path, capsys, clean, clean_fit):
    path = tmp_path / "euro.csv"
    text = "Datum;" + ";".join(LABELS) + "\n" + "\n".join(
        f"{d:%d.%m.%Y};" + ";".join(f"{v:.6f}".replace(".", ",") for v in row) for d, row in
        zip(clean.index, clean.to_numpy()))
    path.write_text(text, encoding="cp1252")
    code, err = run_cli(capsys, "atsm", str(path), "--method", "jsz", "--out", str(tmp_path / "o"))
    assert code == 0, err
    cli_fit_equals_clean(tmp_path, clean_fit)


def test_cli_placeholder_rows_do_not_end_the_table(tmp_path, capsys, clean):
    """A FRED/H.15 file with a row of 'ND' (no data) keeps every later date: the row is a missing row."""
    frame = clean.copy()
    frame.iloc[60] = np.nan
    path = tmp_path / "h15.csv"
    frame.to_csv(path, na_rep="ND")
    panel = read_panel(path)
    assert len(panel.dates) == T and np.isnan(panel.yields[60]).all() and np.isfinite(panel.yields[61:]).all()
    code, err = run_cli(capsys, "atsm", str(path), "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "o" / "fitted_yields.csv", index_col=0)) == T


def test_cli_end_without_a_day_means_the_whole_period(tmp_path, capsys, clean, clean_fit):
    path = tmp_path / "wide.csv"
    xlatsm.load_sample().iloc[:T + 30, :7].set_axis(LABELS, axis=1).to_csv(path)
    for end in (f"{clean.index[-1]:%Y-%m}", f"{clean.index[-1]:%m/%Y}", f"{clean.index[-1]:%b %Y}"):
        code, err = run_cli(capsys, "atsm", str(path), "--end", end, "--method", "jsz", "--out", str(tmp_path / "o"))
        assert code == 0, err
        cli_fit_equals_clean(tmp_path, clean_fit)


def test_frames_as_pandas_reads_them(clean, clean_fit):
    """pd.read_csv without index_col (dates as a column, str dtype under pandas 3) and a PeriodIndex."""
    flat = clean.reset_index()
    assert_same_fit(xlatsm.fit_atsm(flat, method="jsz"), clean_fit)
    as_text = clean.set_axis(clean.index.strftime("%Y-%m-%d").astype("string"), axis=0)
    assert_same_fit(xlatsm.fit_atsm(as_text, method="jsz"), clean_fit)
    periods = clean.set_axis(clean.index.to_period("M"), axis=0)
    result = xlatsm.fit_atsm(periods, method="jsz")
    assert_same_fit(result, clean_fit)
    assert result.panel.dates[-1] == pd.Timestamp("1993-10-31")


def test_cli_utf16_csv(tmp_path, capsys, clean, clean_fit):
    path = tmp_path / "unicode.csv"
    path.write_text(clean.to_csv(sep="\t"), encoding="utf-16")
    code, err = run_cli(capsys, "atsm", str(path), "--method", "jsz", "--out", str(tmp_path / "o"))
    assert code == 0, err
    cli_fit_equals_clean(tmp_path, clean_fit)


def test_cli_xlsx_with_notes_above_and_data_on_the_second_sheet(tmp_path, capsys, clean, clean_fit):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Read me": ["This workbook holds yields", "on the next sheet"]}).to_excel(
            writer, sheet_name="Notes", index=False)
        notes = pd.DataFrame([["Zero-coupon yields, percent"], ["Source: FRB"], [None]])
        notes.to_excel(writer, sheet_name="Data", index=False, header=False)
        clean.rename_axis("date").to_excel(writer, sheet_name="Data", startrow=4)
    code, err = run_cli(capsys, "atsm", str(path), "--method", "jsz", "--out", str(tmp_path / "o"))
    assert code == 0, err
    cli_fit_equals_clean(tmp_path, clean_fit)
    code, err = run_cli(capsys, "atsm", str(path), "--sheet", "Data", "--skip-rows", "4", "--method", "jsz",
                        "--out", str(tmp_path / "o2"))
    assert code == 0, err
    cli_fit_equals_clean(tmp_path, clean_fit, "o2")
    code, err = run_cli(capsys, "atsm", str(path), "--sheet", "Yields", "--out", str(tmp_path / "o3"))
    assert code == 2 and err.startswith("xlatsm: ") and "no sheet 'Yields'" in err and "Notes, Data" in err


def test_cli_selects_maturities_and_dates(tmp_path, capsys, clean, clean_fit):
    path = tmp_path / "wide.csv"
    wide = xlatsm.load_sample().iloc[:T + 24].copy()
    wide.to_csv(path)
    code, err = run_cli(capsys, "atsm", str(path), "--maturities", ",".join(LABELS), "--end",
                        f"{clean.index[-1]:%Y-%m}", "--method", "jsz", "--out", str(tmp_path / "o"))
    assert code == 0, err
    cli_fit_equals_clean(tmp_path, clean_fit)


def test_cli_liu_wu_workbook_as_published(tmp_path, capsys, shared_data):
    """The published LW_monthly.xlsx: notes above the table, '  1 m' headers, YYYYMM dates."""
    path = shared_data / "LW_monthly.xlsx"
    code, err = run_cli(capsys, "atsm", str(path), "--maturities", "3M,1Y,2Y,5Y,10Y", "--start", "1990-01",
                        "--out", str(tmp_path / "o"))
    assert code == 0, err
    errors = pd.read_csv(tmp_path / "o" / "pricing_errors_bp.csv", index_col=0).iloc[:, 0]
    assert list(errors.index) == ["3M", "1Y", "2Y", "5Y", "10Y"] and (errors < 30).all()
    factors = pd.read_csv(tmp_path / "o" / "factors.csv", index_col=0, parse_dates=True)
    assert factors.index[0] == pd.Timestamp("1990-01-31") and factors.index[-1] == pd.Timestamp("2022-12-31")


CLI_FAILURES = [
    ("empty file", lambda p: p.write_text(""), [], "is empty"),
    ("only a header", lambda p: p.write_text("date,1Y,2Y\n"), [], "no table of numbers|no data rows"),
    ("corrupt xlsx", lambda p: p.write_bytes(b"PK\x03\x04 not really"), [], "not a readable .xlsx"),
    ("old xls", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0"), [], "old-style .xls"),
    ("missing file", None, [], "not found"),
    ("folder given", lambda p: p.mkdir(), [], "is a folder"),
    ("ambiguous numeric header", lambda p: p.write_text("date,1,2,3,5\n" + "\n".join(
        f"2000-{m:02d}-28,{1 + m / 10},{2 + m / 9},{3 + m / 8},{4 + m / 7}" for m in range(1, 13))), [],
     "could be months or years.*--maturity-units"),
    ("bad method", lambda p: p.write_text("x"), ["--method", "gmm"], "invalid choice: 'gmm'"),
    ("unknown maturity selected", lambda p: xlatsm.load_sample().iloc[:40, :7].to_csv(p), ["--maturities", "7Y"],
     "maturity 7Y is not among the columns"),
    ("start after the data", lambda p: xlatsm.load_sample().iloc[:40, :7].to_csv(p), ["--start", "2030-01"],
     "no dates between"),
    ("bad start", lambda p: xlatsm.load_sample().iloc[:40, :7].to_csv(p), ["--start", "soon"], "is not a date"),
]


@pytest.mark.parametrize("name, make, extra, part", CLI_FAILURES, ids=[c[0] for c in CLI_FAILURES])
def test_cli_failures_are_one_line(name, make, extra, part, tmp_path, capsys):
    path = tmp_path / ("in.xlsx" if "xlsx" in name else "in.xls" if "xls" in name else "in.csv")
    if make is not None:
        make(path)
    code, err = run_cli(capsys, "atsm", str(path), *extra, "--out", str(tmp_path / "o"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xlatsm: "), err
    assert "_units" not in lines[0], "command-line advice names --options, not Python arguments"
    assert_message(lines[0], part)


def test_cli_out_naming_a_file_fails_before_fitting(tmp_path, capsys, monkeypatch):
    (tmp_path / "taken").write_text("keep me")
    xlatsm.load_sample().iloc[:40, :7].to_csv(tmp_path / "in.csv")
    import xlatsm.atsm.methods as atsm_package

    monkeypatch.setattr(atsm_package, "fit_atsm", lambda *a, **k: pytest.fail("fitted before checking --out"))
    code, err = run_cli(capsys, "atsm", str(tmp_path / "in.csv"), "--out", str(tmp_path / "taken"))
    assert code == 2 and "is an existing file" in err and (tmp_path / "taken").read_text() == "keep me"


def test_cli_ctrl_c_is_one_line(tmp_path, capsys, monkeypatch):
    xlatsm.load_sample().iloc[:40, :7].to_csv(tmp_path / "in.csv")
    import xlatsm.atsm.methods as atsm_package

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(atsm_package, "fit_atsm", interrupted)
    code, err = run_cli(capsys, "atsm", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o"))
    last = err.strip().splitlines()[-1].split("\r")[-1].strip()   # after the progress bar's erased line
    assert code == 130 and last == "xlatsm: interrupted; nothing more was written"


# ----------------------------------------------------------------------------------------------------------------
# the Python API
# ----------------------------------------------------------------------------------------------------------------
PYTHON_FAILURES = [
    ("lgssm with infinity", lambda f: xlatsm.fit_lgssm(f.replace(f.iloc[3, 2], np.inf), 2), "infinity"),
    ("lgssm with a 3-D array", lambda f: xlatsm.fit_lgssm(np.zeros((4, 3, 2)), 1), "2-D panel"),
    ("atsm with a boolean frame", lambda f: xlatsm.fit_atsm(f > 5), "TRUE|FALSE"),
    ("atsm with a transposed frame", lambda f: xlatsm.fit_atsm(f.T), "labels are dates.*transpose"),
    ("atsm with an unlabelled array", lambda f: xlatsm.fit_atsm(f.to_numpy()), "no header row of maturities"),
    ("atsm on a text path that is not a file", lambda f: xlatsm.fit_atsm("yields.csv"), "not found"),
    ("smooth with missing maturities", lambda f: xlatsm.fit_atsm(f, method="jsz").smooth(f.iloc[:, :5]),
     "6Y|9Y|columns|maturit"),
]


@pytest.mark.parametrize("name, call, part", PYTHON_FAILURES, ids=[c[0] for c in PYTHON_FAILURES])
def test_python_failures_are_typed(name, call, part, clean):
    with pytest.raises(XlatsmError) as info:
        call(clean)
    assert_message(str(info.value), part)


def test_progress_false_is_accepted(clean):
    assert xlatsm.fit_atsm(clean, method="jsz", progress=False).converged
    with pytest.warns(xlatsm.ConvergenceWarning):      # 5 iterations are not enough, and it says so
        assert xlatsm.fit_lgssm(clean, 2, max_iter=5, progress=False).n_iter >= 1
