r"""Estimators of the JSZ-canonical Gaussian ATSM (equations in :mod:`xlatsm.atsm.model`).

* ``"auto"`` (default): ``"jsz"`` when every cell of the panel is there, else ``"kalman"``; the summary says which
  ran and why (``result.method`` is the one that ran, ``result.method_requested`` the one asked for).
* ``"jsz"``: the N portfolios ``P_t = W y_t`` are priced exactly, the other J-N directions with iid
  N(0, sigma^2) errors (Joslin, Singleton and Zhu 2011). ``K_0^P, K_1^P`` are OLS (exactly the conditional MLE),
  ``k_inf^Q`` and ``sigma`` are concentrated out in closed form, and only ``lambda^Q`` and ``Sigma_P`` are
  optimised numerically, from several deterministic starts. ``Sigma_P = L_OLS L(c)`` is a Cholesky factor relative
  to the OLS one (log diagonal), so the search space is unit-free. Needs a balanced panel.
* ``"kalman"``: exact maximum likelihood with every yield observed with error, ``y_t = A_P + B_P P_t + e_t``,
  through the Kalman filter run in the collapsed N-dimensional space (:mod:`xlatsm.atsm.collapsed`; missing
  cells allowed, diffuse start). The score is exact and cheap (Fisher's identity, :mod:`xlatsm.atsm.likelihood`).
* ``"em"``: an ECM on the same likelihood. E-step: the collapsed Kalman smoother. CM-steps: ``K_0^P, K_1^P`` by
  OLS in expected moments (closed form, whatever Omega_P is), then ``(lambda^Q, k_inf^Q, Sigma_P, sigma)``
  numerically on the expected complete-data log-likelihood; accelerated by SQUAREM, safeguarded so that the
  log-likelihood never decreases.

Every numerical search is the preconditioned, guarded maximiser of :mod:`xlatsm.atsm.optim` (whitened
coordinates, restarts at the answer, a Newton-decrement stopping rule): it reaches the optimum in every direction
for N = 1..5 and never returns a point worse than its start or a non-finite log-likelihood.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..data import YieldPanel, read_panel
from ..errors import ConvergenceWarning, EstimationError, InputError, ModelError
from .likelihood import YieldModel, bounded_memo, q_only_loadings
from .model import ATSMParams, ATSMStructure, kinf_on_largest_root, portfolio_weights, roots_to_q
from .optim import curvature_steps, fd_hessian, maximise
from .params_vector import chol_to_free, free_to_chol, free_to_q, n_chol, q_to_free

METHODS = ("jsz", "kalman", "em")
MEASUREMENT_ERRORS = ("common", "per_maturity")
YIELD_UNITS_BP = ("bp", "basis points")
_LOG2PI = np.log(2 * np.pi)
_MAX_CELLS = 5e7


# ----------------------------------------------------------------------------------------------------------------
# set-up: period length, maturities in periods, checks
# ----------------------------------------------------------------------------------------------------------------
def infer_periods_per_year(dates: pd.Index) -> tuple[int, str]:
    """(periods per year, note) by the data layer's frequency rule (:func:`xlatsm.data.dates.infer_frequency`:
    business-daily 252, weekly 52, monthly 12, quarterly 4, annual 1, from the median date spacing)."""
    from ..data.dates import infer_frequency

    if not isinstance(dates, pd.DatetimeIndex) or len(dates) < 2:
        return 12, "assumed monthly (no dates given)"
    days = float(np.median(np.diff(dates.values).astype("timedelta64[s]").astype(float)) / 86400.0)
    try:
        found = infer_frequency(dates)
    except InputError as exc:
        raise InputError(f"{exc}, or pass periods_per_year") from None
    return found.periods_per_year, f"{found.name} (median spacing {days:g} days)"


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
    if method not in METHODS + ("auto",):
        raise InputError(f"method must be 'auto' or one of {METHODS}, not {method!r}")
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
                         "have blanks: use method='kalman' or 'em' (they handle missing cells; 'auto', the default, "
                         "picks kalman), or trim the sample")
    if T * J > _MAX_CELLS:
        raise InputError(f"{T} dates x {J} maturities is more than xlatsm fits in memory ({_MAX_CELLS:.0e} cells): "
                         "select fewer maturities (columns) or a shorter sample")


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


class _JSZObjective:
    """log-likelihood of the JSZ model in theta = [q_free (N), c (N(N+1)/2)], ``Sigma_P = L_ref L(c)``, with
    ``k_inf`` and ``sigma`` concentrated out (closed form): the P part is the Gaussian VAR likelihood of the
    OLS residuals U, the Q part that of the J-N pricing-error directions, over dates 2..T (conditional on the
    first)."""

    def __init__(self, structure: ATSMStructure, Y: np.ndarray):
        self.structure = structure
        self.N = N = structure.n_factors
        self.Y = Y
        self.P = P = Y @ structure.W.T
        self.K0P, self.K1P, U = _var_ols(P)
        self.UU = U.T @ U
        self.T1, self.J = len(Y) - 1, Y.shape[1]
        self.L_ref = np.linalg.cholesky(self.UU / self.T1)
        self._tril, self._diag = np.tril_indices(N), np.diag_indices(N)
        self._cache: dict = {}
        # sufficient statistics of the pricing errors r_t = y_t - A - B P_t over dates 2..T, in deviations from
        # the means (the sums of squares are then taken without cancelling the yields' levels): the objective
        # costs O(J N^2) per evaluation instead of O(T J N)
        # Since P = W y and W B = I (W has orthonormal rows), the centred error is
        # r~_t = e_t + (W' - B) p~_t with e_t = y~_t - W'p~_t the yields outside the portfolios' span: every
        # term below is of the size of the pricing errors themselves, so no level cancels (that would cost
        # ~1e-8 of log-likelihood precision when N = 5 prices the curve to a fraction of a basis point)
        Y1, P1 = Y[1:], P[1:]
        self.y_mean, self.p_mean = Y1.mean(0), P1.mean(0)
        Yc, Pc = Y1 - self.y_mean, P1 - self.p_mean
        E = Yc - Pc @ structure.W
        self.See = float(np.sum(E ** 2))
        self.Sep = E.T @ Pc            # (J, N)
        self.Spp = Pc.T @ Pc           # (N, N)

    def q_part(self, q_free):
        """What depends on the Q-eigenvalues alone (:func:`xlatsm.atsm.likelihood.q_only_loadings`) and the
        centred sum of squared pricing errors, cached between calls (a search, its finite differences in the
        Cholesky entries and its Hessians revisit the same q many times)."""
        def make():
            alpha, B, A0, G = q_only_loadings(q_free, self.structure)
            D = self.structure.W.T - B
            centred = self.See + 2 * np.sum(self.Sep * D) + np.sum((D @ self.Spp) * D)
            return alpha, B, A0, G, centred

        return bounded_memo(self._cache, q_free, make)

    def chol(self, c):
        L = np.zeros((self.N, self.N))
        L[self._tril] = c
        L[self._diag] = np.exp(L[self._diag])
        return self.L_ref @ L

    def evaluate(self, theta):
        N, T1, J = self.N, self.T1, self.J
        L = self.chol(theta[N:])
        Omega = L @ L.T
        # A_P is affine in k_inf and in Omega_P (through the convexity term): the rest depends on q alone
        alpha, B, A0, G, centred = self.q_part(theta[:N])
        A_P = A0 + np.einsum("jkl,kl->j", G, Omega)
        # r_t = (y_t - ybar) - B (P_t - pbar) + m with m = ybar - A_0 - B pbar - k_inf alpha: the centred part and
        # the mean are orthogonal, and k_inf minimises |m|^2 (least squares on alpha)
        m0 = self.y_mean - A_P - B @ self.p_mean
        kinf = float(m0 @ alpha / (alpha @ alpha))
        m = m0 - kinf * alpha
        sigma2 = float((centred + T1 * (m @ m)) / (T1 * (J - N)))
        if not sigma2 > 0:
            raise FloatingPointError("non-positive residual variance")
        ll_q = -0.5 * T1 * (J - N) * (_LOG2PI + np.log(sigma2) + 1.0)
        logdet = 2 * np.sum(np.log(np.abs(np.diag(L))))
        ll_p = -0.5 * T1 * (N * _LOG2PI + logdet) - 0.5 * np.trace(np.linalg.solve(Omega, self.UU))
        return ll_p + ll_q, kinf, np.sqrt(sigma2)

    def loglik(self, theta) -> float:
        with np.errstate(all="ignore"):
            try:
                value = self.evaluate(theta)[0]
            except (ModelError, np.linalg.LinAlgError, FloatingPointError, ValueError):
                return -np.inf
        return float(value) if np.isfinite(value) else -np.inf

    def params(self, theta) -> ATSMParams:
        _, kinf, sigma = self.evaluate(theta)
        return ATSMParams(q_coefs=free_to_q(theta[:self.N]), kinfQ=kinf, Sigma_P=self.chol(theta[self.N:]),
                          K0P=self.K0P, K1P=self.K1P, sigma_e=np.full(self.J, sigma), structure=self.structure)

    def curvature(self, theta):
        f = lambda x: -self.loglik(x)  # noqa: E731
        steps = curvature_steps(f, theta, np.ones(len(theta)))
        return fd_hessian(f, theta, steps)


def _fit_jsz(Y: np.ndarray, structure: ATSMStructure, progress=None, max_iter: int = 2000, tol: float = 1e-9,
             search_tol: float | None = None, start: ATSMParams | None = None):
    """(params, loglik, converged, n_iter, message, start_loglik, path). ``start``: one search from its
    Q-eigenvalues and Sigma_P (a warm start, e.g. a neighbouring window's estimate in the same portfolio
    coordinates) instead of the deterministic starts."""
    obj = _JSZObjective(structure, Y)
    N = structure.n_factors
    # the objective is cheap, and the fastest Q-eigenvalue often sits in a flat direction (moving it by 1e-6
    # changes the log-likelihood by ~1e-7): search to a tighter tolerance than asked, so that such digits settle
    accept_tol, tol = tol, (min(tol, 1e-11) if search_tol is None else search_tol)
    zero_chol = np.zeros(n_chol(N))
    starts = [np.concatenate([q_to_free(roots_to_q(lam)), zero_chol]) for lam in _lam_starts(N)]
    if start is not None:
        # Sigma_P = L_ref L(c): c from the start's Cholesky factor relative to the OLS one
        relative = np.linalg.solve(obj.L_ref, np.linalg.cholesky(start.Omega_P))
        starts = [np.concatenate([q_to_free(start.q_coefs), chol_to_free(relative)])]
    scored = sorted(starts, key=lambda th: -obj.loglik(th))[:3]
    fg = lambda th: (obj.loglik(th), None)  # noqa: E731
    # screen every start with a short search, then refine the best one to convergence
    best, n_iter = None, 0
    for i, theta0 in enumerate(scored):
        if not np.isfinite(obj.loglik(theta0)):
            continue
        res = maximise(fg, theta0, obj.curvature, max_iter=min(60, max_iter), tol=tol, max_restarts=1,
                       accept_tol=accept_tol, fd_coordinates="raw")
        n_iter += res.n_iter
        if progress is not None:
            progress(i + 1, res.loglik)
        if best is None or res.loglik > best.loglik:
            best = res
    if best is not None and not best.converged and n_iter < max_iter:
        path = best.path
        best = maximise(fg, best.x, obj.curvature, max_iter=max_iter - n_iter, tol=tol, accept_tol=accept_tol,
                        fd_coordinates="raw")
        n_iter += best.n_iter
        best.path = path + best.path[1:]
    if best is None:
        raise EstimationError("the JSZ likelihood is not finite at any starting value: check the yields' units "
                              "(yield_units) and that the panel is a zero-coupon curve")
    # the start is that of the winning search (the best deterministic start scores no higher than its answer);
    # k_inf^Q is reported on the largest real Q-root whichever root the search attached it to (same likelihood)
    return (kinf_on_largest_root(obj.params(best.x)), best.loglik, best.converged, n_iter, best.message,
            best.path[0], best.path)


# ----------------------------------------------------------------------------------------------------------------
# Kalman and EM: every yield observed with error
# ----------------------------------------------------------------------------------------------------------------
def _fit_kalman(model: YieldModel, start: ATSMParams, max_iter: int, tol: float, progress=None):
    res = maximise(model.score, model.pack(start), model.information, max_iter=max_iter, tol=tol,
                   progress=progress, exact_curvature=model.hessian)
    return res.x, res.loglik, res.converged, res.n_iter, np.array(res.path), res.message, res.start_loglik


def _m_step(model: YieldModel, theta: np.ndarray, m, free: np.ndarray) -> np.ndarray:
    """One ECM M-step from the moments m of theta's E-step: the P-dynamics by OLS in expected moments (the
    maximiser whatever Omega_P is), then the rest on the expected complete-data log-likelihood (no filtering:
    cheap) by the preconditioned quasi-Newton search, which never lowers it."""
    b = model.blocks
    theta = theta.copy()
    G = np.linalg.solve(m.Szz, m.Sxz.T).T
    theta[b["K0P"]] = G[:, 0]
    theta[b["K1P"]] = G[:, 1:].ravel()
    base = theta.copy()

    def fg(x):
        full = base.copy()
        full[free] = x
        return model.ecdll(full, m), model.ecdll_grad_info(full, m)[free]

    def curvature(x):
        full = base.copy()
        full[free] = x
        return model.ecdll_grad_info(full, m, info=True)[1][np.ix_(free, free)]

    try:
        theta[free] = maximise(fg, base[free], curvature, max_iter=50, tol=1e-12, max_restarts=1).x
    except EstimationError:
        pass
    return theta


def _newton_decrement(model: YieldModel, theta: np.ndarray) -> float:
    """g' H^-1 g of the observed log-likelihood at theta (H: differences of the analytic score, |eigenvalues|)."""
    from .optim import whitening

    _, g = model.score(theta)
    T = whitening(model.hessian(theta))
    gu = T.T @ g
    return float(gu @ gu)


def _fit_em(model: YieldModel, start: ATSMParams, max_iter: int, tol: float, progress=None):
    """ECM, accelerated by SQUAREM (Varadhan and Roland 2008) and safeguarded so that it stays monotone.

    One cycle from theta0: two EM steps theta0 -> theta1 -> theta2, the extrapolation
    ``x = theta0 - 2 a r + a^2 v`` (``r = theta1 - theta0``, ``v = theta2 - 2 theta1 + theta0``,
    ``a = -|r|/|v|``, at most -1) and one EM step from x; that point is accepted when its log-likelihood is at
    least theta2's, else the cycle ends at theta2 (plain EM, which cannot fall). Plain EM creeps when the factors
    carry much missing information (rates of 0.99 and more on short panels); the extrapolation removes most of
    that. ``loglik_path`` holds the accepted iterates only (never decreasing); an iteration is one E-step at an
    accepted point. Convergence: the gain of a cycle below ``tol |loglik|``, confirmed by the Newton decrement of
    the observed log-likelihood (exact curvature) below ``2 tol |loglik|``.
    """
    theta = model.pack(start)
    b = model.blocks
    free = np.concatenate([b["q"], b["kinf"], b["chol"], b["s"]])
    failures = (ModelError, EstimationError, np.linalg.LinAlgError, ValueError, FloatingPointError)
    ll, m = model.e_step(theta)
    path = [ll]
    converged, message, next_check, failed_checks = False, "max_iter reached", 0, 0

    def accept(value):
        path.append(value)
        if progress is not None:
            progress(len(path) - 1, value)

    while len(path) - 1 < max_iter:
        before = ll
        try:
            th1 = _m_step(model, theta, m, free)
            ll1, m1 = model.e_step(th1)
        except failures:
            message = "an EM step failed (the filter broke down at the M-step's parameters)"
            break
        if not ll1 >= ll:     # an exact EM step cannot fall: this is rounding at the optimum
            ll1, th1, m1 = ll, theta, m
        else:
            accept(ll1)
        th0, theta, ll, m = theta, th1, ll1, m1
        if len(path) - 1 < max_iter:
            try:
                th2 = _m_step(model, th1, m1, free)
                ll2, m2 = model.e_step(th2)
            except failures:
                th2 = None
            if th2 is not None and ll2 >= ll1:
                best = (th2, ll2, m2)
                r, v = th1 - th0, th2 - 2 * th1 + th0
                norm_v = np.linalg.norm(v)
                alpha = min(-np.linalg.norm(r) / norm_v, -1.0) if norm_v > 0 else -1.0
                if alpha < -1.0:
                    try:
                        x = th0 - 2 * alpha * r + alpha ** 2 * v
                        _, mx = model.e_step(x)
                        th3 = _m_step(model, x, mx, free)
                        ll3, m3 = model.e_step(th3)
                        if np.isfinite(ll3) and ll3 >= ll2:
                            best = (th3, ll3, m3)
                    except failures:
                        pass
                theta, ll, m = best
                accept(ll)
        if ll - before <= tol * abs(ll) and len(path) - 1 >= next_check:
            try:
                decrement = _newton_decrement(model, theta)
            except failures:
                decrement = np.inf
            if decrement <= 2 * tol * max(1.0, abs(ll)):
                converged, message = True, "Newton decrement below tol"
                break
            failed_checks += 1
            if ll - before <= 0 or failed_checks >= 3:
                # creeping: the likelihood still promises a gain the EM steps cannot take (a ridge, or a
                # likelihood that keeps rising towards a degenerate limit)
                message = (f"the EM gains less than tol per cycle but the Newton decrement is {decrement:.3g}: "
                           "it is creeping; method='kalman' may get further")
                break
            next_check = len(path) - 1 + 10
    return theta, path[-1], converged, len(path) - 1, np.array(path), message, path[0]


# ----------------------------------------------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------------------------------------------
def _filled_for_start(Y: np.ndarray) -> np.ndarray:
    """A balanced panel for the JSZ start of kalman/em: blanks interpolated across maturities, then in time."""
    frame = pd.DataFrame(Y)
    frame = frame.interpolate(axis=1, limit_direction="both")
    return frame.ffill().bfill().to_numpy()


def _kalman_start(Y: np.ndarray, structure: ATSMStructure, measurement_error: str, tol: float):
    """The best (by the Kalman log-likelihood) of the JSZ fits on the filled panel and on its complete rows."""
    # (a start only has to be good, not exact: the Kalman search does the rest)
    candidates = [_fit_jsz(_filled_for_start(Y), structure, tol=1e-6, search_tol=1e-7)[0]]
    complete = ~np.isnan(Y).any(axis=1)
    if not complete.all() and complete.sum() >= max(24, 6 * structure.n_factors):
        try:
            candidates.append(_fit_jsz(Y[complete], structure, tol=1e-6, search_tol=1e-7)[0])
        except EstimationError:
            pass
    best, best_ll = None, -np.inf
    for candidate in candidates:
        if measurement_error == "per_maturity":
            candidate = _per_maturity_start(candidate, Y)
        model = YieldModel(Y, structure, measurement_error, candidate.Sigma_P)
        try:
            ll = model.loglik(model.pack(candidate))
        except (EstimationError, ModelError, np.linalg.LinAlgError, ValueError):
            continue
        if ll > best_ll:
            best, best_ll = candidate, ll
    if best is None:
        raise EstimationError("the Kalman log-likelihood is not finite at the JSZ start: pass start= with "
                              "parameters of your own, or use fewer factors")
    return best


def _read(yields, maturities, yield_units, maturity_units):
    """read_panel, plus yields in basis points (yield_units='bp'): read as decimals / 1e4."""
    if isinstance(yield_units, str) and yield_units.lower() in YIELD_UNITS_BP:
        panel = read_panel(yields, maturities, "decimal", maturity_units)
        return replace(panel, yields=panel.yields / 1e4, yield_units="bp",
                       notes=[n.replace("yields read as decimal", "yields read as bp") for n in panel.notes])
    return read_panel(yields, maturities, yield_units, maturity_units)


def _set_up(yields, maturities, n_factors: int, method: str, measurement_error: str, yield_units: str,
            maturity_units: str, periods_per_year, portfolios):
    """The panel read and checked, its JSZ structure, the notes so far and the estimator that will run
    ("auto": jsz on a complete panel, kalman when cells are blank, said in the first note). Shared by the
    discrete and the continuous-time fits."""
    panel = _read(yields, maturities, yield_units, maturity_units)
    _check(panel, n_factors, method, measurement_error)
    structure, notes = _structure(panel, n_factors, periods_per_year, portfolios)
    if method == "auto":
        blank = int(np.isnan(panel.yields).sum())
        method = "kalman" if blank else "jsz"
        cells = "1 cell is" if blank == 1 else f"{blank} cells are"
        notes.insert(0, f"method auto -> kalman: {cells} blank; jsz needs a complete panel" if blank else
                     "method auto -> jsz: the panel is complete (N portfolios priced exactly)")
    return panel, structure, notes, method


def fit_atsm(yields, maturities: Sequence | None = None, n_factors: int = 3, method: str = "auto", *,
             yield_units: str = "auto", maturity_units: str = "auto", periods_per_year: int | None = None,
             measurement_error: str = "common", portfolios=None, start: ATSMParams | None = None,
             max_iter: int = 500, tol: float = 1e-9, progress: Callable[[int, float], None] | None = None):
    r"""Fit a Gaussian affine term structure model in JSZ canonical form to zero-coupon yields.

    Parameters
    ----------
    yields : dates x maturities: DataFrame, array, CSV/XLSX path or Excel range; blanks = missing.
    maturities : override the column labels (tenors like "3M", "10Y" or numbers in ``maturity_units``).
    n_factors : N, 1..5 (3 by default).
    method : "auto" (default: "jsz" on a complete panel, "kalman" when cells are blank), "jsz" (portfolios
        priced exactly, balanced panel), "kalman" (exact MLE, all yields with error, missing cells allowed) or
        "em" (ECM on the kalman likelihood).
    yield_units : "auto", "percent", "decimal" or "bp" (basis points); maturity_units : "auto", "months" or
        "years".
    periods_per_year : the data frequency (default inferred from the dates; 12 for monthly).
    measurement_error : "common" (one sigma for all maturities) or "per_maturity" (kalman and em only; each
        variance is kept above 1e-6 of its maturity's variance, and a variance on that floor is flagged).
    portfolios : the N yield portfolios that carry the factors: "pca" (default, the first N principal components)
        or N maturities priced exactly under "jsz" (e.g. ["6M", "2Y", "10Y"] as in JSZ's own code).
    start : starting parameters for kalman/em (default: the better, by the Kalman likelihood, of the JSZ
        estimates on the panel with blanks filled and on its complete dates); for jsz, one search from its
        Q-eigenvalues and Sigma_P instead of the deterministic starts (a warm start; no guarantee of the global
        optimum the deterministic starts look for).
    max_iter : accepted iterations of the quasi-Newton search (kalman, jsz) or of the EM.
    progress : called as ``progress(iteration, loglik)`` at every accepted iterate (jsz: after the search from
        each starting value).
    tol : convergence: the log-likelihood a Newton step would still gain (half the Newton decrement) below
        ``tol * |loglik|`` (for em, once a whole EM cycle gains less than that).

    Returns
    -------
    :class:`~xlatsm.atsm.results.ATSMResult` with ``params``, ``loglik``, ``flags``, ``factors``,
    ``fitted_yields``, ``pricing_errors`` (RMSE, bp), ``term_premium``, ``expected_short_rate_path``,
    ``loadings()`` and ``summary()``; yields come back in the units they were given in.
    """
    from .results import ATSMResult, diagnose

    t0 = time.perf_counter()
    requested = method
    panel, structure, notes, method = _set_up(yields, maturities, n_factors, method, measurement_error, yield_units,
                                              maturity_units, periods_per_year, portfolios)
    Y = panel.yields
    path = np.array([])
    at_floor = np.zeros(Y.shape[1], bool)
    if method == "jsz":
        if start is not None and start.structure.W.shape != structure.W.shape:
            raise ModelError("the start values were fitted to a different set of maturities or factors")
        params, loglik, converged, n_iter, message, start_ll, jpath = _fit_jsz(Y, structure, progress, max_iter, tol,
                                                                               start=start)
        path = np.array(jpath)
        if measurement_error != "common":
            notes.append("jsz uses one measurement error sigma for all maturities")
        notes.append("jsz prices the N portfolios exactly: the factors are observed (W y_t), so their standard "
                     "errors are zero by construction; method='kalman' gives filtering uncertainty")
    else:
        if start is not None and np.max(np.abs(np.linalg.eigvals(start.K1P))) >= 1:
            raise ModelError("the start values' P-dynamics K1P are not stationary (an eigenvalue has modulus >= 1): "
                             "start from a stationary K1P, or leave start=None for the JSZ start")
        if start is not None and start.structure.W.shape != structure.W.shape:
            raise ModelError("the start values were fitted to a different set of maturities or factors")
        if start is not None:
            start = replace(start, structure=structure)
            if measurement_error == "per_maturity" and np.allclose(start.sigma_e, start.sigma_e[0]):
                start = _per_maturity_start(start, Y)
        else:
            start = _kalman_start(Y, structure, measurement_error, tol)
        model = YieldModel(Y, structure, measurement_error, start.Sigma_P)
        fitter = _fit_kalman if method == "kalman" else _fit_em
        theta, loglik, converged, n_iter, path, message, start_ll = fitter(model, start, max_iter, tol, progress)
        params = kinf_on_largest_root(model.unpack(theta))     # the same model, k_inf^Q on the largest root
        at_floor = model.at_floor(theta)
    if not converged:
        warnings.warn(f"ATSM fit ({method}) did not converge: {message}; raise max_iter or try another method",
                      ConvergenceWarning, stacklevel=2)
    result = ATSMResult(params=params, panel=panel, method=method, loglik=float(loglik), converged=converged,
                        n_iter=int(n_iter), loglik_path=np.asarray(path, float), message=str(message), notes=notes,
                        measurement_error="common" if method == "jsz" else measurement_error,
                        seconds=time.perf_counter() - t0, method_requested=requested, start_loglik=float(start_ll))
    result.flags = diagnose(result, at_floor)
    return result


def _per_maturity_start(start: ATSMParams, Y: np.ndarray) -> ATSMParams:
    ld = start.loadings()
    P = np.nan_to_num(_filled_for_start(Y)) @ start.structure.W.T
    resid = Y - ld.A_P - P @ ld.B_P.T
    sd = np.sqrt(np.nanmean(resid ** 2, axis=0))
    return replace(start, sigma_e=np.maximum(sd, 1e-3 * sd.max() + 1e-8))
