"""Monte Carlo of xlatsm's standard errors and term-premium bands: coverage and s.e. against the dispersion.

    python benchmarks/inference_coverage.py [--reps 100] [--n-dates 300] [--n-factors 3] [--boot 99]
        [--methods delta,bootstrap:basic,bootstrap:percentile,bootstrap:studentized] [--persistence 0.9,1.0]

The truth is the jsz fit of the embedded GSW sample (1Y 2Y 3Y 5Y 9Y 12Y, 1985-11..2012-04, the 1Y/3Y/12Y yields
priced exactly for 3 factors; 1Y/12Y for 2), its physical roots optionally pulled towards zero
(``--persistence 0.9`` multiplies the eigenvalues of K1_P by 0.9, keeping the mean; 1.0 is the sample's own
persistence, largest root 0.993; a comma-separated list runs one experiment per value), so nothing outside the
package is needed. Each replication simulates T dates from the truth (first factors from the stationary
distribution), fits ``method="jsz"`` with the same portfolios and computes the standard errors and 90% bands on the
10-year term premium (:func:`xlatsm.inference.montecarlo.coverage_experiment`); the bootstrap intervals share one
set of ``--boot`` refits per replication.

Printed (Markdown): coverage of the true 10-year term premium on the last date (one Bernoulli per replication, with
its binomial standard error) and averaged over all dates, per band method; and, per tracked parameter, the root mean
square of the standard errors over the Monte Carlo standard deviation of the estimates, with a robust version
(the dispersion as 1.4826 x the median absolute deviation: a heavy tail of the estimates shows as a gap between
the two). k_inf^Q is on the largest real Q-root in every fit (``xlatsm.atsm.model.kinf_on_largest_root``).
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pandas as pd

import xlatsm
from xlatsm.data import load_sample
from xlatsm.inference.montecarlo import coverage_experiment

COLUMNS = ["SVENY01", "SVENY02", "SVENY03", "SVENY05", "SVENY09", "SVENY12"]
PORTFOLIOS = {3: ["1Y", "3Y", "12Y"], 2: ["1Y", "12Y"]}


def truth_params(n_factors: int, persistence: float):
    panel = load_sample()[COLUMNS]
    fit = xlatsm.fit_atsm(panel, method="jsz", n_factors=n_factors, portfolios=PORTFOLIOS[n_factors])
    p = fit.params
    if persistence != 1.0:
        lam, V = np.linalg.eig(p.K1P)
        K1 = np.real(V @ np.diag(lam * persistence) @ np.linalg.inv(V))
        mean = np.linalg.solve(np.eye(len(p.K0P)) - p.K1P, p.K0P)
        p = replace(p, K1P=K1, K0P=(np.eye(len(p.K0P)) - K1) @ mean)
    return p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--n-dates", type=int, default=300)
    ap.add_argument("--n-factors", type=int, default=3, choices=(2, 3))
    ap.add_argument("--boot", type=int, default=99)
    ap.add_argument("--methods", default="delta,bootstrap:basic,bootstrap:percentile,bootstrap:studentized")
    ap.add_argument("--persistence", default="0.9,1.0")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    for persistence in (float(x) for x in args.persistence.split(",") if x.strip()):
        report(args, methods, persistence)
    return 0


def report(args, methods, persistence: float) -> None:
    truth = truth_params(args.n_factors, persistence)
    res = coverage_experiment(truth, args.n_dates, args.reps, seed=args.seed, methods=methods, n_boot=args.boot,
                              portfolios=PORTFOLIOS[args.n_factors], progress=True)
    roots = np.sort(np.abs(np.linalg.eigvals(truth.K1P)))[::-1]
    print(f"## Term-premium bands and standard errors: {res.notes[0]}")
    print(f"physical roots of the truth (x{persistence:g}) {np.round(roots, 4).tolist()}, bootstrap draws per "
          f"replication {args.boot}, {res.seconds:.0f} s" + "".join(f"; {n}" for n in res.notes[1:]) + "\n")
    cov_last, cov_all = res.coverage(), res.covered_share.mean()
    n = len(res.covered_last)
    print("| band (90%) | coverage, last date | binomial s.e. | coverage, all dates |")
    print("|---|---|---|---|")
    for m in cov_last.index:
        p = float(cov_last[m])
        print(f"| {m} | {p:.3f} | {np.sqrt(p * (1 - p) / n):.3f} | {float(cov_all[m]):.3f} |")
    print()
    mad = 1.4826 * (res.estimates - res.estimates.median()).abs().median()
    rms = np.sqrt((res.std_errors ** 2).mean())
    table = pd.DataFrame({"truth": res.truth, "mean estimate": res.estimates.mean(),
                          "RMS s.e.": rms, "MC s.d.": res.estimates.std(ddof=1),
                          "s.e. / MC s.d.": res.se_ratio(), "s.e. / (1.4826 MAD)": rms / mad,
                          "replications with s.e.": res.std_errors.notna().sum()})
    print("| parameter | " + " | ".join(table.columns) + " |")
    print("|---" * (len(table.columns) + 1) + "|")
    for name, row in table.iterrows():
        print(f"| {name} | " + " | ".join(f"{v:.4g}" for v in row.to_numpy(float)) + " |")
    print()


if __name__ == "__main__":
    raise SystemExit(main())
