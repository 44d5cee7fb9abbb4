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
They are solved exactly by one matrix exponential of the linear system satisfied by ``z = (B, vec(BB'), A, 1)``
(Van Loan's construction), again with no eigen-decomposition.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from ..errors import ModelError


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


def continuous_price_loadings(KQ: np.ndarray, thetaQ: np.ndarray, Sigma: np.ndarray, delta0: float,
                              delta1: np.ndarray, taus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A(tau), B(tau)) of log bond prices ``A + B'X`` in continuous time, exact via one matrix exponential."""
    KQ = np.atleast_2d(np.asarray(KQ, float))
    N = KQ.shape[0]
    thetaQ = np.asarray(thetaQ, float).reshape(N)
    delta1 = np.asarray(delta1, float).reshape(N)
    Omega = Sigma @ Sigma.T
    I = np.eye(N)
    # z = (B, vec(BB'), A, 1); dz/dtau = M z
    size = N + N * N + 2
    M = np.zeros((size, size))
    iB, iV, iA, i1 = slice(0, N), slice(N, N + N * N), N + N * N, N + N * N + 1
    M[iB, iB] = -KQ.T
    M[iB, i1] = -delta1
    # d(BB')/dtau = B' B^T + B B'^T with B' = -delta1 - K'B  (vec row-major: vec(X)[i*N+j] = X[i,j])
    M[iV, iV] = -(np.kron(KQ.T, I) + np.kron(I, KQ.T))
    M[iV, iB] = -(np.kron(delta1[:, None], I) + np.kron(I, delta1[:, None]))
    M[iA, iB] = KQ @ thetaQ
    M[iA, iV] = 0.5 * Omega.reshape(-1)
    M[iA, i1] = -delta0
    z0 = np.zeros(size)
    z0[i1] = 1.0
    taus = np.atleast_1d(np.asarray(taus, float))
    A = np.empty(len(taus))
    B = np.empty((len(taus), N))
    for j, tau in enumerate(taus):
        z = expm(M * tau) @ z0
        A[j], B[j] = z[iA], z[iB]
    return A, B


def continuous_yield_loadings(KQ, thetaQ, Sigma, delta0, delta1, taus) -> tuple[np.ndarray, np.ndarray]:
    """Yield loadings ``y(tau) = A_y(tau) + B_y(tau)'X`` = ``-(A + B'X)/tau``."""
    taus = np.atleast_1d(np.asarray(taus, float))
    A, B = continuous_price_loadings(KQ, thetaQ, Sigma, delta0, delta1, taus)
    return -A / taus, -B / taus[:, None]
