"""Data layer: ranges, files and frames in; clean panels (decimals, years, NaN = missing) out.

Each input rule has one home: cells.py (what a cell means), dates.py (dates, order, frequency), table.py (range
layout), files.py (CSV/XLSX), tenors.py (maturities), units.py (yield units and their agreement); panel.py
puts them together. The rules are stated for users in README's "What xlatsm accepts".
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

from .panel import Observations, YieldPanel, read_observations, read_panel, select, table_to_frame, to_frame
from .tenors import maturities_to_years, tenor_to_years, years_to_label
from .units import YIELD_UNITS, normalise_yield_units

SAMPLE_SOURCE = ("Gurkaynak, Sack & Wright (2007) US Treasury zero-coupon yields, Federal Reserve Board "
                 "feds200628, month-end 1985-11 to 2012-04, percent (public domain)")


def load_sample() -> pd.DataFrame:
    """The embedded real sample: GSW month-end zero yields in percent, 1985-11 to 2012-04, 1y..30y.

    Columns are the original ``SVENYnn`` names (nn = years); see ``xlatsm/data/samples/SOURCE.md``.
    """
    with resources.files(__package__).joinpath("samples/gsw_monthly.csv").open("r") as handle:
        frame = pd.read_csv(handle, index_col=0, parse_dates=True)
    frame.index.name = "date"
    return frame


__all__ = ["Observations", "YieldPanel", "read_observations", "read_panel", "select", "table_to_frame", "to_frame",
           "maturities_to_years", "tenor_to_years", "years_to_label", "load_sample", "SAMPLE_SOURCE",
           "YIELD_UNITS", "normalise_yield_units"]
