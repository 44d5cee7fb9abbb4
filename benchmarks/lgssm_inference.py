"""Monte Carlo of the LGSSM's standard errors, and their cost against statsmodels' numerical Hessian.

    python benchmarks/lgssm_inference.py [--reps 300] [--n-dates 300] [--missing 0.0] [--robust] [--seed 0]
                                         [--skip-timing]

Monte Carlo: the truth has k = 2 factors (VAR(1), roots 0.8 and 0.4) loading on p = 6 series with measurement
variances 0.2-0.4 (the design of tests/inference/test_lgssm_inference.py). Each replication simulates T dates,
blanks a share ``--missing`` of the cells at random, fits ``fit_lgssm(y, 2)`` and takes ``standard_errors`` (or
the sandwich with ``--robust``) (:func:`xlatsm.inference.lgssm.monte_carlo`). The error of an estimate is measured
against the truth put in the same normalisation on the same panel. Printed (Markdown), per identified entry: the
root mean square of the standard errors over the Monte Carlo standard deviation of the errors, and over
1.4826 x their median absolute deviation (robust to a rare odd fit).

Timing (one BLAS thread): on the embedded GSW sample (6 maturities, 318 months, 3 factors, common R) the fit,
xlatsm's standard errors (exact score differences in whitened coordinates, delta method) and, as the peer,
statsmodels' ``approx_hess3`` of its own Kalman filter's log-likelihood on the same identified coordinates (the
route a statsmodels MLEModel takes for ``cov_type="approx"``), in the same run; printed as ratios.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = os.environ.get("XLATSM_BENCH_BLAS_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import xlatsm  # noqa: E402
from xlatsm.inference.lgssm import monte_carlo  # noqa: E402
from xlatsm.ssm.params import LGSSMParams  # noqa: E402

GSW_COLUMNS = ["SVENY01", "SVENY02", "SVENY03", "SVENY05", "SVENY09", "SVENY12"]


def truth() -> LGSSMParams:
    C = np.array([[1, 0.5], [1, 0.2], [1, -0.1], [1, -0.4], [0.8, -0.6], [0.6, -0.8]])
    return LGSSMParams(A=np.array([[[0.8, 0.1], [0.0, 0.4]]]), C=C, Q=np.array([[1.0, 0.3], [0.3, 0.6]]),
                       R=np.diag([0.3, 0.2, 0.25, 0.2, 0.3, 0.4]), state_intercept=np.array([0.2, -0.1]),
                       obs_intercept=np.linspace(1.0, 3.0, 6))


def monte_carlo_table(args) -> None:
    from tqdm import tqdm

    bar = tqdm(total=args.reps, desc="replications", file=sys.stderr)
    start = time.perf_counter()
    errors, ses = monte_carlo(truth(), args.n_dates, args.reps, seed=args.seed, robust=args.robust,
                              missing=args.missing, progress=lambda done, total: bar.update(1))
    bar.close()
    seconds = time.perf_counter() - start
    names = ([f"A_1[{i},{j}]" for i in range(2) for j in range(2)] + [f"d[{i}]" for i in range(2)]
             + [f"Q[{i},{j}]" for i in range(2) for j in range(2)] + [f"C[y{i + 1},f{j + 1}]" for i in range(6)
                                                                     for j in range(2)]
             + [f"c[y{i + 1}]" for i in range(6)] + [f"R[y{i + 1},y{i + 1}]" for i in range(6)])
    sd = errors.std(axis=0, ddof=1)
    mad = 1.4826 * np.median(np.abs(errors - np.median(errors, axis=0)), axis=0)
    rms = np.sqrt(np.mean(ses ** 2, axis=0))
    print(f"## LGSSM standard errors: Monte Carlo, k = 2, p = 6, T = {args.n_dates}, {args.reps} replications, "
          f"{100 * args.missing:g}% blank cells, {'sandwich' if args.robust else 'observed information'} "
          f"({seconds:.0f} s)\n")
    print("| entry | MC s.d. | RMS s.e. | s.e. / s.d. | s.e. / (1.4826 MAD) | bias / s.d. |")
    print("|---|---|---|---|---|---|")
    shown = [i for i in range(len(sd)) if sd[i] > 0 and not (names[i].startswith("Q[1,0]"))]
    for i in shown:
        print(f"| {names[i]} | {sd[i]:.4g} | {rms[i]:.4g} | {rms[i] / sd[i]:.3f} | {rms[i] / mad[i]:.3f} | "
              f"{errors[:, i].mean() / sd[i]:+.2f} |")
    ratio = rms[shown] / sd[shown]
    print(f"\ns.e. / s.d. over {len(shown)} identified entries: min {ratio.min():.3f}, median "
          f"{np.median(ratio):.3f}, max {ratio.max():.3f}; binomial noise of the s.d. alone: +-"
          f"{1 / np.sqrt(2 * (args.reps - 1)):.3f} (one s.d.)\n")


def timing_table() -> None:
    from statsmodels.tools.numdiff import approx_hess3
    from statsmodels.tsa.statespace.mlemodel import MLEModel

    y = xlatsm.load_sample()[GSW_COLUMNS]
    start = time.perf_counter()
    fit = xlatsm.fit_lgssm(y, 3, measurement_error="common")
    t_fit = time.perf_counter() - start
    xlatsm.fit_lgssm(y.iloc[:60], 3, measurement_error="common").standard_errors    # compile the kernel
    start = time.perf_counter()
    se = fit.standard_errors
    t_se = time.perf_counter() - start
    inference = fit.inference()
    lik, B = inference.likelihood, inference.basis
    model = None

    def loglik(u):
        nonlocal model
        p = lik.unpack(inference.theta + B @ u).unscaled(lik.shift, lik.scale)
        ss = p.to_state_space(len(fit.data))
        if model is None:
            model = MLEModel(fit.data, k_states=ss.k_states, k_posdef=ss.state_cov.shape[0])
        for name in ("design", "obs_intercept", "obs_cov", "transition", "state_intercept", "selection",
                     "state_cov"):
            model.ssm[name] = getattr(ss, name)
        model.ssm.initialize_known(ss.initial_mean, ss.initial_cov)
        return model.ssm.loglike()

    start = time.perf_counter()
    hessian = approx_hess3(np.zeros(B.shape[1]), loglik, epsilon=1e-4)
    t_peer = time.perf_counter() - start
    cov_peer = np.linalg.inv(-hessian)
    cov_mine = B.T @ inference.covariance @ B
    agree = np.max(np.abs(np.sqrt(np.diag(cov_peer)) / np.sqrt(np.diag(cov_mine)) - 1.0))
    print(f"## LGSSM standard errors: cost (GSW sample, {len(y)} months x {len(GSW_COLUMNS)} maturities, k = 3, "
          f"common R, {B.shape[1]} identified parameters)\n")
    print("| step | seconds | ratio to the fit |")
    print("|---|---|---|")
    print(f"| EM fit | {t_fit:.3f} | 1 |")
    print(f"| xlatsm standard errors (score differences + delta method) | {t_se:.3f} | {t_se / t_fit:.2f} |")
    print(f"| statsmodels approx_hess3 of its Kalman log-likelihood (information only) | {t_peer:.3f} | "
          f"{t_peer / t_fit:.2f} |")
    print(f"\nstatsmodels / xlatsm time: {t_peer / t_se:.1f}x; their standard errors of the identified coordinates "
          f"agree to {agree:.1e} (largest relative difference). Standard error of C[SVENY01,f1]: "
          f"{se['C'].iloc[0, 0]:.4g}.\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--n-dates", type=int, default=300)
    ap.add_argument("--missing", type=float, default=0.0, help="share of cells blanked at random (default 0)")
    ap.add_argument("--robust", action="store_true", help="the sandwich standard errors instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-timing", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    if not args.skip_timing:
        timing_table()
    monte_carlo_table(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
