r"""Exact EM for the LGSSM with VAR(L) factors (equations in :mod:`xlatsm.ssm.params`).

E-step: one Kalman smoother pass over the companion state carrying one lag more than the VAR needs,
``s_t = (x_t, x_{t-1}, ..., x_{t-L})``. Its smoothed mean and covariance give, in one block matrix, every moment of
the VAR(L) regression of ``x_t`` on ``(x_{t-1}, ..., x_{t-L})``: ``E[x_t x_t'|Y]``, the lag-one..lag-L cross moments
and ``E[z_t z_t'|Y]``, for every lag block at once. (This replaces the lag-one smoothed autocovariance
``Cov(s_t, s_{t-1}|Y)``: statsmodels returns that one wrongly during exact-diffuse periods, and taking it from the
wrong index is the bug that made the original notebooks' likelihood fall.)

M-step, closed form:

* state equation: GLS = OLS of ``x_t`` on ``z_t = (1, x_{t-1}, ..., x_{t-L})`` in expected sufficient statistics,
  ``[d, A_1..A_L] = S_xz S_zz^{-1}``, ``Q = (S_xx - G S_zx - S_xz G' + G S_zz G') / (n-1)``;
* observation equation: the missing cells of ``y_t`` are treated as latent too. Given ``x_t`` and the observed
  cells, a missing block is ``y_m = c_m + C_m x + K (y_o - c_o - C_o x) + eta`` with ``K = R_mo R_oo^{-1}``
  (zero for diagonal R), so every completed ``y_t`` is affine in ``x_t`` and ``[c, C]`` is the OLS of the completed
  ``y`` on ``(1, x_t)`` (all equations share regressors, so OLS = GLS whatever R is); ``R`` is the expected
  residual second moment (its diagonal when R is diagonal).

Each block maximises the expected complete-data log-likelihood exactly (conditionally on the fixed blocks when the
user fixes some), so the observed-data log-likelihood never decreases. With a diffuse start the prior of the first L
factor blocks is flat in units of Q (``N(0, kappa Q)``, kappa -> inf), which keeps the diffuse likelihood invariant
to rotations of the factors (with a flat prior in raw units it is not: rescaling the factors raises it without
bound, and EM drifts along that direction forever); it adds ``-(L/2) log det Q`` to the complete-data
log-likelihood, so the Q-update divides by ``n + L``. With ``initial_state="estimated"`` (the default) the first L
factors x_1..x_L are parameters: the likelihood is p(y | x_1..x_L, theta), rotation-invariant and free of any prior,
and a third CM-step updates them by weighted least squares from the same E-step (an ECM, still monotone).

Variances are kept above small floors by clipping (the exact constrained maximiser), so a measurement variance
that wants to collapse to zero (a "Heywood case", common for yield curves) cannot break the filter.
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Callable, Mapping

import numpy as np

from ..data import Observations, read_observations
from ..errors import ConvergenceWarning, EstimationError, InputError
from .kalman import KalmanSmootherRunner, SmoothedStates
from .params import LGSSMParams, _sym
from .results import LGSSMResult, SmoothResult

_FIXABLE = ("A", "C", "Q", "R", "state_intercept", "obs_intercept")
INITIAL_STATES = ("diffuse", "estimated")


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
    S_zz = np.block([[np.array([[n]]), sum_w[None, :]], [sum_w[:, None], S_ww]])
    return np.column_stack([sum_y, S_yw]), S_zz


def _obs_moments(y, missing, groups, M, P, params: LGSSMParams, intercept: bool):
    """Expected moments of the completed observations: (Syy, Syz, Szz, n); M, P = E[x_t|Y], Var(x_t|Y)."""
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


def _clip_cov(S: np.ndarray, floor: np.ndarray, diagonal: bool) -> np.ndarray:
    """argmax of -n/2 log det X - 1/2 tr(X^-1 n S) subject to X >= diag(floor): eigenvalue clipping in the metric
    of ``floor`` (for a diagonal X, clipping each variance). Being the exact constrained maximiser, it keeps the
    EM monotone while stopping variances from collapsing to zero."""
    if diagonal:
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
            Ro_inv_C = np.linalg.solve(R[np.ix_(obs, obs)], C[obs])
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


def m_step(y, missing, groups, es: SmoothedStates, params: LGSSMParams, *, intercepts: bool, diagonal_R: bool,
           fixed: frozenset, initial_state: str, r_floor: np.ndarray, q_floor: np.ndarray) -> LGSSMParams:
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
    Syy, Syz, Szz_o, n_o = _obs_moments(y, missing, groups, M, P, params, intercepts)
    G, R = _regression_update(Syy, Syz, Szz_o, n_o, intercept=intercepts,
                              coef_fixed_part=params.C if "C" in fixed else None)
    new["C"] = G[:, 1:] if intercepts else G
    new["obs_intercept"] = G[:, 0] if intercepts else np.zeros(params.k_endog)
    new["R"] = _clip_cov(R, r_floor, diagonal_R)
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


def fit_lgssm(y, k_states: int, lags: int = 1, intercepts: bool = True, *, diagonal_R: bool = True,
              fixed: Mapping[str, np.ndarray] | None = None, initial_state: str = "estimated",
              start: LGSSMParams | None = None, max_iter: int = 500, tol: float = 1e-7,
              normalize: bool = True, progress: Callable[[int, float], None] | None = None) -> LGSSMResult:
    r"""Fit the LGSSM ``x_t = d + sum_j A_j x_{t-j} + w_t``, ``y_t = c + C x_t + e_t`` by exact EM.

    Parameters
    ----------
    y : array (T, p), DataFrame, CSV/XLSX path or nested lists; NaN/blank = missing (handled in the filter).
    k_states : number of factors k (< p).
    lags : VAR order L of the factors.
    intercepts : estimate ``d`` and ``c`` (else both are zero).
    diagonal_R : measurement errors independent across series (the usual dynamic-factor model) or full R.
    fixed : known matrices by name ("A" (L,k,k), "C", "Q", "R", "state_intercept", "obs_intercept"); they are
        held at the given values and the rest is estimated conditionally (still monotone).
    initial_state : "estimated" (default: the first L factors x_1..x_L are parameters, estimated with the rest;
        ``params.initial_mean`` holds them as (x_L, ..., x_1)) or "diffuse" (a flat prior in units of Q,
        rotation-invariant; its likelihood is exact-diffuse but rewards a factor whose shock variance shrinks, so
        prefer it with Q or the loadings pinned).
    start : starting parameters; default the deterministic PCA + VAR-OLS start, so two runs agree exactly.
    max_iter, tol : stop when the relative change of the log-likelihood is below ``tol``; reaching ``max_iter``
        first sets ``converged=False`` and issues a :class:`~xlatsm.errors.ConvergenceWarning`.
    normalize : report in the identified normalisation of :func:`identifying_rotation` (unless a fixed matrix
        already pins the rotation: C, A, Q or the state intercept).
    progress : called as ``progress(iteration, loglik)`` after every E-step.

    Returns
    -------
    LGSSMResult with ``params``, ``loglik`` (at ``params``), ``loglik_path``, ``smoothed_states`` (T, k),
    ``smoothed_cov`` (T, k, k), ``n_iter``, ``converged`` and ``summary()``.
    """
    obs = read_observations(y)
    _check_inputs(obs, k_states, lags)
    if initial_state not in INITIAL_STATES:
        raise InputError(f"initial_state must be one of {INITIAL_STATES}, not {initial_state!r}")
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(_FIXABLE)
    if unknown:
        raise InputError(f"cannot fix {sorted(unknown)}: fixable matrices are {list(_FIXABLE)}")
    if not intercepts and {"state_intercept", "obs_intercept"} & set(fixed):
        raise InputError("intercepts=False already fixes the intercepts at zero")
    fixed_names = frozenset(fixed) | (frozenset({"state_intercept", "obs_intercept"}) if not intercepts
                                      else frozenset())
    values = obs.values
    missing = np.isnan(values)
    groups = _missing_groups(missing)

    params = start if start is not None else initial_params(values, k_states, lags, intercepts, fixed)
    if params.k_states != k_states or params.lags != lags or params.k_endog != values.shape[1]:
        raise InputError("start parameters do not match k_states, lags and the number of series")
    m = k_states * lags
    if initial_state == "estimated":
        params = replace(params, initial_mean=np.zeros(m) if params.initial_mean is None else params.initial_mean,
                         initial_cov=np.zeros((m, m)))
    if initial_state == "diffuse":
        params = replace(params, initial_mean=None, initial_cov=None)

    # a fixed A, C, Q or non-zero state intercept pins the factors' rotation (a zero intercept does not)
    blockers = {"A", "C", "Q"} | ({"state_intercept"} if np.any(params.state_intercept != 0)
                                 and "state_intercept" in fixed_names else set())
    free_rotation = not (blockers & fixed_names)
    # variance floors (exact constrained M-steps): measurement variances >= 1e-6 of each series' variance, and
    # factor shock variances >= 1e-8 of the starting ones; they stop Heywood collapses from breaking the filter
    r_floor = 1e-6 * np.nanvar(values, axis=0) + 1e-300
    q_floor = 1e-8 * np.diag(params.Q) + 1e-300
    # A proper start has no diffuse periods, so statsmodels' lag-one smoothed covariance is exact there and the
    # filter runs on the kL companion state; a diffuse start needs the (k(L+1)) extra-lag state instead.
    extra_lag = initial_state == "diffuse"
    runner = KalmanSmootherRunner(values, k_states * (lags + extra_lag), k_states, lag_cov=not extra_lag)
    path: list[float] = []
    converged = fell = False
    es = None
    for iteration in range(max_iter + 1):
        es = runner.smooth(params.to_state_space(len(values), extra_lag=extra_lag))
        path.append(es.loglik + params.diffuse_loglik_correction())
        if progress is not None:
            progress(iteration, path[-1])
        if iteration > 0:
            change = (path[-1] - path[-2]) / abs(path[-2])
            if change < -1e-8 and not fell:
                # EM cannot lower the likelihood; a fall means the filter lost precision (typically a measurement
                # variance collapsing towards zero, a "Heywood case"). Say so instead of hiding it.
                fell = True
                warnings.warn(f"the log-likelihood fell at EM iteration {iteration} ({path[-2]:.6f} -> "
                              f"{path[-1]:.6f}): the Kalman filter is losing precision, usually because a "
                              f"measurement error variance is collapsing to zero (smallest R_ii = "
                              f"{np.min(np.diag(params.R)):.3g}); try fewer factors", ConvergenceWarning,
                              stacklevel=2)
            if abs(change) < tol:
                converged = True
                break
        if iteration == max_iter:
            break
        params = m_step(values, missing, groups, es, params, intercepts=intercepts, diagonal_R=diagonal_R,
                        fixed=fixed_names, initial_state=initial_state, r_floor=r_floor, q_floor=q_floor)
        if free_rotation:
            # The likelihood is invariant to x* = M x, so rotating every iterate to orthonormal loadings changes
            # nothing EM guarantees, but keeps the factors well scaled: left alone they can drift to tiny
            # loadings with huge variances, where the filter's absolute diffuse tolerance breaks down.
            U, s, Vt = np.linalg.svd(params.C, full_matrices=False)
            params = params.rotate(np.diag(s) @ Vt)
    n_iter = len(path) - 1
    if not converged:
        warnings.warn(f"EM stopped after max_iter={max_iter} iterations before the log-likelihood settled "
                      f"(last relative change {abs(path[-1] - path[-2]) / abs(path[-2]) if len(path) > 1 else np.nan:.2e}"
                      f" > tol={tol:g}); raise max_iter or loosen tol", ConvergenceWarning, stacklevel=2)

    states, cov = params.factor_moments(es.states, es.cov)
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
    return LGSSMResult(params=params, loglik=path[-1], loglik_path=np.array(path), n_iter=n_iter,
                       converged=converged, smoothed_states=states, smoothed_cov=cov, index=obs.index,
                       columns=obs.columns, n_obs_cells=int((~missing).sum()), diagonal_R=diagonal_R,
                       intercepts=intercepts, fixed=tuple(sorted(fixed_names)), initial_state=initial_state,
                       normalisation=normalisation, tol=tol, data=values)


def smooth_states(y, params: LGSSMParams) -> SmoothResult:
    """Kalman-smooth ``y`` (T, p; NaN = missing) with known ``params``: ``.states`` (T, k), ``.cov`` (T, k, k),
    ``.loglik``. The core of the SMOOTH_STATES spreadsheet function."""
    obs = read_observations(y)
    if obs.values.shape[1] != params.k_endog:
        raise InputError(f"the data have {obs.values.shape[1]} series but the model was fitted to "
                         f"{params.k_endog}: select the same columns")
    k, n = params.k_states, len(obs.values)
    es = KalmanSmootherRunner(obs.values, k * params.lags, k, lag_cov=False).smooth(params.to_state_space(n))
    states, cov = params.factor_moments(es.states, es.cov)
    return SmoothResult(states=states, cov=cov, loglik=es.loglik + params.diffuse_loglik_correction(),
                        index=obs.index,
                        fitted=params.obs_intercept + states @ params.C.T, columns=obs.columns)
