"""Loadings against independent computations: Monte Carlo bond prices, an ODE solver, published JSZ output."""
import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from xlatsm.atsm import (continuous_price_loadings, continuous_yield_loadings, discrete_price_loadings,
                         discrete_yield_loadings, jsz_loadings, latent_K1Q, latent_price_b, latent_rho1,
                         matrix_log_rate, q_eigenvalues, roots_to_q)
from xlatsm.atsm.model import ATSMStructure


def random_KQ(rng, kind):
    """Stable continuous-time K^Q with real distinct, complex or repeated (Jordan) eigenvalues."""
    if kind == "real":
        V = rng.normal(size=(3, 3))
        return V @ np.diag([0.05, 0.4, 1.2]) @ np.linalg.inv(V)
    if kind == "complex":
        return np.array([[0.3, 0.5, 0.0], [-0.5, 0.3, 0.1], [0.0, 0.0, 0.08]])
    return np.array([[0.4, 1.0, 0.0], [0.0, 0.4, 0.0], [0.2, 0.0, 0.4]])  # triple root 0.4, not diagonalisable


@pytest.mark.parametrize("kind", ["real", "complex", "repeated"])
def test_continuous_loadings_match_ode_solver(kind):
    rng = np.random.default_rng(1)
    KQ = random_KQ(rng, kind)
    theta = np.array([0.02, -0.01, 0.01])
    Sigma = np.tril(rng.normal(size=(3, 3))) * 0.01
    d0, d1 = 0.03, np.array([1.0, 0.5, 0.8])
    taus = np.array([0.25, 1.0, 5.0, 10.0, 30.0])
    A, B = continuous_price_loadings(KQ, theta, Sigma, d0, d1, taus)

    def rhs(_, z):
        b = z[:3]
        return np.concatenate([-d1 - KQ.T @ b, [-d0 + b @ KQ @ theta + 0.5 * b @ Sigma @ Sigma.T @ b]])

    sol = solve_ivp(rhs, (0, taus[-1]), np.zeros(4), t_eval=taus, rtol=1e-12, atol=1e-14, method="DOP853")
    np.testing.assert_allclose(B, sol.y[:3].T, atol=1e-8)
    np.testing.assert_allclose(A, sol.y[3], atol=1e-8)
    Ay, By = continuous_yield_loadings(KQ, theta, Sigma, d0, d1, taus)
    np.testing.assert_allclose(Ay, -A / taus)


@pytest.mark.parametrize("kind", ["real", "complex", "repeated"])
def test_discrete_loadings_match_monte_carlo_bond_prices(kind):
    """exp(a_n + b_n'X0) equals E^Q[exp(-dt sum r)] by simulation, within 4 Monte Carlo standard errors."""
    rng = np.random.default_rng(7)
    dt = 1 / 12
    K1Q = np.eye(3) - random_KQ(rng, kind) * dt
    K0Q = np.array([0.0004, 0.0001, -0.0002])
    Sigma = np.array([[0.004, 0, 0], [0.001, 0.003, 0], [-0.001, 0.0005, 0.002]])
    rho0, rho1 = 0.01, np.array([1.0, 0.7, 0.4])
    x0 = np.array([0.02, -0.01, 0.005])
    n = 60
    a, b = discrete_price_loadings(K0Q, K1Q, Sigma @ Sigma.T, rho0, rho1, n, dt)
    paths = 100_000
    X = np.tile(x0, (paths, 1))
    integral = np.zeros(paths)
    for _ in range(n):
        integral += dt * (rho0 + X @ rho1)
        X = K0Q + X @ K1Q.T + rng.standard_normal((paths, 3)) @ Sigma.T
    discount = np.exp(-integral)
    mc, se = discount.mean(), discount.std() / np.sqrt(paths)
    exact = np.exp(a[n] + b[n] @ x0)
    assert abs(mc - exact) < 4 * se
    # and without the convexity term the price is measurably wrong: the test can fail
    a_no_convexity, _ = discrete_price_loadings(K0Q, K1Q, np.zeros((3, 3)), rho0, rho1, n, dt)
    assert abs(np.exp(a_no_convexity[n] + b[n] @ x0) - exact) > 4 * se


def test_discrete_yield_loadings_reject_fractional_periods():
    with pytest.raises(Exception, match="whole numbers"):
        discrete_yield_loadings(np.zeros(1), np.eye(1) * 0.9, np.eye(1), 0.0, np.ones(1), [1.5], 1 / 12)


@pytest.mark.parametrize("q", [[0.99, 0.93, 6e-4], [0.995, 0.95, 0.0], [0.995, 0.95, -4e-4], [0.99, 0.5], [0.9],
                               [0.98, 0.9, 1e-3, 0.5]])
def test_newton_basis_loadings_equal_the_recursion(q):
    """The vectorised Newton-basis loadings equal the generic recursion with K_X (real, repeated, complex roots)."""
    q = np.array(q)
    N = len(q)
    b = latent_price_b(q, 120, 1 / 12)
    _, b_rec = discrete_price_loadings(np.zeros(N), latent_K1Q(q), np.zeros((N, N)), 0.0, latent_rho1(N), 120, 1 / 12)
    np.testing.assert_allclose(b, b_rec, atol=1e-12)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(latent_K1Q(q))), np.sort_complex(q_eigenvalues(q)),
                               atol=1e-6)


def test_canonical_form_spans_jsz_diagonal_form():
    """With distinct real roots, the Newton-basis canonical form prices exactly like JSZ's diag(lambda), iota."""
    lam = np.array([0.997, 0.95, 0.9])
    periods = np.array([3, 6, 12, 24, 60, 120])
    rng = np.random.default_rng(2)
    W = np.linalg.qr(rng.normal(size=(6, 3)))[0].T
    structure = ATSMStructure(periods=periods.astype(float), dt=1 / 12, W=W)
    Omega = np.array([[4, 1, 0], [1, 2, 0.5], [0, 0.5, 1]]) * 1e-7
    kinf = 3e-4
    ld = jsz_loadings(roots_to_q(lam), kinf, Omega, structure)
    # the same model written directly in JSZ's diagonal form
    _, B_X = discrete_yield_loadings(np.zeros(3), np.diag(lam), np.zeros((3, 3)), 0.0, np.ones(3), periods, 1 / 12)
    D = W @ B_X
    Omega_X = np.linalg.inv(D) @ Omega @ np.linalg.inv(D).T
    A_X, _ = discrete_yield_loadings(np.array([kinf, 0, 0]), np.diag(lam), Omega_X, 0.0, np.ones(3), periods, 1 / 12)
    B_P = B_X @ np.linalg.inv(D)
    np.testing.assert_allclose(ld.B_P, B_P, atol=1e-10)
    np.testing.assert_allclose(ld.A_P, A_X - B_P @ W @ A_X, atol=1e-12)


def test_published_jsz_loadings(shared_data):
    """At the parameters of JSZ's own sample model, the loadings equal the ones their MATLAB code stored."""
    ref = json.loads((shared_data.parent / "reference" / "jsz_sample" / "jsz_sample_model.json").read_text())
    W = np.array(ref["W"], float)
    mats = np.array(ref["mats"][0])
    structure = ATSMStructure(periods=mats * 12, dt=1 / 12, W=W)
    lam = 1 + np.diag(np.array(ref["K1Q_X"]))
    Omega_cP = np.array(ref["Sigma_cP"])  # JSZ's "Sigma_cP" is the covariance of the priced-yield innovations
    assert np.allclose(Omega_cP, Omega_cP.T)
    ld = jsz_loadings(roots_to_q(lam), float(np.array(ref["kinfQ"]).ravel()[0]), Omega_cP, structure)
    np.testing.assert_allclose(ld.B_P, np.array(ref["BcP"]).T, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ld.A_P, np.array(ref["AcP"]).ravel(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("scale", [1e-3, 0.3, 4.0, 60.0])
def test_pade_expm_matches_scipy(scale):
    """The numpy Pade-13 exponential of the continuous loadings equals scipy's, real and complex (complex steps)."""
    from scipy.linalg import expm as scipy_expm

    from xlatsm.atsm.loadings import expm

    rng = np.random.default_rng(4)
    M = rng.normal(size=(12, 12)) * scale / 3
    np.testing.assert_allclose(expm(M), scipy_expm(M), rtol=1e-12, atol=1e-13 * np.abs(scipy_expm(M)).max())
    Z = M + 1j * rng.normal(size=(12, 12)) * scale / 3
    np.testing.assert_allclose(expm(Z), scipy_expm(Z), rtol=1e-12, atol=1e-13 * np.abs(scipy_expm(Z)).max())


def test_matrix_log_is_not_elementwise():
    K = np.array([[0.6, 0.3], [0.1, 0.4]])
    K1 = np.real(__import__("scipy.linalg", fromlist=["expm"]).expm(-K / 12))
    np.testing.assert_allclose(matrix_log_rate(K1, 1 / 12), K, atol=1e-10)
    assert np.abs(-np.log(np.abs(K1)) * 12 - K).max() > 0.1  # what the notebooks did
    assert np.isnan(matrix_log_rate(np.diag([0.9, -0.5]), 1 / 12)).all()
