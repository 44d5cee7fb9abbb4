r"""Standard errors and bands for the continuous-time JSZ model (``fit_atsm(..., time="continuous")``).

The discrete model's machinery (:mod:`xlatsm.inference.atsm`) is reused: the same observed information in whitened
coordinates (:mod:`xlatsm.inference.numdiff`), the same :class:`~xlatsm.inference.atsm.ATSMInference` (delta
method, sandwich, band frames of :mod:`xlatsm.inference.bands`); what differs is the likelihood and the functions
of the parameters. Parameter vector theta (what is differentiated), units of :mod:`xlatsm.atsm.continuous` (years,
decimals):

* ``jsz``: ``[q (N, per year), k_inf^Q, chol (N(N+1)/2), a_P (N), K_P (N^2, row-major), log sigma]`` in the *full*
  continuous JSZ log-likelihood over dates 2..T (conditional on the first date), not the concentrated one the
  estimator maximises (:class:`~xlatsm.atsm.continuous_fit.ContinuousJSZObjective`: ``k_inf^Q``, ``sigma`` and the
  intercept are concentrated out there, so here they are parameters and their uncertainty is counted). With
  ``(c, Phi, Q_dt)`` the exact discretisation of ``dP = (a_P - K_P P) dt + Sigma dW`` at the data's period
  ``dt`` (:func:`~xlatsm.atsm.continuous.ou_discretisation`) and ``A_P, B_P`` the continuous-time loadings,

  .. math::

      \ell(\theta) = \sum_{t=2}^T \log N(P_t; c + \Phi P_{t-1}, Q_{dt})
                   + \log N_{J-N}(y_t - A_P - B_P P_t; 0, \sigma^2 I).

  **Held fixed**: the portfolio weights W, hence the factors ``P_t = W y_t`` (priced exactly), and the first date.
* ``kalman`` and ``em`` (both maximise the same exact Kalman likelihood):
  theta of :class:`~xlatsm.atsm.continuous_fit.ContinuousYieldModel` (``[q, k_inf, chol, a_P, K_P, s]``, Cholesky
  entries relative to the estimate, ``sigma_j^2 = floor_j + exp(2 s_j)``); the information is central differences
  of its exact (Fisher's identity) score. **Held fixed**: W, and measurement variances on their floor.

The delta method then gives every block of :meth:`ContinuousATSMResult.parameter_blocks` (``K_P``, ``theta_P``,
``K_Q``, ``theta_Q``, ``Sigma``, ``lambda_0``, ``lambda_1``, ``r_inf_Q`` per year, and the exact one-period
discretisation), the term premium at any maturity (model yield minus the yield priced with the physical dynamics)
and the expected short-rate path ``E_t[r_{t+h}] = rho0 + rho1' E_t[P_{t+h}]`` (plus, for kalman/em, the smoothed
factors' own posterior variance, as for the discrete model).

The parametric bootstrap is refused for continuous fits (:data:`NO_BOOTSTRAP`): the discrete bootstrap's refits are
the discrete estimators, and its band functions price draws with the discrete loadings.

:func:`coverage_experiment_continuous` is the simulation check (tests/atsm/test_continuous_inference.py, small;
benchmarks/continuous_inference.py, 100+ replications).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..atsm.continuous import ContinuousParams
from ..atsm.continuous_fit import ContinuousYieldModel, _chol_free
from ..atsm.continuous_result import (continuous_parameter_blocks, continuous_term_premium_factor_loading,
                                      continuous_term_premium_values)
from ..atsm.params_vector import free_to_chol
from ..errors import InputError
from ..threads import single_blas_thread
from .atsm import ATSMInference, JSZLikelihood, KalmanLikelihood, atsm_inference

NO_BOOTSTRAP = ("the parametric bootstrap is not available for time='continuous' (its refits and band pricing are "
                "the discrete model's): use method='delta' (the observed information of the continuous likelihood) "
                "or fit time='discrete' for bootstrap bands")


class ContinuousJSZLikelihood(JSZLikelihood):
    """The full continuous JSZ log-likelihood (module docstring) of a panel Y (T, J, decimals) in theta. Its
    terms are the discrete class's (``contributions``, ``loglik``, ``factors``) evaluated at ``ContinuousParams``:
    their ``K0P``, ``K1P``, ``Sigma_P`` are the exact discretisation ``(c, Phi, chol Q_dt)`` and their
    ``loadings()`` the continuous-time ones."""

    def __init__(self, Y: np.ndarray, estimate: ContinuousParams):
        super().__init__(Y, estimate)          # the panel, the portfolios W y_t, the sizes of the blocks
        self.L_ref = np.asarray(estimate.Sigma, float)
        # the discrete layout with the drift (a_P, K_P) where the discrete model has (K0P, K1P)
        rename = {"K0P": "aP", "K1P": "KP"}
        self.blocks = {rename.get(name, name): idx for name, idx in self.blocks.items()}

    def pack(self, p: ContinuousParams) -> np.ndarray:
        return np.concatenate([p.q_coefs, [p.kinfQ], _chol_free(np.linalg.solve(self.L_ref, p.Sigma)), p.aP,
                               p.KP.ravel(), [np.log(p.sigma_e[0])]])

    def unpack(self, theta) -> ContinuousParams:
        b, N = self.blocks, self.N
        return ContinuousParams(q_coefs=np.array(theta[b["q"]], float), kinfQ=float(theta[b["kinf"]][0]),
                                Sigma=self.L_ref @ free_to_chol(theta[b["chol"]], N), aP=np.array(theta[b["aP"]]),
                                KP=np.array(theta[b["KP"]]).reshape(N, N),
                                sigma_e=np.full(self.J, np.exp(theta[b["s"]][0])), structure=self.structure)

    def information(self, theta):
        from .numdiff import information_from_values

        # first probes of 1e-4 of these sizes: k_inf (decimal per year^2) and a_P (decimal per year) are small
        typical = np.maximum(np.abs(theta), 1e-2)
        for name in ("kinf", "aP"):
            typical[self.blocks[name]] = np.maximum(np.abs(theta[self.blocks[name]]), 1e-4)
        return information_from_values(self.loglik, theta, typical=typical, contributions=self.contributions)


class ContinuousKalmanLikelihood(KalmanLikelihood):
    """The kalman/em log-likelihood of the continuous model (:class:`ContinuousYieldModel`) with its exact score;
    everything but the model is the discrete class's (its ``contributions`` run the full filter on
    ``ContinuousParams.as_lgssm()``, the exact discretisation)."""

    @staticmethod
    def make_model(Y: np.ndarray, estimate: ContinuousParams, measurement_error: str):
        return ContinuousYieldModel(Y, estimate.structure, measurement_error, estimate.Sigma)


class ContinuousATSMInference(ATSMInference):
    """:class:`~xlatsm.inference.atsm.ATSMInference` whose parameter blocks and term premia are the continuous
    model's (:func:`~xlatsm.atsm.continuous_result.continuous_parameter_blocks`,
    :func:`~xlatsm.atsm.continuous_result.continuous_term_premium_values`); the expected short-rate path and the
    delta method itself are inherited (``ContinuousParams`` has the discrete names ``K0P``, ``K1P`` as its exact
    discretisation)."""

    blocks_of = staticmethod(continuous_parameter_blocks)
    tp_values = staticmethod(continuous_term_premium_values)
    tp_loading = staticmethod(continuous_term_premium_factor_loading)

    # the delta method evaluates small matrix functions thousands of times: one BLAS thread (xlatsm.threads), as
    # the fits themselves run; a multi-threaded BLAS spin-waits on such sizes (10-30x slower on a loaded machine)
    @single_blas_thread
    def standard_errors(self) -> dict[str, pd.DataFrame]:
        return super().standard_errors()

    @single_blas_thread
    def term_premium_delta(self, periods: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return super().term_premium_delta(periods)

    @single_blas_thread
    def short_rate_delta(self, horizon: int, row: int) -> tuple[np.ndarray, np.ndarray]:
        return super().short_rate_delta(horizon, row)

    @single_blas_thread
    def jacobian(self, func):
        return super().jacobian(func)


def continuous_likelihood_of(result):
    """The likelihood object the continuous estimator ``result.method`` maximised (module docstring)."""
    if result.method == "jsz":
        return ContinuousJSZLikelihood(result.panel.yields, result.params)
    if result.method in ("kalman", "em"):
        return ContinuousKalmanLikelihood(result.panel.yields, result.params, result.measurement_error)
    raise InputError(f"standard errors are not available for method {result.method!r}")


@single_blas_thread
def continuous_inference(result, robust: bool = False) -> ContinuousATSMInference:
    """The observed information (with ``robust``, the sandwich) of a continuous jsz/kalman/em fit at its
    estimate, and the delta method on it (module docstring): the discrete model's
    :func:`~xlatsm.inference.atsm.atsm_inference` with the continuous likelihood, its first note said in
    continuous-time terms."""
    inf = atsm_inference(result, robust=robust, likelihood=continuous_likelihood_of(result),
                         cls=ContinuousATSMInference)
    if result.method == "jsz":
        inf.notes[0] = ("jsz (continuous time): information of the full JSZ likelihood (k_inf^Q, sigma and the drift "
                        "intercept a_P = K_P theta_P, concentrated out in the fit, are parameters here) by "
                        "differences of its values; held fixed: the portfolio weights W, so the factors W y_t are "
                        "observed, and the first date")
    else:
        inf.notes[0] = (f"{result.method} (continuous time): observed information of the exact Kalman "
                        "log-likelihood (the OU process exactly discretised) by central differences of its exact "
                        "score; held fixed: the portfolio weights W")
    inf.notes.append("parameters in continuous time (per year); the delta method maps them to every reported block")
    return inf


# ----------------------------------------------------------------------------------------------------------------
# Monte Carlo check (tests and benchmarks/continuous_inference.py)
# ----------------------------------------------------------------------------------------------------------------
def tracked_continuous(n_factors: int) -> list[tuple[str, int, int]]:
    """(block, row, column) of the parameters whose standard errors are compared with the Monte Carlo dispersion:
    the diagonal of K_P, the first two diagonal entries of Sigma, the slowest Q speed kappa_1 and sigma_e."""
    return ([("K_P", i, i) for i in range(n_factors)] + [("Sigma", i, i) for i in range(min(2, n_factors))]
            + [("kappa_Q", 0, 0), ("sigma_e", 0, 0)])


def coverage_experiment_continuous(truth: ContinuousParams, n_dates: int, n_reps: int, *, seed: int = 0,
                                   level: float = 0.9, maturity: str = "10Y", portfolios=None,
                                   yield_units: str = "percent", progress=None):
    """Simulate ``n_reps`` jsz panels of ``n_dates`` from continuous-time ``truth`` (the exact discretisation: the
    portfolios priced exactly, iid errors in the other directions, the first factors from the stationary
    distribution), fit each by ``fit_atsm(method="jsz", time="continuous")`` with the truth's portfolios, and
    record the tracked parameters (:func:`tracked_continuous`), their standard errors and whether the delta-method
    ``level`` band on the term premium at ``maturity`` covers the true one (last date; share of dates).
    Returns :class:`xlatsm.inference.montecarlo.CoverageResult` (column ``"delta"``)."""
    import time
    import warnings

    from scipy.linalg import solve_discrete_lyapunov

    from ..atsm.methods import fit_atsm
    from ..data import maturities_to_years, years_to_label
    from .atsm import progress_reporter
    from .bootstrap import simulate_jsz_panel
    from .montecarlo import CoverageResult

    t0 = time.perf_counter()
    s = truth.structure
    N = s.n_factors
    labels = [years_to_label(m) for m in s.maturities]
    scale = {"percent": 100.0, "decimal": 1.0, "bp": 1e4}[yield_units]
    c, Phi, Q = truth.discretisation()
    mean = np.linalg.solve(np.eye(N) - Phi, c)
    chol = np.linalg.cholesky(solve_discrete_lyapunov(Phi, Q))
    periods = np.array([round(float(maturities_to_years([maturity], "years")[0][0]) / s.dt)])
    items = tracked_continuous(N)
    pick = lambda blocks: [float(blocks[b].iloc[i, j]) for b, i, j in items]  # noqa: E731
    truth_blocks = continuous_parameter_blocks(truth, scale, ["level", "slope", "curvature", "PC4", "PC5"][:N],
                                               labels)
    names = [f"{b}[{truth_blocks[b].index[i]},{truth_blocks[b].columns[j]}]" for b, i, j in items]
    est, ses, last, share = [], [], [], []
    update, close = progress_reporter(progress, n_reps, "Monte Carlo (continuous)")
    try:
        for rep in range(n_reps):
            rng = np.random.default_rng([seed, rep])
            Y = simulate_jsz_panel(truth, mean + chol @ rng.standard_normal(N), n_dates, rng)
            frame = pd.DataFrame(Y * scale, index=pd.date_range("1990-01-31", periods=n_dates, freq="ME"),
                                 columns=labels)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_atsm(frame, method="jsz", n_factors=N, portfolios=portfolios, yield_units=yield_units,
                               time="continuous")
            est.append(pick(fit.parameter_blocks()))
            ses.append(pick(fit.standard_errors))
            tp_true = continuous_term_premium_values(truth, Y @ s.W.T, periods)[:, 0] * scale
            band = fit.term_premium_bands(level, maturity)
            inside = (band["lower"].to_numpy() <= tp_true) & (tp_true <= band["upper"].to_numpy())
            last.append({"delta": bool(inside[-1])})
            share.append({"delta": float(inside.mean())})
            update()
    finally:
        close()
    return CoverageResult(estimates=pd.DataFrame(est, columns=names), std_errors=pd.DataFrame(ses, columns=names),
                          truth=pd.Series(pick(truth_blocks), index=names), covered_last=pd.DataFrame(last),
                          covered_share=pd.DataFrame(share), seconds=time.perf_counter() - t0,
                          notes=[f"{n_reps} replications of T={n_dates}, N={N}, continuous time, maturities "
                                 f"{', '.join(labels)}, {level:.0%} delta bands on the {maturity} term premium, "
                                 f"seed {seed}"])

__all__ = ["ContinuousJSZLikelihood", "ContinuousKalmanLikelihood", "ContinuousATSMInference",
           "continuous_inference", "continuous_likelihood_of", "NO_BOOTSTRAP",
           "coverage_experiment_continuous", "tracked_continuous"]
