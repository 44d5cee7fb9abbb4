r"""Parameters of the linear Gaussian state-space model (LGSSM) with VAR(L) factors

.. math::

    x_t = d + A_1 x_{t-1} + \dots + A_L x_{t-L} + w_t,\quad w_t \sim N(0, Q)  \\
    y_t = c + C x_t + e_t,\quad e_t \sim N(0, R)

``x_t`` has ``k`` factors, ``y_t`` has ``p`` series. The Kalman filter runs on the companion state
``s_t = (x_t, x_{t-1}, ..., x_{t-L+1})`` of size ``m = k L``, started at ``s_L`` (see
:meth:`LGSSMParams.to_state_space`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ModelError
from .kalman import StateSpace


def _sym(a: np.ndarray) -> np.ndarray:
    return 0.5 * (a + a.T)


@dataclass(frozen=True)
class LGSSMParams:
    """One parameter set of the LGSSM (module docstring). Shapes: ``A`` (L, k, k), ``C`` (p, k), ``Q`` (k, k),
    ``R`` (p, p), ``state_intercept`` d (k,), ``obs_intercept`` c (p,); ``initial_mean`` (kL,) and
    ``initial_cov`` (kL, kL) give the distribution of the first companion state, ``None`` meaning diffuse."""

    A: np.ndarray
    C: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    state_intercept: np.ndarray
    obs_intercept: np.ndarray
    initial_mean: np.ndarray | None = None
    initial_cov: np.ndarray | None = None

    def __post_init__(self):
        A = np.asarray(self.A, dtype=float)
        if A.ndim == 2:
            A = A[None]
        object.__setattr__(self, "A", A)
        for name in ("C", "Q", "R", "state_intercept", "obs_intercept"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        L, k, k2 = A.shape
        p = self.C.shape[0]
        expected = {"A": (L, k, k), "C": (p, k), "Q": (k, k), "R": (p, p), "state_intercept": (k,),
                    "obs_intercept": (p,)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ModelError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        if self.initial_mean is not None:
            m = k * L
            mean = np.asarray(self.initial_mean, float).reshape(m)
            cov = np.asarray(self.initial_cov, float).reshape(m, m)
            object.__setattr__(self, "initial_mean", mean)
            object.__setattr__(self, "initial_cov", cov)

    @property
    def k_states(self) -> int:
        return self.A.shape[1]

    @property
    def lags(self) -> int:
        return self.A.shape[0]

    @property
    def k_endog(self) -> int:
        return self.C.shape[0]

    def companion_transition(self) -> np.ndarray:
        """The (kL, kL) companion matrix [[A_1 ... A_L], [I 0], ...]."""
        L, k = self.lags, self.k_states
        T = np.zeros((k * L, k * L))
        T[:k] = np.hstack(list(self.A))
        T[k:, :-k] = np.eye(k * (L - 1))
        return T

    def is_stationary(self) -> bool:
        return bool(np.max(np.abs(np.linalg.eigvals(self.companion_transition()))) < 1.0)

    def to_state_space(self, n_obs: int, extra_lag: bool = False) -> StateSpace:
        """The companion-form state space for a sample of ``n_obs`` dates.

        The first state is ``s_L = (x_L, ..., x_1)``: the factors of the first L dates, diffuse (or
        N(initial_mean, initial_cov)), so the VAR(L) holds from date L+1 on, the state-space analogue of
        conditioning a VAR on its first L observations (a diffuse start on *pre-sample* lags would put
        -log|det A_L| into the diffuse likelihood, which is then unbounded). For L > 1 the system is time-varying
        over the first L-1 steps: the state stays put and the design reads x_t from block L-t.

        With ``extra_lag`` the state carries one lag more, ``(x_t, ..., x_{t-L})`` with zero coefficients, so that
        its smoothed covariance holds every cross moment the EM needs (:mod:`xlatsm.ssm.em`); the extra block
        starts from an arbitrary proper prior and never enters the likelihood.
        """
        L, k, p = self.lags, self.k_states, self.k_endog
        m = k * (L + extra_lag)
        design = np.zeros((p, m))
        design[:, :k] = self.C
        selection = np.zeros((m, k))
        selection[:k] = np.eye(k)
        state_intercept = np.zeros(m)
        state_intercept[:k] = self.state_intercept
        transition = np.zeros((m, m))
        transition[:k, :k * L] = np.hstack(list(self.A))
        transition[k:, :-k] = np.eye(m - k)
        if L > 1:
            n_hold = min(L - 1, n_obs)
            design = np.repeat(design[:, :, None], n_obs, axis=2)
            for i in range(n_hold):  # date i+1 reads block L-1-i of the held state
                design[:, :, i] = 0.0
                design[:, (L - 1 - i) * k:(L - i) * k, i] = self.C
            transition = np.repeat(transition[:, :, None], n_obs, axis=2)
            transition[:, :, :n_hold] = np.eye(m)[:, :, None]
            selection = np.repeat(selection[:, :, None], n_obs, axis=2)
            selection[:, :, :n_hold] = 0.0
            state_intercept = np.repeat(state_intercept[:, None], n_obs, axis=1)
            state_intercept[:, :n_hold] = 0.0
        mean, cov, n_diffuse = self.initial_mean, self.initial_cov, 0
        if extra_lag:
            if mean is None:
                mean, cov, n_diffuse = np.zeros(k), np.eye(k), k * L
            else:
                mean = np.concatenate([mean, np.zeros(k)])
                cov = np.block([[cov, np.zeros((k * L, k))], [np.zeros((k, k * L)), np.eye(k)]])
        return StateSpace(design=design, obs_intercept=self.obs_intercept, obs_cov=_sym(self.R),
                          transition=transition, state_intercept=state_intercept,
                          selection=selection, state_cov=_sym(self.Q),
                          initial_mean=mean, initial_cov=cov, n_diffuse=n_diffuse)

    def diffuse_loglik_correction(self) -> float:
        """``-(L/2) log det Q`` under a diffuse start, else 0.

        The Kalman filter's exact-diffuse log-likelihood is ``lim log p_kappa(y) + (d/2) log kappa`` for a prior
        ``N(0, kappa I)`` in the state's own units, which changes by ``L log|det M|`` when the factors are rotated
        (x* = M x). xlatsm's diffuse prior is ``N(0, kappa Q)`` per initial block instead; the two differ by this
        term, and the sum is invariant to rotations.
        """
        if self.initial_mean is not None:
            return 0.0
        return -0.5 * self.lags * float(np.linalg.slogdet(self.Q)[1])

    def factor_moments(self, states: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """E[x_t|Y] (T, k) and Var(x_t|Y) (T, k, k) from smoothed states of :meth:`to_state_space`."""
        L, k = self.lags, self.k_states
        mean, var = states[:, :k].copy(), cov[:, :k, :k].copy()
        # The state is held over the first L-1 steps, so every early date is read from the last held step
        # (statsmodels' exact-diffuse smoother is unreliable at the earlier, identical, steps).
        held = min(L, len(states)) - 1
        for i in range(held):
            b = slice((L - 1 - i) * k, (L - i) * k)
            mean[i], var[i] = states[held, b], cov[held, b, b]
        return mean, var

    def rotate(self, M: np.ndarray) -> "LGSSMParams":
        """The observationally equivalent parameters for factors ``x* = M x`` (same likelihood)."""
        Minv = np.linalg.inv(M)
        big = np.kron(np.eye(self.lags), M)
        return replace(
            self,
            A=np.array([M @ a @ Minv for a in self.A]),
            C=self.C @ Minv,
            Q=_sym(M @ self.Q @ M.T),
            state_intercept=M @ self.state_intercept,
            initial_mean=None if self.initial_mean is None else big @ self.initial_mean,
            initial_cov=None if self.initial_cov is None else _sym(big @ self.initial_cov @ big.T),
        )

    def shifted(self, a: np.ndarray) -> "LGSSMParams":
        """The observationally equivalent parameters for factors ``x* = x + a`` (same likelihood):
        ``d* = d + (I - sum_j A_j) a``, ``c* = c - C a``, the first factors' mean + a."""
        a = np.asarray(a, float)
        return replace(self, state_intercept=self.state_intercept + (np.eye(self.k_states) - self.A.sum(0)) @ a,
                       obs_intercept=self.obs_intercept - self.C @ a,
                       initial_mean=None if self.initial_mean is None else self.initial_mean + np.tile(a, self.lags))

    def spectral_radius(self) -> float:
        """Largest modulus of the companion matrix's eigenvalues (>= 1: the factor VAR is not stationary)."""
        return float(np.max(np.abs(np.linalg.eigvals(self.companion_transition()))))

    def scaled(self, shift: np.ndarray, scale: float) -> "LGSSMParams":
        r"""The same model for the data ``y* = (y - shift) / scale`` with factors ``x* = x / scale``:

        ``c* = (c - shift) / scale``, ``C* = C``, ``R* = R / scale^2``, ``d* = d / scale``, ``Q* = Q / scale^2``,
        ``A* = A``, first factors ``/ scale`` (their covariance ``/ scale^2``). :meth:`unscaled` inverts it. The
        log-likelihoods differ by the Jacobian only: ``log p(y) = log p*(y*) - n_cells log(scale)`` (also under
        the diffuse start, whose prior is flat in units of Q)."""
        s = float(scale)
        return replace(
            self, obs_intercept=(self.obs_intercept - shift) / s, R=self.R / s ** 2,
            state_intercept=self.state_intercept / s, Q=self.Q / s ** 2,
            initial_mean=None if self.initial_mean is None else self.initial_mean / s,
            initial_cov=None if self.initial_cov is None else self.initial_cov / s ** 2)

    def unscaled(self, shift: np.ndarray, scale: float) -> "LGSSMParams":
        """The inverse of :meth:`scaled`: parameters for ``y = shift + scale y*``, ``x = scale x*``."""
        s = float(scale)
        return replace(
            self, obs_intercept=shift + s * self.obs_intercept, R=self.R * s ** 2,
            state_intercept=self.state_intercept * s, Q=self.Q * s ** 2,
            initial_mean=None if self.initial_mean is None else self.initial_mean * s,
            initial_cov=None if self.initial_cov is None else self.initial_cov * s ** 2)

    def stabiliser_dim(self, fixed: frozenset = frozenset()) -> int:
        r"""Dimension ``s`` of the directions of the affine factor map ``x* = M x + a`` (M invertible) that leave
        the ``fixed`` blocks unchanged, at these parameters: the redundant directions of the free parameters
        (moving along them changes no distribution of y).

        Near the identity (``M = I + X``) the blocks move by ``dA_j = X A_j - A_j X``, ``dC = -C X``,
        ``dQ = X Q + Q X'``, ``dd = X d + (I - sum_j A_j) a``, ``dc = -C a`` (R does not move); the answer is
        ``k^2 + k`` minus the rank of this linear map restricted to the fixed blocks (computed numerically).
        With nothing fixed it is ``k^2 + k``."""
        L, k = self.lags, self.k_states
        rows = []
        basis = []
        for i in range(k * k + k):
            v = np.zeros(k * k + k)
            v[i] = 1.0
            X, a = v[:k * k].reshape(k, k), v[k * k:]
            parts = []
            if "A" in fixed:
                parts += [(X @ Aj - Aj @ X).ravel() for Aj in self.A]
            if "C" in fixed:
                parts.append((-self.C @ X).ravel())
            if "Q" in fixed:
                parts.append((X @ self.Q + self.Q @ X.T).ravel())
            if "state_intercept" in fixed:
                parts.append(X @ self.state_intercept + (np.eye(k) - self.A.sum(0)) @ a)
            if "obs_intercept" in fixed:
                parts.append(-self.C @ a)
            basis.append(np.concatenate(parts) if parts else np.zeros(0))
        J = np.array(basis).T
        if J.size == 0:
            return k * k + k
        sv = np.linalg.svd(J, compute_uv=False)
        rank = int(np.sum(sv > 1e-9 * max(sv[0], 1e-300)))
        return k * k + k - rank

    def n_free(self, measurement_error="diagonal", intercepts: bool = True, fixed: frozenset = frozenset(),
               initial_state: str = "diffuse") -> int:
        r"""Number of free, identified parameters (for AIC/BIC):

        .. math::

            n = L k^2 + p k + \tfrac{k(k+1)}{2} + n_R + [p + k]_{\text{intercepts}} + [L k]_{\text{estimated}}
                - s

        counting only the blocks not fixed, where ``n_R`` is ``p`` (diagonal R), ``1`` (common R = sigma^2 I) or
        ``p(p+1)/2`` (full R), ``L k`` counts the estimated first factors x_1..x_L (``initial_state="estimated"``),
        and ``s`` is the dimension of the redundant directions: the affine factor map ``x* = M x + a``
        (``k^2 + k`` dimensions) changes nothing observable, and ``s`` counts those of its directions that leave
        the fixed blocks (the zero intercepts of ``intercepts=False`` included) unchanged (:meth:`stabiliser_dim`;
        ``s = k^2 + k`` with nothing fixed, ``k^2`` without intercepts). With nothing fixed this is
        ``(L - 1) k^2 + p k + k(k+1)/2 + n_R + p [+ L k]`` with intercepts (``d`` is redundant with ``c``) and
        ``(L - 1) k^2 + p k + k(k+1)/2 + n_R [+ L k]`` without. ``measurement_error`` also accepts the old
        ``diagonal_R`` booleans."""
        if isinstance(measurement_error, (bool, np.bool_)):
            measurement_error = "diagonal" if measurement_error else "full"
        L, k, p = self.lags, self.k_states, self.k_endog
        fixed = frozenset(fixed) | (frozenset() if intercepts else frozenset({"state_intercept", "obs_intercept"}))
        n_R = {"diagonal": p, "common": 1, "full": p * (p + 1) // 2}[measurement_error]
        sizes = {"A": L * k * k, "C": p * k, "Q": k * (k + 1) // 2, "R": n_R, "state_intercept": k,
                 "obs_intercept": p}
        count = sum(n for name, n in sizes.items() if name not in fixed)
        if initial_state == "estimated":
            count += L * k
        return count - self.stabiliser_dim(fixed)
