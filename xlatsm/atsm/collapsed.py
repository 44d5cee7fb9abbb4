r"""The ATSM's Kalman filter and smoother in the collapsed N-dimensional observation space (Jungbacker-Koopman).

The yield state space ``y_t = A + B P_t + e_t``, ``e_t ~ N(0, diag(sigma^2))`` (only the observed cells ``o_t``
of date t), ``P_t = K_0 + K_1 P_{t-1} + Sigma_P eps_t``, has p = J observations on N << J factors. With
``C_t = B_o' R_o^{-1} B_o = V_t diag(l_t) V_t'`` and ``b_t = B_o' R_o^{-1} (y_o - A_o)`` the density of a date
factorises exactly (for every P_t) as

.. math::

    \log p(y_{o,t} | P_t) = \log N(y^*_t;\ Z_t P_t,\ I_{r_t})
        - \tfrac{p_t - r_t}{2}\log 2\pi - \tfrac12 \log|R_o| - \tfrac12 \hat e_t' R_o^{-1} \hat e_t

with ``y*_t = l_t^{-1/2} V_t' b_t`` and ``Z_t = l_t^{1/2} V_t'`` (the r_t eigen-directions of C_t that the
observed maturities identify; r_t = N on every date with at least N observed maturities), and ``e_hat`` the GLS
residual. So the Kalman filter and smoother run on at most N observations per date with unit measurement
variance, whatever J is: the p x p innovation covariance (and its T copies, 0.77 GB for Liu-Wu's 360 maturities)
never exists, and the collapse is well conditioned (C_t is close to J/sigma^2 times the identity in the
principal-component rotation). The remainder terms are summed in closed form. The filtering itself is
statsmodels' Cython smoother with exact diffuse initialisation; the diffuse prior is flat in units of
``Omega_P`` (``N(0, kappa Omega_P)``), which adds ``-1/2 log det Omega_P`` (as :mod:`xlatsm.ssm`).

Units: everything in decimals (yields) and periods; log-likelihoods in nats.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.tsa.statespace.kalman_smoother import KalmanSmoother

from ..errors import EstimationError
from ..ssm import kernel

_LOG2PI = np.log(2 * np.pi)


@dataclass
class Smoothed:
    """Smoother output: ``states`` (T, m), ``cov`` (T, m, m), ``loglik`` (the ATSM's exact diffuse log-likelihood)."""

    states: np.ndarray
    cov: np.ndarray
    loglik: float


class CollapsedYields:
    """A yield panel Y (T, J; NaN = missing) bound once; filter/smooth it for any loadings and parameters."""

    def __init__(self, Y: np.ndarray):
        self.Y = np.asarray(Y, float)
        self.mask = ~np.isnan(self.Y)
        self.Y0 = np.where(self.mask, self.Y, 0.0)
        self.T, self.J = self.Y.shape
        self.n_cells = int(self.mask.sum())
        self.mask_float = self.mask.astype(float)
        patterns, inverse = np.unique(self.mask, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        self.groups = [(pattern, np.flatnonzero(inverse == i)) for i, pattern in enumerate(patterns)]

    def collapse(self, A: np.ndarray, B: np.ndarray, sigma2: np.ndarray):
        """(y* (T, N) with NaN for unidentified directions, Z (T, N, N), remainder log-likelihood term).

        Per pattern of observed maturities (dates sharing one share ``Z``), by a QR decomposition of the
        whitened design ``R_o^{-1/2} B_o = Q Z``: ``y*_t = Q' w_t`` with ``w_t = R_o^{-1/2}(y_o - A_o)``, and the
        GLS residual is ``w_t - Q y*_t``. (Forming ``C = B'R^-1 B`` would square the design's condition number,
        and a weakly identified factor direction then costs the log-likelihood ~1e-9 of relative precision.) A
        pattern that does not identify every factor (fewer than N maturities, or a rank-deficient design) keeps
        its r identified directions, from the eigen-decomposition of C."""
        N = B.shape[1]
        sd = np.sqrt(sigma2)
        ystar = np.full((self.T, N), np.nan)
        Z = np.zeros((self.T, N, N))
        quad, n_kept = 0.0, 0
        for pattern, rows in self.groups:
            if not pattern.any():
                continue
            Bw = B[pattern] / sd[pattern, None]                               # (p_o, N)
            w = (self.Y0[np.ix_(rows, pattern)] - A[pattern]) / sd[pattern]   # (T_g, p_o)
            full = False
            if pattern.sum() >= N:
                Q, R = np.linalg.qr(Bw)
                diag = np.abs(np.diag(R))
                full = diag.min() > 1e-8 * max(diag.max(), 1e-300)
            if full:
                ys = w @ Q
                resid = w - ys @ Q.T
                Z[rows] = R
                n_kept += N * len(rows)
            else:
                lam, V = np.linalg.eigh(Bw.T @ Bw)
                keep = lam > 1e-11 * max(lam[-1], 1e-300)
                lam_k = np.where(keep, lam, 1.0)
                proj = (w @ Bw) @ V                                           # (T_g, N)
                ys = np.where(keep, proj / np.sqrt(lam_k), np.nan)
                resid = w - (np.where(keep, proj / lam_k, 0.0) @ V.T) @ Bw.T
                Z[rows] = np.sqrt(lam_k)[:, None] * V.T
                n_kept += int(keep.sum()) * len(rows)
            ystar[rows] = ys
            with np.errstate(over="ignore", invalid="ignore"):
                quad += float(np.sum(resid ** 2))
        logdet_R = float(np.sum(self.mask * np.log(sigma2)))
        remainder = -0.5 * ((self.n_cells - n_kept) * _LOG2PI + logdet_R + quad)
        return ystar, Z, float(remainder)

    def run(self, A, B, sigma2, K0, K1, Omega, *, lagged: bool = False, smooth: bool = True) -> Smoothed:
        """Filter (and smooth) at these parameters. ``lagged``: the state is (P_t, P_{t-1}), so its smoothed
        covariance holds the lag-one cross moments the EM and the score need (row t of ``states`` is
        (P_t, P_{t-1}); the second block of row 0 is zero).

        The diffuse start is taken in closed form when the first date identifies every factor (r_1 = N): the
        flat prior's posterior is the GLS estimate ``P_1 ~ N(x_hat, C_1^-1)`` and the first date contributes
        ``-N/2 log 2 pi - 1/2 log|Omega_P| - 1/2 log|C_1|`` (the limit, with the prior N(0, kappa Omega_P), of
        ``log p(y_1) + N/2 log kappa``); the filter then starts from a proper prior at date 2. This avoids the
        exact-diffuse recursions and their absolute rank tolerances, which cost ~1e-8 of relative precision when
        the collapsed design is large (1/sigma ~ 1e4). Otherwise statsmodels' exact diffuse filter runs."""
        N = B.shape[1]
        ystar, Z, remainder = self.collapse(A, B, sigma2)
        Omega = 0.5 * (Omega + Omega.T)
        sign, logdet_Omega = np.linalg.slogdet(Omega)
        if sign <= 0:
            raise EstimationError("Sigma_P is singular at these parameters")
        if self.T >= 2 and np.all(np.isfinite(ystar[0])) and np.all(np.isfinite(Z[0])):
            if kernel.ENABLED:
                return self._run_kernel(ystar, Z, remainder, K0, K1, Omega, logdet_Omega, lagged)
            return self._run_gls_start(ystar, Z, remainder, K0, K1, Omega, logdet_Omega, lagged, smooth)
        return self._run_diffuse(ystar, Z, remainder, K0, K1, Omega, logdet_Omega, lagged, smooth)

    def _run_kernel(self, ystar, Z, remainder, K0, K1, Omega, logdet_Omega, lagged):
        """The same pass in xlatsm's compiled kernel (:mod:`xlatsm.ssm.kernel`): date t's collapsed observation
        ``y*_t = Z_t P_t + N(0, I)`` enters as ``W_t = Z_t'Z_t``, ``b_t = Z_t'y*_t`` (identified rows only; one
        W per pattern of observed maturities), the flat start is absorbed by the first date exactly as in
        :meth:`_run_gls_start`, and the lag-one covariances come out of the smoother directly."""
        N = K1.shape[0]
        W = np.zeros((len(self.groups), N, N))
        widx = np.zeros(self.T, dtype=np.int64)
        keep = np.isfinite(ystar)
        ys0 = np.where(keep, ystar, 0.0)
        b = np.zeros((self.T, N))
        for g, (pattern, rows) in enumerate(self.groups):
            widx[rows] = g
            if not pattern.any():
                continue
            kept = keep[rows[0]]
            Zk = Z[rows[0]][kept]
            W[g] = Zk.T @ Zk
            b[rows] = ys0[rows][:, kept] @ Zk
        e = np.einsum("ij,ij->i", ys0, ys0)
        const = -0.5 * (keep.sum(1) * _LOG2PI + e)
        col = kernel.Collapsed(W=W, widx=widx, b=b, const=const, e=e)
        es = kernel.smooth_collapsed(col, K1, K0, Omega, N, 1, None)
        ll = es.loglik + remainder - 0.5 * logdet_Omega
        states, cov = es.states, es.cov
        if lagged:
            states = np.zeros((self.T, 2 * N))
            states[:, :N] = es.states
            states[1:, N:] = es.states[:-1]
            cov = np.zeros((self.T, 2 * N, 2 * N))
            cov[:, :N, :N] = es.cov
            cov[1:, N:, N:] = es.cov[:-1]
            cov[1:, :N, N:] = es.lag_cov[1:]
            cov[1:, N:, :N] = np.swapaxes(es.lag_cov[1:], 1, 2)
        self._check(ll, states, cov)
        return Smoothed(states=states, cov=cov, loglik=ll)

    def _system(self, ks, Z, K0, K1, Omega, m, lagged):
        N = K1.shape[0]
        design = np.zeros((N, m, Z.shape[0]))
        design[:, :N, :] = np.moveaxis(Z, 0, 2)
        transition = np.zeros((m, m))
        transition[:N, :N] = K1
        if lagged:
            transition[N:, :N] = np.eye(N)
        intercept = np.zeros(m)
        intercept[:N] = K0
        selection = np.zeros((m, N))
        selection[:N] = np.eye(N)
        ks["design"] = design
        ks["obs_intercept"] = np.zeros(N)
        ks["obs_cov"] = np.eye(N)
        ks["transition"] = transition
        ks["state_intercept"] = intercept
        ks["selection"] = selection
        ks["state_cov"] = Omega

    @staticmethod
    def _finish(ks, smooth):
        with np.errstate(all="ignore"):
            if not smooth:
                return float(ks.loglike()), None, None
            ks.set_smoother_output(0, smoother_state=True, smoother_state_cov=True)
            res = ks.smooth(update_filter=False)
            ll = float(np.sum(ks._kalman_filter.loglikelihood))
            return (ll, np.asarray(res.smoothed_state).T.copy(),
                    np.moveaxis(np.asarray(res.smoothed_state_cov), 2, 0).copy())

    @staticmethod
    def _check(ll, states, cov):
        if not np.isfinite(ll) or (states is not None and not (np.all(np.isfinite(states))
                                                                and np.all(np.isfinite(cov)))):
            raise EstimationError("the Kalman filter's log-likelihood is not finite at these parameters")

    def _run_gls_start(self, ystar, Z, remainder, K0, K1, Omega, logdet_Omega, lagged, smooth):
        N = K1.shape[0]
        Z1 = Z[0]                                          # C_1 = Z_1'Z_1, Z_1 square and invertible
        Zinv = np.linalg.inv(Z1)
        V1 = Zinv @ Zinv.T
        xhat = Zinv @ ystar[0]
        first = -0.5 * N * _LOG2PI - 0.5 * logdet_Omega - np.linalg.slogdet(Z1)[1]
        # (smoothing needs the lagged state to recover P_1, so it always carries it)
        m = 2 * N if (lagged or smooth) else N
        ks = KalmanSmoother(k_endog=N, k_states=m, k_posdef=N)
        ks.bind(np.ascontiguousarray(ystar[1:]))
        self._system(ks, Z[1:], K0, K1, Omega, m, m == 2 * N)
        mean2 = K0 + K1 @ xhat
        cov22 = K1 @ V1 @ K1.T + Omega
        if m == 2 * N:
            mean = np.concatenate([mean2, xhat])
            cross = K1 @ V1
            cov = np.block([[cov22, cross], [cross.T, V1]])
        else:
            mean, cov = mean2, cov22
        ks.initialize_known(mean, 0.5 * (cov + cov.T))
        ll, st, cv = self._finish(ks, smooth)
        ll += first + remainder
        states = cov_out = None
        if smooth:
            states = np.zeros((self.T, m))
            cov_out = np.zeros((self.T, m, m))
            states[1:], cov_out[1:] = st, cv
            states[0, :N] = st[0, N:]
            cov_out[0, :N, :N] = cv[0, N:, N:]
            if not lagged:
                states, cov_out = states[:, :N], cov_out[:, :N, :N]
        self._check(ll, states, cov_out)
        return Smoothed(states=states, cov=cov_out, loglik=ll)

    def _run_diffuse(self, ystar, Z, remainder, K0, K1, Omega, logdet_Omega, lagged, smooth):
        N = K1.shape[0]
        m = 2 * N if lagged else N
        ks = KalmanSmoother(k_endog=N, k_states=m, k_posdef=N)
        ks.bind(np.ascontiguousarray(ystar))
        self._system(ks, Z, K0, K1, Omega, m, lagged)
        if lagged:
            from statsmodels.tsa.statespace.initialization import Initialization

            init = Initialization(m)
            init.set((0, N), "diffuse")
            init.set((N, m), "known", constant=np.zeros(N), stationary_cov=np.eye(N))
            ks.initialize(init)
        else:
            ks.initialize_diffuse()
        ll, states, cov = self._finish(ks, smooth)
        # the diffuse prior is flat in units of Omega_P: -1/2 log det Omega_P (see the module docstring)
        ll += remainder - 0.5 * logdet_Omega
        self._check(ll, states, cov)
        return Smoothed(states=states, cov=cov, loglik=ll)
