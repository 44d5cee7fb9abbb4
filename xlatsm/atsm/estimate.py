r"""Estimators of the JSZ-canonical Gaussian ATSM (equations in :mod:`xlatsm.atsm.model`).

* ``"jsz"`` (default): the N portfolios ``P_t = W y_t`` are priced exactly, the other J-N directions with iid
  N(0, sigma^2) errors (Joslin, Singleton and Zhu 2011). ``K_0^P, K_1^P`` are OLS (exactly the conditional MLE),
  ``k_inf^Q`` and ``sigma`` are concentrated out in closed form, and only ``lambda^Q`` and ``Sigma_P`` are
  optimised numerically (BFGS from several deterministic starts). Needs a balanced panel.
* ``"kalman"``: exact maximum likelihood with every yield observed with error, ``y_t = A_P + B_P P_t + e_t``,
  through the Kalman filter (missing cells allowed, diffuse start). The score is exact and cheap: by Fisher's
  identity it is the gradient of the expected complete-data log-likelihood at the current parameters, which one
  smoother pass gives.
* ``"em"``: an ECM on the same likelihood. E-step: the Kalman smoother (the LGSSM machinery of
  :mod:`xlatsm.ssm`). CM-steps: ``K_0^P, K_1^P`` by OLS in expected moments (closed form), then
  ``(lambda^Q, k_inf^Q, Sigma_P, sigma)`` numerically on the expected complete-data log-likelihood. Each step
  can only raise the likelihood, so it never decreases.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ..data import YieldPanel, read_panel
from ..errors import ConvergenceWarning, EstimationError, InputError, ModelError
from ..ssm.em import _missing_groups, _obs_moments, _state_moments
from ..ssm.kalman import KalmanSmootherRunner
from .model import ATSMParams, ATSMStructure, jsz_loadings_affine, portfolio_weights
from .model import roots_to_q
from .params_vector import chol_to_free, free_to_chol, free_to_q, n_chol, q_to_free

METHODS = ("jsz", "kalman", "em")
MEASUREMENT_ERRORS = ("common", "per_maturity")
_LOG2PI = np.log(2 * np.pi)


# ----------------------------------------------------------------------------------------------------------------
# set-up: period length, maturities in periods, checks
# ----------------------------------------------------------------------------------------------------------------
def infer_periods_per_year(dates: pd.Index) -> tuple[int, str]:
    """12 for monthly data, 4 quarterly, 52 weekly, 252 business-daily, from the median date spacing."""
    if not isinstance(dates, pd.DatetimeIndex) or len(dates) < 3:
        return 12, "assumed monthly (no dates given)"
    days = float(np.median(np.diff(dates.values).astype("timedelta64[D]").astype(float)))
    for per_year, low, high, name in ((252, 0.5, 4.5, "business daily"), (52, 5, 9, "weekly"),
                                      (12, 26, 33, "monthly"), (4, 85, 95, "quarterly")):
        if low <= days <= high:
            return per_year, f"{name} (median spacing {days:g} days)"
    raise InputError(f"dates are {days:g} days apart on median: give monthly, weekly, quarterly or daily data, "
                     "or pass periods_per_year")


def _portfolio_matrix(panel: YieldPanel, n_factors: int, portfolios) -> np.ndarray:
    """W: the first N principal components ("pca"), or a selector of N maturities priced exactly."""
    if portfolios is None or (isinstance(portfolios, str) and portfolios == "pca"):
        return portfolio_weights(panel.yields, n_factors)
    from ..data import maturities_to_years

    wanted, _ = maturities_to_years(list(portfolios), "years")
    if len(wanted) != n_factors:
        raise InputError(f"portfolios names {len(wanted)} maturities for {n_factors} factors: give one per factor")
    W = np.zeros((n_factors, len(panel.maturities)))
    for i, years in enumerate(wanted):
        hit = np.flatnonzero(np.abs(panel.maturities - years) < 1e-9)
        if not len(hit):
            raise InputError(f"portfolio maturity {years:g}y is not among the columns {panel.labels}")
        W[i, hit[0]] = 1.0
    return W


def _structure(panel: YieldPanel, n_factors: int, periods_per_year: int | None, portfolios=None):
    notes = []
    if periods_per_year is None:
        periods_per_year, text = infer_periods_per_year(panel.dates)
        notes.append(f"period: {text}")
    dt = 1.0 / periods_per_year
    periods = panel.maturities * periods_per_year
    rounded = np.round(periods)
    if np.any(rounded < 1):
        raise InputError(f"maturity {panel.labels[int(np.argmin(periods))]} is shorter than one data period; "
                         "drop it or use more frequent data")
    if np.any(np.abs(periods - rounded) > 1e-6):
        notes.append("maturities rounded to whole periods: " + ", ".join(
            f"{l}->{int(r)}" for l, p, r in zip(panel.labels, periods, rounded) if abs(p - r) > 1e-6))
    W = _portfolio_matrix(panel, n_factors, portfolios)
    return ATSMStructure(periods=rounded, dt=dt, W=W), notes


def _check(panel: YieldPanel, n_factors: int, method: str, measurement_error: str):
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, not {method!r}")
    if measurement_error not in MEASUREMENT_ERRORS:
        raise InputError(f"measurement_error must be one of {MEASUREMENT_ERRORS}, not {measurement_error!r}")
    if not isinstance(n_factors, (int, np.integer)) or not 1 <= n_factors <= 5:
        raise InputError(f"n_factors must be a whole number from 1 to 5, got {n_factors!r}")
    T, J = panel.yields.shape
    if J <= n_factors:
        raise InputError(f"{J} maturities cannot identify {n_factors} factors: give at least {n_factors + 1} "
                         "maturities or use fewer factors")
    needed = max(24, 6 * n_factors)
    if T < needed:
        raise InputError(f"{T} dates are too few for a {n_factors}-factor model: give at least {needed}")
    if method == "jsz" and np.isnan(panel.yields).any():
        rows = int(np.isnan(panel.yields).any(axis=1).sum())
        raise InputError(f"method 'jsz' prices N yield portfolios exactly and needs every cell, but {rows} dates "
                         "have blanks: use method='kalman' or 'em' (they handle missing cells), or trim the sample")


# ----------------------------------------------------------------------------------------------------------------
# JSZ: portfolios priced exactly
# ----------------------------------------------------------------------------------------------------------------
def _var_ols(P: np.ndarray):
    Z = np.column_stack([np.ones(len(P) - 1), P[:-1]])
    G = np.linalg.lstsq(Z, P[1:], rcond=None)[0].T
    U = P[1:] - Z @ G.T
    return G[:, 0], G[:, 1:], U


def _lam_starts(N: int) -> list[np.ndarray]:
    """Deterministic starting Q-eigenvalues: persistent first factor, faster ones after it."""
    starts = []
    for first in (0.0015, 0.005, 0.02):
        for ratio in (4.0, 12.0):
            starts.append(1.0 - first * ratio ** np.arange(N))
    return [s for s in starts if s[-1] > -0.9]


def _jsz_objective(structure: ATSMStructure, Y: np.ndarray, P: np.ndarray, U: np.ndarray):
    """-loglik(lambda-free, chol-free) of the JSZ model, k_inf and sigma concentrated; also returns them.

    The objective is scaled per observation so that optimiser tolerances mean the same for any sample size."""
    N = structure.n_factors
    T1, J = len(Y) - 1, Y.shape[1]
    UU = U.T @ U
    Y1, P1 = Y[1:], P[1:]

    def evaluate(theta):
        q = free_to_q(theta[:N])
        L = free_to_chol(theta[N:], N)
        Omega = L @ L.T
        alpha, _, _, ld0 = jsz_loadings_affine(q, Omega, structure)   # A_P is affine in k_inf
        resid0 = Y1 - ld0.A_P - P1 @ ld0.B_P.T
        kinf = float(np.sum(resid0 @ alpha) / (T1 * alpha @ alpha))
        resid = resid0 - kinf * alpha
        sigma2 = float(np.sum(resid ** 2) / (T1 * (J - N)))
        ll_q = -0.5 * T1 * (J - N) * (_LOG2PI + np.log(sigma2) + 1.0)
        logdet = 2 * np.sum(np.log(np.diag(L)))
        ll_p = -0.5 * T1 * (N * _LOG2PI + logdet) - 0.5 * np.trace(np.linalg.solve(Omega, UU))
        return ll_p + ll_q, kinf, np.sqrt(sigma2)

    n_scale = T1 * J

    def objective(theta):
        try:
            value = evaluate(theta)[0]
        except (ModelError, np.linalg.LinAlgError, FloatingPointError):
            return 1e20
        return -value / n_scale if np.isfinite(value) else 1e20

    return objective, evaluate


def _fit_jsz(Y: np.ndarray, structure: ATSMStructure, progress=None):
    N = structure.n_factors
    P = Y @ structure.W.T
    K0P, K1P, U = _var_ols(P)
    Omega_ols = U.T @ U / len(U)
    objective, evaluate = _jsz_objective(structure, Y, P, U)
    n_obs = (len(Y) - 1) * Y.shape[1]
    chol0 = chol_to_free(np.linalg.cholesky(Omega_ols))
    starts = [np.concatenate([q_to_free(roots_to_q(lam)), chol0]) for lam in _lam_starts(N)]
    scored = sorted(starts, key=objective)[:3]
    best, n_iter = None, 0
    with np.errstate(all="ignore"):
        for i, theta0 in enumerate(scored):
            res = minimize(objective, theta0, method="BFGS", options={"maxiter": 2000, "gtol": 1e-7})
            n_iter += res.nit
            if progress is not None:
                progress(i + 1, -res.fun * n_obs)   # the objective is per observation
            if best is None or res.fun < best.fun:
                best = res
    ll, kinf, sigma = evaluate(best.x)
    params = ATSMParams(q_coefs=free_to_q(best.x[:N]), kinfQ=kinf, Sigma_P=free_to_chol(best.x[N:], N), K0P=K0P, K1P=K1P,
                        sigma_e=np.full(Y.shape[1], sigma), structure=structure)
    # BFGS often stops on "precision loss" at an optimum it cannot improve further. Accept that when the
    # Newton decrement g'H^-1 g (the log-likelihood gain a full Newton step would still promise, per
    # observation) is negligible.
    decrement = float(best.jac @ best.hess_inv @ best.jac)
    converged = bool(best.success) or decrement < 1e-9
    return params, ll, converged, n_iter, best.message


# ----------------------------------------------------------------------------------------------------------------
# Kalman and EM: every yield observed with error
# ----------------------------------------------------------------------------------------------------------------
class _YieldStateSpace:
    """The ATSM as an LGSSM in the portfolio rotation, with the parameter vector the optimisers work on.

    theta = [q-free (N), k_inf (1), chol-free (N(N+1)/2), K0P (N), K1P (N*N), log sigma (1 or J)].
    """

    def __init__(self, Y: np.ndarray, structure: ATSMStructure, measurement_error: str):
        self.Y = Y
        self.structure = structure
        self.N = N = structure.n_factors
        self.J = Y.shape[1]
        self.common = measurement_error == "common"
        self.missing = np.isnan(Y)
        self.groups = _missing_groups(self.missing)
        self.smoother = KalmanSmootherRunner(Y, 2 * N, N, lag_cov=False)
        self.filter = KalmanSmootherRunner(Y, N, N, lag_cov=False)
        sizes = [N, 1, n_chol(N), N, N * N, 1 if self.common else self.J]
        self.blocks = dict(zip(["lam", "kinf", "chol", "K0P", "K1P", "logsig"],
                               np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])))

    # packing ------------------------------------------------------------------------------------------------
    def pack(self, p: ATSMParams) -> np.ndarray:
        sig = np.log(p.sigma_e[:1] if self.common else p.sigma_e)
        return np.concatenate([q_to_free(p.q_coefs), [p.kinfQ], chol_to_free(p.Sigma_P), p.K0P, p.K1P.ravel(), sig])

    def unpack(self, theta: np.ndarray) -> ATSMParams:
        b, N = self.blocks, self.N
        sig = np.exp(theta[b["logsig"]])
        return ATSMParams(q_coefs=free_to_q(theta[b["lam"]]), kinfQ=float(theta[b["kinf"]][0]),
                          Sigma_P=free_to_chol(theta[b["chol"]], N), K0P=theta[b["K0P"]].copy(),
                          K1P=theta[b["K1P"]].reshape(N, N).copy(),
                          sigma_e=np.full(self.J, sig[0]) if self.common else sig, structure=self.structure)

    def scale(self, theta: np.ndarray) -> np.ndarray:
        """Typical magnitudes, so that the optimiser's unit steps mean the same in every direction."""
        s = np.ones_like(theta)
        s[self.blocks["kinf"]] = np.maximum(np.abs(theta[self.blocks["kinf"]]), 1e-5)
        s[self.blocks["K0P"]] = np.maximum(np.abs(theta[self.blocks["K0P"]]), 1e-4)
        chol = self.blocks["chol"]
        rows, cols = np.tril_indices(self.N)
        offdiag = rows != cols   # log-diagonal entries are O(1) already; off-diagonal ones are yield-sized
        s[chol[offdiag]] = np.maximum(np.abs(theta[chol[offdiag]]), 1e-4)
        return s

    # likelihood ---------------------------------------------------------------------------------------------
    def loglik(self, theta: np.ndarray) -> float:
        lg = self.unpack(theta).as_lgssm()
        return self.filter.loglik(lg.to_state_space(len(self.Y))) + lg.diffuse_loglik_correction()

    def e_step(self, theta: np.ndarray):
        """Smoother pass at theta: (loglik, expected sufficient statistics)."""
        lg = self.unpack(theta).as_lgssm()
        es = self.smoother.smooth(lg.to_state_space(len(self.Y), extra_lag=True))
        M, P = lg.factor_moments(es.states, es.cov)
        state = _state_moments(es, self.N, 1, True)
        obs = _obs_moments(self.Y, self.missing, self.groups, M, P, lg, True)
        return es.loglik + lg.diffuse_loglik_correction(), (state, obs), (M, P)

    def ecdll(self, theta: np.ndarray, moments) -> float:
        """Expected complete-data log-likelihood (state transitions, the diffuse prior in units of Omega_P, and
        the completed observations) at theta, for moments from an E-step."""
        (Sxx, Sxz, Szz, n), (Syy, Syz, Szz_o, n_o) = moments
        p = self.unpack(theta)
        ld = p.loadings()
        G = np.column_stack([p.K0P, p.K1P])
        Omega = p.Omega_P
        resid_x = Sxx - G @ Sxz.T - Sxz @ G.T + G @ Szz @ G.T
        logdet = 2 * np.sum(np.log(np.diag(p.Sigma_P)))
        ll_x = -0.5 * n * (self.N * _LOG2PI + logdet) - 0.5 * np.trace(np.linalg.solve(Omega, resid_x))
        ll_x += -0.5 * logdet   # diffuse prior N(0, kappa Omega_P) on the first state
        Gy = np.column_stack([ld.A_P, ld.B_P])
        resid_y = np.diag(Syy) - 2 * np.sum(Gy * Syz, axis=1) + np.sum((Gy @ Szz_o) * Gy, axis=1)
        var = p.sigma_e ** 2
        ll_y = -0.5 * n_o * np.sum(_LOG2PI + np.log(var)) - 0.5 * np.sum(resid_y / var)
        return float(ll_x + ll_y)

    def ecdll_gradient(self, theta: np.ndarray, moments, which=None) -> np.ndarray:
        """Central differences of the (cheap, filter-free) expected complete-data log-likelihood."""
        idx = np.arange(len(theta)) if which is None else which
        grad = np.zeros(len(theta))
        h = 1e-6 * self.scale(theta)
        for i in idx:
            up, down = theta.copy(), theta.copy()
            up[i] += h[i]
            down[i] -= h[i]
            grad[i] = (self.ecdll(up, moments) - self.ecdll(down, moments)) / (2 * h[i])
        return grad


def _fit_kalman(space: _YieldStateSpace, start: ATSMParams, max_iter: int, tol: float, progress=None):
    theta0 = space.pack(start)
    scale = space.scale(theta0)
    n_cells = float(np.sum(~space.missing))   # the objective is per observed cell: O(1) gradients
    path = []

    def f_and_g(u):
        theta = u * scale
        try:
            ll, moments, _ = space.e_step(theta)
            grad = space.ecdll_gradient(theta, moments)   # Fisher's identity: the score of the likelihood
        except (ModelError, EstimationError, np.linalg.LinAlgError):
            return 1e20, np.zeros_like(u)
        path.append(ll)
        if progress is not None:
            progress(len(path), ll)
        return -ll / n_cells, -grad * scale / n_cells

    n_iter = 0
    for attempt in range(3):
        with np.errstate(all="ignore"):
            res = minimize(f_and_g, theta0 / scale, jac=True, method="BFGS",
                           options={"maxiter": max_iter, "gtol": 1e-6})
        n_iter += res.nit
        theta = res.x * scale
        ll = space.loglik(theta)
        # accept BFGS's "precision loss" stop when a full Newton step would gain less than tol (relative)
        decrement = float(res.jac @ res.hess_inv @ res.jac) * n_cells if hasattr(res, "hess_inv") else np.inf
        converged = bool(res.success) or decrement < max(1e-3, tol * abs(ll))
        if converged or attempt == 2:
            break
        # BFGS's line search can stall where the likelihood is sharply curved; a few ECM steps (which cannot
        # go downhill) move it to better ground before BFGS tries again
        start = _fit_em(space, space.unpack(theta), 5, 0.0)[0]
        theta0, scale = space.pack(start), space.scale(space.pack(start))
    return space.unpack(theta), ll, converged, n_iter, np.array(path), str(res.message)


def _fit_em(space: _YieldStateSpace, start: ATSMParams, max_iter: int, tol: float, progress=None):
    theta = space.pack(start)
    b = space.blocks
    q_idx = np.concatenate([b["lam"], b["kinf"], b["chol"], b["logsig"]])
    path = []
    converged = False
    for iteration in range(max_iter + 1):
        ll, moments, _ = space.e_step(theta)
        path.append(ll)
        if progress is not None:
            progress(iteration, ll)
        if iteration > 0 and abs(path[-1] - path[-2]) < tol * abs(path[-2]):
            converged = True
            break
        if iteration == max_iter:
            break
        # CM-step 1: P-dynamics in closed form (OLS in expected moments; Omega does not enter it)
        Sxx, Sxz, Szz, n = moments[0]
        G = np.linalg.solve(Szz, Sxz.T).T
        theta = theta.copy()
        theta[b["K0P"]] = G[:, 0]
        theta[b["K1P"]] = G[:, 1:].ravel()
        # CM-step 2: Q-block numerically on the expected complete-data log-likelihood (a few BFGS steps suffice:
        # any increase keeps the ECM monotone, and the start is kept if nothing better is found)
        scale = space.scale(theta)[q_idx]
        base = space.ecdll(theta, moments)

        def negative(u, theta=theta):
            trial = theta.copy()
            trial[q_idx] = u * scale
            try:
                return -space.ecdll(trial, moments)
            except (ModelError, np.linalg.LinAlgError):
                return 1e20

        with np.errstate(all="ignore"):
            res = minimize(negative, theta[q_idx] / scale, method="BFGS", options={"maxiter": 30})
        if -res.fun > base:
            theta[q_idx] = res.x * scale
    return space.unpack(theta), path[-1], converged, len(path) - 1, np.array(path), (
        "relative change of the log-likelihood below tol" if converged else "max_iter reached")


# ----------------------------------------------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------------------------------------------
def _filled_for_start(Y: np.ndarray) -> np.ndarray:
    """A balanced panel for the JSZ start of kalman/em: blanks interpolated across maturities, then in time."""
    frame = pd.DataFrame(Y)
    frame = frame.interpolate(axis=1, limit_direction="both")
    return frame.ffill().bfill().to_numpy()


def fit_atsm(yields, maturities: Sequence | None = None, n_factors: int = 3, method: str = "jsz", *,
             yield_units: str = "auto", maturity_units: str = "auto", periods_per_year: int | None = None,
             measurement_error: str = "common", portfolios=None, start: ATSMParams | None = None,
             max_iter: int = 500,
             tol: float = 1e-9, progress: Callable[[int, float], None] | None = None):
    r"""Fit a Gaussian affine term structure model in JSZ canonical form to zero-coupon yields.

    Parameters
    ----------
    yields : dates x maturities: DataFrame, array, CSV/XLSX path or Excel range; blanks = missing.
    maturities : override the column labels (tenors like "3M", "10Y" or numbers in ``maturity_units``).
    n_factors : N, 1..5 (3 by default).
    method : "jsz" (default; portfolios priced exactly, balanced panel), "kalman" (exact MLE, all yields with
        error, missing cells allowed) or "em" (ECM on the kalman likelihood).
    yield_units : "auto", "percent" or "decimal"; maturity_units : "auto", "months" or "years".
    periods_per_year : the data frequency (default inferred from the dates; 12 for monthly).
    measurement_error : "common" (one sigma for all maturities) or "per_maturity" (kalman and em only).
    portfolios : the N yield portfolios that carry the factors: "pca" (default, the first N principal components)
        or N maturities priced exactly under "jsz" (e.g. ["6M", "2Y", "10Y"] as in JSZ's own code).
    start : starting parameters for kalman/em (default: the JSZ estimate on the panel with blanks filled).

    Returns
    -------
    :class:`~xlatsm.atsm.results.ATSMResult` with ``params``, ``loglik``, ``factors``, ``fitted_yields``,
    ``pricing_errors`` (RMSE, bp), ``term_premium``, ``expected_short_rate_path``, ``loadings()`` and
    ``summary()``; yields come back in the units they were given in.
    """
    from .results import ATSMResult

    t0 = time.perf_counter()
    panel = read_panel(yields, maturities, yield_units, maturity_units)
    _check(panel, n_factors, method, measurement_error)
    structure, notes = _structure(panel, n_factors, periods_per_year, portfolios)
    Y = panel.yields
    path = np.array([])
    if method == "jsz":
        params, loglik, converged, n_iter, message = _fit_jsz(Y, structure, progress)
        if measurement_error != "common":
            notes.append("jsz uses one measurement error sigma for all maturities")
    else:
        space = _YieldStateSpace(Y, structure, measurement_error)
        if start is not None and np.max(np.abs(np.linalg.eigvals(start.K1P))) >= 1:
            raise ModelError("the start values' P-dynamics K1P are not stationary (an eigenvalue has modulus >= 1): "
                             "start from a stationary K1P, or leave start=None for the JSZ start")
        if start is not None and start.structure.W.shape != structure.W.shape:
            raise ModelError("the start values were fitted to a different set of maturities or factors")
        if start is not None:
            start = replace(start, structure=structure)
        if start is None:
            start, *_ = _fit_jsz(_filled_for_start(Y), structure)
        if measurement_error == "per_maturity" and np.allclose(start.sigma_e, start.sigma_e[0]):
            start = _per_maturity_start(start, Y)
        fitter = _fit_kalman if method == "kalman" else _fit_em
        params, loglik, converged, n_iter, path, message = fitter(space, start, max_iter, tol, progress)
    if not converged:
        warnings.warn(f"ATSM fit ({method}) did not converge: {message}; raise max_iter or try another method",
                      ConvergenceWarning, stacklevel=2)
    return ATSMResult(params=params, panel=panel, method=method, loglik=float(loglik), converged=converged,
                      n_iter=int(n_iter), loglik_path=path, message=str(message), notes=notes,
                      measurement_error="common" if method == "jsz" else measurement_error,
                      seconds=time.perf_counter() - t0)


def _per_maturity_start(start: ATSMParams, Y: np.ndarray) -> ATSMParams:
    from dataclasses import replace

    ld = start.loadings()
    P = np.nan_to_num(_filled_for_start(Y)) @ start.structure.W.T
    resid = Y - ld.A_P - P @ ld.B_P.T
    sd = np.sqrt(np.nanmean(resid ** 2, axis=0))
    return replace(start, sigma_e=np.maximum(sd, 1e-3 * sd.max() + 1e-8))
