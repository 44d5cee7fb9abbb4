"""The continuous-time JSZ model against the discrete (monthly) one on real panels: log-likelihood gaps, 10-year
term premium gaps and fit times, per estimator.

    python benchmarks/continuous_vs_discrete.py [--methods jsz kalman em] [--n-factors 3]

Panels:

1. Liu-Wu (2021) monthly zero curve, 3M 6M 1Y 2Y 3Y 5Y 7Y 10Y, percent, 1971-08..2022-12 (``../shared/data``);
2. the embedded GSW sample (``xlatsm.load_sample()``: 1Y..30Y, 1985-11..2012-04);
3. JSZ's own sample (``../shared/reference/jsz_sample``: 6M..10Y, 1990-2007, decimals).

For each panel and estimator: both log-likelihoods (same data, same likelihood definition: jsz conditional on the
first date, kalman/em exact with a diffuse start) and their difference, the 10-year term premium gap (continuous
minus discrete: mean, mean absolute, largest absolute, in bp) and the fit times with their ratio (continuous over
discrete, measured in the same run), and the 10-year term premium's delta-method standard error on the last date
(discrete / continuous, bp). Panels whose file is missing are skipped with one line saying which.
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import xlatsm

SHARED = Path(__file__).resolve().parents[2] / "shared"
LW = SHARED / "data" / "lw_monthly_1961_2022.csv"
JSZ = SHARED / "reference" / "jsz_sample" / "jsz_sample_zeros.csv"


def panels() -> list[tuple[str, pd.DataFrame, str]]:
    out = []
    if LW.exists():
        lw = pd.read_csv(LW, index_col=0, parse_dates=True)
        out.append(("Liu-Wu 3M-10Y 1971-2022", lw.loc["1971-08":, ["m003", "m006", "m012", "m024", "m036", "m060",
                                                                   "m084", "m120"]], "percent"))
    else:
        print(f"skipped Liu-Wu: {LW} not found")
    out.append(("GSW sample 1Y-30Y 1985-2012", xlatsm.load_sample(), "percent"))
    if JSZ.exists():
        zeros = pd.read_csv(JSZ, index_col=0, parse_dates=True)
        zeros.columns = ["6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y"]
        out.append(("JSZ sample 6M-10Y 1990-2007", zeros, "decimal"))
    else:
        print(f"skipped the JSZ sample: {JSZ} not found")
    return out


def bp(result) -> float:
    return 1e4 / result.scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["jsz", "kalman", "em"])
    parser.add_argument("--n-factors", type=int, default=3)
    args = parser.parse_args()
    print("| panel | method | loglik discrete | loglik continuous | gap | TP10 gap mean (bp) | mean abs | max abs | "
          "converged (d/c) | seconds d | seconds c | ratio | TP10 s.e. last date d / c (bp) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, frame, units in panels():
        for method in args.methods:
            fits, seconds = {}, {}
            for clock in ("discrete", "continuous"):
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fits[clock] = xlatsm.fit_atsm(frame, n_factors=args.n_factors, method=method, yield_units=units,
                                                  time=clock, progress=False)
                seconds[clock] = time.perf_counter() - t0
            d, c = fits["discrete"], fits["continuous"]
            gap = (c.term_premium_at("10Y") - d.term_premium_at("10Y")) * bp(d)
            try:
                se = [f"{r.term_premium_bands(0.9, '10Y')['std_error'].iloc[-1] * bp(r):.1f}" for r in (d, c)]
            except xlatsm.XlatsmError as exc:
                se = [f"n/a ({exc})"] * 2
            print(f"| {name} | {method} | {d.loglik:.3f} | {c.loglik:.3f} | {c.loglik - d.loglik:+.3f} | "
                  f"{gap.mean():+.2f} | {gap.abs().mean():.2f} | {gap.abs().max():.2f} | "
                  f"{'yes' if d.converged else 'NO'}/{'yes' if c.converged else 'NO'} | {seconds['discrete']:.1f} | "
                  f"{seconds['continuous']:.1f} | {seconds['continuous'] / seconds['discrete']:.1f} | "
                  f"{se[0]} / {se[1]} |", flush=True)


if __name__ == "__main__":
    main()
