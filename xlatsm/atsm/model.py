r"""The Gaussian affine term structure model A_0(N) in Joslin-Singleton-Zhu (2011) canonical form.

Discrete time, period ``dt`` years (monthly data: dt = 1/12). Latent canonical factors X_t:

.. math::

    r_t = e_1' X_t,\qquad X_{t+1} = k_\infty^Q e_1 + K_X X_t + \Sigma_X \varepsilon^Q_{t+1}

The Q-eigenvalues are ``lambda_1`` (real: the persistent "level" root that carries ``k_inf^Q``; not bounded, a
unit or explosive root is flagged by the estimators instead) and,
for N >= 3, pairs ``m_j +- sqrt(d_j)`` (real and distinct for d > 0, repeated for d = 0, complex for d < 0),
with a last real root when N - 1 is odd. ``K_X`` is the matrix whose Krylov sequence ``(K_X')^i e_1`` is the
*Newton basis* of the roots, the divided differences ``z^i[lambda_1]``, ``z^i[lambda_1, lambda_2]``, ... (real
parts for a conjugate pair). That basis spans exactly the loadings of JSZ's ``diag(lambda^Q)``, ``rho_1 = iota``
when the roots are real and distinct, and it stays smooth and well conditioned through repeated and complex roots:
nothing is divided by an eigenvalue difference anywhere. ``r_inf^Q = k_inf^Q / (1 - lambda_1)`` is the
risk-neutral long-run mean of the short rate when every root is inside the unit circle. Rates are decimals per
year.
The factors are rotated to ``P_t = W y_t``, the first N principal
components of the yields (``W`` has orthonormal rows): with ``D = W B_X`` and ``c = W A_X``,

.. math::

    y_t = A_P + B_P P_t,\qquad B_P = B_X D^{-1},\qquad A_P = (I - B_P W) A_X,

and under the physical measure P the portfolios follow an unrestricted VAR(1),
``P_t = K_0^P + K_1^P P_{t-1} + \Sigma_P \varepsilon_t`` with ``Omega_P = Sigma_P Sigma_P'``. The convexity term
uses ``Omega_X = D^{-1} Omega_P D^{-T}``. The identified parameters are
``(lambda^Q, k_inf^Q, Sigma_P, K_0^P, K_1^P)`` plus the measurement error standard deviation; two fits of the
same data give the same numbers. Which real root carries ``k_inf^Q`` is a normalisation (the likelihood is the
same for each, see :func:`kinf_on_largest_root`): the estimators report it on the largest real root, as JSZ do.

User-facing form (:meth:`ATSMParams.q_dynamics`, :meth:`ATSMParams.market_price_of_risk`): in the P_t rotation,
``K_1^Q = D diag(lambda^Q) D^{-1}``, ``K_0^Q = (I - K_1^Q) c``, ``r_t = rho_0 + rho_1'P_t`` with
``rho_1 = D^{-T} iota``, ``rho_0 = -rho_1'c``; market prices of risk ``Sigma_P lambda_0 = K_0^P - K_0^Q``,
``Sigma_P lambda_1 = K_1^P - K_1^Q``. Continuous-time equivalents use the *matrix* logarithm,
``K = -logm(K_1)/dt``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.linalg import logm

from ..errors import ModelError


@dataclass(frozen=True)
class ATSMStructure:
    """What is fixed by the data, not estimated: maturities in periods, period length, and the rotation W."""

    periods: np.ndarray      # (J,) maturities in periods (months for monthly data)
    dt: float                # period length in years
    W: np.ndarray            # (N, J) portfolio weights, orthonormal rows

    @property
    def n_factors(self) -> int:
        return self.W.shape[0]

    @property
    def maturities(self) -> np.ndarray:
        """Maturities in years."""
        return self.periods * self.dt


@dataclass(frozen=True)
class Loadings:
    """y = A_P + B_P P (portfolio rotation) and the latent-rotation pieces it was built from."""

    A_P: np.ndarray
    B_P: np.ndarray
    A_X: np.ndarray
    B_X: np.ndarray
    D: np.ndarray     # W B_X
    c: np.ndarray     # W A_X


@dataclass(frozen=True)
class ATSMParams:
    """Identified JSZ parameters (see module docstring). Rates are decimals per year, P_t in decimal units."""

    q_coefs: np.ndarray      # (lambda_1, m_1, d_1, ...): see the module docstring and q_eigenvalues
    kinfQ: float
    Sigma_P: np.ndarray      # lower-triangular Cholesky factor of Omega_P
    K0P: np.ndarray
    K1P: np.ndarray
    sigma_e: np.ndarray      # (J,) measurement error std per maturity (all equal when common)
    structure: ATSMStructure = field(repr=False)

    @property
    def lamQ(self) -> np.ndarray:
        """Q-eigenvalues (roots of p), by decreasing real part; complex when there is a conjugate pair."""
        return q_eigenvalues(self.q_coefs)

    @property
    def rinfQ(self) -> float:
        """Risk-neutral long-run mean of the short rate, k_inf / (1 - lambda_1); NaN unless every |lambda^Q| < 1."""
        if np.max(np.abs(self.lamQ)) >= 1.0:
            return float("nan")
        return float(self.kinfQ / (1.0 - self.q_coefs[0]))

    @property
    def Omega_P(self) -> np.ndarray:
        return self.Sigma_P @ self.Sigma_P.T

    def loadings(self) -> Loadings:
        return jsz_loadings(self.q_coefs, self.kinfQ, self.Omega_P, self.structure)

    def q_dynamics(self) -> dict:
        """Risk-neutral dynamics of P_t: K0Q, K1Q (P_t = K0Q + K1Q P_{t-1} + Sigma_P e), rho0, rho1 (r = rho0 +
        rho1'P, per year)."""
        ld = self.loadings()
        Dinv = np.linalg.inv(ld.D)
        N = len(self.q_coefs)
        K1Q = ld.D @ latent_K1Q(self.q_coefs) @ Dinv
        K0Q = ld.D @ np.eye(N)[0] * self.kinfQ + (np.eye(N) - K1Q) @ ld.c
        rho1 = Dinv.T @ latent_rho1(N)
        rho0 = -rho1 @ ld.c
        return {"K0Q": K0Q, "K1Q": K1Q, "rho0": float(rho0), "rho1": rho1}

    def as_lgssm(self):
        """The yield state space y_t = A_P + B_P P_t + e_t, P_t = K0P + K1P P_{t-1} + Sigma_P eps_t as LGSSM
        parameters (diffuse start), for the Kalman filter and smoother of :mod:`xlatsm.ssm`."""
        from ..ssm.params import LGSSMParams

        ld = self.loadings()
        return LGSSMParams(A=self.K1P[None], C=ld.B_P, Q=self.Omega_P, R=np.diag(self.sigma_e ** 2),
                           state_intercept=self.K0P, obs_intercept=ld.A_P)

    def market_price_of_risk(self) -> tuple[np.ndarray, np.ndarray]:
        """(lambda_0, lambda_1) with Sigma_P lambda_0 = K0P - K0Q and Sigma_P lambda_1 = K1P - K1Q."""
        q = self.q_dynamics()
        lam0 = np.linalg.solve(self.Sigma_P, self.K0P - q["K0Q"])
        lam1 = np.linalg.solve(self.Sigma_P, self.K1P - q["K1Q"])
        return lam0, lam1

    def continuous_time(self) -> dict:
        """Continuous-time equivalents: K = -logm(K1)/dt (matrix log), theta = (I - K1)^-1 K0 (long-run mean),
        for P and Q. Entries are NaN where K1 has no real logarithm (an eigenvalue <= 0)."""
        dt = self.structure.dt
        q = self.q_dynamics()
        out = {}
        for name, K0, K1 in (("P", self.K0P, self.K1P), ("Q", q["K0Q"], q["K1Q"])):
            out[f"K_{name}"] = matrix_log_rate(K1, dt)
            try:
                out[f"theta_{name}"] = np.linalg.solve(np.eye(len(K0)) - K1, K0)
            except np.linalg.LinAlgError:
                out[f"theta_{name}"] = np.full(len(K0), np.nan)
        return out


def matrix_log_rate(K1: np.ndarray, dt: float) -> np.ndarray:
    """``-logm(K1)/dt``: the mean-reversion matrix K with expm(-K dt) = K1 (NaN if no real logarithm exists).

    The elementwise ``-log(K1)`` of the original notebooks is not this unless K1 is diagonal."""
    eig = np.linalg.eigvals(K1)
    if np.any((np.abs(eig.imag) < 1e-12) & (eig.real <= 0)):
        return np.full(K1.shape, np.nan)
    L = logm(K1)
    if np.max(np.abs(np.imag(L))) > 1e-8 * max(1.0, np.max(np.abs(L))):
        return np.full(K1.shape, np.nan)
    return -np.real(L) / dt


def q_roots(q_coefs: np.ndarray) -> list[complex]:
    """The Q-eigenvalues in Newton order: lambda_1, then each pair m +- sqrt(d), then a last real root if any."""
    q = np.asarray(q_coefs, float)
    roots: list[complex] = [complex(q[0])]
    i = 1
    while i + 1 < len(q):
        m, d = q[i], q[i + 1]
        root = np.sqrt(complex(d))
        roots += [m + root, m - root]
        i += 2
    if i < len(q):
        roots.append(complex(q[i]))
    return roots


def q_eigenvalues(q_coefs: np.ndarray) -> np.ndarray:
    """Q-eigenvalues by decreasing real part; real unless there is a conjugate pair."""
    roots = np.array(sorted(q_roots(q_coefs), key=lambda z: (-z.real, -z.imag)), dtype=complex)
    return roots.real if np.all(np.abs(roots.imag) < 1e-14) else roots


def newton_basis(q_coefs: np.ndarray, n_max: int) -> np.ndarray:
    """(n_max, N) real sequences v_i: the Newton divided-difference basis of z^i over the roots (see module doc).

    Each column follows from the previous by the first-order recursion g_k(i+1) = z_k g_k(i) + g_{k-1}(i), run by
    scipy's lfilter (complex for a conjugate pair, whose first member contributes its real part and whose second
    is real by symmetry)."""
    from scipy.signal import lfilter

    roots = q_roots(q_coefs)
    N = len(roots)
    impulse = np.zeros(n_max, dtype=complex)
    impulse[0] = 1.0
    out = np.zeros((n_max, N))
    previous = lfilter([1.0], [1.0, -roots[0]], impulse)
    out[:, 0] = previous.real
    for k in range(1, N):
        current = lfilter([0.0, 1.0], [1.0, -roots[k]], previous)
        out[:, k] = current.real
        previous = current
    return out


def latent_K1Q(q_coefs: np.ndarray) -> np.ndarray:
    """K_X: the matrix whose Krylov sequence (K_X')^i e_1 is the Newton basis, K_X' = [v_1..v_N][v_0..v_{N-1}]^-1
    (the Krylov matrix is unit upper triangular, so always invertible)."""
    v = newton_basis(q_coefs, len(q_coefs) + 1)
    return np.linalg.solve(v[:-1], v[1:])


def latent_rho1(N: int) -> np.ndarray:
    return np.eye(N)[0]


def latent_price_b(q_coefs: np.ndarray, n_max: int, dt: float) -> np.ndarray:
    """b_n (n = 0..n_max, shape (n_max+1, N)) of log bond prices for the latent canonical factors, vectorised:
    b_{n+1} = K_X' b_n - dt e_1, so b_n = -dt sum_{i<n} v_i with v_i the Newton basis."""
    v = newton_basis(q_coefs, n_max)
    b = np.zeros((n_max + 1, len(q_coefs)))
    b[1:] = -dt * np.cumsum(v, axis=0)
    return b


def roots_to_q(lamQ) -> np.ndarray:
    """(lambda_1, m, d, ...) from N real roots (the first becomes lambda_1, the rest are paired in order)."""
    lamQ = [float(np.real(x)) for x in lamQ]
    q = [lamQ[0]]
    rest = lamQ[1:]
    while len(rest) >= 2:
        a, b = rest[0], rest[1]
        q += [(a + b) / 2, ((a - b) / 2) ** 2]
        rest = rest[2:]
    return np.array(q + rest)


def kinf_on_largest_root(params: ATSMParams) -> ATSMParams:
    r"""The same model with ``k_inf^Q`` on the largest real Q-root (JSZ 2011's ordering); ``params`` unchanged
    when it is there already.

    Why: with every root different from 1 the choice of the root that carries the constant is a normalisation,
    not a restriction. Shifting the latent factors by a constant moves the Q-constant between the roots' modes, and
    the portfolio rotation absorbs the shift: the yield loadings depend on ``lambda_1`` and ``k_inf^Q`` only
    through the long-run Q mean of the short rate ``r_inf^Q = k_inf^Q / (1 - lambda_1)``. A search can therefore
    end with ``lambda_1`` on any real root with the same log-likelihood, and ``k_inf^Q`` then means something
    else. Here the largest real root becomes ``lambda_1`` and ``k_inf^Q`` is rescaled to keep ``r_inf^Q``:

    .. math:: k_\infty^{Q\prime} = k_\infty^Q (1 - \lambda_1') / (1 - \lambda_1)

    The old ``lambda_1`` takes the place of the new one: it becomes the last real root, or pairs with the new
    one's partner (both real). Loadings, log-likelihood and every derived quantity are unchanged (up to rounding).
    A ``lambda_1`` within 1e-10 of 1 (a unit root that must carry the constant) is left alone."""
    q = np.asarray(params.q_coefs, float)
    lam1 = float(q[0])
    roots = q_roots(q)
    real = [i for i, z in enumerate(roots) if abs(z.imag) == 0.0]
    top = max(real, key=lambda i: roots[i].real)
    new = float(roots[top].real)
    if top == 0 or not new > lam1 or abs(1.0 - lam1) < 1e-10:
        return params
    q_new = q.copy()
    q_new[0] = new
    if top == len(roots) - 1 and len(roots) % 2 == 0:
        q_new[-1] = lam1                                  # the last, unpaired real root
    else:
        start = 1 + 2 * ((top - 1) // 2)                  # q index of the pair's centre m
        partner = float(roots[start if top == start + 1 else start + 1].real)
        q_new[start] = 0.5 * (lam1 + partner)
        q_new[start + 1] = (0.5 * (lam1 - partner)) ** 2
    return replace(params, q_coefs=q_new, kinfQ=float(params.kinfQ * (1.0 - new) / (1.0 - lam1)))


def jsz_loadings(q_coefs: np.ndarray, kinfQ: float, Omega_P: np.ndarray, structure: ATSMStructure,
                 periods: np.ndarray | None = None) -> Loadings:
    """Yield loadings on the portfolios, ``y = A_P + B_P P``, for the JSZ canonical parameters.

    The rotation uses the fitted maturities (``structure.periods``); ``periods`` asks for the loadings of any
    other maturities (whole periods) in that same rotation."""
    dA_P, dA_X, dc, ld = jsz_loadings_affine(q_coefs, Omega_P, structure, periods)
    return Loadings(A_P=ld.A_P + kinfQ * dA_P, B_P=ld.B_P, A_X=ld.A_X + kinfQ * dA_X, B_X=ld.B_X, D=ld.D,
                    c=ld.c + kinfQ * dc)


def rotation_inverse(D: np.ndarray) -> np.ndarray:
    """D^-1 for D = W B, the map from latent factors to the portfolios P = W y; a singular D (Q-eigenvalues that
    make the loadings collinear) is a ModelError, not a NaN."""
    try:
        Dinv = np.linalg.inv(D)
    except np.linalg.LinAlgError as exc:
        raise ModelError("these Q-eigenvalues make the factor loadings singular") from exc
    if not np.all(np.isfinite(Dinv)):
        raise ModelError("these Q-eigenvalues make the factor loadings singular")
    return Dinv


def jsz_loadings_affine(q_coefs, Omega_P, structure: ATSMStructure, periods: np.ndarray | None = None,
                        b: np.ndarray | None = None):
    """(dA_P/dk_inf, dA_X/dk_inf, dc/dk_inf, Loadings at k_inf = 0): the loadings are affine in k_inf.
    ``b``: the latent price loadings :func:`latent_price_b` of these q_coefs (n = 0..n_max at least), if known."""
    W, dt = structure.W, structure.dt
    fit = np.round(np.asarray(structure.periods)).astype(int)
    out = fit if periods is None else np.round(np.asarray(periods)).astype(int)
    n_max = int(max(fit.max(), out.max()))
    b = latent_price_b(q_coefs, n_max, dt) if b is None or len(b) <= n_max else b[:n_max + 1]
    convexity_b = b[:-1]
    a_kinf = np.concatenate([[0.0], np.cumsum(b[:-1, 0])])   # d a_n / d k_inf

    def yield_loadings(n):
        scale = -1.0 / (n * dt)
        return b[n] * scale[:, None], scale

    B_fit, _ = yield_loadings(fit)
    D = W @ B_fit
    Dinv = rotation_inverse(D)
    Omega_X = Dinv @ Omega_P @ Dinv.T
    a0 = np.concatenate([[0.0], np.cumsum(0.5 * np.einsum("ni,ij,nj->n", convexity_b, Omega_X, convexity_b))])
    c0 = W @ (a0[fit] * (-1.0 / (fit * dt)))
    c_kinf = W @ (a_kinf[fit] * (-1.0 / (fit * dt)))
    B_X, scale = yield_loadings(out)
    A_X0, dA_X = a0[out] * scale, a_kinf[out] * scale
    B_P = B_X @ Dinv
    A_P0 = A_X0 - B_P @ c0
    dA_P = dA_X - B_P @ c_kinf
    return dA_P, dA_X, c_kinf, Loadings(A_P=A_P0, B_P=B_P, A_X=A_X0, B_X=B_X, D=D, c=c0)


def jsz_convexity_map(q_coefs, structure: ATSMStructure, b: np.ndarray | None = None) -> np.ndarray:
    """(J, N, N) tensor G with ``dA_P_j / dOmega_P = G_j``: the fitted maturities' intercepts are affine in
    Omega_P through the convexity term alone, ``A_P = A_P(Omega = 0) + sum_kl Omega_kl G_jkl``.

    With ``C_n = sum_{m<n} b_m b_m'`` (latent price loadings), ``a_n = 1/2 tr(Omega_X C_n)`` and
    ``Omega_X = D^-1 Omega_P D^-T``, so ``dA_X,j/dOmega_P = -1/(2 n_j dt) D^-T C_{n_j} D^-1`` and
    ``A_P = (I - B_P W) A_X``."""
    W, dt = structure.W, structure.dt
    fit = np.round(np.asarray(structure.periods)).astype(int)
    n_max = int(fit.max())
    b = latent_price_b(q_coefs, n_max, dt) if b is None or len(b) <= n_max else b[:n_max + 1]
    outer = np.einsum("ni,nj->nij", b[:-1], b[:-1])
    C = np.concatenate([np.zeros((1,) + outer.shape[1:]), np.cumsum(outer, axis=0)])
    scale = -1.0 / (fit * dt)
    B_X = b[fit] * scale[:, None]
    D = W @ B_X
    Dinv = np.linalg.inv(D)
    M = 0.5 * scale[:, None, None] * np.einsum("ki,nkl,lj->nij", Dinv, C[fit], Dinv)
    B_P = B_X @ Dinv
    return np.einsum("jk,kab->jab", np.eye(len(fit)) - B_P @ W, M)


def portfolio_weights(yields: np.ndarray, n_factors: int) -> np.ndarray:
    """W (N, J): the first N principal components of the yield levels, with orthonormal rows and deterministic
    signs (level weights summing positive, slope rising with maturity, curvature positive at the ends)."""
    frame = np.asarray(yields, float)
    complete = frame[~np.isnan(frame).any(axis=1)]
    if len(complete) > 2 * frame.shape[1]:
        cov = np.cov(complete.T)
    else:  # too few complete rows: pairwise-complete covariance
        import pandas as pd

        cov = pd.DataFrame(frame).cov().to_numpy()
    vals, vecs = np.linalg.eigh(cov)
    W = vecs[:, np.argsort(vals)[::-1][:n_factors]].T
    J = W.shape[1]
    ramp = np.linspace(-1, 1, J)
    for i in range(n_factors):
        key = W[i].sum() if i == 0 else W[i] @ ramp if i == 1 else W[i] @ (ramp ** 2 - np.mean(ramp ** 2))
        if key < 0:
            W[i] = -W[i]
    return W
