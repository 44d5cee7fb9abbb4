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

    def collapse(self, A: np.ndarray, B: np.ndarray, sigma2: np.ndarray):
        """(y* (T, N) with NaN for unidentified directions, Z (T, N, N), remainder log-likelihood term)."""
        N = B.shape[1]
        weights = self.mask / sigma2                                 # R_o^{-1} on observed cells, 0 elsewhere
        E = np.where(self.mask, self.Y0 - A, 0.0)
        b = (E * weights) @ B                                        # (T, N)
        WB = weights[:, :, None] * B[None]                           # (T, J, N)
        C = np.matmul(np.swapaxes(WB, 1, 2), B)                      # (T, N, N)
        lam, V = np.linalg.eigh(0.5 * (C + np.swapaxes(C, 1, 2)))
        top = np.maximum(lam[:, -1:], 1e-300)
        keep = lam > 1e-11 * top                                     # directions the observed maturities pin down
        lam_k = np.where(keep, lam, 1.0)
        Vb = np.einsum("tnk,tn->tk", V, b)
        ystar = np.where(keep, Vb / np.sqrt(lam_k), np.nan)
        Z = np.sqrt(lam_k)[:, :, None] * np.swapaxes(V, 1, 2)        # row k: sqrt(l_k) V_k'
        # GLS fit and residual: x_hat = V diag(1/l) V' b over the kept directions
        xhat = np.einsum("tnk,tk->tn", V, np.where(keep, Vb / lam_k, 0.0))
        resid = np.where(self.mask, E - xhat @ B.T, 0.0)
        quad = np.sum(resid ** 2 * weights)
        n_kept = keep.sum()
        logdet_R = np.sum(self.mask * np.log(sigma2))
        remainder = -0.5 * ((self.n_cells - n_kept) * _LOG2PI + logdet_R + quad)
        return ystar, Z, float(remainder)

    def run(self, A, B, sigma2, K0, K1, Omega, *, lagged: bool = False, smooth: bool = True) -> Smoothed:
        """Filter (and smooth) at these parameters. ``lagged``: the state is (P_t, P_{t-1}), so its smoothed
        covariance holds the lag-one cross moments the EM and the score need (the extra block starts from a
        proper N(0, I) prior that never enters the likelihood)."""
        N = B.shape[1]
        ystar, Z, remainder = self.collapse(A, B, sigma2)
        m = 2 * N if lagged else N
        ks = KalmanSmoother(k_endog=N, k_states=m, k_posdef=N)
        ks.bind(np.ascontiguousarray(ystar))
        design = np.zeros((N, m, self.T))
        design[:, :N, :] = np.moveaxis(Z, 0, 2)
        transition = np.zeros((m, m))
        transition[:N, :N] = K1
        intercept = np.zeros(m)
        intercept[:N] = K0
        selection = np.zeros((m, N))
        selection[:N] = np.eye(N)
        if lagged:
            transition[N:, :N] = np.eye(N)
        ks["design"] = design
        ks["obs_intercept"] = np.zeros(N)
        ks["obs_cov"] = np.eye(N)
        ks["transition"] = transition
        ks["state_intercept"] = intercept
        ks["selection"] = selection
        ks["state_cov"] = 0.5 * (Omega + Omega.T)
        if lagged:
            from statsmodels.tsa.statespace.initialization import Initialization

            init = Initialization(m)
            init.set((0, N), "diffuse")
            init.set((N, m), "known", constant=np.zeros(N), stationary_cov=np.eye(N))
            ks.initialize(init)
        else:
            ks.initialize_diffuse()
        sign, logdet_Omega = np.linalg.slogdet(Omega)
        if sign <= 0:
            raise EstimationError("Sigma_P is singular at these parameters")
        correction = remainder - 0.5 * logdet_Omega
        with np.errstate(all="ignore"):
            if not smooth:
                ll = float(ks.loglike()) + correction
                states = cov = None
            else:
                ks.set_smoother_output(0, smoother_state=True, smoother_state_cov=True)
                res = ks.smooth(update_filter=False)
                ll = float(np.sum(ks._kalman_filter.loglikelihood)) + correction
                states = np.asarray(res.smoothed_state).T.copy()
                cov = np.moveaxis(np.asarray(res.smoothed_state_cov), 2, 0).copy()
        if not np.isfinite(ll) or (states is not None and not (np.all(np.isfinite(states))
                                                                and np.all(np.isfinite(cov)))):
            raise EstimationError("the Kalman filter's log-likelihood is not finite at these parameters")
        return Smoothed(states=states, cov=cov, loglik=ll)
