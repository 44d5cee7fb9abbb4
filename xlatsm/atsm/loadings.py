r"""Exact bond-yield loadings of Gaussian affine term structure models, with the convexity (Jensen) term.

Discrete time (the estimation default; JSZ/ACM monthly convention). Under Q, with period length ``dt`` years,

.. math::

    X_{t+1} = K_0^Q + K_1^Q X_t + \Sigma \varepsilon^Q_{t+1},\qquad r_t = \rho_0 + \rho_1' X_t \ \text{(per year)}

and the price of an n-period zero bond is ``exp(a_n + b_n' X_t)`` with the exact recursion

.. math::

    b_{n+1} = K_1^{Q\prime} b_n - \rho_1\,dt,\qquad
    a_{n+1} = a_n + b_n' K_0^Q + \tfrac12 b_n' \Sigma\Sigma' b_n - \rho_0\,dt,\qquad a_0 = 0,\ b_0 = 0.

The yield (continuously compounded, per year) is ``y_n = A_n + B_n' X`` with ``A_n = -a_n/(n dt)``,
``B_n = -b_n/(n dt)``. Nothing is divided by an eigenvalue difference, so repeated, near-repeated and complex
eigenvalues of ``K_1^Q`` need no special case.

Continuous time. ``dX = K(\theta - X)dt + \Sigma dW`` under Q, ``r = \delta_0 + \delta_1'X``; ``B(\tau)`` and
``A(\tau)`` solve the Riccati ODEs ``B' = -\delta_1 - K'B``, ``A' = -\delta_0 + B'K\theta + \tfrac12 B'\Sigma\Sigma'B``.
They are solved exactly by matrix exponentials of the linear system satisfied by ``z = (B, vec(BB'), int B,
int BB', 1)`` (Van Loan's construction; :func:`continuous_loading_integrals`), again with no eigen-decomposition;
the intercept is then ``A = (int B)'K theta + 1/2 tr(Sigma Sigma' int BB') - delta_0 tau`` for any drift.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelError

# Pade(13) coefficients of the scaling-and-squaring matrix exponential (Higham 2005), and its largest 1-norm
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def expm(A: np.ndarray) -> np.ndarray:
    """Matrix exponential of a small matrix (real or complex) by scaling and squaring with the degree-13 Pade
    approximant (Higham 2005), in plain numpy products and one solve.

    Why not scipy.linalg.expm: on a loaded machine its compiled kernel cost 8-16 ms per call for a 25 x 25 matrix
    (threaded BLAS contention), 300 times these numpy products; the likelihoods here call it thousands of times."""
    A = np.asarray(A)
    n = A.shape[0]
    norm = float(np.abs(A).sum(axis=0).max()) if n else 0.0
    s = max(0, int(np.ceil(np.log2(norm / _THETA13)))) if norm > _THETA13 else 0
    if s:
        A = A / 2.0 ** s
    b = _PADE13
    I = np.eye(n, dtype=A.dtype)
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A4 @ A2
    U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * I)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * I
    R = np.linalg.solve(V - U, V + U)
    for _ in range(s):
        R = R @ R
    return R


def discrete_price_loadings(K0Q: np.ndarray, K1Q: np.ndarray, Omega: np.ndarray, rho0: float, rho1: np.ndarray,
                            n_max: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) for n = 0..n_max: a (n_max+1,), b (n_max+1, N) of log bond prices ``a_n + b_n'X``.

    ``Omega = Sigma Sigma'`` is the one-period shock covariance. A diagonal ``K1Q`` takes a vectorised closed form
    (geometric sums of its diagonal); any other ``K1Q`` the recursion.
    """
    K1Q = np.atleast_2d(np.asarray(K1Q, float))
    N = K1Q.shape[0]
    rho1 = np.asarray(rho1, float).reshape(N)
    K0Q = np.asarray(K0Q, float).reshape(N)
    n = np.arange(n_max + 1)
    if np.count_nonzero(K1Q - np.diag(np.diag(K1Q))) == 0:
        lam = np.diag(K1Q)
        # b_n = -dt rho1 * (1 + lam + ... + lam^{n-1}), the sum taken by cumulation (no 1/(1-lam))
        powers = lam[None, :] ** n[:-1, None]
        b = np.zeros((n_max + 1, N))
        b[1:] = -dt * rho1[None, :] * np.cumsum(powers, axis=0)
    else:
        b = np.zeros((n_max + 1, N))
        for i in range(n_max):
            b[i + 1] = K1Q.T @ b[i] - dt * rho1
    increments = b[:-1] @ K0Q + 0.5 * np.einsum("ni,ij,nj->n", b[:-1], Omega, b[:-1]) - dt * rho0
    a = np.concatenate([[0.0], np.cumsum(increments)])
    return a, b


def discrete_yield_loadings(K0Q, K1Q, Omega, rho0, rho1, periods, dt) -> tuple[np.ndarray, np.ndarray]:
    """Yield loadings ``A`` (J,) and ``B`` (J, N) for maturities of ``periods`` (positive integers) periods."""
    periods = np.asarray(periods)
    if np.any(periods < 1) or np.any(np.abs(periods - np.round(periods)) > 1e-9):
        raise ModelError(f"discrete-time maturities must be whole numbers of periods, got {periods}")
    periods = np.round(periods).astype(int)
    a, b = discrete_price_loadings(K0Q, K1Q, Omega, rho0, rho1, int(periods.max()), dt)
    scale = -1.0 / (periods * dt)
    return a[periods] * scale, b[periods] * scale[:, None]


def continuous_loading_integrals(K: np.ndarray, rho1: np.ndarray, taus) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
    r"""The pieces of every continuous-time Gaussian bond price, for drift ``mu_0 - K X`` and ``r = rho_0 +
    rho_1'X``: ``b(tau)`` solving ``b' = -rho_1 - K'b``, ``b(0) = 0``, its integral ``I(tau) = int_0^tau b`` and
    ``C(tau) = int_0^tau b b'``, so that for any ``mu_0``, ``Omega = Sigma Sigma'`` and ``rho_0``

    .. math::

        \log P(\tau) = a(\tau) + b(\tau)'X,\qquad a(\tau) = I(\tau)'\mu_0 + \tfrac12\,\mathrm{tr}(\Omega C(\tau))
            - \rho_0 \tau.

    Exact: ``z = (b, vec(bb'), I, vec C, 1)`` solves the linear ODE ``z' = H z`` (Van Loan's construction), so
    ``z(tau_k) = expm(H (tau_k - tau_{k-1})) z(tau_{k-1})`` over the sorted maturities: one matrix exponential and
    its powers when the maturities are whole multiples of a common step (months), else one per distinct gap. No eigen-decomposition: repeated, complex and zero eigenvalues of K need no special case.
    Returns (b (J, N), I (J, N), C (J, N, N)) in the order of ``taus`` (years)."""
    K = np.atleast_2d(np.asarray(K, float))
    N = K.shape[0]
    rho1 = np.asarray(rho1, float).reshape(N)
    I = np.eye(N)
    iB, iV, iI, iC = (slice(0, N), slice(N, N + N * N), slice(N + N * N, 2 * N + N * N),
                      slice(2 * N + N * N, 2 * N + 2 * N * N))
    i1 = 2 * N + 2 * N * N
    H = np.zeros((i1 + 1, i1 + 1))
    H[iB, iB] = -K.T
    H[iB, i1] = -rho1
    # d(bb')/dtau = b'b^T + b b'^T with b' = -rho1 - K'b  (vec row-major: vec(X)[i*N+j] = X[i,j]); the Kronecker
    # products kron(K', I) + kron(I, K') and kron(rho1, I) + kron(I, rho1) written as broadcasts
    Kt = K.T
    H[iV, iV] = -(Kt[:, None, :, None] * I[None, :, None, :] + I[:, None, :, None] * Kt[None, :, None, :]).reshape(
        N * N, N * N)
    H[iV, iB] = -(rho1[:, None, None] * I[None, :, :] + I[:, None, :] * rho1[None, :, None]).reshape(N * N, N)
    H[iI, iB] = I
    H[iC, iV] = np.eye(N * N)
    taus = np.atleast_1d(np.asarray(taus, float))
    if np.any(taus < 0) or not np.all(np.isfinite(taus)):
        raise ModelError(f"maturities must be non-negative and finite, got {taus}")
    order = np.argsort(taus, kind="stable")
    z = np.zeros(i1 + 1)
    z[i1] = 1.0
    out = np.empty((len(taus), i1 + 1))
    steps = _StepExponentials(H, taus)
    previous = 0.0
    for j in order:
        gap = float(taus[j] - previous)
        if gap > 0:
            z = steps(gap) @ z
        out[j] = z
        previous = float(taus[j])
    return out[:, iB], out[:, iI], out[:, iC].reshape(len(taus), N, N)


class _StepExponentials:
    """expm(H gap) for the gaps between sorted maturities. When every maturity is a whole multiple of a common step
    h (whole months, say), one exponential expm(H h) is taken and the others are its powers (by squaring); else
    one exponential per distinct gap."""

    def __init__(self, H: np.ndarray, taus: np.ndarray):
        self.H = H
        self.cache: dict = {}
        self.unit = None
        positive = np.unique(taus[taus > 0])
        if len(positive):
            h = float(positive.min())
            for candidate in (h, h / 2, h / 3, h / 4, h / 6, h / 12):
                ratio = positive / candidate
                if np.all(np.abs(ratio - np.round(ratio)) < 1e-9 * ratio) and ratio.max() < 1e5:
                    self.unit = candidate
                    break
        if self.unit is not None:
            self.powers = {1: expm(H * self.unit)}

    def _power(self, k: int) -> np.ndarray:
        if k not in self.powers:
            half = self._power(k // 2)
            square = half @ half
            self.powers[k] = square @ self.powers[1] if k % 2 else square
        return self.powers[k]

    def __call__(self, gap: float) -> np.ndarray:
        if self.unit is not None:
            k = int(round(gap / self.unit))
            if k >= 1 and abs(k * self.unit - gap) <= 1e-9 * gap:
                return self._power(k)
        key = round(gap, 12)
        if key not in self.cache:
            self.cache[key] = expm(self.H * gap)
        return self.cache[key]


def continuous_price_loadings(KQ: np.ndarray, thetaQ: np.ndarray, Sigma: np.ndarray, delta0: float,
                              delta1: np.ndarray, taus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A(tau), B(tau)) of log bond prices ``A + B'X`` in continuous time, exact via matrix exponentials
    (:func:`continuous_loading_integrals` with ``mu_0 = K theta``)."""
    KQ = np.atleast_2d(np.asarray(KQ, float))
    N = KQ.shape[0]
    thetaQ = np.asarray(thetaQ, float).reshape(N)
    Omega = np.asarray(Sigma, float) @ np.asarray(Sigma, float).T
    taus = np.atleast_1d(np.asarray(taus, float))
    b, integral, C = continuous_loading_integrals(KQ, delta1, taus)
    A = integral @ (KQ @ thetaQ) + 0.5 * np.einsum("ij,nij->n", Omega, C) - delta0 * taus
    return A, b


def continuous_yield_loadings(KQ, thetaQ, Sigma, delta0, delta1, taus) -> tuple[np.ndarray, np.ndarray]:
    """Yield loadings ``y(tau) = A_y(tau) + B_y(tau)'X`` = ``-(A + B'X)/tau``."""
    taus = np.atleast_1d(np.asarray(taus, float))
    A, B = continuous_price_loadings(KQ, thetaQ, Sigma, delta0, delta1, taus)
    return -A / taus, -B / taus[:, None]
