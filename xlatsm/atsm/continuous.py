r"""The continuous-time Gaussian ATSM in JSZ canonical form: the seeds' model, ``K``, ``theta``, ``Sigma``.

Units: time in years; rates decimals per year; ``K`` per year; ``Sigma`` per square-root year.

Under Q the latent canonical factors follow an Ornstein-Uhlenbeck process with the short rate as first factor,

.. math::

    dX_t = (k_\infty^Q e_1 - K_X X_t)\,dt + \Sigma_X\,dW^Q_t,\qquad r_t = e_1'X_t,

where ``K_X = latent_K1Q(q)`` (:mod:`xlatsm.atsm.model`) is the real matrix whose eigenvalues are the Q mean
reversion speeds ``kappa^Q`` (the eigenvalues of ``K_Q``; positive = mean reverting), parameterised as in the
discrete model: ``kappa_1`` (real), then pairs ``m +- sqrt(d)`` (real distinct, repeated or complex), then a last
real root. Its Krylov sequence is the Newton basis, so ``expm(-K_X' s) e_1`` is the vector of divided differences
of ``exp(-s z)`` over the roots: smooth through repeated and complex roots and through a root at zero. With
distinct real roots it spans exactly the loadings of JSZ's ``diag(kappa^Q)``, ``rho_1 = iota`` form.
``r_inf^Q = k_inf^Q / kappa_1`` is the risk-neutral long-run mean of the short rate (NaN unless every root has a
positive real part).

Log bond prices ``a(tau) + b(tau)'X`` solve the Riccati ODEs ``b' = -e_1 - K_X'b``,
``a' = k_inf^Q b_1 + 1/2 b'Omega_X b``, in closed form by one matrix exponential
(:func:`xlatsm.atsm.loadings.continuous_loading_integrals`); yields ``y(tau) = -(a + b'X)/tau``. The factors are
rotated to ``P_t = W y_t`` exactly as in the discrete JSZ form: ``D = W B_X``, ``B_P = B_X D^{-1}``,
``A_P = (I - B_P W) A_X``, ``Omega_X = D^{-1} Omega D^{-T}``.

Under P the portfolios follow ``dP = K_P(theta_P - P) dt + Sigma dW`` (``Sigma`` lower triangular,
``Omega = Sigma Sigma'`` per year, the instantaneous covariance that also sets the convexity term). Sampled every
``dt`` years this is exactly the VAR(1) ``P_t = c + Phi P_{t-dt} + eta_t`` with

.. math::

    \Phi = e^{-K_P dt},\quad c = \int_0^{dt} e^{-K_P s} ds\ K_P\theta_P = (I - \Phi)\theta_P,\quad
    \mathrm{Var}\,\eta = Q_{dt} = \int_0^{dt} e^{-K_P s}\,\Omega\,e^{-K_P' s}\,ds

(Van Loan: one matrix exponential of ``[[-K, Omega, I], [0, K', 0], [0, 0, 0]] dt``), not ``Omega dt``. The
drift intercept ``a_P = K_P theta_P`` is what is estimated, so a singular ``K_P`` (a unit root) stays defined.

Risk-neutral dynamics in the P rotation: ``K_Q = D K_X D^{-1}``, ``K_Q theta_Q = a_Q = D e_1 k_inf^Q + K_Q c``
(``c = W A_X``), ``r = rho_0 + rho_1'P`` with ``rho_1 = D^{-T} e_1``, ``rho_0 = -rho_1'c``.

Market prices of risk, with the seeds' sign convention ``K_P = K_Q + Sigma lambda_1`` and
``K_P theta_P = K_Q theta_Q + Sigma lambda_0``: ``dW^Q = dW^P + Lambda_t dt`` with
``Lambda_t = lambda_0 - lambda_1 P_t`` (per square-root year; lambda_1 per year).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ..errors import ModelError
from .loadings import continuous_loading_integrals, expm
from .model import ATSMStructure, Loadings, latent_K1Q, rotation_inverse, matrix_log_rate, q_eigenvalues, q_roots


# ----------------------------------------------------------------------------------------------------------------
# P dynamics: exact discretisation of the OU process and its inverse
# ----------------------------------------------------------------------------------------------------------------
def ou_discretisation(KP: np.ndarray, Omega: np.ndarray, dt: float):
    """(Phi, S, Q_dt) of ``dP = (a - K P)dt + Sigma dW`` sampled every ``dt`` years: ``P_t = S a + Phi P_{t-dt} +
    eta``, ``Phi = expm(-K dt)``, ``S = int_0^dt expm(-K s) ds``, ``Var eta = Q_dt`` (module docstring), from one
    matrix exponential (Van Loan). Complex inputs are allowed (complex-step derivatives)."""
    KP = np.atleast_2d(KP)
    N = KP.shape[0]
    M = np.zeros((3 * N, 3 * N), dtype=np.result_type(KP, Omega, float))
    M[:N, :N] = -KP
    M[:N, N:2 * N] = Omega
    M[:N, 2 * N:] = np.eye(N)
    M[N:2 * N, N:2 * N] = KP.T
    E = expm(M * dt)
    Phi = E[:N, :N]
    Q = E[:N, N:2 * N] @ Phi.T
    return Phi, E[:N, 2 * N:], 0.5 * (Q + Q.T)


def from_discrete_var(K0: np.ndarray, K1: np.ndarray, Omega_dt: np.ndarray, dt: float):
    """The OU process whose exact discretisation is the VAR(1) ``P_t = K0 + K1 P_{t-1} + eta``,
    ``Var eta = Omega_dt``: (a_P, K_P, Omega) with ``K_P = -logm(K1)/dt``. ``None`` when K1 has no real
    logarithm or the implied Omega is not positive definite (no OU process samples to this VAR)."""
    K = matrix_log_rate(K1, dt)
    if not np.all(np.isfinite(K)):
        return None
    N = K.shape[0]
    # vec(Q_dt) = (int_0^dt e^{-(K (+) K) s} ds) vec(Omega), row-major vec, K (+) K the Kronecker sum
    ksum = np.kron(K, np.eye(N)) + np.kron(np.eye(N), K)
    M = np.zeros((2 * N * N, 2 * N * N))
    M[:N * N, :N * N] = -ksum
    M[:N * N, N * N:] = np.eye(N * N)
    L = expm(M * dt)[:N * N, N * N:]
    Omega = np.linalg.solve(L, np.asarray(Omega_dt, float).reshape(-1)).reshape(N, N)
    Omega = 0.5 * (Omega + Omega.T)
    if np.linalg.eigvalsh(Omega).min() <= 0:
        return None
    _, S, _ = ou_discretisation(K, Omega, dt)
    aP = np.linalg.solve(S, K0)
    return aP, K, Omega


# ----------------------------------------------------------------------------------------------------------------
# Q side: canonical loadings
# ----------------------------------------------------------------------------------------------------------------
def continuous_latent_price_loadings(q_coefs: np.ndarray, taus: np.ndarray):
    """(b (J, N), d a/d k_inf (J,), C (J, N, N)) of the latent canonical factors: ``a = k_inf I_1 +
    1/2 tr(Omega_X C)``."""
    N = len(q_coefs)
    b, integral, C = continuous_loading_integrals(latent_K1Q(q_coefs), np.eye(N)[0], taus)
    return b, integral[:, 0], C


def ct_loadings_affine(q_coefs, Omega: np.ndarray, structure: ATSMStructure, periods=None):
    """(dA_P/dk_inf, dA_X/dk_inf, dc/dk_inf, Loadings at k_inf = 0, G) for the continuous canonical model: the
    loadings are affine in k_inf, and the fitted maturities' intercepts affine in Omega, ``dA_P,j/dOmega = G_j``.

    Maturities are ``periods * dt`` years (the fitted ones, or ``periods`` in the same rotation)."""
    W, dt = structure.W, structure.dt
    fit = np.asarray(structure.periods, float) * dt
    out = fit if periods is None else np.asarray(periods, float) * dt
    if np.any(out <= 0):
        raise ModelError("maturities must be positive")
    taus = np.concatenate([fit, out])
    b, a_kinf, C = continuous_latent_price_loadings(q_coefs, taus)
    scale = -1.0 / taus
    B_all = b * scale[:, None]
    J = len(fit)
    D = W @ B_all[:J]
    Dinv = rotation_inverse(D)
    Omega_X = Dinv @ Omega @ Dinv.T
    A0_all = 0.5 * np.einsum("ij,nij->n", Omega_X, C) * scale
    dA_all = a_kinf * scale
    c0, c_kinf = W @ A0_all[:J], W @ dA_all[:J]
    B_X, A_X0, dA_X = B_all[J:], A0_all[J:], dA_all[J:]
    B_P = B_X @ Dinv
    A_P0 = A_X0 - B_P @ c0
    dA_P = dA_X - B_P @ c_kinf
    # convexity map (fitted maturities): A_X,j = 1/2 scale_j tr(Dinv' C_j Dinv Omega), A_P = (I - B_P W) A_X
    M = 0.5 * scale[:J, None, None] * np.einsum("ki,nkl,lj->nij", Dinv, C[:J], Dinv)
    B_fit_P = B_all[:J] @ Dinv
    G = np.einsum("jk,kab->jab", np.eye(J) - B_fit_P @ W, M)
    return dA_P, dA_X, c_kinf, Loadings(A_P=A_P0, B_P=B_P, A_X=A_X0, B_X=B_X, D=D, c=c0), G


def ct_loadings(q_coefs, kinfQ: float, Omega: np.ndarray, structure: ATSMStructure, periods=None) -> Loadings:
    """Yield loadings ``y = A_P + B_P P`` of the continuous canonical model (module docstring)."""
    dA_P, dA_X, dc, ld, _ = ct_loadings_affine(q_coefs, Omega, structure, periods)
    return Loadings(A_P=ld.A_P + kinfQ * dA_P, B_P=ld.B_P, A_X=ld.A_X + kinfQ * dA_X, B_X=ld.B_X, D=ld.D,
                    c=ld.c + kinfQ * dc)


def discrete_to_continuous_q(q_coefs: np.ndarray, dt: float) -> np.ndarray:
    """Continuous Q coefficients whose roots are ``-log(lambda)/dt`` of the discrete roots (a starting value:
    the two models' loadings are close, not equal). Pairs stay pairs (a complex pair maps to a complex pair)."""
    roots = [-np.log(complex(z)) / dt for z in q_roots(q_coefs)]
    out = [roots[0].real]
    i = 1
    while i + 1 < len(roots):
        za, zb = roots[i], roots[i + 1]
        out += [((za + zb) / 2).real, (((za - zb) / 2) ** 2).real]
        i += 2
    if i < len(roots):
        out.append(roots[i].real)
    return np.array(out)


# ----------------------------------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContinuousParams:
    """Identified continuous-time JSZ parameters (module docstring). Decimals and years.

    ``q_coefs`` the Q mean-reversion speeds' coefficients (per year), ``kinfQ`` (decimal per year^2), ``Sigma``
    (lower Cholesky factor of the instantaneous covariance ``Omega`` of the portfolios, decimal per sqrt-year),
    ``aP = K_P theta_P`` (decimal per year), ``KP`` (per year), ``sigma_e`` measurement error (decimal).

    The discrete names the rest of xlatsm works with are the *exact* discretisation at the data's period:
    ``K0P = c``, ``K1P = Phi``, ``Omega_P = Q_dt``, ``Sigma_P = chol(Q_dt)`` (per period), and ``lamQ`` the
    one-period risk-neutral roots ``exp(-kappa^Q dt)``; so the Kalman smoother, simulation and forecasts of the
    discrete model run on it unchanged."""

    q_coefs: np.ndarray
    kinfQ: float
    Sigma: np.ndarray
    aP: np.ndarray
    KP: np.ndarray
    sigma_e: np.ndarray
    structure: ATSMStructure = field(repr=False)

    # -- continuous-time quantities --------------------------------------------------------------------------------
    @property
    def kappaQ(self) -> np.ndarray:
        """Eigenvalues of K_Q (per year), slowest first (increasing real part); complex for a conjugate pair."""
        roots = q_eigenvalues(self.q_coefs)
        return roots[np.argsort(np.real(roots), kind="stable")]

    @property
    def rinfQ(self) -> float:
        """k_inf^Q / kappa_1: the risk-neutral long-run mean of r; NaN unless every Re kappa^Q > 0."""
        if np.min(np.real(self.kappaQ)) <= 0:
            return float("nan")
        return float(self.kinfQ / self.q_coefs[0])

    @property
    def Omega(self) -> np.ndarray:
        return self.Sigma @ self.Sigma.T

    @property
    def thetaP(self) -> np.ndarray:
        try:
            return np.linalg.solve(self.KP, self.aP)
        except np.linalg.LinAlgError:
            return np.full(len(self.aP), np.nan)

    def loadings(self, periods=None) -> Loadings:
        return ct_loadings(self.q_coefs, self.kinfQ, self.Omega, self.structure, periods)

    def q_dynamics(self) -> dict:
        """K_Q, a_Q = K_Q theta_Q, theta_Q (per year, decimals) and rho0, rho1 (r = rho0 + rho1'P)."""
        ld = self.loadings()
        Dinv = np.linalg.inv(ld.D)
        N = len(self.q_coefs)
        e1 = np.eye(N)[0]
        KQ = ld.D @ latent_K1Q(self.q_coefs) @ Dinv
        aQ = ld.D @ e1 * self.kinfQ + KQ @ ld.c
        try:
            thetaQ = np.linalg.solve(KQ, aQ) if np.min(np.real(self.kappaQ)) > 0 else np.full(N, np.nan)
        except np.linalg.LinAlgError:
            thetaQ = np.full(N, np.nan)
        rho1 = Dinv.T @ e1
        return {"K_Q": KQ, "a_Q": aQ, "theta_Q": thetaQ, "rho0": float(-rho1 @ ld.c), "rho1": rho1}

    def market_price_of_risk(self) -> tuple[np.ndarray, np.ndarray]:
        """(lambda_0, lambda_1): ``Sigma lambda_0 = K_P theta_P - K_Q theta_Q``, ``Sigma lambda_1 = K_P - K_Q``."""
        q = self.q_dynamics()
        return (np.linalg.solve(self.Sigma, self.aP - q["a_Q"]), np.linalg.solve(self.Sigma, self.KP - q["K_Q"]))

    def continuous_time(self) -> dict:
        q = self.q_dynamics()
        return {"K_P": self.KP, "theta_P": self.thetaP, "K_Q": q["K_Q"], "theta_Q": q["theta_Q"]}

    # -- the exact discretisation (discrete names) -----------------------------------------------------------------
    def discretisation(self):
        """(c, Phi, Q_dt) at the data's period."""
        Phi, S, Q = ou_discretisation(self.KP, self.Omega, self.structure.dt)
        return S @ self.aP, Phi, Q

    @property
    def K0P(self) -> np.ndarray:
        return self.discretisation()[0]

    @property
    def K1P(self) -> np.ndarray:
        return self.discretisation()[1]

    @property
    def Omega_P(self) -> np.ndarray:
        return self.discretisation()[2]

    @property
    def Sigma_P(self) -> np.ndarray:
        return np.linalg.cholesky(self.Omega_P)

    @property
    def lamQ(self) -> np.ndarray:
        return np.exp(-self.kappaQ * self.structure.dt)

    def as_lgssm(self):
        """The exactly discretised yield state space as LGSSM parameters (diffuse start)."""
        from ..ssm.params import LGSSMParams

        ld = self.loadings()
        c, Phi, Q = self.discretisation()
        return LGSSMParams(A=Phi[None], C=ld.B_P, Q=Q, R=np.diag(self.sigma_e ** 2), state_intercept=c,
                           obs_intercept=ld.A_P)


def risk_neutral_ct_loadings(params: ContinuousParams, periods) -> tuple[np.ndarray, np.ndarray]:
    """Yield loadings (A (J,), B (J, N)) priced with the physical dynamics (lambda_0 = lambda_1 = 0), convexity
    included: the expectations-hypothesis yields of the term premium."""
    q = params.q_dynamics()
    taus = np.asarray(periods, float) * params.structure.dt
    b, integral, C = continuous_loading_integrals(params.KP, q["rho1"], taus)
    a = integral @ params.aP + 0.5 * np.einsum("ij,nij->n", params.Omega, C) - q["rho0"] * taus
    return -a / taus, -b / taus[:, None]


def params_from_discrete(p, q_coefs_ct: np.ndarray | None = None) -> ContinuousParams:
    """A continuous starting point from discrete JSZ parameters (:class:`~xlatsm.atsm.model.ATSMParams`): roots
    ``-log(lambda)/dt``, the same r_inf^Q (or k_inf/dt with a unit root), the OU process whose exact discretisation
    is the fitted VAR (first-order ``(I - K1)/dt``, ``Omega_P/dt`` when K1 has no real logarithm)."""
    dt = p.structure.dt
    q = discrete_to_continuous_q(p.q_coefs, dt) if q_coefs_ct is None else q_coefs_ct
    rinf = p.rinfQ
    kinf = rinf * q[0] if np.isfinite(rinf) and q[0] > 0 else p.kinfQ / dt
    ou = from_discrete_var(p.K0P, p.K1P, p.Omega_P, dt)
    if ou is None:
        KP = (np.eye(len(p.K0P)) - p.K1P) / dt
        ou = (p.K0P / dt, KP, p.Omega_P / dt)
    aP, KP, Omega = ou
    return ContinuousParams(q_coefs=np.asarray(q, float), kinfQ=float(kinf), Sigma=np.linalg.cholesky(Omega),
                            aP=aP, KP=KP, sigma_e=np.asarray(p.sigma_e, float).copy(), structure=p.structure)
