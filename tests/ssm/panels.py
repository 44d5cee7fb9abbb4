"""The real yield panels the LGSSM is tested on: the embedded GSW sample and every panel in ../shared/data
(Liu-Wu sub-sampled in maturities and dates for time; Liu-Wu keeps its late-starting 10y and 30y as missing cells)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

import xlatsm

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

LW_MATURITIES = ["m003", "m006", "m012", "m024", "m036", "m060", "m084", "m120", "m240", "m360"]


def load_panels() -> dict[str, pd.DataFrame]:
    """name -> DataFrame (dates x maturities, percent). The shared panels only when the folder is present."""
    panels = {"embedded GSW": xlatsm.load_sample()}
    if not SHARED_DATA.exists():
        return panels
    panels["gsw_monthly"] = pd.read_csv(SHARED_DATA / "gsw_monthly.csv", index_col=0)
    lw = pd.read_csv(SHARED_DATA / "lw_monthly_1961_2022.csv", index_col=0)[LW_MATURITIES]
    panels["lw_monthly"] = lw.loc["1981-01-01":"2000-12-31"]   # 20 years for time; the 30y starts in 1985-11
    panels["diebold_li"] = pd.read_csv(SHARED_DATA / "diebold_li_1972_2000_bonds.csv", sep=";", index_col=0)
    panels["fama_bliss"] = pd.read_csv(SHARED_DATA / "fama_bliss_unsmoothed_1987_2002_cdr.csv", index_col=0)
    return panels
