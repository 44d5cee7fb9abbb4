r"""Exact EM for the LGSSM with VAR(L) factors (equations in :mod:`xlatsm.ssm.params`).

E-step: one Kalman smoother pass. With estimated first factors (a proper start, no diffuse periods) it runs on the
kL companion state and reads the lag-one smoothed autocovariance ``Cov(s_t, s_{t-1}|Y)``; with a diffuse start
it runs on the companion state carrying one lag more than the VAR needs, ``s_t = (x_t, x_{t-1}, ..., x_{t-L})``,
whose smoothed mean and covariance give, in one block matrix, every moment of the VAR(L) regression of ``x_t`` on
``(x_{t-1}, ..., x_{t-L})`` (statsmodels returns the lag-one autocovariance wrongly during exact-diffuse periods;
taking it from the wrong index is the bug that made the original notebooks' likelihood fall).

M-step, closed form:

* state equation: GLS = OLS of ``x_t`` on ``z_t = (1, x_{t-1}, ..., x_{t-L})`` in expected sufficient statistics,
  ``[d, A_1..A_L] = S_xz S_zz^{-1}``, ``Q = (S_xx - G S_zx - S_xz G' + G S_zz G') / (n-1)``;
* observation equation: the missing cells of ``y_t`` are treated as latent too. Given ``x_t`` and the observed
  cells, a missing block is ``y_m = c_m + C_m x + K (y_o - c_o - C_o x) + eta`` with ``K = R_mo R_oo^{-1}``
  (zero for diagonal R), so every completed ``y_t`` is affine in ``x_t`` and ``[c, C]`` is the OLS of the completed
  ``y`` on ``(1, x_t)`` (all equations share regressors, so OLS = GLS whatever R is); ``R`` is the expected
  residual second moment S (its diagonal when R is diagonal; ``sigma^2 = tr(S) / p`` when R = sigma^2 I, the
  argmax of ``-n p/2 log sigma^2 - n tr(S) / (2 sigma^2)``).

Each block maximises the expected complete-data log-likelihood exactly (conditionally on the fixed blocks when the
user fixes some), so the observed-data log-likelihood never decreases. With a diffuse start the prior of the first L
factor blocks is flat in units of Q (``N(0, kappa Q)``, kappa -> inf), which keeps the diffuse likelihood invariant
to rotations of the factors (with a flat prior in raw units it is not: rescaling the factors raises it without
bound, and EM drifts along that direction forever); it adds ``-(L/2) log det Q`` to the complete-data
log-likelihood, so the Q-update divides by ``n + L``. With ``initial_state="estimated"`` (the default) the first L
factors x_1..x_L are parameters: the likelihood is p(y | x_1..x_L, theta), rotation-invariant and free of any prior,
and a third CM-step updates them by weighted least squares from the same E-step (an ECM, still monotone).

Around the EM (:func:`fit_lgssm`):

* the data are standardised, ``y* = (y - mean) / s`` with one global scale, and the parameters mapped back exactly,
  so no result depends on the data's units and the filter's absolute tolerances always meet numbers of order one;
* over-relaxation (Salakhutdinov and Roweis 2003) accelerates the slow EM climb; an extrapolated point is kept only
  if its log-likelihood is higher, so every reported iterate raises the log-likelihood;
* a step that would lower the log-likelihood by more than the filter's precision stops the fit at the best iterate
  with a ``not_converged`` flag; degenerate answers (variances on their floors, explosive factor VARs) are flagged
  (:mod:`xlatsm.diagnostics`), and non-finite results raise :class:`~xlatsm.errors.EstimationError`.

Variances are kept above small floors by clipping (the exact constrained maximiser), so a measurement variance
that wants to collapse to zero (a "Heywood case", common for yield curves) stays positive; such a fit is flagged
``heywood``.
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Callable, Mapping

import numpy as np

from ..data import Observations, read_observations
from ..diagnostics import Flag
from ..errors import ConvergenceWarning, EstimationError, InputError
from ..threads import single_blas_thread
from . import kernel
from .kalman import KalmanSmootherRunner, SmoothedStates
from .kernel import KernelSmoother
from .params import LGSSMParams, _sym
from .results import LGSSMResult, SmoothResult

_FIXABLE = ("A", "C", "Q", "R", "state_intercept", "obs_intercept")
INITIAL_STATES = ("diffuse", "estimated")
MEASUREMENT_ERRORS = ("diagonal", "common", "full")
# over-relaxation: eta doubles while extrapolations succeed; after a failure the next try starts from half the
# failed eta (not from 2: measured 5.6x fewer E-steps on GSW bp changes, diffuse, about 20% more on Liu-Wu k = 4)
_ETA_GROW, _ETA_MAX, _ETA_BACKOFF = 2.0, 1024.0, 2.0


# ----------------------------------------------------------------------------------------------------------------
# M-step pieces
# ----------------------------------------------------------------------------------------------------------------
def _regression_update(Syy, Syz, Szz, n, intercept=True, coef_fixed_part=None):
    """OLS in expected moments. Regressors z = (1, w) when ``intercept`` else w. Returns (G, residual moment / n).

    ``coef_fixed_part`` (rows x dim w) fixes the slope block: only the intercept is then estimated.
    """
    if coef_fixed_part is not None:
        W = coef_fixed_part
        if intercept:
            # z = (1, w): intercept = (E y - W E w) / n
            b = (Syz[:, 0] - W @ Szz[1:, 0]) / n
            G = np.column_stack([b, W])
        else:
            G = W
    else:
        try:
            G = np.linalg.solve(Szz, Syz.T).T
        except np.linalg.LinAlgError as exc:  # pragma: no cover - guarded by input checks
            raise EstimationError("the factor second-moment matrix is singular; use fewer factors or lags") from exc
    if Syy.ndim == 1:   # only the diagonal of Syy is known: the diagonal of the residual moment (diagonal R)
        resid = Syy - 2.0 * np.einsum("ij,ij->i", G, Syz) + np.einsum("ij,ij->i", G @ Szz, G)
        return G, np.diag(resid / n)
    resid = Syy - G @ Syz.T - Syz @ G.T + G @ Szz @ G.T
    return G, _sym(resid) / n


def _state_moments(es: SmoothedStates, k: int, lags: int, intercept: bool):
    """Expected moments of the VAR regression of x_t on z_t = (x_{t-1}..x_{t-L}) over dates t = L+1..n (the first
    L dates form the model's initial state).

    Two equivalent sources: with a lag-one smoothed covariance (a proper start, no diffuse periods) z_t is the
    previous companion state and ``Cov(x_t, z_t) = lag_cov[t][:k]``; under a diffuse start the smoother ran on the
    extra-lag state (x_t, z_t), whose own covariance holds every cross moment."""
    if es.lag_cov is not None:
        S, P = es.states, es.cov
        X, Z = S[lags:, :k], S[lags - 1:-1]
        if es.cov_sum is not None and es.sums_from == lags - 1:   # the kernel's sums over t >= L-1
            Psum_x = es.cov_sum[:k, :k] - P[lags - 1, :k, :k]
            Pxz = es.lag_sum[:k, :]
            Pzz = es.cov_sum - P[-1]
        else:
            Psum_x = P[lags:, :k, :k].sum(0)
            Pxz = es.lag_cov[lags:, :k, :].sum(0)
            Pzz = P[lags - 1:-1].sum(0)
    else:
        S, P = es.states[lags:], es.cov[lags:]
        X, Z = S[:, :k], S[:, k:]
        Psum = P.sum(0)
        Psum_x, Pxz, Pzz = Psum[:k, :k], Psum[:k, k:], Psum[k:, k:]
    n = X.shape[0]
    Sxx = X.T @ X + Psum_x
    Sxw = X.T @ Z + Pxz
    Sww = Z.T @ Z + Pzz
    Sxz, Szz = _add_constant(Sxw, Sww, X.sum(0), Z.sum(0), n, intercept)
    return Sxx, Sxz, Szz, n


def _add_constant(S_yw, S_ww, sum_y, sum_w, n, intercept: bool):
    """Moments for regressors z = (1, w) from those of w (unchanged without an intercept): (S_yz, S_zz)."""
    if not intercept:
        return S_yw, S_ww
    d = len(sum_w)
    S_zz = np.empty((d + 1, d + 1))     # (assembled by hand: np.block costs more than the rest of the M-step)
    S_zz[0, 0] = n
    S_zz[0, 1:] = sum_w
    S_zz[1:, 0] = sum_w
    S_zz[1:, 1:] = S_ww
    S_yz = np.empty((len(sum_y), d + 1))
    S_yz[:, 0] = sum_y
    S_yz[:, 1:] = S_yw
    return S_yz, S_zz


class ObservedData:
    """What the observation M-step needs of the data alone, computed once per fit: ``y0`` (y with 0 in missing
    cells), ``Y0'Y0``, column sums, and the missing cells by date (for :func:`_obs_moments`)."""

    def __init__(self, y: np.ndarray, missing: np.ndarray, groups):
        self.missing, self.groups = missing, groups
        self.y0 = np.ascontiguousarray(np.where(missing, 0.0, y))   # C order: one compiled signature
        self.complete = not missing.any()
        self._y0ty0 = None
        self.y0_sq_sum = np.einsum("ij,ij->j", self.y0, self.y0)
        self.y0_sum = self.y0.sum(0)
        self.n_missing = missing.sum(0).astype(float)
        rows, self.cols = np.nonzero(missing)              # row-major: grouped by date
        self.ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(y)))]).astype(np.int64)
        self.cols = self.cols.astype(np.int64)
        counts = missing.sum(1)
        # per date costs (missing cells x p + their pairs) against per pattern costs (patterns x p x missing)
        n_pat = sum(1 for pattern, _ in groups if pattern.any())
        per_date = float(counts.sum()) * missing.shape[1] + float(np.sum(counts.astype(float) ** 2))
        per_pattern = sum(float(missing.shape[1]) * pattern.sum() + 2e4 for pattern, _ in groups if pattern.any())
        self.by_date = per_date < per_pattern and n_pat > 0

    @property
    def y0ty0(self) -> np.ndarray:
        if self._y0ty0 is None:     # only a full R needs it
            self._y0ty0 = self.y0.T @ self.y0
        return self._y0ty0


def _obs_moments(y, missing, groups, M, P, params: LGSSMParams, intercept: bool, data: ObservedData | None = None,
                 Psum: np.ndarray | None = None, diag_only: bool = False):
    r"""Expected moments of the completed observations: (Syy, Syz, Szz, n); M, P = E[x_t|Y], Var(x_t|Y).

    With diagonal R a missing cell is ``c_i + C_i x_t + e_ti``, so with ``U = Y0 + Delta`` (the data with zeros in
    the missing cells plus the cells' expected values)

    .. math::

        S_{yy} = Y_0'Y_0 + Y_0'\Delta + \Delta'Y_0 + \Delta'\Delta
                 + \sum_t \sum_{i,j \in m_t} C_i P_t C_j' + \mathrm{diag}(n_i R_{ii}),\qquad
        S_{yx} = U'M + \sum_t \sum_{i \in m_t} e_i C_i P_t,

    computed per pattern of missing cells (few patterns: GEMMs on k-column blocks) or per missing cell (many
    patterns: the compiled :func:`xlatsm.ssm.kernel.missing_cell_moments`); ``Y0'Y0`` once per fit. A full R
    (the missing cells then also depend on the observed ones) goes pattern by pattern. With ``diag_only`` (a
    diagonal or common R is being estimated, which needs no more) ``Syy`` is the vector of its diagonal, where
    ``Y_0'Delta`` vanishes: O(missing cells x k^2) instead of O(p^2)."""
    C, c, R = params.C, params.obs_intercept, params.R
    n_obs, p = y.shape
    if data is None:
        data = ObservedData(y, missing, groups)
    if Psum is None:
        Psum = P.sum(0)
    if not kernel._is_diagonal(R):
        Syy, Syz, Szz, n = _obs_moments_full_R(y, missing, groups, M, P, params, intercept)
        return (np.diag(Syy).copy() if diag_only else Syy), Syz, Szz, n
    Syy = data.y0_sq_sum.copy() if diag_only else data.y0ty0.copy()
    Syx = data.y0.T @ M
    usum = data.y0_sum.copy()
    if not data.complete:
        if data.by_date and kernel.ENABLED:
            extra_yy = np.zeros((p, p))
            Syx = np.ascontiguousarray(Syx)
            kernel.missing_cell_moments(data.y0, data.ptr, data.cols, np.ascontiguousarray(M, dtype=float),
                                        np.ascontiguousarray(P, dtype=float), np.array(C, dtype=float, order="C"),
                                        np.array(c, dtype=float), extra_yy, Syx, usum, bool(diag_only))
            Syy += np.diag(extra_yy) if diag_only else extra_yy
        elif diag_only:
            for pattern, rows in groups:
                if not pattern.any():
                    continue
                Cm, cm = C[pattern], c[pattern]
                Mg = M[rows]
                sM = Mg.sum(0)
                CsM = Cm @ sM
                # sum over the rows of (c_i + C_i M_t)^2 + C_i P_t C_i'
                Syy[pattern] += (len(rows) * cm ** 2 + 2.0 * cm * CsM
                                 + np.einsum("ij,ij->i", Cm @ (Mg.T @ Mg + P[rows].sum(0)), Cm))
                Syx[pattern] += np.outer(cm, sM) + Cm @ (Mg.T @ Mg + P[rows].sum(0))
                usum[pattern] += len(rows) * cm + CsM
        else:
            for pattern, rows in groups:
                if not pattern.any():
                    continue
                Cm, cm = C[pattern], c[pattern]
                Mg = M[rows]
                n_g = len(rows)
                sM = Mg.sum(0)
                MM = Mg.T @ Mg
                Ps = P[rows].sum(0)
                Y0r = data.y0[rows]
                cross = np.outer(Y0r.sum(0), cm) + (Y0r.T @ Mg) @ Cm.T          # Y0' Delta, (p, p_m)
                Syy[:, pattern] += cross
                Syy[pattern, :] += cross.T
                CsM = Cm @ sM
                Syy[np.ix_(pattern, pattern)] += (n_g * np.outer(cm, cm) + np.outer(cm, CsM) + np.outer(CsM, cm)
                                                  + Cm @ (MM + Ps) @ Cm.T)
                Syx[pattern] += np.outer(cm, sM) + Cm @ (MM + Ps)
                usum[pattern] += n_g * cm + CsM
        if diag_only:
            Syy += data.n_missing * np.diag(R)
        else:
            Syy[np.diag_indices(p)] += data.n_missing * np.diag(R)
    Sxx = M.T @ M + Psum
    Syz, Szz = _add_constant(Syx, Sxx, usum, M.sum(0), n_obs, intercept)
    return Syy, Syz, Szz, n_obs


def _obs_moments_full_R(y, missing, groups, M, P, params: LGSSMParams, intercept: bool):
    """:func:`_obs_moments` for any R, pattern by pattern."""
    k = params.k_states
    C, c, R = params.C, params.obs_intercept, params.R
    n_obs, p = y.shape
    U = np.where(missing, 0.0, y)
    Syy_extra = np.zeros((p, p))
    Syx_extra = np.zeros((p, k))
    for pattern, rows in groups:
        if not pattern.any():
            continue
        obs = ~pattern
        # completed mean of y_t given x_t and y_o: a_t + B x_t
        B = np.zeros((p, k))
        V = np.zeros((p, p))
        if obs.any():
            Roo = R[np.ix_(obs, obs)]
            K = np.linalg.solve(Roo, R[np.ix_(obs, pattern)]).T  # R_mo R_oo^{-1}
            resid_o = y[np.ix_(rows, obs)] - c[obs]
            a_m = c[pattern] + resid_o @ K.T
            B[pattern] = C[pattern] - K @ C[obs]
            V[np.ix_(pattern, pattern)] = R[np.ix_(pattern, pattern)] - K @ R[np.ix_(obs, pattern)]
        else:
            a_m = np.broadcast_to(c[pattern], (len(rows), pattern.sum()))
            B[pattern] = C[pattern]
            V[np.ix_(pattern, pattern)] = R[np.ix_(pattern, pattern)]
        U[np.ix_(rows, pattern)] = a_m + M[rows] @ B[pattern].T
        Psum = P[rows].sum(0)
        Syy_extra += B @ Psum @ B.T + len(rows) * V
        Syx_extra += B @ Psum
    Syy = U.T @ U + Syy_extra
    Syx = U.T @ M + Syx_extra
    Sxx = M.T @ M + P.sum(0)
    Syz, Szz = _add_constant(Syx, Sxx, U.sum(0), M.sum(0), n_obs, intercept)
    return Syy, Syz, Szz, n_obs


def _clip_cov(S: np.ndarray, floor: np.ndarray, diagonal: bool | str) -> np.ndarray:
    """argmax of -n/2 log det X - 1/2 tr(X^-1 n S) subject to X >= diag(floor): eigenvalue clipping in the metric
    of ``floor`` (for a diagonal X, clipping each variance; for a common X = sigma^2 I, sigma^2 = max(tr S / p,
    mean floor)). Being the exact constrained maximiser, it keeps the EM monotone while stopping variances from
    collapsing to zero. ``diagonal`` is True/"diagonal", "common", or False/"full"."""
    if diagonal == "common":
        return np.eye(len(S)) * max(float(np.trace(S)) / len(S), float(np.mean(floor)))
    if diagonal is True or diagonal == "diagonal":
        return np.diag(np.maximum(np.diag(S), floor))
    scale = np.sqrt(floor)
    vals, vecs = np.linalg.eigh(S / np.outer(scale, scale))
    return _sym((vecs * np.maximum(vals, 1.0)) @ vecs.T * np.outer(scale, scale))


def _update_initial_factors(y, missing, es: SmoothedStates, params: LGSSMParams) -> np.ndarray:
    """CM-step for the first L factors x_1..x_L as parameters (``initial_state="estimated"``).

    Weighted least squares: the observed cells of y_1..y_L (weight R_oo^-1) and the transitions into dates
    L+1..2L, whose other terms are replaced by their smoothed means (weight Q^-1). Returns (x_L, ..., x_1).
    """
    k, L = params.k_states, params.lags
    n_obs = len(y)
    C, c, R, A, d, Q = params.C, params.obs_intercept, params.R, params.A, params.state_intercept, params.Q
    H = np.zeros((k * L, k * L))
    g = np.zeros(k * L)
    blk = [slice(i * k, (i + 1) * k) for i in range(L)]  # unknown u = (x_1, ..., x_L)
    for i in range(min(L, n_obs)):
        obs = ~missing[i]
        if obs.any():
            Ro_inv_C = (C[obs] / np.diag(R)[obs, None] if kernel._is_diagonal(R)
                        else np.linalg.solve(R[np.ix_(obs, obs)], C[obs]))
            H[blk[i], blk[i]] += C[obs].T @ Ro_inv_C
            g[blk[i]] += Ro_inv_C.T @ (y[i, obs] - c[obs])
    M, _ = params.factor_moments(es.states, es.cov)
    Q_inv = np.linalg.inv(Q)
    for t in range(L, min(2 * L, n_obs)):  # 0-based date index of x_{t+1}
        known = [j for j in range(1, L + 1) if t - j >= L]
        unknown = [j for j in range(1, L + 1) if t - j < L]
        b = M[t] - d - sum((A[j - 1] @ M[t - j] for j in known), np.zeros(k))
        for ja in unknown:
            g[blk[t - ja]] += A[ja - 1].T @ Q_inv @ b
            for jb in unknown:
                H[blk[t - ja], blk[t - jb]] += A[ja - 1].T @ Q_inv @ A[jb - 1]
    u = np.linalg.lstsq(H, g, rcond=None)[0]
    return np.concatenate([u[blk[L - 1 - i]] for i in range(L)])


def m_step(y, missing, groups, es: SmoothedStates, params: LGSSMParams, *, intercepts: bool,
           measurement_error: str, fixed: frozenset, initial_state: str, r_floor: np.ndarray,
           q_floor: np.ndarray, obs_data: ObservedData | None = None) -> LGSSMParams:
    """One closed-form M-step (see the module docstring): CM-steps for the state equation, the observation
    equation and, with ``initial_state="estimated"``, the first L factors, all from the same E-step."""
    k, L = params.k_states, params.lags
    new = {}
    # state equation
    Sxx, Sxz, Szz, n = _state_moments(es, k, L, intercepts)
    A_fixed = np.hstack(list(params.A)) if "A" in fixed else None
    G, Q = _regression_update(Sxx, Sxz, Szz, n, intercept=intercepts, coef_fixed_part=A_fixed)
    if initial_state == "diffuse":
        # the diffuse prior on the L initial factor blocks is flat in units of Q (see diffuse_loglik_correction):
        # it adds -(L/2) log det Q to the complete-data log-likelihood, hence the n + L.
        Q = Q * n / (n + L)
    slopes = G[:, 1:] if intercepts else G
    new["A"] = np.stack([slopes[:, j * k:(j + 1) * k] for j in range(L)])
    new["state_intercept"] = G[:, 0] if intercepts else np.zeros(k)
    new["Q"] = _clip_cov(Q, q_floor, diagonal=False)
    # observation equation
    M, P = params.factor_moments(es.states, es.cov)
    Psum = None
    if es.cov_sum is not None and es.sums_from == L - 1:   # the kernel's sum over t >= L-1, plus the held dates
        Psum = es.cov_sum[:k, :k] + P[:L - 1].sum(0)
    Syy, Syz, Szz_o, n_o = _obs_moments(y, missing, groups, M, P, params, intercepts, obs_data, Psum,
                                        diag_only=measurement_error != "full" or "R" in fixed)
    G, R = _regression_update(Syy, Syz, Szz_o, n_o, intercept=intercepts,
                              coef_fixed_part=params.C if "C" in fixed else None)
    new["C"] = G[:, 1:] if intercepts else G
    new["obs_intercept"] = G[:, 0] if intercepts else np.zeros(params.k_endog)
    new["R"] = _clip_cov(R, r_floor, measurement_error)
    for name in fixed:
        new.pop(name, None)
    params = replace(params, **new)
    if initial_state == "estimated":
        params = replace(params, initial_mean=_update_initial_factors(y, missing, es, params))
    return params


# ----------------------------------------------------------------------------------------------------------------
# start values and identification
# ----------------------------------------------------------------------------------------------------------------
def _var_ols(f: np.ndarray, lags: int, intercept: bool):
    n, k = f.shape
    Y = f[lags:]
    Z = np.hstack([f[lags - j:n - j] for j in range(1, lags + 1)])
    if intercept:
        Z = np.column_stack([np.ones(len(Y)), Z])
    G, *_ = np.linalg.lstsq(Z, Y, rcond=None)
    G = G.T
    resid = Y - Z @ G.T
    # a small ridge keeps Q positive definite even if a factor is (nearly) a linear function of its lags
    Q = _sym(resid.T @ resid / len(Y)) + 1e-6 * np.diag(np.var(f, axis=0) + 1e-12)
    d = G[:, 0] if intercept else np.zeros(k)
    slopes = G[:, 1:] if intercept else G
    return np.stack([slopes[:, j * k:(j + 1) * k] for j in range(lags)]), d, Q


def initial_params(y: np.ndarray, k_states: int, lags: int = 1, intercepts: bool = True,
                   fixed: Mapping[str, np.ndarray] | None = None) -> LGSSMParams:
    """Deterministic data-driven start: principal components of the (column-mean filled) data give ``C`` and
    factors; a VAR(L) by OLS on those factors gives ``A``, ``d``, ``Q``; residual variances give a diagonal ``R``."""
    fixed = dict(fixed or {})
    missing = np.isnan(y)
    col_mean = np.nanmean(y, axis=0)
    filled = np.where(missing, col_mean, y)
    c = col_mean if intercepts else np.zeros(y.shape[1])
    if "obs_intercept" in fixed:
        c = np.asarray(fixed["obs_intercept"], float)
    centred = filled - c
    if "C" in fixed:
        C = np.asarray(fixed["C"], float)
        f = np.linalg.lstsq(C, centred.T, rcond=None)[0].T
    else:
        U, s, Vt = np.linalg.svd(centred, full_matrices=False)
        scale = np.sqrt(len(y))
        f = U[:, :k_states] * scale
        C = Vt[:k_states].T * s[:k_states] / scale
    A, d, Q = _var_ols(f, lags, intercepts)
    resid = centred - f @ C.T
    var = np.nanvar(np.where(missing, np.nan, resid), axis=0)
    floor = 1e-4 * np.nanvar(y, axis=0) + 1e-12
    R = np.diag(np.maximum(var, floor))
    initial = np.concatenate([f[lags - 1 - i] for i in range(lags)])  # (x_L, ..., x_1)
    params = LGSSMParams(A=A, C=C, Q=Q, R=R, state_intercept=d, obs_intercept=c, initial_mean=initial,
                         initial_cov=np.zeros((k_states * lags, k_states * lags)))
    return replace(params, **{k_: np.asarray(v, float) for k_, v in fixed.items()})


def identifying_rotation(C: np.ndarray, mean_outer: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The rotation ``M`` (x* = M x) that puts the fit in xlatsm's reporting normalisation.

    After it: the loadings are orthonormal (C*'C* = I), the factors are uncorrelated over the sample with
    variances in decreasing order, and each column of C* sums to a positive number (the first factor of a yield
    curve is then a rising "level"). ``mean_outer`` is (1/n) sum E[x_t x_t'|Y], ``mean`` the sample mean of E[x_t|Y].
    """
    U, s, Vt = np.linalg.svd(C, full_matrices=False)
    M1 = np.diag(s) @ Vt
    cov = mean_outer - np.outer(mean, mean)
    eigval, W = np.linalg.eigh(M1 @ cov @ M1.T)
    W = W[:, np.argsort(eigval)[::-1]]
    loadings = U @ W
    sums = loadings.sum(0)
    for j in range(loadings.shape[1]):
        key = sums[j] if abs(sums[j]) > 1e-8 * np.abs(loadings[:, j]).sum() else loadings[np.argmax(np.abs(loadings[:, j])), j]
        if key < 0:
            W[:, j] *= -1
    return W.T @ M1


# ----------------------------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------------------------
def _check_inputs(obs: Observations, k_states: int, lags: int):
    n_obs, p = obs.values.shape
    if not isinstance(k_states, (int, np.integer)) or k_states < 1:
        raise InputError(f"k_states must be a whole number >= 1, got {k_states!r}")
    if not isinstance(lags, (int, np.integer)) or lags < 1:
        raise InputError(f"lags must be a whole number >= 1, got {lags!r}")
    if k_states >= p:
        raise InputError(f"k_states={k_states} must be smaller than the number of series ({p}): "
                         "use fewer factors or add series")
    needed = 3 * (k_states * lags + 1)
    if n_obs < needed:
        raise InputError(f"{n_obs} dates are too few for {k_states} factors with {lags} lag(s): "
                         f"give at least {needed} rows, or use fewer factors or lags")


def _missing_groups(missing: np.ndarray):
    patterns, inverse = np.unique(missing, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    return [(pat, np.flatnonzero(inverse == i)) for i, pat in enumerate(patterns)]


class CollapsedSmoother:
    r"""The smoother pass of a diffuse start on observations collapsed onto the factors (Jungbacker and Koopman
    2015), computed here for any missing pattern and any R.

    At date t with observed cells o (at least k of them), ``W_t = C_o' R_oo^-1 C_o`` and
    ``y*_t = W_t^-1 C_o' R_oo^-1 (y_o - c_o)`` is a sufficient statistic for x_t: ``y*_t = x_t + e*_t``,
    ``e*_t ~ N(0, W_t^-1)``. The smoothed factors are those of the full data, and

    .. math::

        \log p(y) = \log p(y^*) + \sum_t \big[-\tfrac{p_t - k}{2}\log 2\pi - \tfrac12\log\det R_{oo}
                    - \tfrac12\log\det W_t - \tfrac12 q_t\big],\quad
        q_t = (y_o - c_o)' R_{oo}^{-1} (y_o - c_o) - y_t^{*\prime} W_t y_t^*.

    Why: statsmodels' exact-diffuse filter processes the p observations of the diffuse dates one at a time, and
    with many nearly collinear yields and measurement variances near their floors its pivots lose precision
    (measured: 0.07 of log-likelihood on GSW with k = 4, enough to make EM steps "fall"); on the collapsed
    k-vector the diffuse dates are well conditioned (agrees with the dense reference to 1e-9).
    """

    def __init__(self, y: np.ndarray, groups, k_states: int, lags: int, extra_lag: bool, lag_cov: bool = False):
        self.y, self.groups = y, groups
        self.k, self.L, self.extra_lag, self.lag_cov = k_states, lags, extra_lag, lag_cov

    @staticmethod
    def usable(missing: np.ndarray, k_states: int) -> bool:
        counts = (~missing).sum(axis=1)
        return bool(np.all((counts == 0) | (counts >= k_states)))

    def smooth(self, params: LGSSMParams) -> SmoothedStates:
        n, k = len(self.y), self.k
        ystar = np.full((n, k), np.nan)
        Hstar = np.zeros((k, k, n))
        Hstar[:, :, :] = np.eye(k)[:, :, None]  # placeholder on dates with nothing observed
        extra = 0.0
        C, c, R = params.C, params.obs_intercept, params.R
        for pattern, rows in self.groups:
            obs = ~pattern
            p_o = int(obs.sum())
            if p_o == 0:
                continue
            Co, Roo = C[obs], R[np.ix_(obs, obs)]
            chol = np.linalg.cholesky(Roo)
            Ct = np.linalg.solve(chol, Co)                      # L^-1 C_o
            dev = self.y[np.ix_(rows, obs)] - c[obs]
            dt = np.linalg.solve(chol, dev.T)                   # L^-1 (y_o - c_o), (p_o, rows)
            W = Ct.T @ Ct
            Wc = np.linalg.cholesky(W)
            b = Ct.T @ dt                                       # C_o' R_oo^-1 (y_o - c_o)
            ys = np.linalg.solve(Wc.T, np.linalg.solve(Wc, b))  # (k, rows)
            ystar[rows] = ys.T
            Hstar[:, :, rows] = np.linalg.inv(W)[:, :, None]
            q = np.sum(dt * dt, axis=0) - np.sum(b * ys, axis=0)
            logdet_R = 2.0 * np.sum(np.log(np.diag(chol)))
            logdet_W = 2.0 * np.sum(np.log(np.diag(Wc)))
            extra += np.sum(-0.5 * (p_o - k) * np.log(2 * np.pi) - 0.5 * logdet_R - 0.5 * logdet_W - 0.5 * q)
        inner = replace(params, C=np.eye(k), obs_intercept=np.zeros(k), R=np.eye(k))
        ss = inner.to_state_space(n, extra_lag=self.extra_lag)
        # one pattern (a complete panel): a time-invariant obs_cov keeps statsmodels on its fast path
        ss.obs_cov = Hstar[:, :, 0] if len(self.groups) == 1 else Hstar
        m = ss.k_states
        es = KalmanSmootherRunner(ystar, m, k, lag_cov=self.lag_cov, collapse=False).smooth(ss)
        es.loglik += extra
        return es


def _resolve_measurement_error(measurement_error, diagonal_R) -> str:
    """One measurement-error structure from the new ``measurement_error`` and the older ``diagonal_R``."""
    if diagonal_R is not None and not isinstance(diagonal_R, (bool, np.bool_)):
        raise InputError(f"diagonal_R must be True or False, not {diagonal_R!r}")
    implied = None if diagonal_R is None else ("diagonal" if diagonal_R else "full")
    if measurement_error is None:
        return implied or "diagonal"
    if measurement_error not in MEASUREMENT_ERRORS:
        raise InputError(f"measurement_error must be one of {MEASUREMENT_ERRORS}, not {measurement_error!r}")
    if implied == "full" and measurement_error != "full" or implied == "diagonal" and measurement_error == "full":
        raise InputError(f"diagonal_R={diagonal_R} contradicts measurement_error={measurement_error!r}: "
                         "give only measurement_error")
    return measurement_error


def _standardisation(values: np.ndarray, intercepts: bool) -> tuple[np.ndarray, float]:
    """(shift, scale) of the internal data ``y* = (y - shift) / scale``: the column means (with intercepts, else
    zero) and one global root-mean-square deviation over the observed cells.

    One global scale (not one per series) keeps every measurement-error structure, common R included, and the PCA
    start equivariant: the EM on ``y*`` is the EM on ``y`` in other units, so results do not depend on the data's
    units, while the filter's absolute tolerances (exact-diffuse rank tests) always meet numbers of order one."""
    shift = np.nanmean(values, axis=0) if intercepts else np.zeros(values.shape[1])
    dev = values - shift
    big = float(np.nanmax(np.abs(dev)))
    if not np.isfinite(big) or big == 0.0:
        raise InputError("the data do not vary (every observed value is the same): give series that move")
    scale = big * float(np.sqrt(np.nanmean((dev / big) ** 2)))
    return shift, scale


def _scale_fixed(fixed: dict, shift: np.ndarray, scale: float) -> dict:
    """Fixed matrices in the internal units of :meth:`LGSSMParams.scaled`."""
    maps = {"obs_intercept": lambda v: (v - shift) / scale, "R": lambda v: v / scale ** 2,
            "state_intercept": lambda v: v / scale, "Q": lambda v: v / scale ** 2}
    return {name: maps.get(name, lambda v: v)(np.asarray(value, float)) for name, value in fixed.items()}


def _orthonormalising(C: np.ndarray) -> np.ndarray:
    """M = (C'C)^{1/2}, so that C M^-1 has orthonormal columns; a smooth function of C (unlike an SVD's signs),
    which the extrapolation of the accelerated EM needs."""
    vals, vecs = np.linalg.eigh(C.T @ C)
    return _sym((vecs * np.sqrt(np.maximum(vals, 1e-300))) @ vecs.T)


def _logm_sym(S: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(_sym(S))
    return _sym((vecs * np.log(np.maximum(vals, 1e-300))) @ vecs.T)


def _expm_sym(S: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(_sym(S))
    return _sym((vecs * np.exp(vals)) @ vecs.T)


def _extrapolate(p0: LGSSMParams, p1: LGSSMParams, eta: float, fixed: frozenset, measurement_error: str,
                 r_floor: np.ndarray, q_floor: np.ndarray) -> LGSSMParams:
    """``p0 + eta (p1 - p0)`` for the EM step p0 -> p1, with covariance matrices moved along their matrix
    logarithms (so they stay positive definite) and clipped to their floors."""
    def lin(a, b):
        return a + eta * (b - a)

    new = {name: lin(getattr(p0, name), getattr(p1, name))
           for name in ("A", "C", "state_intercept", "obs_intercept") if name not in fixed}
    if "Q" not in fixed:
        new["Q"] = _clip_cov(_expm_sym(lin(_logm_sym(p0.Q), _logm_sym(p1.Q))), q_floor, "full")
    if "R" not in fixed:
        if measurement_error == "full":
            new["R"] = _clip_cov(_expm_sym(lin(_logm_sym(p0.R), _logm_sym(p1.R))), r_floor, "full")
        else:
            R = np.diag(np.exp(lin(np.log(np.diag(p0.R)), np.log(np.diag(p1.R)))))
            new["R"] = _clip_cov(R, r_floor, measurement_error)
    if p0.initial_mean is not None and p1.initial_mean is not None:
        new["initial_mean"] = lin(p0.initial_mean, p1.initial_mean)
    return replace(p1, **new)


def _heywood_series(R: np.ndarray, r_floor: np.ndarray, measurement_error: str, columns) -> list[str]:
    """Series whose measurement variance sits on its floor (for full R: the series loading on a floored
    eigen-direction in the metric of the floors)."""
    if measurement_error == "full":
        s = np.sqrt(r_floor)
        vals, vecs = np.linalg.eigh(R / np.outer(s, s))
        hit = vals <= 1.0 + 1e-6
        if not hit.any():
            return []
        # the series that load most on the floored directions (a direction is a combination of series)
        weight = np.abs(vecs[:, hit]).max(axis=1)
        top = np.argsort(-weight)[:max(1, int(hit.sum()))]
        return [str(columns[i]) for i in sorted(top)]
    at_floor = np.diag(R) <= r_floor * (1.0 + 1e-6) if measurement_error == "diagonal" else (
        np.full(len(R), R[0, 0] <= np.mean(r_floor) * (1.0 + 1e-6)))
    return [str(c) for c, hit in zip(columns, at_floor) if hit]


def _fit_flags(*, converged: bool, stop_reason: str, loglik: float, start_loglik: float,
               default_start_loglik: float | None, params: LGSSMParams, heywood: list[str],
               measurement_error: str, q_at_floor: bool, worst: tuple[str, float] = ("", np.nan)) -> list[Flag]:
    """The flags of one EM fit (codes in :mod:`xlatsm.diagnostics`)."""
    flags = []
    if not converged:
        flags.append(Flag("not_converged", stop_reason))
    noise = 1e-9 * abs(start_loglik)
    best_start = start_loglik if default_start_loglik is None else max(start_loglik, default_start_loglik)
    if loglik < best_start - noise:
        which = ("xlatsm's own PCA start" if default_start_loglik is not None
                 and default_start_loglik > start_loglik else "the start")
        flags.append(Flag("worse_than_start",
                          f"the log-likelihood {loglik:.4f} is below that of {which} ({best_start:.4f}): "
                          "refit without start= (or with more iterations) and compare"))
    if heywood:
        advice = ('use fewer factors or free the fixed R' if measurement_error == "common" else
                  'refit with measurement_error="common" (one variance for every series) or fewer factors')
        flags.append(Flag("heywood",
                          f"the measurement-error variance of {', '.join(heywood)} sits on its floor "
                          f"(1e-6 of the series' variance, a Heywood case): the model fits "
                          f"{'it' if len(heywood) == 1 else 'them'} exactly and the other series absorb the "
                          f"errors (largest RMSE: {worst[0]} {worst[1]:.4g} in the data's units; see "
                          f"result.rmse); {advice}"))
    root = params.spectral_radius()
    if root >= 1.0:
        flags.append(Flag("explosive_p",
                          f"the factor VAR has a root of modulus {root:.4f} >= 1: the factors do not revert to a "
                          "mean, so forecasts and unconditional moments are not defined; difference the data, "
                          "use fewer factors or lags, or fix A"))
    if q_at_floor:
        flags.append(Flag("at_bound",
                          "a factor shock variance sits on its floor (1e-8 of its start): a factor has (nearly) "
                          "no shocks of its own; use fewer factors"))
    return flags


def _check_finite(label: str, arrays: Mapping[str, np.ndarray], advice: str) -> None:
    bad = [name for name, a in arrays.items() if a is not None and not np.all(np.isfinite(a))]
    if bad:
        raise EstimationError(f"{label}: {', '.join(bad)} would not be finite; {advice}")


@single_blas_thread
def fit_lgssm(y, k_states: int, lags: int = 1, intercepts: bool = True, *, measurement_error: str | None = None,
              diagonal_R: bool | None = None, fixed: Mapping[str, np.ndarray] | None = None,
              initial_state: str = "estimated", start: LGSSMParams | None = None, max_iter: int = 5000,
              tol: float = 1e-9, normalize: bool = True, accelerate: bool = True,
              progress: Callable[[int, float], None] | None = None) -> LGSSMResult:
    r"""Fit the LGSSM ``x_t = d + sum_j A_j x_{t-j} + w_t``, ``y_t = c + C x_t + e_t`` by exact EM.

    Parameters
    ----------
    y : array (T, p), DataFrame, CSV/XLSX path or nested lists; NaN/blank = missing (handled in the filter).
    k_states : number of factors k (< p).
    lags : VAR order L of the factors.
    intercepts : estimate ``d`` and ``c`` (else both are zero).
    measurement_error : "diagonal" (default: R = diag(R_11..R_pp), independent errors, the usual dynamic factor
        model), "common" (R = sigma^2 I, one variance for every series: the cure for Heywood cases, where some
        R_ii collapse to zero) or "full" (any R).
    diagonal_R : the older switch, kept working: True = "diagonal", False = "full".
    fixed : known matrices by name ("A" (L,k,k), "C", "Q", "R", "state_intercept", "obs_intercept"), in the
        data's units; they are held at the given values and the rest is estimated conditionally (still monotone).
    initial_state : "estimated" (default: the first L factors x_1..x_L are parameters, estimated with the rest;
        ``params.initial_mean`` holds them as (x_L, ..., x_1)) or "diffuse" (a flat prior in units of Q,
        rotation-invariant; its likelihood is exact-diffuse but rewards a factor whose shock variance shrinks, so
        prefer it with Q or the loadings pinned).
    start : starting parameters (data's units); default the deterministic PCA + VAR-OLS start, so two runs agree
        exactly.
    max_iter, tol : EM stops when an (unaccelerated) EM step raises the log-likelihood by less than
        ``tol * n_cells`` (``n_cells`` = observed cells; a scale-free criterion, since rescaling the data moves the
        log-likelihood by a constant); reaching ``max_iter`` first sets ``converged=False``, flags
        ``not_converged`` and issues a :class:`~xlatsm.errors.ConvergenceWarning`.
    normalize : report in the identified normalisation of :func:`identifying_rotation` (unless a fixed matrix
        already pins the rotation: C, A, Q or the state intercept).
    accelerate : over-relaxed EM (Salakhutdinov and Roweis 2003): after an EM step ``theta -> F(theta)`` try
        ``theta + eta (F(theta) - theta)`` with ``eta`` doubling while it raises the log-likelihood, else take the
        EM step; every accepted iterate raises the log-likelihood, and a fixed point of EM stays fixed.
    progress : called as ``progress(iteration, loglik)`` after every accepted iterate; None or False for none.

    The data are standardised internally, ``y* = (y - mean) / s`` with one global scale ``s`` (see
    :func:`_standardisation`), and the parameters mapped back exactly (:meth:`LGSSMParams.unscaled`): results
    do not depend on the data's units, ``loglik = loglik* - n_cells log s``.

    Returns
    -------
    LGSSMResult with ``params``, ``loglik`` (at ``params``), ``loglik_path``, ``smoothed_states`` (T, k),
    ``smoothed_cov`` (T, k, k), ``n_iter``, ``converged``, ``flags``, ``rmse`` and ``summary()``.
    """
    obs = read_observations(y)
    _check_inputs(obs, k_states, lags)
    if initial_state not in INITIAL_STATES:
        raise InputError(f"initial_state must be one of {INITIAL_STATES}, not {initial_state!r}")
    measurement_error = _resolve_measurement_error(measurement_error, diagonal_R)
    if progress is not None and progress is not False and not callable(progress):
        raise InputError("progress must be a function progress(iteration, loglik), or None/False")
    progress = progress or None
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(_FIXABLE)
    if unknown:
        raise InputError(f"cannot fix {sorted(unknown)}: fixable matrices are {list(_FIXABLE)}")
    if not intercepts and {"state_intercept", "obs_intercept"} & set(fixed):
        raise InputError("intercepts=False already fixes the intercepts at zero")
    fixed_names = frozenset(fixed) | (frozenset({"state_intercept", "obs_intercept"}) if not intercepts
                                      else frozenset())
    raw = obs.values
    missing = np.isnan(raw)
    groups = _missing_groups(missing)
    n_cells = int((~missing).sum())
    flat = [str(c) for c, v in zip(obs.columns, np.nanvar(raw, axis=0)) if not v > 0]
    if flat:
        raise InputError(f"series {flat} do not vary (or have one observation): remove them")
    shift, scale = _standardisation(raw, intercepts)
    values = (raw - shift) / scale
    jacobian = n_cells * np.log(scale)   # log p(y) = log p*(y*) - n_cells log(scale)
    fixed_int = _scale_fixed(fixed, shift, scale)
    obs_data = ObservedData(values, missing, groups)

    default_start = initial_params(values, k_states, lags, intercepts, fixed_int)
    if start is not None:
        if not isinstance(start, LGSSMParams):
            raise InputError("start must be LGSSMParams (e.g. an earlier result's .params)")
        if start.k_states != k_states or start.lags != lags or start.k_endog != values.shape[1]:
            raise InputError("start parameters do not match k_states, lags and the number of series")
        params = start.scaled(shift, scale)
        params = replace(params, **{k_: np.asarray(v, float) for k_, v in fixed_int.items()})
    else:
        params = default_start
    m = k_states * lags

    def with_initial_state(p: LGSSMParams) -> LGSSMParams:
        if initial_state == "estimated":
            return replace(p, initial_mean=np.zeros(m) if p.initial_mean is None else p.initial_mean,
                           initial_cov=np.zeros((m, m)))
        return replace(p, initial_mean=None, initial_cov=None)

    def into_model(p: LGSSMParams) -> LGSSMParams:
        """The start inside the chosen model (EM climbs only from there): its initial state, its R structure."""
        p = with_initial_state(p)
        if "R" in fixed_names:
            return p
        R0 = {"diagonal": np.diag(np.diag(p.R)), "common": np.eye(len(p.R)) * np.mean(np.diag(p.R)),
              "full": p.R}[measurement_error]
        return replace(p, R=R0)

    params = into_model(params)
    _check_finite("the start", {name: getattr(params, name) for name in _FIXABLE + ("initial_mean",)},
                  "give finite start and fixed values")

    # a fixed A, C, Q or non-zero state intercept pins the factors' rotation (a zero intercept does not)
    blockers = {"A", "C", "Q"} | ({"state_intercept"} if np.any(params.state_intercept != 0)
                                 and "state_intercept" in fixed_names else set())
    free_rotation = not (blockers & fixed_names)
    # variance floors (exact constrained M-steps): measurement variances >= 1e-6 of each series' variance, and
    # factor shock variances >= 1e-8 of the starting ones; they stop Heywood collapses from breaking the filter
    r_floor = 1e-6 * np.nanvar(values, axis=0)
    q_floor = 1e-8 * np.diag(params.Q) + 1e-300
    # A proper start has no diffuse periods, so statsmodels' lag-one smoothed covariance is exact there and the
    # filter runs on the kL companion state; a diffuse start needs the (k(L+1)) extra-lag state instead.
    # The compiled kernel (xlatsm.ssm.kernel) gives exact lag-one covariances under either start; without numba,
    # statsmodels' smoother gives the same numbers.
    extra_lag = initial_state == "diffuse"
    if kernel.ENABLED and KernelSmoother.usable(missing, k_states, lags, diffuse=extra_lag):
        runner = KernelSmoother(values, k_states, lags, diffuse=extra_lag)
        extra_lag = False
    elif extra_lag and CollapsedSmoother.usable(missing, k_states):
        runner = CollapsedSmoother(values, groups, k_states, lags, extra_lag)
    else:
        runner = KalmanSmootherRunner(values, k_states * (lags + extra_lag), k_states, lag_cov=not extra_lag)

    def e_step(p: LGSSMParams) -> tuple[SmoothedStates, float]:
        es_ = (runner.smooth(p) if isinstance(runner, (CollapsedSmoother, KernelSmoother))
               else runner.smooth(p.to_state_space(len(values), extra_lag=extra_lag)))
        return es_, es_.loglik + p.diffuse_loglik_correction()

    def em_map(p: LGSSMParams, es_: SmoothedStates) -> LGSSMParams:
        new = m_step(values, missing, groups, es_, p, intercepts=intercepts, measurement_error=measurement_error,
                     fixed=fixed_names, initial_state=initial_state, r_floor=r_floor, q_floor=q_floor,
                     obs_data=obs_data)
        if free_rotation:
            # The likelihood is invariant to x* = M x, so rotating every iterate to orthonormal loadings changes
            # nothing EM guarantees, but keeps the factors well scaled: left alone they can drift to tiny
            # loadings with huge variances, where the filter's absolute diffuse tolerance breaks down.
            new = new.rotate(_orthonormalising(new.C))
        return new

    def report(iteration: int, value: float) -> None:
        if progress is not None:
            progress(iteration, value - jacobian)

    path: list[float] = []
    converged = False
    stop_reason = ""
    try:
        es, current = e_step(params)
        path.append(current)
        report(0, current)
        noise = 1e-8 * max(abs(current), n_cells)   # the filter's precision near Heywood cases (measured)
        eta, restart = 1.0, 2.0
        while len(path) - 1 < max_iter:
            proposal = em_map(params, es)
            accepted = plain = False
            if accelerate and eta > 1.0:
                try:
                    trial = _extrapolate(params, proposal, eta, fixed_names, measurement_error, r_floor, q_floor)
                    if free_rotation:
                        trial = trial.rotate(_orthonormalising(trial.C))
                    es_trial, ll_trial = e_step(trial)
                except (EstimationError, np.linalg.LinAlgError, FloatingPointError):
                    ll_trial = -np.inf
                if np.isfinite(ll_trial) and ll_trial > current:
                    gain = ll_trial - current
                    params, es, current, accepted = trial, es_trial, ll_trial, True
                    eta = min(_ETA_GROW * eta, _ETA_MAX)
                else:
                    restart = max(eta / _ETA_BACKOFF, 2.0)
                    eta = 1.0
            if not accepted:
                try:
                    es_new, ll_new = e_step(proposal)
                except (EstimationError, np.linalg.LinAlgError) as exc:
                    stop_reason = (f"the EM step {len(path)} broke the Kalman filter ({exc}); the best iterate "
                                   'is reported. Try fewer factors, measurement_error="common" or '
                                   'initial_state="estimated"')
                    break
                gain = ll_new - current
                if gain < 0:
                    if gain < -noise:
                        # EM cannot lower the likelihood; a fall means the filter lost precision. Keep the best
                        # iterate and say so.
                        stop_reason = (f"the log-likelihood fell at EM iteration {len(path)} "
                                       f"({current - jacobian:.6f} -> {ll_new - jacobian:.6f}): the Kalman filter "
                                       "lost precision; the best iterate is reported. Try fewer factors or "
                                       'measurement_error="common"')
                    else:
                        converged = True   # at the maximum to the filter's precision
                    break
                params, es, current, plain = proposal, es_new, ll_new, True
                eta = restart if accelerate else 1.0
            path.append(current)
            report(len(path) - 1, current)
            if gain < tol * n_cells:
                if plain:
                    converged = True
                    break
                eta = 1.0   # judge convergence on a plain EM step
    except np.linalg.LinAlgError as exc:
        raise EstimationError(f"the EM broke down numerically after {len(path)} iterations ({exc}); try fewer "
                              'factors or lags, measurement_error="common", or initial_state="estimated"') from exc
    n_iter = len(path) - 1
    if not converged and not stop_reason:
        last = (path[-1] - path[-2]) / n_cells if len(path) > 1 else np.nan
        stop_reason = (f"EM stopped after max_iter={max_iter} iterations before the log-likelihood settled (last "
                       f"gain {last:.2e} per observed cell > tol={tol:g}); raise max_iter")
    if not converged:
        warnings.warn(stop_reason, ConvergenceWarning, stacklevel=2)

    states, cov = params.factor_moments(es.states, es.cov)
    heywood = [] if "R" in fixed_names else _heywood_series(params.R, r_floor, measurement_error, obs.columns)
    q_at_floor = "Q" not in fixed_names and bool(
        np.min(np.linalg.eigvalsh(params.Q / np.sqrt(np.outer(q_floor, q_floor)))) <= 1.0 + 1e-6)
    normalisation = ("as fixed by the given C" if "C" in fixed else
                     "set by the fixed matrices " + ", ".join(sorted(blockers & fixed_names))
                     if not free_rotation else "orthonormal loadings (C'C = I), otherwise the EM's own rotation")
    if normalize and free_rotation:
        mean_outer = (states.T @ states + cov.sum(0)) / len(states)
        M = identifying_rotation(params.C, mean_outer, states.mean(0))
        params = params.rotate(M)
        states = states @ M.T
        cov = np.einsum("ij,tjk,lk->til", M, cov, M)
        normalisation = ("orthonormal loadings (C'C = I), factors uncorrelated over the sample and ordered by "
                         "variance, loading columns summing to a positive number")
    if normalize and not {"state_intercept", "obs_intercept"} & fixed_names:
        # the factors' level is not identified either (x* = x + a moves d and c, same likelihood): centre the
        # smoothed factors over the sample, so c is the series' level and two fits agree
        centre = -states.mean(0)
        params = params.shifted(centre)
        states = states + centre
        normalisation += ", factors centred over the sample (mean zero)"
    default_ll = None
    if start is not None:
        default_ll = e_step(into_model(default_start))[1] - jacobian
    params = params.unscaled(shift, scale)
    states, cov = states * scale, cov * scale ** 2
    loglik_path = np.array(path) - jacobian
    _check_finite("the EM", {"A": params.A, "C": params.C, "Q": params.Q, "R": params.R,
                             "d": params.state_intercept, "c": params.obs_intercept, "factors": states,
                             "factor variances": cov, "log-likelihood": loglik_path},
                  'try fewer factors or lags, measurement_error="common", or a different start')
    resid = raw - params.obs_intercept - states @ params.C.T
    rmse = np.sqrt(np.nanmean(resid ** 2, axis=0))
    worst = (str(obs.columns[int(np.argmax(rmse))]), float(np.max(rmse)))
    flags = _fit_flags(converged=converged, stop_reason=stop_reason, loglik=float(loglik_path[-1]),
                       start_loglik=float(loglik_path[0]), default_start_loglik=default_ll, params=params,
                       heywood=heywood, measurement_error=measurement_error, q_at_floor=q_at_floor, worst=worst)
    return LGSSMResult(params=params, loglik=float(loglik_path[-1]), loglik_path=loglik_path, n_iter=n_iter,
                       converged=converged, smoothed_states=states, smoothed_cov=cov, index=obs.index,
                       columns=obs.columns, n_obs_cells=n_cells, measurement_error=measurement_error,
                       intercepts=intercepts, fixed=tuple(sorted(fixed_names)), initial_state=initial_state,
                       normalisation=normalisation, tol=tol, data=raw, flags=flags, scale=scale)


def smooth_states(y, params: LGSSMParams) -> SmoothResult:
    """Kalman-smooth ``y`` (T, p; NaN = missing) with known ``params``: ``.states`` (T, k), ``.cov`` (T, k, k),
    ``.loglik``, ``.flags``. The core of the SMOOTH_STATES spreadsheet function.

    Runs on standardised data and parameters (:meth:`LGSSMParams.scaled`, one global scale) so that the filter's
    absolute tolerances never meet the data's units; results are mapped back exactly."""
    obs = read_observations(y)
    if obs.values.shape[1] != params.k_endog:
        raise InputError(f"the data have {obs.values.shape[1]} series but the model was fitted to "
                         f"{params.k_endog}: select the same columns")
    _check_finite("the parameters", {name: getattr(params, name) for name in _FIXABLE + ("initial_mean",)},
                  "give finite parameters")
    k, n = params.k_states, len(obs.values)
    raw = obs.values
    n_cells = int((~np.isnan(raw)).sum())
    shift = np.zeros(raw.shape[1])
    scale = float(np.sqrt(np.nanmean((raw - params.obs_intercept) ** 2)))
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    inner = params.scaled(shift, scale)
    missing = np.isnan(raw)
    try:
        diffuse = inner.initial_mean is None
        if kernel.ENABLED and KernelSmoother.usable(missing, k, params.lags, diffuse):
            es = KernelSmoother(raw / scale, k, params.lags, diffuse).smooth(inner)
        elif diffuse and CollapsedSmoother.usable(missing, k):
            # a diffuse start on the collapsed observations (precise where the exact-diffuse filter is not)
            es = CollapsedSmoother(raw / scale, _missing_groups(missing), k, params.lags, False).smooth(inner)
        else:
            es = KalmanSmootherRunner(raw / scale, k * params.lags, k, lag_cov=False).smooth(inner.to_state_space(n))
    except np.linalg.LinAlgError as exc:
        raise EstimationError(f"the Kalman smoother broke down at these parameters ({exc}): check that Q and R "
                              "are positive definite") from exc
    states, cov = inner.factor_moments(es.states, es.cov)
    states, cov = states * scale, cov * scale ** 2
    loglik = es.loglik + inner.diffuse_loglik_correction() - n_cells * np.log(scale)
    _check_finite("smoothing", {"factors": states, "factor variances": cov, "log-likelihood": np.array(loglik)},
                  "check the parameters (Q and R positive definite, finite)")
    flags = []
    root = params.spectral_radius()
    if root >= 1.0:
        flags.append(Flag("explosive_p", f"the factor VAR has a root of modulus {root:.4f} >= 1: the factors do "
                                         "not revert to a mean"))
    return SmoothResult(states=states, cov=cov, loglik=loglik, index=obs.index,
                        fitted=params.obs_intercept + states @ params.C.T, columns=obs.columns, flags=flags)
