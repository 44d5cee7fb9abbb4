"""Dynamic Nelson-Siegel: two-step against per-date least squares and Diebold-Li's numbers; one-step Kalman MLE
against statsmodels' log-likelihood and a dense joint-Gaussian one; AFNS loadings and yield adjustment against
numerical integration of the continuous-time model; bad input."""
import numpy as np
import pandas as pd
import pytest

from xlatsm import InputError, ModelError
from xlatsm.atsm.nelson_siegel import dns_matrices, fit_dns, ns_loadings


@pytest.fixture(scope="module")
def dl():
    from conftest import SHARED_DATA

    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside this checkout")
    frame = pd.read_csv(SHARED_DATA / "diebold_li_1972_2000_bonds.csv", sep=";", index_col=0)
    return frame.iloc[-192:]          # Diebold-Li's estimation sample 1985:01-2000:12


MONTHS = np.array([3, 6, 9, 12, 15, 18, 21, 24, 30, 36, 48, 60, 72, 84, 96, 108, 120])


def _direct_loadings(lam_month):
    x = lam_month * MONTHS
    return np.column_stack([np.ones(len(x)), (1 - np.exp(-x)) / x, (1 - np.exp(-x)) / x - np.exp(-x)])


def test_two_step_equals_per_date_least_squares(dl):
    fit = fit_dns(dl)
    L = _direct_loadings(0.0609)
    Y = dl.to_numpy(float)
    for t in range(len(Y)):
        beta, *_ = np.linalg.lstsq(L, Y[t], rcond=None)
        np.testing.assert_allclose(fit.factors.iloc[t].to_numpy(), beta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.fitted_yields.to_numpy(), fit.factors.to_numpy() @ L.T, atol=1e-10)
    # with blanks: least squares on the observed cells of that date
    gappy = dl.copy()
    gappy.iloc[3, [0, 5, 16]] = np.nan
    fit2 = fit_dns(gappy, yield_units="percent")
    o = ~np.isnan(gappy.iloc[3].to_numpy())
    beta = np.linalg.lstsq(L[o], gappy.iloc[3].to_numpy()[o], rcond=None)[0]
    np.testing.assert_allclose(fit2.factors.iloc[3].to_numpy(), beta, atol=1e-10)


def test_two_step_diebold_li_table(dl):
    """Diebold and Li (2006), Table 2 (lambda = 0.0609, 1985:01-2000:12): factor means and standard deviations."""
    f = fit_dns(dl).factors
    np.testing.assert_allclose(f.mean().to_numpy(), [7.579, -2.098, -0.162], atol=1.5e-3)
    np.testing.assert_allclose(f.std().to_numpy(), [1.524, 1.608, 1.687], atol=1.5e-3)


def test_two_step_dynamics_are_ols(dl):
    import statsmodels.api as sm

    var = fit_dns(dl)
    F = var.factors.to_numpy() / 100
    for i in range(3):
        params = sm.OLS(F[1:, i], sm.add_constant(F[:-1])).fit().params
        np.testing.assert_allclose(params[1:], var.A[i], atol=1e-10)
    ar = fit_dns(dl, dynamics="ar")
    for i in range(3):
        params = sm.OLS(F[1:, i], sm.add_constant(F[:-1, i])).fit().params
        assert ar.A[i, i] == pytest.approx(params[1], abs=1e-10)
        assert np.count_nonzero(ar.A - np.diag(np.diag(ar.A))) == 0
    fc = var.forecast(2)
    f1 = var.c + var.A @ F[-1]
    np.testing.assert_allclose(fc.yields.iloc[0].to_numpy(), _direct_loadings(0.0609) @ f1 * 100, atol=1e-10)


def test_profiled_lambda_minimises_squared_errors(dl):
    fit = fit_dns(dl, lam="profile")
    Y = dl.to_numpy(float)

    def ssr(lam):
        L = _direct_loadings(lam)
        B = np.linalg.lstsq(L, Y.T, rcond=None)[0]
        return np.sum((Y.T - L @ B) ** 2)

    best = ssr(fit.lam)
    assert best <= ssr(0.0609)
    for d in (1e-4, -1e-4, 1e-3, -1e-3):
        assert best <= ssr(fit.lam + d)


def test_no_term_premium(dl):
    fit = fit_dns(dl)
    for what in ("term_premium", "risk_neutral_yields"):
        with pytest.raises(ModelError, match="not arbitrage-free"):
            getattr(fit, what)
    with pytest.raises(ModelError, match="fit_afns"):
        fit.term_premium_at("10Y")
    assert "not defined" in fit.summary()
    assert "not arbitrage-free" in dict(fit.summary_pairs())["term premium"]


def test_units_and_evaluate(dl):
    pct = fit_dns(dl)
    dec = fit_dns(dl / 100, yield_units="decimal")
    np.testing.assert_allclose(dec.factors.to_numpy() * 100, pct.factors.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(dec.pricing_errors, pct.pricing_errors, rtol=1e-9)
    again = pct.evaluate(dl.iloc[:, ::-1], yield_units="percent")
    np.testing.assert_allclose(again.to_numpy(), pct.factors.to_numpy(), atol=1e-10)


def test_bad_input(dl):
    with pytest.raises(InputError, match="lam"):
        fit_dns(dl, lam=-0.1)
    with pytest.raises(InputError, match="lam"):
        fit_dns(dl, lam="best")
    with pytest.raises(InputError, match="method"):
        fit_dns(dl, method="three_step")
    with pytest.raises(InputError, match="dynamics"):
        fit_dns(dl, dynamics="var2")
    with pytest.raises(InputError, match="at least 4"):
        fit_dns(dl.iloc[:, :3])


# ---------------------------------------------------------------------------------------------------------------
# one step
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_step(dl):
    return fit_dns(dl, method="one_step")


def _statsmodels_loglik(Y, mats, tolerance=0.0):
    from statsmodels.tsa.statespace.mlemodel import MLEModel

    mod = MLEModel(Y, k_states=3, k_posdef=3)
    mod["design"] = mats.Z
    mod["obs_intercept"] = mats.a
    mod["obs_cov"] = np.diag(mats.h)
    mod["transition"] = mats.T
    mod["state_intercept"] = mats.d
    mod["selection"] = np.eye(3)
    mod["state_cov"] = mats.Q
    mod.ssm.initialize_known(mats.a1, mats.P1)
    mod.ssm.tolerance = tolerance       # 0: no steady-state shortcut (its default 1e-19 is approximate)
    return float(mod.ssm.loglike())


def _dense_loglik(Y, mats):
    """log p(y) with y = vec of every cell, one joint Gaussian (no Kalman recursion)."""
    from scipy.linalg import cho_factor, cho_solve

    n, J = Y.shape
    k = 3
    mean_f = [mats.a1]
    for _ in range(1, n):
        mean_f.append(mats.d + mats.T @ mean_f[-1])
    cov = np.zeros((n * k, n * k))
    V = [mats.P1]
    for t in range(1, n):
        V.append(mats.T @ V[-1] @ mats.T.T + mats.Q)
    for t in range(n):
        cov[t * k:(t + 1) * k, t * k:(t + 1) * k] = V[t]
        M = V[t]
        for s in range(t + 1, n):
            M = mats.T @ M
            cov[s * k:(s + 1) * k, t * k:(t + 1) * k] = M
            cov[t * k:(t + 1) * k, s * k:(s + 1) * k] = M.T
    Zbig = np.kron(np.eye(n), mats.Z)
    mu = np.concatenate([mats.a + mats.Z @ m for m in mean_f])
    S = Zbig @ cov @ Zbig.T + np.kron(np.eye(n), np.diag(mats.h))
    c = cho_factor(S, lower=True)
    e = Y.ravel() - mu
    return float(-0.5 * (len(e) * np.log(2 * np.pi) + 2 * np.sum(np.log(np.diag(c[0]))) + e @ cho_solve(c, e)))


def test_one_step_loglik_is_statsmodels_and_dense(one_step, dl):
    fit = one_step
    Y = dl.to_numpy(float) / 100
    mats = fit.matrices()
    assert fit.loglik == pytest.approx(_statsmodels_loglik(Y, mats), rel=1e-12)
    # statsmodels' default steady-state switch is close but not exact
    assert fit.loglik == pytest.approx(_statsmodels_loglik(Y, mats, 1e-19), abs=1e-2)
    short = Y[:25]
    from xlatsm.atsm.statespace_mle import GaussianSSM

    ours = GaussianSSM(short, lambda th: dns_matrices(th, fit.panel.maturities, fit.h_floor)).loglik(fit.theta)
    # the dense computation in percent (better conditioned), plus the Jacobian of decimals -> percent
    from dataclasses import replace

    pct = replace(mats, a=mats.a * 100, h=mats.h * 1e4, d=mats.d * 100, Q=mats.Q * 1e4, a1=mats.a1 * 100,
                  P1=mats.P1 * 1e4)
    dense = _dense_loglik(short * 100, pct) + short.size * np.log(100.0)
    assert ours == pytest.approx(dense, rel=1e-10)


def test_one_step_is_a_maximum(one_step, dl):
    """Converged; the exact score vanishes; no random nearby point is better; better than the two-step start."""
    fit = one_step
    from xlatsm.atsm.statespace_mle import GaussianSSM

    model = GaussianSSM(dl.to_numpy(float) / 100, lambda th: dns_matrices(th, fit.panel.maturities, fit.h_floor))
    assert fit.converged and fit.loglik > fit.start_loglik
    ll, g = model.loglik_and_score(fit.theta)
    H = model.complete_information(fit.theta)
    assert float(g @ np.linalg.solve(H, g)) < 1e-4
    rng = np.random.default_rng(3)
    for _ in range(5):
        assert model.loglik(fit.theta + 1e-3 * rng.standard_normal(len(fit.theta))) <= ll + 1e-8
    # score = finite differences of the Kalman log-likelihood, at a point away from the optimum
    th = fit.theta + 0.01 * rng.standard_normal(len(fit.theta))
    _, g = model.loglik_and_score(th)
    for i in (0, 1, 5, 15, 20):
        e = np.zeros(len(th))
        e[i] = 1e-6
        fd = (model.loglik(th + e) - model.loglik(th - e)) / 2e-6
        assert g[i] == pytest.approx(fd, rel=2e-3, abs=1e-2 * (1 + abs(fd)) * 1e-2)
    assert 0.03 < fit.lam < 0.1
    assert fit.pricing_errors.mean() < 10
    assert fit.factor_std_errors.to_numpy().max() > 0


def test_score_with_missing_cells_is_the_kalman_gradient(dl):
    """Fisher's identity with blanks: the score from the smoother's moments equals finite differences of the
    Kalman log-likelihood (missing cells are skipped by the filter and by the sufficient statistics)."""
    from xlatsm.atsm.statespace_mle import GaussianSSM, free_from_chol

    Y = dl.to_numpy(float)[:60] / 100
    rng = np.random.default_rng(11)
    Y[rng.random(Y.shape) < 0.15] = np.nan
    years = MONTHS / 12
    theta = np.concatenate([[np.log(0.7)], [0.07, -0.02, 0.0], (0.95 * np.eye(3) + 0.01).ravel(),
                            free_from_chol(np.diag([0.003, 0.004, 0.006])), np.full(17, np.log(4e-8))])
    model = GaussianSSM(Y, lambda th: dns_matrices(th, years, 1e-10), log_h_tail=True)
    ll, g = model.loglik_and_score(theta)
    assert ll == pytest.approx(model.loglik(theta), rel=1e-12)
    # the closed-form score of the measurement variances is the finite-difference one of the expected loglik
    g_fd = GaussianSSM(Y, lambda th: dns_matrices(th, years, 1e-10)).loglik_and_score(theta)[1]
    np.testing.assert_allclose(g[-17:], g_fd[-17:], rtol=1e-5, atol=1e-4)
    for i in range(len(theta)):
        e = np.zeros(len(theta))
        e[i] = 1e-5 * (1 + abs(theta[i]))
        fd = (model.loglik(theta + e) - model.loglik(theta - e)) / (2 * e[i])
        assert g[i] == pytest.approx(fd, rel=1e-4, abs=1e-3), i


# ---------------------------------------------------------------------------------------------------------------
# AFNS
# ---------------------------------------------------------------------------------------------------------------
from xlatsm.atsm.afns import _discretise, afns_KQ, fit_afns, yield_adjustment  # noqa: E402

TAUS = np.array([1 / 12, 0.25, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0])


def _riccati(KQ, thetaQ, Omega, delta1, taus):
    """Yield loadings of the continuous-time model by integrating its Riccati ODEs numerically."""
    from scipy.integrate import solve_ivp

    def rhs(t, z):
        B = z[:3]
        return np.concatenate([-delta1 - KQ.T @ B, [B @ KQ @ thetaQ + 0.5 * B @ Omega @ B]])

    sol = solve_ivp(rhs, (0, taus.max()), np.zeros(4), t_eval=taus, rtol=1e-12, atol=1e-15, method="DOP853")
    B, A = sol.y[:3].T, sol.y[3]
    return -A / taus, -B / taus[:, None]


@pytest.mark.parametrize("lam", [0.0609 * 12, 0.3, 1.5])
def test_afns_loadings_and_yield_adjustment_against_numerical_integration(lam):
    from scipy.integrate import quad

    rng = np.random.default_rng(int(lam * 100))
    S = np.tril(rng.normal(size=(3, 3))) * 0.01
    Omega = S @ S.T
    adj = yield_adjustment(lam, Omega, TAUS)
    A_ode, B_ode = _riccati(afns_KQ(lam), np.zeros(3), Omega, np.array([1.0, 1.0, 0.0]), TAUS)
    np.testing.assert_allclose(adj, A_ode, rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(ns_loadings(TAUS, lam), B_ode, rtol=1e-8)

    def b(s):
        e = np.exp(-lam * s)
        return np.array([s, (1 - e) / lam, (1 - e) / lam - s * e])

    by_quad = [-0.5 * quad(lambda s: b(s) @ Omega @ b(s), 0, t, epsabs=0, epsrel=1e-13)[0] / t for t in TAUS]
    np.testing.assert_allclose(adj, by_quad, rtol=1e-8)
    assert np.all(adj < 0)


@pytest.mark.parametrize("diagonal", [True, False])
def test_afns_discretisation_is_the_integral(diagonal):
    from scipy.integrate import quad_vec
    from scipy.linalg import expm

    K = np.diag([0.1, 0.6, 1.2]) if diagonal else np.array([[0.1, 0.05, 0.0], [-0.2, 0.6, 0.1], [0.02, 0.3, 1.2]])
    S = np.array([[0.006, 0, 0], [0.002, 0.01, 0], [-0.003, 0.004, 0.02]])
    Om = S @ S.T
    dt = 1 / 12
    Phi, Q = _discretise(K, Om, dt)
    np.testing.assert_allclose(Phi, expm(-K * dt), rtol=1e-12)
    ref = quad_vec(lambda s: expm(-K * s) @ Om @ expm(-K.T * s), 0, dt, epsabs=0, epsrel=1e-12)[0]
    np.testing.assert_allclose(Q, ref, rtol=1e-9, atol=1e-20)


@pytest.fixture(scope="module")
def cdr():
    from conftest import SHARED_DATA

    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside this checkout")
    return pd.read_csv(SHARED_DATA / "fama_bliss_unsmoothed_1987_2002_cdr.csv", index_col=0, parse_dates=True)


@pytest.fixture(scope="module")
def afns_ind(cdr):
    return fit_afns(cdr)


def test_afns_independent_fit(afns_ind, cdr):
    """CDR (2011) data: converged; lambda = 0.5975 per year, the value CDR report for the independent-factor AFNS
    on this sample (as recalled; the same maximum from lambda starts 0.45, 0.73, 0.9); the log-likelihood is
    statsmodels' at the same parameters; term premium = fitted - physical-measure yield by the Riccati ODE."""
    fit = afns_ind
    assert fit.converged and fit.loglik > fit.start_loglik and not fit.flags
    assert fit.lam == pytest.approx(0.5975, abs=5e-4)
    mats = fit.matrices()
    assert fit.loglik == pytest.approx(_statsmodels_loglik(cdr.to_numpy(float) / 100, mats), rel=1e-12)
    # physical-measure 10-year yield by numerical integration of the ODE under (K_P, theta_P)
    A_p, B_p = _riccati(fit.KP, fit.thetaP, fit.Omega, np.array([1.0, 1.0, 0.0]), np.array([10.0]))
    fitted10 = fit.yields_at(["10Y"]).iloc[:, 0].to_numpy() / 100
    tp = fitted10 - (A_p[0] + fit.X @ B_p[0])
    np.testing.assert_allclose(fit.term_premium_at("10Y").to_numpy() / 100, tp, atol=1e-9)
    np.testing.assert_allclose(fit.term_premium.to_numpy(), (fit.fitted_yields - fit.risk_neutral_yields).to_numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(fit.term_premium["10Y"], fit.term_premium_at("10Y"), atol=1e-12)
    assert fit.pricing_errors.median() < 10
    again = fit.evaluate(cdr.iloc[:, ::-1], yield_units="percent")
    np.testing.assert_allclose(again[["level", "slope", "curvature"]].to_numpy(), fit.factors.to_numpy(), atol=1e-9)
    assert "afns" in fit.summary() and "K_P" in fit.parameter_blocks()
    assert dict(fit.summary_pairs())["lambda (per year)"] == fit.lam


def test_afns_correlated_nests_independent(afns_ind, cdr):
    fit = fit_afns(cdr, version="correlated")
    assert fit.converged
    assert fit.loglik >= afns_ind.loglik - 1e-6
    assert np.count_nonzero(np.tril(fit.Sigma, -1)) > 0
    with pytest.raises(InputError, match="version"):
        fit_afns(cdr, version="dependent")


def test_one_step_diebold_rudebusch_aruoba_full_sample():
    """DRA (2006), yields-only model on the whole 1972:01-2000:12 panel (Table 1, as recalled: lambda = 0.077,
    diag A = 0.99, 0.94, 0.84, mean level 8.02%)."""
    from conftest import SHARED_DATA

    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside this checkout")
    panel = pd.read_csv(SHARED_DATA / "diebold_li_1972_2000_bonds.csv", sep=";", index_col=0)
    fit = fit_dns(panel, method="one_step")
    assert fit.converged and not fit.flags
    assert fit.lam == pytest.approx(0.077, abs=0.002)
    np.testing.assert_allclose(np.diag(fit.A), [0.99, 0.94, 0.84], atol=0.006)
    assert fit.mu[0] * 100 == pytest.approx(8.02, abs=0.02)
