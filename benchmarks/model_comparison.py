"""JSZ, AFNS, ACM and DNS on one panel: pricing errors by maturity and the 10-year term premia side by side.

    python benchmarks/model_comparison.py [--start 1971-08] [--end 2022-12]

Panel: Liu-Wu (2021) monthly zero curve, 3M 6M 1Y 2Y 3Y 5Y 7Y 10Y, percent (../shared/data). Every model gets the
same cells. Prints a Markdown table of RMSE pricing errors (bp) per maturity and of the correlations of the 10-year
term premium (DNS has none: it is not arbitrage-free), plus mean/std of each term premium and the fit times.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import xlatsm
from xlatsm.atsm.acm import fit_acm
from xlatsm.atsm.afns import fit_afns
from xlatsm.atsm.nelson_siegel import fit_dns

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lw_monthly_1961_2022.csv"
NYFED = DATA.parents[1] / "reference" / "ACMTermPremium_replicated_monthly_1m_120m.csv.gz"
COLUMNS = ["m003", "m006", "m012", "m024", "m036", "m060", "m084", "m120"]


def markdown(frame: pd.DataFrame, fmt: str = "{:.2f}") -> str:
    """A DataFrame as a Markdown table (no optional dependency)."""
    head = "| | " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|---|" + "---:|" * len(frame.columns)
    rows = ["| " + str(i) + " | " + " | ".join(fmt.format(v) if np.isfinite(v) else "" for v in row) + " |"
            for i, row in zip(frame.index, frame.to_numpy(float))]
    return "\n".join([head, rule] + rows)


def main(start: str = "1971-08", end: str = "2022-12") -> None:
    if not DATA.exists():
        sys.exit(f"model_comparison: needs {DATA} (the shared data beside this checkout); nothing was run")
    lw = pd.read_csv(DATA, index_col=0, parse_dates=True).loc[start:end, COLUMNS]
    print(f"panel: Liu-Wu {lw.index[0]:%Y-%m}..{lw.index[-1]:%Y-%m}, {len(lw)} months, "
          f"{', '.join(xlatsm.read_panel(lw).labels)}, percent\n")
    fits, seconds = {}, {}
    runs = {
        "JSZ (N=3)": lambda: xlatsm.fit_atsm(lw, n_factors=3, method="jsz"),
        "AFNS indep.": lambda: fit_afns(lw),
        "AFNS corr.": lambda: fit_afns(lw, version="correlated"),
        "ACM (K=5)": lambda: fit_acm(lw),
        "ACM (K=3)": lambda: fit_acm(lw, n_factors=3),
        "DNS two-step": lambda: fit_dns(lw),
        "DNS one-step": lambda: fit_dns(lw, method="one_step"),
    }
    for name, run in runs.items():
        t = time.perf_counter()
        fits[name] = run()
        seconds[name] = time.perf_counter() - t
    errors = pd.DataFrame({name: fit.pricing_errors for name, fit in fits.items()}).T
    errors["mean"] = errors.mean(axis=1)
    errors["seconds"] = pd.Series(seconds)
    print("Pricing errors, RMSE in bp (fit time in seconds)\n")
    print(markdown(errors))
    tp = pd.DataFrame({name: fit.term_premium_at("10Y") for name, fit in fits.items()
                       if not name.startswith("DNS")})
    if NYFED.exists():        # the published ACM 10-year term premium (NY Fed's model on the GSW curve)
        acm = pd.read_csv(NYFED, index_col=0, parse_dates=True)["ACMTP10"]
        acm.index = acm.index.to_period("M")
        tp["NY Fed ACMTP10"] = acm.reindex(tp.index.to_period("M")).to_numpy()
    print("\n10-year term premium: correlations (levels; monthly changes below the diagonal)\n")
    corr = tp.corr()
    dcorr = tp.diff().corr()
    table = corr.copy()
    for i in range(len(table)):
        for j in range(i):
            table.iloc[i, j] = dcorr.iloc[i, j]
    print(markdown(table, "{:.3f}"))
    print("\n10-year term premium (percent): mean, std, last\n")
    stats = pd.DataFrame({"mean": tp.mean(), "std": tp.std(), f"{tp.index[-1]:%Y-%m}": tp.iloc[-1]})
    print(markdown(stats, "{:.3f}"))
    print("\nDNS: no term premium (not arbitrage-free); "
          f"DNS one-step lambda {fits['DNS one-step'].lam:.4f}/month, "
          f"AFNS lambda {fits['AFNS indep.'].lam:.4f}/year (indep.), {fits['AFNS corr.'].lam:.4f} (corr.)")
    for name, fit in fits.items():
        for flag in getattr(fit, "flags", []):
            print(f"flag {name}: {flag}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="1971-08")
    parser.add_argument("--end", default="2022-12")
    args = parser.parse_args()
    main(args.start, args.end)
