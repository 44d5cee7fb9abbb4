"""Monte Carlo of the continuous-time ATSM's standard errors and term-premium bands, and their cost against the
discrete model's in the same run.

    python benchmarks/continuous_inference.py [--reps 200] [--n-dates 300] [--persistence 0.8] [--seed 0]

Truth: the continuous-time jsz fit of the embedded GSW sample (1Y 2Y 3Y 5Y 9Y 12Y, 1985-11..2012-04, the 1Y/3Y/12Y
yields priced exactly), its physical mean reversion raised by ``-12 log(persistence)`` per year (``persistence``
0.8 multiplies the one-month physical roots exp(-kappa^P/12) by 0.8; 1.0 keeps the sample's own), theta_P kept.
Each replication simulates T months exactly from the OU process (portfolios priced exactly, iid errors in the other
directions; first factors from the stationary distribution), refits ``fit_atsm(method="jsz", time="continuous")``
with the same portfolios and computes the standard errors and the 90% delta-method band on the 10-year term premium
(:func:`xlatsm.inference.continuous.coverage_experiment_continuous`).

Printed (Markdown): coverage of the true 10-year term premium on the last date (with its binomial standard error)
and averaged over all dates; per tracked parameter the RMS standard error over the Monte Carlo standard deviation
(and over 1.4826 x the median absolute deviation, which ignores rare outlying fits); and the seconds of the
standard errors plus the 10-year band of the continuous fit against the discrete fit's on the sample (ratio, both
with one BLAS thread).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd

import xlatsm
from xlatsm.data import load_sample
from xlatsm.inference.continuous import coverage_experiment_continuous
from xlatsm.threads import blas_threads

COLUMNS = ["SVENY01", "SVENY02", "SVENY03", "SVENY05", "SVENY09", "SVENY12"]
PORTFOLIOS = ["1Y", "3Y", "12Y"]


def truth_params(persistence: float):
    fit = xlatsm.fit_atsm(load_sample()[COLUMNS], method="jsz", portfolios=PORTFOLIOS, time="continuous")
    p = fit.params
    KP = p.KP - 12.0 * np.log(persistence) * np.eye(len(p.aP))
    return replace(p, KP=KP, aP=KP @ p.thetaP)


def inference_seconds(method: str) -> tuple[float, float]:
    """(discrete, continuous) seconds of standard errors + the 10Y band of a fresh fit of the sample, both with one
    BLAS thread (like for like: the continuous inference pins it itself)."""
    out = []
    for time_ in ("discrete", "continuous"):
        fit = xlatsm.fit_atsm(load_sample()[COLUMNS], method=method, time=time_)
        with blas_threads(1):
            t0 = time.perf_counter()
            _ = fit.standard_errors
            fit.term_premium_bands(0.9, "10Y")
            out.append(time.perf_counter() - t0)
    return out[0], out[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n-dates", type=int, default=300)
    ap.add_argument("--persistence", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    truth = truth_params(args.persistence)
    res = coverage_experiment_continuous(truth, args.n_dates, args.reps, seed=args.seed, portfolios=PORTFOLIOS,
                                         progress=True)
    roots = np.sort(np.real(np.linalg.eigvals(truth.KP)))
    print(f"## Continuous-time term-premium bands and standard errors: {res.notes[0]}")
    print(f"physical mean-reversion speeds of the truth {np.round(roots, 4).tolist()} per year (one-month roots "
          f"{np.round(np.exp(-roots / 12), 4).tolist()}), {res.seconds:.0f} s\n")
    p = float(res.coverage()["delta"])
    n = len(res.covered_last)
    print("| band (90%) | coverage, last date | binomial s.e. | coverage, all dates |")
    print("|---|---|---|---|")
    print(f"| delta | {p:.3f} | {np.sqrt(p * (1 - p) / n):.3f} | {float(res.covered_share['delta'].mean()):.3f} |\n")
    mad = 1.4826 * (res.estimates - res.estimates.median()).abs().median()
    rms = np.sqrt((res.std_errors ** 2).mean())
    table = pd.DataFrame({"truth": res.truth, "mean estimate": res.estimates.mean(), "RMS s.e.": rms,
                          "MC s.d.": res.estimates.std(ddof=1), "s.e. / MC s.d.": res.se_ratio(),
                          "s.e. / (1.4826 MAD)": rms / mad})
    print("| parameter | " + " | ".join(table.columns) + " |")
    print("|---" * (len(table.columns) + 1) + "|")
    for name, row in table.iterrows():
        print(f"| {name} | " + " | ".join(f"{v:.4g}" for v in row.to_numpy(float)) + " |")
    print("\n| method | discrete s.e. + band (s) | continuous (s) | continuous / discrete |")
    print("|---|---|---|---|")
    for method in ("jsz", "kalman"):
        d, c = inference_seconds(method)
        print(f"| {method} | {d:.2f} | {c:.2f} | {c / d:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
