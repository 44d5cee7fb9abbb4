import datetime as dt

import numpy as np
import pandas as pd
import pytest

from xlatsm import InputError, load_sample, read_observations, read_panel
from xlatsm.data import maturities_to_years, table_to_frame, tenor_to_years, years_to_label


@pytest.mark.parametrize("label, years", [("3M", 0.25), ("6m", 0.5), ("1Y", 1.0), ("10Y", 10.0), ("1Y6M", 1.5),
                                          ("m120", 10.0), ("M3", 0.25), ("SVENY05", 5.0), (" 2y ", 2.0)])
def test_tenor_labels(label, years):
    assert tenor_to_years(label) == pytest.approx(years)


def test_unknown_tenor_is_explained():
    with pytest.raises(InputError, match="unknown tenor label 'abc'"):
        tenor_to_years("abc")


def test_numeric_maturity_units_detected_and_stated():
    years, units = maturities_to_years([3, 6, 12, 60, 120])
    assert units == "months" and years[-1] == 10
    years, units = maturities_to_years([0.25, 0.5, 1, 2, 5, 10, 30])
    assert units == "years" and years[2] == 1
    with pytest.raises(InputError, match="could be months or years.*maturity_units"):
        maturities_to_years([1, 2, 5, 10, 30])
    years, units = maturities_to_years([1, 2, 5, 10, 30], maturity_units="years")
    assert units == "years" and years[0] == 1
    years, units = maturities_to_years([3, 6, 12], maturity_units="months")
    assert years[0] == 0.25


@pytest.mark.parametrize("labels, match", [(["1Y", "1Y"], "appears twice"), (["2Y", "1Y"], "must increase"),
                                           (["1Y", 5], "mix"), ([0, 1], "positive")])
def test_bad_maturities(labels, match):
    with pytest.raises(InputError, match=match):
        maturities_to_years(labels)


def test_labels_round_trip():
    assert [years_to_label(y) for y in (0.25, 1.5, 10)] == ["3M", "18M", "10Y"]


def excel_range():
    """What xlwings hands over for a range with a header row and a date column, blanks as None."""
    return [["date", "3M", "1Y", "10Y"],
            [dt.datetime(2020, 1, 31), 1.5, 1.6, None],
            [dt.datetime(2020, 2, 29), 1.4, "#N/A", 1.9],
            [dt.datetime(2020, 3, 31), 0.2, 0.3, 0.8],
            [None, None, None, None]]


def test_excel_range_becomes_panel_in_decimals_and_years():
    panel = read_panel(excel_range())
    assert panel.yields.shape == (3, 3)  # trailing blank row dropped
    assert panel.yield_units == "percent" and panel.maturity_units == "tenor"
    np.testing.assert_allclose(panel.maturities, [0.25, 1, 10])
    assert panel.yields[0, 0] == pytest.approx(0.015)
    assert np.isnan(panel.yields[0, 2]) and np.isnan(panel.yields[1, 1])
    assert isinstance(panel.dates, pd.DatetimeIndex)
    assert panel.labels == ["3M", "1Y", "10Y"]


def test_numeric_maturities_in_the_header_row():
    """A common sheet layout: "date" in the corner, maturities in months across, dates down."""
    rows = [["date", 3, 12, 120], [dt.datetime(2020, 1, 31), 1.0, 2.0, 3.0], [dt.datetime(2020, 2, 29), 1.1, 2.1, 3.1]]
    panel = read_panel(rows)
    np.testing.assert_allclose(panel.maturities, [0.25, 1.0, 10.0])
    assert panel.maturity_units == "months" and panel.yields.shape == (2, 3)
    assert isinstance(panel.dates, pd.DatetimeIndex)


def test_bare_numbers_have_no_header():
    frame = table_to_frame([[1.0, 2.0, 3.0], [1.1, 2.1, 3.1]])
    assert frame.shape == (2, 3) and list(frame.columns) == ["y1", "y2", "y3"]


def test_text_cell_is_located():
    rows = excel_range()
    rows[2][2] = "4.5 bid"
    with pytest.raises(InputError, match=r"row 3 \(2020-02-29\), 1Y holds '4.5 bid'"):
        read_observations(rows)


@pytest.mark.parametrize("rows, match", [([], "empty"), ([[1, 2], [1]], "ragged"), ([["a", "b"]], "no data rows"),
                                         ([[None, None], [None, None]], "blank")])
def test_bad_ranges(rows, match):
    with pytest.raises(InputError, match=match):
        read_observations(rows)


def test_decimal_units_and_override():
    panel = read_panel(pd.DataFrame({"1Y": [0.01, 0.02], "2Y": [0.015, 0.025]}))
    assert panel.yield_units == "decimal" and panel.yields[0, 0] == 0.01
    panel = read_panel(pd.DataFrame({"1Y": [0.01, 0.02], "2Y": [0.015, 0.025]}), yield_units="percent")
    assert panel.yields[0, 0] == pytest.approx(0.0001)


def test_embedded_sample_is_the_real_gsw_panel():
    sample = load_sample()
    assert sample.shape == (318, 14)
    assert sample.index[0] == pd.Timestamp("1985-11-29") and sample.index[-1] == pd.Timestamp("2012-04-30")
    assert sample.iloc[0, 0] == pytest.approx(7.7914)
    panel = read_panel(sample)
    assert panel.maturities[-1] == 30 and panel.yield_units == "percent"


def test_shared_csv_files_read(shared_data):
    panel = read_panel(shared_data / "diebold_li_1972_2000_bonds.csv")
    assert panel.yields.shape == (348, 17) and panel.maturities[0] == 0.25
    lw = read_panel(shared_data / "lw_monthly_1961_2022.csv")
    assert lw.maturities[-1] == 30 and np.isnan(lw.yields[0, -1])
