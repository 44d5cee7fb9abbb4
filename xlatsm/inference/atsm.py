r"""Standard errors and bands for the JSZ-canonical ATSM (methods ``jsz``, ``kalman``, ``em``).

Parameter vector theta (what is differentiated), in the identified JSZ rotation (:mod:`xlatsm.atsm.model`):

* ``jsz``: ``[q_free (N), k_inf^Q, chol (N(N+1)/2), K0P (N), K1P (N^2), log sigma]`` in the *full* JSZ
  log-likelihood over dates 2..T (conditional on the first date), not the concentrated one the estimator
  maximises: ``k_inf^Q`` and ``sigma`` (concentrated out in closed form) and ``K0P, K1P`` (OLS) are parameters
  here, so their uncertainty is counted. At the maximum the inverse information of the full likelihood has the
  concentrated likelihood's inverse information as its (q, chol) block (the profile-likelihood identity).
  **Held fixed**: the portfolio weights W (the sample's principal components, or the maturities named in
  ``portfolios``), hence the factors ``P_t = W y_t`` (priced exactly, observed without error), and the first date.

  .. math::

      \ell(\theta) = \sum_{t=2}^T \log N(P_t; K_0^P + K_1^P P_{t-1}, \Omega_P)
                   + \log N_{J-N}(y_t - A_P - B_P P_t; 0, \sigma^2 I)

* ``kalman`` and ``em`` (the same likelihood): ``theta`` of :class:`xlatsm.atsm.likelihood.YieldModel`
  (every yield with error, diffuse start, missing cells in the filter), Cholesky entries relative to the estimate.
  **Held fixed**: W, and measurement variances sitting on their floor (a Heywood case; their s.e. is reported 0).

Observed information: ``jsz`` by differences of log-likelihood values, ``kalman``/``em`` by central differences of
the exact (Fisher's identity) score, both in whitened coordinates (:mod:`xlatsm.inference.numdiff`). Robust
(sandwich) covariance ``H^-1 (sum_t s_t s_t') H^-1`` with per-date scores ``s_t`` (jsz: the terms above; kalman:
the prediction-error decomposition of the Kalman filter, the first date carrying the diffuse start).

Everything else (the parameter blocks of :meth:`ATSMResult.parameter_blocks`, term premia, expected short rates)
gets its standard error by the delta method along the same whitened coordinates. The smoothed factors of
kalman/em are functions of theta too (re-smoothed at every perturbed theta), and their own posterior variance
``Var(P_t | Y)`` is added to that of the term premium (independent of the parameters' to first order).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..atsm.likelihood import YieldModel
from ..atsm.model import ATSMParams
from ..atsm.params_vector import chol_to_free, free_to_chol, free_to_q, n_chol, q_to_free
from ..atsm.results import (_smooth, expected_short_rate_values, parameter_blocks_of, term_premium_factor_loading,
                            term_premium_values)
from ..data import maturities_to_years, years_to_label
from ..errors import EstimationError, InputError, ModelError
from .numdiff import CovarianceFactor, Information, information_from_score, information_from_values, whitened_jacobian

_LOG2PI = np.log(2 * np.pi)
_FAILURES = (ModelError, EstimationError, np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError)
BAND_METHODS = ("delta", "bootstrap")


# ----------------------------------------------------------------------------------------------------------------
# the likelihoods as functions of theta
# ----------------------------------------------------------------------------------------------------------------
class JSZLikelihood:
    """The full JSZ log-likelihood (module docstring) of a panel Y (T, J, decimals) in theta."""

    def __init__(self, Y: np.ndarray, estimate: ATSMParams):
        self.structure = s = estimate.structure
        self.N = N = s.n_factors
        self.Y = np.asarray(Y, float)
        self.J = self.Y.shape[1]
        self.P = self.Y @ s.W.T
        self.L_ref = np.asarray(estimate.Sigma_P, float)
        sizes = [N, 1, n_chol(N), N, N * N, 1]
        names = ["q", "kinf", "chol", "K0P", "K1P", "s"]
        self.blocks = dict(zip(names, np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])))
        self.n_params = sum(sizes)

    def pack(self, p: ATSMParams) -> np.ndarray:
        rel = np.tril(np.linalg.solve(self.L_ref, p.Sigma_P))
        return np.concatenate([q_to_free(p.q_coefs), [p.kinfQ], chol_to_free(rel), p.K0P, p.K1P.ravel(),
                               [np.log(p.sigma_e[0])]])

    def unpack(self, theta) -> ATSMParams:
        b, N = self.blocks, self.N
        return ATSMParams(q_coefs=free_to_q(theta[b["q"]]), kinfQ=float(theta[b["kinf"]][0]),
                          Sigma_P=self.L_ref @ free_to_chol(theta[b["chol"]], N), K0P=theta[b["K0P"]].copy(),
                          K1P=theta[b["K1P"]].reshape(N, N).copy(),
                          sigma_e=np.full(self.J, np.exp(theta[b["s"]][0])), structure=self.structure)

    def contributions(self, theta) -> np.ndarray:
        """(T-1,) log-likelihood of each date 2..T given the one before."""
        p = self.unpack(theta)
        N, J = self.N, self.J
        U = self.P[1:] - p.K0P - self.P[:-1] @ p.K1P.T
        Linv_U = np.linalg.solve(p.Sigma_P, U.T)
        logdet = 2 * np.sum(np.log(np.abs(np.diag(p.Sigma_P))))
        ll_p = -0.5 * (N * _LOG2PI + logdet + np.sum(Linv_U ** 2, axis=0))
        ld = p.loadings()
        R = self.Y[1:] - ld.A_P - self.P[1:] @ ld.B_P.T
        sigma2 = p.sigma_e[0] ** 2
        ll_q = -0.5 * ((J - N) * (_LOG2PI + np.log(sigma2)) + np.sum(R ** 2, axis=1) / sigma2)
        return ll_p + ll_q

    def loglik(self, theta) -> float:
        with np.errstate(all="ignore"):
            try:
                value = float(np.sum(self.contributions(theta)))
            except _FAILURES:
                return -np.inf
        return value if np.isfinite(value) else -np.inf

    def information(self, theta) -> Information:
        return information_from_values(self.loglik, theta, typical=_typical(theta, self.blocks),
                                       contributions=self.contributions)

    def factors(self, theta) -> np.ndarray:
        """The factors are observed (W y_t) whatever theta is."""
        return self.P


class KalmanLikelihood:
    """The kalman/em log-likelihood (:class:`~xlatsm.atsm.likelihood.YieldModel`) with its exact score."""

    def __init__(self, Y: np.ndarray, estimate: ATSMParams, measurement_error: str):
        self.Y = np.asarray(Y, float)
        self.model = self.make_model(self.Y, estimate, measurement_error)
        self.blocks = self.model.blocks
        self.n_params = self.model.n_params
        self.structure = estimate.structure

    @staticmethod
    def make_model(Y: np.ndarray, estimate, measurement_error: str):
        """The likelihood's model (a subclass swaps it: the continuous-time one)."""
        return YieldModel(Y, estimate.structure, measurement_error, estimate.Sigma_P)

    def pack(self, p: ATSMParams) -> np.ndarray:
        return self.model.pack(p)

    def unpack(self, theta) -> ATSMParams:
        return self.model.unpack(theta)

    def loglik(self, theta) -> float:
        try:
            value = self.model.loglik(theta)
        except _FAILURES:
            return -np.inf
        return float(value) if np.isfinite(value) else -np.inf

    def fixed(self, theta) -> np.ndarray:
        """Measurement variances on their floor are held fixed (the likelihood is flat below them)."""
        out = np.zeros(self.n_params, bool)
        at_floor = self.model.at_floor(theta)
        s = self.blocks["s"]
        out[s] = at_floor[:1] if len(s) == 1 else at_floor
        return out

    def information(self, theta, free: np.ndarray) -> Information:
        full = np.asarray(theta, float)

        def embed(x):
            z = full.copy()
            z[free] = x
            return z

        score = lambda x: self.model.score(embed(x))[1][free]  # noqa: E731
        H0 = self.model.hessian(full)[np.ix_(free, free)]
        return information_from_score(score, full[free], H0)

    def contributions(self, theta) -> np.ndarray:
        """(T,) prediction-error decomposition of the log-likelihood, the diffuse start's normalisation
        (-1/2 log det Omega_P, :mod:`xlatsm.atsm.collapsed`) on the first date."""
        from ..ssm.kalman import smooth

        p = self.unpack(theta)
        lg = p.as_lgssm()
        out = smooth(self.Y, lg.to_state_space(len(self.Y))).loglik_obs.copy()
        out[0] += lg.diffuse_loglik_correction()
        return out

    def factors(self, theta) -> np.ndarray:
        return _smooth(self.Y, self.unpack(theta)).states


def _typical(theta, blocks) -> np.ndarray:
    """Sizes that make 1e-4 of them a sensible first probe: decimals (K0P) are small, the rest of order one."""
    typical = np.maximum(np.abs(theta), 1e-2)
    typical[blocks["K0P"]] = np.maximum(np.abs(theta[blocks["K0P"]]), 1e-4)
    return typical


# ----------------------------------------------------------------------------------------------------------------
# the inference object
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class ATSMInference(CovarianceFactor):
    """Covariance of an ATSM fit's parameters and everything derived from it by the delta method.

    ``F`` (k, k): ``F F'`` is the covariance of ``theta`` (inverse observed information, or the sandwich with
    ``robust``); rows of ``fixed`` parameters are zero. ``notes`` say what is held fixed and how the information was
    computed; ``ok`` is False (and every standard error NaN) when the information is not positive definite."""

    result: object
    likelihood: object
    theta: np.ndarray
    F: np.ndarray
    information: Information
    robust: bool
    notes: list = field(default_factory=list)
    fixed: np.ndarray | None = None
    # the model's functions, class attributes so that a subclass (the continuous-time model) can swap them
    blocks_of = staticmethod(parameter_blocks_of)
    tp_values = staticmethod(term_premium_values)
    tp_loading = staticmethod(term_premium_factor_loading)

    @property
    def theta_names(self) -> list[str]:
        names = []
        for block, idx in self.likelihood.blocks.items():
            names += [f"{block}[{i}]" for i in range(len(idx))]
        return names

    def _columns(self) -> np.ndarray:
        """The columns of F that move theta (zero columns for fixed parameters are skipped)."""
        return self.F[:, np.any(self.F != 0, axis=0)] if self.ok else self.F

    def jacobian(self, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """(m, k) derivative of ``func(theta)`` along one standard error of each whitened direction: the delta
        method's covariance of func is ``J J'``."""
        return whitened_jacobian(func, self.theta, self._columns())

    def delta_std_errors(self, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        if not self.ok:
            return np.full(np.shape(func(self.theta)), np.nan)
        Jac = self.jacobian(func)
        return np.sqrt(np.sum(Jac ** 2, axis=1))

    # -- parameter blocks -----------------------------------------------------------------------------------
    def standard_errors(self) -> dict[str, pd.DataFrame]:
        """Standard errors of every entry of ``result.parameter_blocks()``: same keys, labels and units."""
        r = self.result
        template = r.parameter_blocks()
        shapes = [(name, frame.shape) for name, frame in template.items()]

        def flat(theta):
            try:
                blocks = self.blocks_of(self.likelihood.unpack(theta), r.scale, r.factor_names, r.panel.labels)
            except _FAILURES:
                return np.full(sum(a * b for _, (a, b) in shapes), np.nan)
            return np.concatenate([blocks[name].to_numpy(float).ravel() for name, _ in shapes])

        se = self.delta_std_errors(flat)
        out, start = {}, 0
        for name, (rows, cols) in shapes:
            values = se[start:start + rows * cols].reshape(rows, cols)
            start += rows * cols
            out[name] = pd.DataFrame(values, index=template[name].index, columns=template[name].columns)
        return out

    # -- term premia and expected short rates -----------------------------------------------------------------
    def _factor_var(self) -> np.ndarray:
        """(T, N, N) posterior variance of the factors at the estimate (zero for jsz)."""
        return self.result._smoothed[1]

    def term_premium_delta(self, periods: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(estimate (T,), standard error (T,)) of the term premium at ``periods`` (one maturity), decimals."""
        lik, p = self.likelihood, self.result.params
        X = self.result._smoothed[0]
        estimate = self.tp_values(p, X, periods)[:, 0]

        def tp(theta):
            try:
                return self.tp_values(lik.unpack(theta), lik.factors(theta), periods)[:, 0]
            except _FAILURES:
                return np.full(len(X), np.nan)

        se = self.delta_std_errors(tp)
        b = self.tp_loading(p, periods)[0]
        factor_var = np.einsum("i,tij,j->t", b, self._factor_var(), b)
        return estimate, np.sqrt(se ** 2 + np.maximum(factor_var, 0.0))

    def short_rate_delta(self, horizon: int, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(estimate (H+1,), standard error (H+1,)) of E_t[r_{t+h}], h = 0..horizon, at date index ``row``."""
        lik, p = self.likelihood, self.result.params
        X = self.result._smoothed[0]
        estimate = expected_short_rate_values(p, X[row:row + 1], horizon)[0]

        def esr(theta):
            try:
                return expected_short_rate_values(lik.unpack(theta), lik.factors(theta)[row:row + 1], horizon)[0]
            except _FAILURES:
                return np.full(horizon + 1, np.nan)

        se = self.delta_std_errors(esr)
        rho1 = p.q_dynamics()["rho1"]
        V = self._factor_var()[row]
        loads, factor_var = rho1.copy(), np.empty(horizon + 1)
        for h in range(horizon + 1):
            factor_var[h] = loads @ V @ loads
            loads = p.K1P.T @ loads
        return estimate, np.sqrt(se ** 2 + np.maximum(factor_var, 0.0))


def likelihood_of(result):
    """The likelihood object the result's estimator maximised (see the module docstring)."""
    method = getattr(result, "method", None)
    if method == "jsz":
        return JSZLikelihood(result.panel.yields, result.params)
    if method in ("kalman", "em"):
        return KalmanLikelihood(result.panel.yields, result.params, result.measurement_error)
    raise InputError(f"standard errors are not available for method {method!r}")


def atsm_inference(result, robust: bool = False, likelihood=None, cls=None) -> ATSMInference:
    """The observed information (and, with ``robust``, the sandwich) of a jsz/kalman/em fit at its estimate.
    ``likelihood``: the likelihood object to use instead of :func:`likelihood_of` (e.g. a continuous-time
    model's); ``cls``: the inference class to build (default :class:`ATSMInference`)."""
    cls = ATSMInference if cls is None else cls
    lik = likelihood_of(result) if likelihood is None else likelihood
    theta = lik.pack(result.params)
    notes = []
    if result.method == "jsz":
        info = lik.information(theta)
        fixed = np.zeros(len(theta), bool)
        notes.append("jsz: information of the full JSZ likelihood (k_inf^Q and sigma, concentrated out in the fit, "
                     "and the OLS K0_P, K1_P are parameters here); held fixed: the portfolio weights W, so the "
                     "factors W y_t are observed, and the first date")
    else:
        fixed = lik.fixed(theta)
        free = ~fixed
        info = lik.information(theta, free)
        notes.append(f"{result.method}: observed information of the exact Kalman log-likelihood by central "
                     "differences of its exact score; held fixed: the portfolio weights W")
        if fixed.any():
            notes.append("measurement variances on their floor are held fixed (standard error 0)")
    free = ~fixed
    k_free = int(free.sum())
    F_free = info.factor()
    if info.positive_definite and robust:
        scores = _per_date_scores(lik, theta, free, F_free)
        F_free = info.sandwich_factor(scores)
        notes.append("robust (sandwich) covariance H^-1 (sum_t s_t s_t') H^-1 with per-date scores s_t")
    if not info.positive_definite:
        notes.append(f"the observed information is not positive definite (smallest whitened eigenvalue "
                     f"{info.min_eigenvalue:.3g}): the estimate is not a strict maximum, standard errors are NaN")
    F = np.zeros((len(theta), k_free))
    F[free] = F_free
    return cls(result=result, likelihood=lik, theta=theta, F=F, information=info, robust=robust,
                         notes=notes, fixed=fixed)


def _per_date_scores(lik, theta, free, F_free) -> np.ndarray:
    """(n_dates, k) d loglik_t / du along the columns of F (one standard error each) by central differences."""
    def contributions(x):
        z = theta.copy()
        z[free] = x
        return lik.contributions(z)

    return whitened_jacobian(contributions, theta[free], F_free)


# ----------------------------------------------------------------------------------------------------------------
# bands: helpers the result methods call
# ----------------------------------------------------------------------------------------------------------------
def check_level(level: float) -> float:
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise InputError(f"level must be a number between 0 and 1 (e.g. 0.9), not {level!r}") from None
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be between 0 and 1 (e.g. 0.9 for 90% bands), not {level!r}")
    return level


def maturity_periods(result, maturity) -> tuple[np.ndarray, str]:
    years, _ = maturities_to_years([maturity], "years")
    dt = result.params.structure.dt
    periods = np.array([round(float(years[0]) / dt)])
    if periods[0] < 1:
        raise InputError(f"maturity {maturity!r} is shorter than one data period")
    return periods, years_to_label(float(periods[0]) * dt)


def band_frame(index, estimate, lower, upper, se, *, units: str, level: float, method: str, what: str,
               notes: list, date=None) -> pd.DataFrame:
    frame = pd.DataFrame({"estimate": estimate, "lower": lower, "upper": upper, "std_error": se}, index=index)
    frame.attrs.update({"units": units, "level": level, "method": method, "what": what, "notes": list(notes)})
    if date is not None:
        frame.attrs["date"] = str(date)
    return frame


def z_value(level: float) -> float:
    return float(norm.ppf(0.5 + level / 2))


def progress_reporter(progress, total: int, what: str):
    """(update(), close()): a tqdm bar on stderr for ``progress=True``, ``progress(done, total)`` for a callable,
    nothing for False/None."""
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=what, file=sys.stderr, leave=False)
        return (lambda: bar.update(1)), bar.close
    if callable(progress):
        state = {"done": 0}

        def update():
            state["done"] += 1
            progress(state["done"], total)

        return update, (lambda: None)
    return (lambda: None), (lambda: None)


__all__ = ["JSZLikelihood", "KalmanLikelihood", "ATSMInference", "atsm_inference", "likelihood_of",
           "BAND_METHODS"]
