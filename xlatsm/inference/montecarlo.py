r"""Monte Carlo check of the standard errors and bands: simulate from known parameters, fit, compare.

For each replication a jsz panel (:func:`xlatsm.inference.bootstrap.simulate_jsz_panel`: the portfolios priced
exactly, iid errors in the other directions) is drawn from ``truth``, with the first date's factors from the
VAR's stationary distribution, and fitted by ``fit_atsm(method="jsz")`` with the truth's portfolios (maturities
priced exactly, so the fitted rotation is the truth's). Recorded per replication: the estimates and standard
errors of a few parameters, and whether each band on the term premium at ``maturity`` covers the true term
premium ``tp_t(truth, P_t)`` on the last date (and the share of dates covered).

Used by ``tests/inference`` (small) and ``benchmarks/inference_coverage.py`` (the full experiment).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.linalg import solve_discrete_lyapunov

from ..atsm.model import ATSMParams
from ..atsm.results import term_premium_values
from ..data import maturities_to_years, years_to_label
from .bootstrap import simulate_jsz_panel


def tracked(n_factors: int) -> list[tuple[str, int, int]]:
    """(block, row, column) of the parameters whose standard errors are compared with the Monte Carlo dispersion:
    the diagonal of K1_P, the level's K0_P, the first two diagonal entries of Sigma_P, the largest Q-root, k_inf^Q
    and the measurement error sigma."""
    return ([("K1_P", i, i) for i in range(n_factors)] + [("K0_P", 0, 0)]
            + [("Sigma_P", i, i) for i in range(min(2, n_factors))]
            + [("lambda_Q", 0, 0), ("k_inf_Q", 0, 0), ("sigma_e", 0, 0)])


@dataclass
class CoverageResult:
    """Per-replication records of :func:`coverage_experiment`."""

    estimates: pd.DataFrame          # replications x tracked parameters (reporting units)
    std_errors: pd.DataFrame         # the same, their standard errors
    truth: pd.Series                 # the tracked parameters' true values
    covered_last: pd.DataFrame       # replications x band methods: band covers the truth on the last date
    covered_share: pd.DataFrame      # replications x band methods: share of dates covered
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    def coverage(self) -> pd.Series:
        """Share of replications whose band covers the true term premium on the last date, per band method."""
        return self.covered_last.mean()

    def se_ratio(self) -> pd.Series:
        """Root mean square standard error / Monte Carlo standard deviation of the estimates, per parameter."""
        rms = np.sqrt((self.std_errors ** 2).mean())
        return rms / self.estimates.std(ddof=1)


def tracked_values(blocks: dict) -> np.ndarray:
    return np.array([float(blocks[b].iloc[i, j]) for b, i, j in tracked(len(blocks["K0_P"]))])


def tracked_names(blocks: dict) -> list[str]:
    out = []
    for b, i, j in tracked(len(blocks["K0_P"])):
        frame = blocks[b]
        out.append(f"{b}[{frame.index[i]},{frame.columns[j]}]" if frame.shape != (1, 1) else b)
    return out


def _tracked_std_errors(fit) -> np.ndarray:
    """The tracked entries' standard errors by the same delta method as ``fit.standard_errors``, without the
    blocks that cost matrix logarithms (the tracked ones are read off the parameters directly)."""
    inf = fit.inference()
    N, s = fit.n_factors, fit.scale

    def values(theta):
        p = inf.likelihood.unpack(theta)
        blocks = {"K1_P": p.K1P, "K0_P": p.K0P[:, None] * s, "Sigma_P": p.Sigma_P * s,
                  "lambda_Q": np.real(p.lamQ)[:, None], "k_inf_Q": np.array([[p.kinfQ * s]]),
                  "sigma_e": p.sigma_e[:, None] * s}
        return np.array([float(blocks[b][i, j]) for b, i, j in tracked(N)])

    return inf.delta_std_errors(values)


def single_threaded_blas():
    """A context in which BLAS runs on one thread (threadpoolctl when installed, else nothing): the experiment's
    matrices are tiny, and on a busy machine multi-threaded OpenBLAS spends its time spin-waiting."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def coverage_experiment(truth: ATSMParams, n_dates: int, n_reps: int, *, seed: int = 0, level: float = 0.9,
                        maturity: str = "10Y", methods=("delta",), n_boot: int = 19, portfolios=None,
                        yield_units: str = "percent", progress=None) -> CoverageResult:
    """Run the experiment (module docstring). ``methods``: band methods, "delta", "bootstrap" or
    "bootstrap:<interval>" (interval "basic" (the default), "percentile" or "studentized"); the bootstrap
    intervals share one set of ``n_boot`` refits per replication. ``portfolios``: the maturity labels the truth
    prices exactly (its W must select them); ``yield_units``: the units the simulated yields are handed to the
    fit in. BLAS runs single-threaded inside (:func:`single_threaded_blas`)."""
    with single_threaded_blas():
        return _coverage_experiment(truth, n_dates, n_reps, seed=seed, level=level, maturity=maturity,
                                    methods=methods, n_boot=n_boot, portfolios=portfolios, yield_units=yield_units,
                                    progress=progress)


def _coverage_experiment(truth, n_dates, n_reps, *, seed, level, maturity, methods, n_boot, portfolios,
                         yield_units, progress) -> CoverageResult:
    import time

    from ..atsm.methods import fit_atsm
    from ..atsm.results import ATSMResult
    from .atsm import progress_reporter

    t0 = time.perf_counter()
    structure = truth.structure
    labels = [years_to_label(m) for m in structure.maturities]
    scale = {"percent": 100.0, "decimal": 1.0, "bp": 1e4}[yield_units]
    N = structure.n_factors
    mean = np.linalg.solve(np.eye(N) - truth.K1P, truth.K0P)
    cov = solve_discrete_lyapunov(truth.K1P, truth.Omega_P)
    chol = np.linalg.cholesky(cov)
    periods = np.array([round(float(maturities_to_years([maturity], "years")[0][0]) / structure.dt)])
    est_rows, se_rows, last, share, boot_failed = [], [], [], [], 0
    names = truth_row = None
    update, close = progress_reporter(progress, n_reps, "Monte Carlo")
    try:
        for rep in range(n_reps):
            rng = np.random.default_rng([seed, rep])
            P1 = mean + chol @ rng.standard_normal(N)
            Y = simulate_jsz_panel(truth, P1, n_dates, rng)
            frame = pd.DataFrame(Y * scale, index=pd.date_range("1990-01-31", periods=n_dates, freq="ME"),
                                 columns=labels)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_atsm(frame, method="jsz", n_factors=N, portfolios=portfolios, yield_units=yield_units)
            if names is None:
                truth_result = ATSMResult(params=truth, panel=fit.panel, method="jsz", loglik=0.0, converged=True,
                                          n_iter=0, loglik_path=np.array([]), message="")
                truth_blocks = truth_result.parameter_blocks()
                names, truth_row = tracked_names(truth_blocks), tracked_values(truth_blocks)
            est_rows.append(tracked_values(fit.parameter_blocks()))
            se_rows.append(_tracked_std_errors(fit))
            tp_true = term_premium_values(truth, Y @ structure.W.T, periods)[:, 0] * scale
            hits_last, hits_share = {}, {}
            for method in methods:
                name, _, interval = method.partition(":")
                band = fit.term_premium_bands(level, maturity, name, n_boot=n_boot, seed=rep, progress=False,
                                              interval=interval or "basic")
                inside = (band["lower"].to_numpy() <= tp_true) & (tp_true <= band["upper"].to_numpy())
                hits_last[method], hits_share[method] = bool(inside[-1]), float(inside.mean())
            last.append(hits_last)
            share.append(hits_share)
            if any(m.startswith("bootstrap") for m in methods):
                boot_failed += fit.bootstrap(n_boot, rep, progress=False).n_failed
            update()
    finally:
        close()
    return CoverageResult(estimates=pd.DataFrame(est_rows, columns=names),
                          std_errors=pd.DataFrame(se_rows, columns=names), truth=pd.Series(truth_row, index=names),
                          covered_last=pd.DataFrame(last), covered_share=pd.DataFrame(share),
                          seconds=time.perf_counter() - t0,
                          notes=[f"{n_reps} replications of T={n_dates}, N={N}, maturities {', '.join(labels)}, "
                                 f"{level:.0%} bands on the {maturity} term premium, seed {seed}"]
                          + ([f"bootstrap: {n_boot} refits per replication, {boot_failed} failed or did not "
                              "converge (left out)"] if any(m.startswith("bootstrap") for m in methods) else []))
