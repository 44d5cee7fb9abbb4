r"""A compiled Kalman filter and smoother for the LGSSM, working in the k-dimensional factor space.

The observations of each date are collapsed onto the factors whatever is missing: with observed cells ``o``,

.. math::

    W_t = C_o' R_{oo}^{-1} C_o \ (k \times k), \qquad b_t = C_o' R_{oo}^{-1} (y_o - c_o) \ (k), \qquad
    e_t = (y_o - c_o)' R_{oo}^{-1} (y_o - c_o),

are all the filter needs (no p x p matrix is formed). With the predicted factor block ``a_x, P_x`` of the
companion state and ``M = I + W P_x`` (eigenvalues >= 1, so always invertible, even for a singular ``P_x`` or
``W``), the usual quantities of the p-dimensional filter follow from the push-through and Woodbury identities:

.. math::

    C_o' F^{-1} C_o = M^{-1} W, \quad C_o' F^{-1} v = M^{-1} (b - W a_x), \quad
    \log\det F = \log\det R_{oo} + \log\det M, \quad
    v' F^{-1} v = e - 2 a_x' b + a_x' W a_x - g' P_x M^{-1} g\ (g = b - W a_x),

where ``F = C_o P_x C_o' + R_oo`` and ``v = y_o - c_o - C_o a_x``. The smoother is the backward ``r_t, N_t``
recursion of Durbin and Koopman (2012, sec. 4.4), which needs no inverse of a predicted covariance (the estimated
start has a zero one), with lag-one covariances ``Cov(s_{t+1}, s_t | Y) = (I - P_{t+1} N_t) L_t P_t``.

Once the Riccati recursion has converged on a run of dates with the same missing pattern (the predicted
covariance repeats to 1e-14 relative), its gain is reused (steady state: exact to rounding); the same holds
backwards for ``N_t``.

The kernel is compiled with numba (``cache=True``: once per machine) when numba is installed; set the environment
variable ``XLATSM_NUMBA=0`` (or :data:`ENABLED` = False) to use statsmodels' smoother instead, which gives the
same numbers (tested) and needs no compiler (Pyodide).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError
from .kalman import SmoothedStates

# optional (the `fast` extra); numba itself is imported on the first call of a kernel, not with xlatsm (it would
# add to the start-up Excel pays), and XLATSM_NUMBA=0 turns it off
HAVE_NUMBA = os.environ.get("XLATSM_NUMBA", "1") != "0" and importlib.util.find_spec("numba") is not None
#: use the compiled kernel for the LGSSM E-step (False: statsmodels' smoother, the same numbers, slower)
ENABLED = HAVE_NUMBA
# the steady state is taken once the predicted covariance repeats to this relative precision
STEADY_TOL = 1e-14
_LOG_2PI = float(np.log(2.0 * np.pi))
_KERNELS: list[str] = []


def _compile_all() -> None:
    """Replace every kernel of this module by its numba-compiled version (callees first, so that the callers'
    compilation sees compiled callees; ``cache=True``: compiled once per machine)."""
    import numba

    module = globals()
    for name in _KERNELS:
        fn = module[name]
        if not hasattr(fn, "_lazy"):
            continue
        module[name] = numba.njit(cache=True, nogil=True)(fn.py_func)


def _jit(fn):
    """A kernel: plain Python until first called with numba installed, then compiled (see _compile_all)."""
    _KERNELS.append(fn.__name__)
    if not HAVE_NUMBA:
        return fn

    def lazy(*args):
        _compile_all()
        return globals()[fn.__name__](*args)

    lazy.py_func = fn
    lazy._lazy = True
    lazy.__name__ = fn.__name__
    lazy.__doc__ = fn.__doc__
    return lazy


# ----------------------------------------------------------------------------------------------------------------
# the kernel (plain loops on small matrices: fast compiled, correct but slow interpreted)
# ----------------------------------------------------------------------------------------------------------------
@_jit
def _lu_inverse(M, out):
    """out = M^-1 for a small square M (Gauss-Jordan, partial pivoting); returns log det M (NaN unless det M > 0:
    M = I + W P has a positive determinant whenever the covariance P is positive semi-definite)."""
    k = M.shape[0]
    A = M.copy()
    for i in range(k):
        for j in range(k):
            out[i, j] = 1.0 if i == j else 0.0
    logdet = 0.0
    sign = 1.0
    for c in range(k):
        piv = c
        big = abs(A[c, c])
        for r in range(c + 1, k):
            if abs(A[r, c]) > big:
                big = abs(A[r, c])
                piv = r
        if big == 0.0:
            return np.nan
        if piv != c:
            sign = -sign
            for j in range(k):
                tmp = A[c, j]
                A[c, j] = A[piv, j]
                A[piv, j] = tmp
                tmp = out[c, j]
                out[c, j] = out[piv, j]
                out[piv, j] = tmp
        d = A[c, c]
        if d < 0.0:
            sign = -sign
        logdet += np.log(abs(d))
        for j in range(k):
            A[c, j] /= d
            out[c, j] /= d
        for r in range(k):
            if r != c:
                f = A[r, c]
                if f != 0.0:
                    for j in range(k):
                        A[r, j] -= f * A[c, j]
                        out[r, j] -= f * out[c, j]
    return logdet if sign > 0.0 else np.nan


@_jit
def _mm(A, B, out):
    n, q = A.shape
    s = B.shape[1]
    for i in range(n):
        for j in range(s):
            acc = 0.0
            for l in range(q):
                acc += A[i, l] * B[l, j]
            out[i, j] = acc


@_jit
def _mtm(A, B, out):
    """out = A' B"""
    q, n = A.shape
    s = B.shape[1]
    for i in range(n):
        for j in range(s):
            acc = 0.0
            for l in range(q):
                acc += A[l, i] * B[l, j]
            out[i, j] = acc


@_jit
def _mmt(A, B, out):
    """out = A B'"""
    n, q = A.shape
    s = B.shape[0]
    for i in range(n):
        for j in range(s):
            acc = 0.0
            for l in range(q):
                acc += A[i, l] * B[j, l]
            out[i, j] = acc


@_jit
def _close(A, B, tol):
    scale = 0.0
    diff = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            scale = max(scale, abs(A[i, j]))
            diff = max(diff, abs(A[i, j] - B[i, j]))
    return diff <= tol * scale


@_jit
def filter_smooth(W, widx, b, e, Tc, dc, GQG, a1, P1, n_hold, k, steady_tol):
    """Filter and smoother on collapsed observations (module docstring).

    W (n_W, k, k) and widx (n,) give W_t = W[widx[t]]; b (n, k); e (n,) the e_t (only to check that each
    v'F^-1 v >= 0: far from the data, e.g. in an explosive trial of a line search, a covariance can lose positive
    definiteness in rounding, and that date's term is then NaN rather than a spuriously high value); the companion transition Tc (m, m), intercept
    dc (m,), state-noise covariance GQG (m, m); the first state s_0 ~ N(a1, P1); over the first ``n_hold`` steps
    the state is held (identity, no noise) and date t reads block ``n_hold - t`` (the VAR(L) start, L = n_hold+1).

    Returns smoothed states (n, m), covariances (n, m, m), lag-one covariances Cov(s_t, s_{t-1}|Y) (n, m, m;
    row 0 NaN), the state-dependent part of each date's log-likelihood (n,): -(log det M + v'F^-1 v - e)/2, and
    the sums the M-step needs: of the covariances over t >= n_hold and of the lag-one covariances over
    t >= n_hold + 1 (m, m each).
    """
    n = widx.shape[0]
    m = Tc.shape[0]
    a_pred = np.empty((n, m))
    P_pred = np.empty((n, m, m))
    Wt_all = np.empty((n, k, k))
    gt_all = np.empty((n, k))
    steady = np.zeros(n, dtype=np.bool_)
    ll = np.empty(n)
    a = a1.copy()
    P = P1.copy()
    Px = np.empty((k, k))
    Mm = np.empty((k, k))
    Minv = np.empty((k, k))
    Wt = np.empty((k, k))
    g = np.empty(k)
    gt = np.empty(k)
    PH = np.empty((m, k))
    PHWt = np.empty((m, k))
    Pu = np.empty((m, m))
    au = np.empty(m)
    TP = np.empty((m, m))
    Pn = np.empty((m, m))
    logdetM = 0.0
    is_steady = False
    for t in range(n):
        off = (n_hold - t) * k if t < n_hold else 0
        a_pred[t] = a
        Wd = W[widx[t]]
        if is_steady and widx[t] == widx[t - 1]:
            steady[t] = True
            P_pred[t] = P_pred[t - 1]
        else:
            is_steady = False
            P_pred[t] = P
            for i in range(k):
                for j in range(k):
                    Px[i, j] = P[off + i, off + j]
            # M = I + W Px
            _mm(Wd, Px, Mm)
            for i in range(k):
                Mm[i, i] += 1.0
            logdetM = _lu_inverse(Mm, Minv)
            _mm(Minv, Wd, Wt)
            for i in range(k):          # symmetric in exact arithmetic
                for j in range(i + 1, k):
                    s = 0.5 * (Wt[i, j] + Wt[j, i])
                    Wt[i, j] = s
                    Wt[j, i] = s
            for i in range(m):
                for j in range(k):
                    PH[i, j] = P[i, off + j]
            _mm(PH, Wt, PHWt)
        Wt_all[t] = Wt
        # g = b - W a_x, gt = M^-1 g
        for i in range(k):
            acc = b[t, i]
            for j in range(k):
                acc -= Wd[i, j] * a[off + j]
            g[i] = acc
        quad = 0.0
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += Minv[i, j] * g[j]
            gt[i] = acc
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += Px[i, j] * gt[j]
            quad += g[i] * acc
        ab = 0.0
        aWa = 0.0
        for i in range(k):
            ab += a[off + i] * b[t, i]
            acc = 0.0
            for j in range(k):
                acc += Wd[i, j] * a[off + j]
            aWa += a[off + i] * acc
        state_part = -2.0 * ab + aWa - quad
        if e[t] + state_part < -1e-9 * (e[t] + 2.0 * abs(ab) + abs(aWa) + abs(quad)):
            ll[t] = np.nan
        else:
            ll[t] = -0.5 * (logdetM + state_part)
        gt_all[t] = gt
        # update
        for i in range(m):
            acc = a[i]
            for j in range(k):
                acc += PH[i, j] * gt[j]
            au[i] = acc
        if t < n_hold:
            a[:] = au
        else:
            for i in range(m):
                acc = dc[i]
                for j in range(m):
                    acc += Tc[i, j] * au[j]
                a[i] = acc
        if steady[t]:
            continue
        for i in range(m):
            for j in range(m):
                acc = P[i, j]
                for l in range(k):
                    acc -= PHWt[i, l] * PH[j, l]
                Pu[i, j] = acc
        if t < n_hold:
            Pn[:, :] = Pu
        else:
            _mm(Tc, Pu, TP)
            _mmt(TP, Tc, Pn)
            for i in range(m):
                for j in range(m):
                    Pn[i, j] += GQG[i, j]
        for i in range(m):
            for j in range(i + 1, m):
                s = 0.5 * (Pn[i, j] + Pn[j, i])
                Pn[i, j] = s
                Pn[j, i] = s
        # steady from the next date on if the predicted covariance repeats and the pattern stays
        if t >= n_hold and t + 1 < n and widx[t + 1] == widx[t] and _close(Pn, P, steady_tol):
            is_steady = True
        P[:, :] = Pn

    # backward pass
    states = np.empty((n, m))
    cov = np.empty((n, m, m))
    lag = np.empty((n, m, m))
    lag[0] = np.nan
    cov_sum = np.zeros((m, m))
    lag_sum = np.zeros((m, m))
    r = np.zeros(m)
    N = np.zeros((m, m))
    rn = np.empty(m)
    Nn = np.empty((m, m))
    Lt = np.empty((m, m))
    IPW = np.empty((m, m))
    LN = np.empty((m, m))
    tmp = np.empty((m, m))
    tmp2 = np.empty((m, m))
    PN = np.empty((m, m))
    N_conv = False   # N_t equals N_{t+1} to steady_tol (set by the previous step)
    for t in range(n - 1, -1, -1):
        off = (n_hold - t) * k if t < n_hold else 0
        Pt = P_pred[t]
        Wt = Wt_all[t]
        gt = gt_all[t]
        # in a steady run L_t, N_{t-1}, V_t and the lag covariance repeat those of the date after
        reuse = N_conv and t + 2 < n and steady[t + 1] and steady[t + 2]
        if not reuse:
            # L_t = T_t (I - P_t H' Wt H)
            for i in range(m):
                for j in range(m):
                    IPW[i, j] = 1.0 if i == j else 0.0
            for i in range(m):
                for j in range(k):
                    acc = 0.0
                    for l in range(k):
                        acc += Pt[i, off + l] * Wt[l, j]
                    IPW[i, off + j] -= acc
            if t < n_hold:
                Lt[:, :] = IPW
            else:
                _mm(Tc, IPW, Lt)
        # r_{t-1} = H' gt + L' r_t
        for i in range(m):
            acc = 0.0
            for j in range(m):
                acc += Lt[j, i] * r[j]
            rn[i] = acc
        for i in range(k):
            rn[off + i] += gt[i]
        if not reuse:
            # N_{t-1} = H' Wt H + L' N_t L
            _mtm(Lt, N, LN)
            _mm(LN, Lt, Nn)
            for i in range(k):
                for j in range(k):
                    Nn[off + i, off + j] += Wt[i, j]
            for i in range(m):
                for j in range(i + 1, m):
                    s = 0.5 * (Nn[i, j] + Nn[j, i])
                    Nn[i, j] = s
                    Nn[j, i] = s
        for i in range(m):
            acc = a_pred[t, i]
            for j in range(m):
                acc += Pt[i, j] * rn[j]
            states[t, i] = acc
        if reuse:
            cov[t] = cov[t + 1]
            lag[t + 1] = lag[t + 2]
        else:
            # V_t = P - P N_{t-1} P
            _mm(Pt, Nn, PN)
            _mm(PN, Pt, tmp)
            for i in range(m):
                for j in range(m):
                    cov[t, i, j] = Pt[i, j] - 0.5 * (tmp[i, j] + tmp[j, i])
            if t + 1 < n:
                # Cov(s_{t+1}, s_t) = (I - P_{t+1} N_t) L_t P_t, N_t being the N before this step
                _mm(P_pred[t + 1], N, tmp)
                for i in range(m):
                    for j in range(m):
                        tmp[i, j] = (1.0 if i == j else 0.0) - tmp[i, j]
                _mm(tmp, Lt, tmp2)
                _mm(tmp2, Pt, tmp)
                lag[t + 1] = tmp
            N_conv = _close(Nn, N, steady_tol)
        if t >= n_hold:
            for i in range(m):
                for j in range(m):
                    cov_sum[i, j] += cov[t, i, j]
                    if t + 1 < n:
                        lag_sum[i, j] += lag[t + 1, i, j]
        r[:] = rn
        N[:, :] = Nn
    return states, cov, lag, ll, cov_sum, lag_sum


@_jit
def missing_cell_moments(y0, ptr, cols, M, P, C, c, Syy, Syx, usum, diag_only):
    """Add to Syy (p, p), Syx (p, k), usum (p,) what the missing cells of the completed data contribute (diagonal
    R: a missing cell is c_i + C_i x_t + noise). Date t's missing columns are cols[ptr[t]:ptr[t+1]]; y0 holds 0 in
    missing cells. With U = Y0 + Delta (Delta non-zero in missing cells only, delta_ti = c_i + C_i M_t):
    U'U = Y0'Y0 + Y0'Delta + Delta'Y0 + Delta'Delta, and E[.|Y] adds C_i P_t C_j for two missing cells of one date
    (the measurement noise n_i R_ii is added by the caller). Cost: (missing cells) x p + sum_t (missing at t)^2.
    With ``diag_only`` only the diagonal of Syy (where Y0'Delta vanishes) is accumulated, at (missing cells) x k^2."""
    n, p = y0.shape
    k = M.shape[1]
    delta = np.empty(p)
    CP = np.empty((p, k))
    for t in range(n):
        s0 = ptr[t]
        s1 = ptr[t + 1]
        if s0 == s1:
            continue
        for q in range(s0, s1):
            i = cols[q]
            d = c[i]
            for a in range(k):
                d += C[i, a] * M[t, a]
            delta[q - s0] = d
            usum[i] += d
            for a in range(k):
                acc = 0.0
                for b_ in range(k):
                    acc += C[i, b_] * P[t, b_, a]
                CP[q - s0, a] = acc
                Syx[i, a] += d * M[t, a] + acc
            if diag_only:
                acc = d * d
                for a in range(k):
                    acc += CP[q - s0, a] * C[i, a]
                Syy[i, i] += acc
                continue
            for j in range(p):
                v = d * y0[t, j]
                Syy[i, j] += v
                Syy[j, i] += v
        if diag_only:
            continue
        for q1 in range(s0, s1):
            i = cols[q1]
            for q2 in range(s0, s1):
                j = cols[q2]
                acc = delta[q1 - s0] * delta[q2 - s0]
                for a in range(k):
                    acc += CP[q1 - s0, a] * C[j, a]
                Syy[i, j] += acc


# ----------------------------------------------------------------------------------------------------------------
# collapse of the observations and the LGSSM wrapper
# ----------------------------------------------------------------------------------------------------------------
@_jit
def _collapse_diagonal(y0, observed, C, c, inv_r, b, e):
    """b[t] = C' R^-1 (y_t - c) and e[t] = (y_t - c)' R^-1 (y_t - c) over the observed cells, one pass."""
    n, p = y0.shape
    k = C.shape[1]
    for t in range(n):
        et = 0.0
        for a in range(k):
            b[t, a] = 0.0
        for i in range(p):
            if observed[t, i] == 0.0:
                continue
            d = y0[t, i] - c[i]
            dw = d * inv_r[i]
            et += d * dw
            for a in range(k):
                b[t, a] += dw * C[i, a]
        e[t] = et


@dataclass
class Collapsed:
    """The observations collapsed onto the factors: W[widx[t]] (k, k), b (n, k), and ``const[t]`` =
    -(p_t log 2 pi + log det R_oo + e_t) / 2, the part of date t's log-likelihood that does not involve the state, and
    ``e`` the e_t."""

    W: np.ndarray
    widx: np.ndarray
    b: np.ndarray
    const: np.ndarray
    e: np.ndarray


def _is_diagonal(R: np.ndarray) -> bool:
    return np.count_nonzero(R) == np.count_nonzero(np.diagonal(R))


def collapse(y0: np.ndarray, observed: np.ndarray, pattern_index: np.ndarray, patterns: np.ndarray,
             C: np.ndarray, c: np.ndarray, R: np.ndarray, complete: bool | None = None) -> Collapsed:
    """Collapse the observations (module docstring). ``y0`` (n, p) is the data with 0 in missing cells,
    ``observed`` (n, p) float 0/1, ``patterns`` (n_pat, p) bool missing patterns and ``pattern_index`` (n,) the
    pattern of each date. Diagonal R is computed per series, vectorised over dates and patterns (no loop over
    patterns); a full R per pattern (one Cholesky factor each)."""
    n, p = y0.shape
    k = C.shape[1]
    if complete is None:
        complete = bool(observed.all())
    n_obs = np.full(n, float(p)) if complete else observed.sum(1)
    if _is_diagonal(R):
        r = np.diag(R)
        if np.any(r <= 0):
            raise EstimationError("a measurement-error variance is not positive")
        inv_r = 1.0 / r
        if ENABLED:
            b, e = np.empty((n, k)), np.empty(n)
            _collapse_diagonal(y0, observed, np.array(C, dtype=float, order="C"),
                               np.array(c, dtype=float), inv_r, b, e)   # (copies: writable, one signature)
        else:
            dev = y0 - c
            if not complete:
                dev *= observed
            b = dev @ (C * inv_r[:, None])
            e = (dev * dev) @ inv_r
        logdet = np.full(n, np.sum(np.log(r))) if complete else observed @ np.log(r)
        CC = (C[:, :, None] * C[:, None, :]).reshape(p, k * k) * inv_r[:, None]
        W = ((~patterns).astype(float) @ CC).reshape(len(patterns), k, k)
    else:
        dev = y0 - c
        if not complete:
            dev *= observed
        W = np.zeros((len(patterns), k, k))
        b = np.zeros((n, k))
        e = np.zeros(n)
        logdet = np.zeros(n)
        for i, pattern in enumerate(patterns):
            obs = ~pattern
            if not obs.any():
                continue
            rows = np.flatnonzero(pattern_index == i)
            try:
                chol = np.linalg.cholesky(R[np.ix_(obs, obs)])
            except np.linalg.LinAlgError as exc:
                raise EstimationError("the measurement-error covariance R is not positive definite") from exc
            Ct = np.linalg.solve(chol, C[obs])
            dt = np.linalg.solve(chol, dev[np.ix_(rows, obs)].T)
            W[i] = Ct.T @ Ct
            b[rows] = (Ct.T @ dt).T
            e[rows] = np.sum(dt * dt, axis=0)
            logdet[rows] = 2.0 * np.sum(np.log(np.diag(chol)))
    const = -0.5 * (n_obs * _LOG_2PI + logdet + e)
    return Collapsed(W=np.ascontiguousarray(W), widx=np.ascontiguousarray(pattern_index, dtype=np.int64),
                     b=np.ascontiguousarray(b), const=const, e=np.ascontiguousarray(e, dtype=float))


class KernelSmoother:
    """The E-step smoother of an LGSSM (:class:`~xlatsm.ssm.params.LGSSMParams`) bound once to the data ``y``
    (n, p; NaN = missing), run by the compiled kernel for new parameters.

    ``diffuse=True`` starts from a flat prior on the first L factor blocks x_1..x_L (exact diffuse, as
    statsmodels' exact-diffuse initialisation of the companion state): their posterior given y_1..y_L is
    N(W_i^-1 b_i, W_i^-1) per block, proper when each of the first L dates observes the factors (W_i invertible;
    see :meth:`usable`), so the rest of the sample is filtered from that known start. The diffuse dates' terms are
    ``-(p_i log 2 pi + log det R_oo + log det W_i + e_i - b_i' W_i^-1 b_i) / 2``, which is statsmodels' exact-diffuse
    log-likelihood (P_inf = I). Otherwise the params' ``initial_mean``/``initial_cov`` are the known start.

    ``smooth`` returns :class:`~xlatsm.ssm.kalman.SmoothedStates` of the kL companion state (as statsmodels on
    :meth:`LGSSMParams.to_state_space`), lag-one covariances included (exact at every date).
    """

    def __init__(self, y: np.ndarray, k_states: int, lags: int, diffuse: bool = False):
        y = np.asarray(y, dtype=float)
        self.n, self.p = y.shape
        self.k, self.L, self.diffuse = k_states, lags, diffuse
        self.missing = np.isnan(y)
        self.observed = np.ascontiguousarray((~self.missing).astype(float))
        self.y0 = np.ascontiguousarray(np.where(self.missing, 0.0, y))   # C order: one compiled signature
        self.patterns, inverse = np.unique(self.missing, axis=0, return_inverse=True)
        self.pattern_index = np.asarray(inverse).ravel().astype(np.int64)
        self.complete = not self.missing.any()

    @staticmethod
    def usable(missing: np.ndarray, k_states: int, lags: int, diffuse: bool) -> bool:
        """Whether the kernel can run: always for a known start; for a diffuse one, when each of the first L dates
        observes at least k cells (and the series to identify the factors, checked at run time)."""
        if not diffuse:
            return True
        counts = (~missing[:lags]).sum(axis=1)
        return len(missing) > lags and bool(np.all(counts >= k_states))

    def smooth(self, params) -> SmoothedStates:
        k, L = self.k, self.L
        m = k * L
        col = collapse(self.y0, self.observed, self.pattern_index, self.patterns, params.C, params.obs_intercept,
                       params.R, self.complete)
        dc = np.zeros(m)
        dc[:k] = params.state_intercept
        GQG = np.zeros((m, m))
        GQG[:k, :k] = 0.5 * (params.Q + params.Q.T)
        start = None if self.diffuse else (params.initial_mean, params.initial_cov)
        return smooth_collapsed(col, params.companion_transition(), dc, GQG, k, L, start)


def smooth_collapsed(col: Collapsed, Tc: np.ndarray, dc: np.ndarray, GQG: np.ndarray, k: int, L: int = 1,
                     start: tuple[np.ndarray, np.ndarray] | None = None) -> SmoothedStates:
    """Filter and smooth collapsed observations ``col`` through ``s_t = dc + Tc s_{t-1} + noise(GQG)`` (the
    companion state of a VAR(L) in k factors, held over its first L-1 steps), from ``start = (mean, cov)`` of the
    first state, or, with ``start=None``, a flat prior on it (exact diffuse, P_inf = I: see
    :class:`KernelSmoother`)."""
    n = len(col.widx)
    m = k * L
    W, widx, b, e = col.W, col.widx, col.b, col.e
    loglik_obs = col.const.copy()
    if start is None:
        n_start = min(L, n)
        a1, P1 = np.zeros(m), np.zeros((m, m))
        for i in range(n_start):
            Wi, bi = W[widx[i]], b[i]
            try:
                chol = np.linalg.cholesky(Wi)
            except np.linalg.LinAlgError as exc:
                raise EstimationError(f"date {i + 1} does not identify the factors under a diffuse start "
                                      "(its observed loadings have rank < k)") from exc
            Wi_inv = np.linalg.inv(Wi)
            blk = slice((L - 1 - i) * k, (L - i) * k)
            a1[blk] = Wi_inv @ bi
            P1[blk, blk] = 0.5 * (Wi_inv + Wi_inv.T)
            loglik_obs[i] += -0.5 * (2.0 * np.sum(np.log(np.diag(chol))) - bi @ a1[blk])
        # the first L dates have been absorbed into the start: no information left in them
        W = np.concatenate([W, np.zeros((1, k, k))])
        widx = widx.copy()
        widx[:n_start] = len(W) - 1
        b = b.copy()
        b[:n_start] = 0.0
    else:
        a1 = np.asarray(start[0], float)
        P1 = 0.5 * (np.asarray(start[1], float) + np.asarray(start[1], float).T)
    states, cov, lag, ll, cov_sum, lag_sum = filter_smooth(
        np.ascontiguousarray(W), widx, np.ascontiguousarray(b), e, np.ascontiguousarray(Tc, dtype=float),
        np.ascontiguousarray(dc, dtype=float), np.ascontiguousarray(GQG, dtype=float),
        np.ascontiguousarray(a1, dtype=float), np.ascontiguousarray(P1, dtype=float), L - 1, k, STEADY_TOL)
    loglik_obs += ll
    llf = float(np.sum(loglik_obs))
    if not np.isfinite(llf):
        raise EstimationError("the Kalman filter's log-likelihood is not finite at these parameters "
                              "(a covariance matrix may have lost positive definiteness)")
    return SmoothedStates(states=states, cov=cov, lag_cov=lag, loglik=llf, loglik_obs=loglik_obs,
                          cov_sum=cov_sum, lag_sum=lag_sum, sums_from=L - 1)
