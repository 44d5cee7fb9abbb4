"""ACM (2013): the NY Fed's published term premium, simulation recovery of the prices of risk, the regressions
against statsmodels' OLS, the recursion against an explicit loop, decomposition identities, evaluate, bad input."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xlatsm import InputError
from xlatsm.atsm.acm import acm_price_loadings, fit_acm
from xlatsm.data import YieldPanel

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / \
    "ACMTermPremium_replicated_monthly_1m_120m.csv.gz"


@pytest.fixture(scope="module")
def published():
    if not REFERENCE.exists():
        pytest.skip("../shared/reference is not beside this checkout")
    return pd.read_csv(REFERENCE, index_col=0, parse_dates=True)


def _acmy(frame):
    return frame[[c for c in frame.columns if c.startswith("ACMY")]]


def test_reproduces_published_nyfed_10y_term_premium(published):
    """Panel = the NY Fed's published fitted yields (1..120 months, 1961-06 on, percent): the 10-year term premium
    matches ACMTP10 to well within a basis point RMS. The published fitted yields carry no return pricing errors,
    so the regressions' sigma^2 is 0 where the NY Fed's is not: the gap is a constant ((n-1)/(2n) sigma^2/dt)."""
    fit = fit_acm(_acmy(published), pc_maturities=[f"{m}M" for m in range(3, 121)])
    gap = (fit.term_premium_at("10Y") - published["ACMTP10"]) * 100           # bp
    assert np.sqrt(np.mean(gap ** 2)) < 0.1 and gap.abs().max() < 0.1
    assert gap.std() < 1e-6                                                    # a constant: sigma^2 only
    # the fitted 10-year yield is the published one
    assert (fit.yields_at(["10Y"]).iloc[:, 0] - published["ACMY10"]).abs().max() * 100 < 1e-3
    # the one missing number explains every maturity: sigma^2 implied by the 10-year gap closes all of them
    sigma2 = -gap.mean() / 1e4 / ((120 - 1) / (2 * 120) * 12)
    fixed = fit_acm(_acmy(published), sigma2=sigma2)
    for years in range(1, 11):
        g = (fixed.term_premium_at(f"{years}Y") - published[f"ACMTP{years:02d}"]) * 100
        assert g.abs().max() < 2e-3, years
    # the textbook VAR intercept is a different model: the NY Fed's mu = 0 convention matters (about 2 bp)
    textbook = fit_acm(_acmy(published), var_intercept=True)
    assert (textbook.term_premium_at("10Y") - published["ACMTP10"]).abs().mean() * 100 > 0.5


# ---------------------------------------------------------------------------------------------------------------
# simulation
# ---------------------------------------------------------------------------------------------------------------
K = 3
PHI_Q = np.diag([0.997, 0.96, 0.90])
MU_Q = np.zeros(K)
LAM1 = np.array([[-0.010, 0.020, 0.000], [0.000, -0.030, 0.010], [0.010, 0.000, -0.050]])
LAM0 = np.array([0.02, -0.01, 0.03])
SIGMA = np.array([[0.30, 0.0, 0.0], [-0.10, 0.40, 0.0], [0.05, 0.10, 0.50]])
OMEGA = SIGMA @ SIGMA.T
DELTA0, DELTA1 = 0.04 / 12, np.array([1.0, 1.0, 1.0]) / 1200      # X in annual percent
SIGMA2 = (4e-4) ** 2                                                 # 4 bp per month return errors


def _simulate_factors(T, rng):
    """T dates of the true factors' physical VAR (mu = MU_Q + LAM0, Phi = PHI_Q + LAM1), after 200 of burn-in."""
    mu, Phi = MU_Q + LAM0, PHI_Q + LAM1
    X = np.zeros((T + 200, K))
    X[0] = np.linalg.solve(np.eye(K) - Phi, mu)
    shocks = rng.standard_normal((T + 200, K)) @ SIGMA.T
    for t in range(1, T + 200):
        X[t] = mu + Phi @ X[t - 1] + shocks[t]
    return X[200:]


def _simulate(T, rng, noise_bp=0.0, sample_omega=False):
    X = _simulate_factors(T, rng)
    n = np.arange(1, 121)
    omega = OMEGA
    if sample_omega:   # price with the sample covariance of the VAR innovations (what ACM's Jensen terms use)
        Z = np.column_stack([np.ones(T - 1), X[:-1]])
        V = X[1:] - Z @ np.linalg.lstsq(Z, X[1:], rcond=None)[0]
        omega = V.T @ V / (T - 2)
    A, B = acm_price_loadings(MU_Q, PHI_Q, omega, SIGMA2, DELTA0, DELTA1, 120)
    Y = -(A[n] + X @ B[n].T) / (n / 12)
    Y = Y + noise_bp * 1e-4 * rng.standard_normal(Y.shape)
    panel = YieldPanel(yields=Y, maturities=n / 12, dates=pd.RangeIndex(T), labels=[f"{m}M" for m in n],
                       yield_units="decimal", maturity_units="tenor")
    return panel, X


def _to_pc_basis(fit, X):
    """The true latent factors are affine in the fitted principal components: X_pc = M (X - X_bar) + m."""
    Z = np.column_stack([np.ones(len(X)), X])
    coef = np.linalg.lstsq(Z, fit.X, rcond=None)[0]
    m, M = coef[0], coef[1:].T
    assert np.max(np.abs(Z @ coef - fit.X)) < 1e-8 * np.abs(fit.X).max()   # exactly affine
    return m, M


def test_recursion_is_the_explicit_acm_loop():
    rng = np.random.default_rng(1)
    mu, Phi, Om = rng.normal(size=K) * 0.01, PHI_Q + 0.01 * rng.normal(size=(K, K)), OMEGA * 1e-3
    A, B = acm_price_loadings(mu, Phi, Om, SIGMA2, DELTA0, DELTA1, 40)
    a, b = [0.0, -DELTA0], [np.zeros(K), -DELTA1]
    for n in range(2, 41):
        a.append(a[-1] + b[-1] @ mu + 0.5 * (b[-1] @ Om @ b[-1] + SIGMA2) - DELTA0)
        b.append(Phi.T @ b[-1] - DELTA1)
    np.testing.assert_allclose(A, a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(B, np.array(b), rtol=1e-12, atol=1e-15)


def test_exact_simulated_model_recovers_q_dynamics_and_prices_of_risk():
    """Yields priced exactly by an ACM model: the cross-section gives the risk-neutral dynamics exactly (in the
    principal-component basis), and lambda = (OLS VAR) - Q exactly; the VAR is the truth up to sampling error.
    (The Jensen terms of ACM use the sample innovation covariance, so the yields are priced with it.)"""
    panel, X = _simulate(400, np.random.default_rng(0), sample_omega=True)
    fit = fit_acm(panel, n_factors=K, var_intercept=True, sigma2=SIGMA2)
    m, M = _to_pc_basis(fit, X)
    Minv = np.linalg.inv(M)
    phi_q = M @ PHI_Q @ Minv
    mu_q = M @ MU_Q + m - phi_q @ m
    np.testing.assert_allclose(fit.Phi_star, phi_q, atol=1e-7)
    np.testing.assert_allclose(fit.mu_star, mu_q, atol=1e-7)
    np.testing.assert_allclose(fit.lambda1, fit.Phi - phi_q, atol=1e-7)
    np.testing.assert_allclose(fit.lambda0, fit.mu - mu_q, atol=1e-7)
    assert fit.pricing_errors.max() < 1e-6
    np.testing.assert_allclose(fit.delta0 + fit.X @ fit.delta1, DELTA0 + X @ DELTA1, rtol=1e-9)
    # without the convexity terms lambda_0 is wrong: the Jensen terms are part of the estimator
    beta = fit.beta
    wrong = np.linalg.solve(beta.T @ beta, beta.T @ fit.a)
    assert np.max(np.abs(wrong - fit.lambda0)) > 1e-3


def test_large_sample_recovers_true_lambdas_with_noise():
    """Long simulated sample with 2 bp iid yield noise: lambda_0, lambda_1 (mapped to the PC basis) close to the
    truth and the 10-year term premium within a basis point or so of the true one."""
    panel, X = _simulate(6000, np.random.default_rng(7), noise_bp=2.0)
    fit = fit_acm(panel, n_factors=K, var_intercept=True)
    Xc = np.column_stack([np.ones(len(X)), X])
    coef = np.linalg.lstsq(Xc, fit.X, rcond=None)[0]
    m, M = coef[0], coef[1:].T
    Minv = np.linalg.inv(M)
    lam1 = M @ LAM1 @ Minv
    lam0 = M @ LAM0 - lam1 @ m
    np.testing.assert_allclose(fit.lambda1, lam1, atol=0.012)
    np.testing.assert_allclose(fit.lambda0, lam0, atol=0.03)
    assert fit.sigma2 > 0
    n = 120
    A, B = acm_price_loadings(MU_Q, PHI_Q, OMEGA, SIGMA2, DELTA0, DELTA1, n)
    Ar, Br = acm_price_loadings(MU_Q + LAM0, PHI_Q + LAM1, OMEGA, SIGMA2, DELTA0, DELTA1, n)
    true_tp = -((A[n] - Ar[n]) + X @ (B[n] - Br[n])) / 10
    gap = fit.term_premium_at("10Y").to_numpy() - true_tp
    assert np.sqrt(np.mean(gap ** 2)) * 1e4 < 15      # bp, over 500 years of data
    assert np.corrcoef(fit.term_premium_at("10Y"), true_tp)[0, 1] > 0.98


# ---------------------------------------------------------------------------------------------------------------
# real data: regressions, identities, evaluate, units
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lw():
    from conftest import SHARED_DATA

    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside this checkout")
    frame = pd.read_csv(SHARED_DATA / "lw_monthly_1961_2022.csv", index_col=0, parse_dates=True)
    return frame.loc["1971-08":, [f"m{m:03d}" for m in (1, 3, 6, 12, 24, 36, 48, 60, 72, 84, 96, 108, 120)]]


@pytest.fixture(scope="module")
def lw_fit(lw):
    return fit_acm(lw)


def test_regressions_equal_statsmodels_ols(lw_fit):
    import statsmodels.api as sm

    fit = lw_fit
    Z = np.column_stack([np.ones(len(fit.V)), fit.V, fit.X[:-1]])
    for j in range(fit.rx.shape[1]):
        params = sm.OLS(fit.rx[:, j], Z).fit().params
        np.testing.assert_allclose(params[0], fit.a[j], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(params[1:1 + fit.n_factors], fit.beta[j], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(params[1 + fit.n_factors:], fit.c[j], rtol=1e-8, atol=1e-12)
    # the VAR too
    for k in range(fit.n_factors):
        params = sm.OLS(fit.X[1:, k], sm.add_constant(fit.X[:-1])).fit().params
        np.testing.assert_allclose(params[1:], fit.Phi[k], rtol=1e-8, atol=1e-12)


def test_decompositions_are_identities(lw_fit):
    d = lw_fit.decomposition("10Y")
    np.testing.assert_allclose(d["yield"], d["expected_short_rate"] + d["expected_excess_return"], atol=1e-10)
    np.testing.assert_allclose(d["term_premium"], lw_fit.term_premium_at("10Y"), atol=1e-12)
    np.testing.assert_allclose(d["yield"], lw_fit.fitted_yields["10Y"], atol=1e-12)
    np.testing.assert_allclose(d["yield"] - d["risk_neutral_yield"], d["term_premium"], atol=1e-12)
    # the one-period bond: fitted yield = fitted short rate = expected short rate, no premium
    one = lw_fit.decomposition("1M")
    np.testing.assert_allclose(one["term_premium"], 0.0, atol=1e-12)
    assert lw_fit.pricing_errors.max() < 25 and lw_fit.pricing_errors.mean() < 10
    assert list(lw_fit.expected_excess_returns.columns)[:2] == ["6M", "1Y"]
    ld = lw_fit.loadings()
    np.testing.assert_allclose(ld["A"].to_numpy() + lw_fit.X @ ld.iloc[:, 1:].to_numpy().T,
                               lw_fit.fitted_yields.to_numpy(), atol=1e-10)
    assert np.all(lw_fit.factor_std_errors.to_numpy() == 0)


def test_evaluate_on_other_curves(lw, lw_fit):
    """evaluate() with the fit's own curves gives the fit's numbers; reordered columns in decimals too."""
    ev = lw_fit.evaluate(lw)
    np.testing.assert_allclose(ev.term_premium.to_numpy(), lw_fit.term_premium.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ev.term_premium_at("7Y"), lw_fit.term_premium_at("7Y"), atol=1e-12)
    sub = lw.iloc[300:330, ::-1] / 100
    ev2 = lw_fit.evaluate(sub, yield_units="decimal")
    np.testing.assert_allclose(ev2.term_premium_at("10Y"), lw_fit.term_premium_at("10Y").iloc[300:330], atol=1e-10)
    with pytest.raises(InputError, match="lack"):
        lw_fit.evaluate(lw.drop(columns="m060"))


def test_units_invariance(lw, lw_fit):
    dec = fit_acm(lw / 100, yield_units="decimal")
    np.testing.assert_allclose(dec.term_premium.to_numpy() * 100, lw_fit.term_premium.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(dec.pricing_errors, lw_fit.pricing_errors, rtol=1e-8)
    assert "lambda_1" in lw_fit.parameter_blocks() and "acm" in lw_fit.summary()
    pairs = dict(lw_fit.summary_pairs())
    assert pairs["10y term premium, last"] == pytest.approx(lw_fit.term_premium_at("10Y").iloc[-1])


def test_panel_without_short_rate_is_interpolated(lw):
    fit = fit_acm(lw.drop(columns=["m001"]), n_factors=3)
    assert any("interpolated" in n for n in fit.notes)
    assert np.isfinite(fit.term_premium.to_numpy()).all()


def test_bad_input(lw):
    gappy = lw.copy()
    gappy.iloc[5, 3] = np.nan
    with pytest.raises(InputError, match="blanks"):
        fit_acm(gappy)
    with pytest.raises(InputError, match="n_factors"):
        fit_acm(lw, n_factors=0)
    with pytest.raises(InputError, match="prices of risk"):
        fit_acm(lw, rx_maturities=["6M", "1Y"])
    with pytest.raises(InputError, match="pc_maturities"):
        fit_acm(lw, pc_maturities=["13M"])
    with pytest.raises(InputError, match="sigma2"):
        fit_acm(lw, sigma2=-1.0)


def test_daily_term_premia_from_a_monthly_fit(lw, lw_fit):
    """Daily curves between two month-ends (here: linear blends of them, business days): the factors are affine
    in the yields, so each day's term premium is the same blend of the month-end term premia."""
    ends = lw.index[400:402]
    days = pd.bdate_range(ends[0], ends[1])
    w = (days - ends[0]).days.to_numpy() / (ends[1] - ends[0]).days
    curves = np.outer(1 - w, lw.loc[ends[0]].to_numpy()) + np.outer(w, lw.loc[ends[1]].to_numpy())
    daily = pd.DataFrame(curves, index=days, columns=lw.columns)
    ev = lw_fit.evaluate(daily, yield_units="percent")
    tp = lw_fit.term_premium_at("10Y").loc[ends].to_numpy()
    np.testing.assert_allclose(ev.term_premium_at("10Y").to_numpy(), (1 - w) * tp[0] + w * tp[1], atol=1e-10)
    assert len(ev.term_premium_at("10Y")) == len(days) > 15


# ---------------------------------------------------------------------------------------------------------------
# standard errors
# ---------------------------------------------------------------------------------------------------------------
RX_MONTHS = np.array([6, 12, 24, 36, 48, 60, 84, 120])
SIGMA_E = 2e-3                      # return pricing errors, 20 bp of log price per month


def _simulate_returns_model(T, rng):
    """A panel on which ACM's assumptions hold exactly: the 1-month and the (n-1)-month yields are priced by the
    model (so the principal components of them are exactly affine in the true factors), the n-month log prices
    carry iid N(0, SIGMA_E^2) errors eta (so the return errors e_{t+1} = -eta_t are iid, homoskedastic and
    independent of the factors and of their innovations)."""
    X = _simulate_factors(T, rng)
    exact = np.concatenate([[1], RX_MONTHS - 1])
    n = np.concatenate([exact, RX_MONTHS])
    A, B = acm_price_loadings(MU_Q, PHI_Q, OMEGA, SIGMA_E ** 2, DELTA0, DELTA1, 120)
    logp = A[n] + X @ B[n].T
    logp[:, len(exact):] += SIGMA_E * rng.standard_normal((T, len(RX_MONTHS)))
    order = np.argsort(n)
    panel = YieldPanel(yields=(-logp / (n / 12))[:, order], maturities=n[order] / 12, dates=pd.RangeIndex(T),
                       labels=[f"{m}M" for m in n[order]], yield_units="decimal", maturity_units="tenor")
    return panel, X, [f"{m}M" for m in exact]


def _truth_in_pc_basis(fit, X):
    """The true mu, lambda_0, lambda_1, Phi_Q, mu_Q in this sample's principal-component basis X_pc = M X + m."""
    m, M = _to_pc_basis(fit, X)
    Minv = np.linalg.inv(M)
    lam1 = M @ LAM1 @ Minv
    phi_q = M @ PHI_Q @ Minv
    phi = M @ (PHI_Q + LAM1) @ Minv
    return {"lambda_0": M @ LAM0 - lam1 @ m, "lambda_1": lam1, "Phi_Q": phi_q, "mu_Q": M @ MU_Q + m - phi_q @ m,
            "mu": M @ (MU_Q + LAM0) + m - phi @ m}


@pytest.mark.parametrize("var_intercept", [True, False])
def test_standard_errors_match_monte_carlo_dispersion(var_intercept):
    """200 samples of 300 months from an ACM model with known parameters: for every entry of lambda_0, lambda_1,
    Phi_Q and mu_Q, the estimation error divided by its standard error (analytic and robust) has a Monte Carlo
    standard deviation between 0.8 and 1.25, and the RMS standard error is within 25% of the Monte Carlo
    dispersion of the errors. The truth is mapped into each sample's principal-component basis (the standard
    errors, as ACM's, take the factors as observed). Under the NY Fed's convention (mu = 0 for the sample-demeaned
    factors) the true intercept in that basis is (I - Phi)(E X - mean X), not zero: mu's standard error is its
    error's, that of the factors' sample mean."""
    rng = np.random.default_rng(11)
    names = ["lambda_0", "lambda_1", "Phi_Q", "mu_Q", "mu"]
    errors, ses, robust = ({k: [] for k in names} for _ in range(3))
    for _ in range(200):
        panel, X, exact = _simulate_returns_model(300, rng)
        fit = fit_acm(panel, n_factors=K, pc_maturities=exact, rx_maturities=[f"{m}M" for m in RX_MONTHS],
                      var_intercept=var_intercept)
        truth = _truth_in_pc_basis(fit, X)
        estimate = {"lambda_0": fit.lambda0, "lambda_1": fit.lambda1, "Phi_Q": fit.Phi_star, "mu_Q": fit.mu_star,
                    "mu": fit.mu}
        se, se_robust = fit.standard_errors, fit.parameter_standard_errors(robust=True)
        for k in names:
            errors[k].append(np.ravel(estimate[k] - truth[k]))
            ses[k].append(se[k].to_numpy().ravel())
            robust[k].append(se_robust[k].to_numpy().ravel())
    for k in names:
        err, s, r = np.array(errors[k]), np.array(ses[k]), np.array(robust[k])
        for name, z in (("analytic", err / s), ("robust", err / r)):
            assert np.all((z.std(axis=0) > 0.8) & (z.std(axis=0) < 1.25)), (k, name, z.std(axis=0))
        ratio = np.sqrt(np.mean(s ** 2, axis=0)) / err.std(axis=0)
        assert np.all((ratio > 0.8) & (ratio < 1.25)), (k, ratio)


def test_var_and_short_rate_standard_errors_equal_statsmodels():
    """The VAR's Phi (homoskedastic OLS, Sigma with T-2 degrees of freedom) and delta_0, delta_1 (OLS of the short
    rate on the factors, homoskedastic and HC0) against statsmodels' OLS at the same regressions."""
    import statsmodels.api as sm

    fit = fit_acm(xlatsm_sample(), n_factors=3)
    se, se_robust = fit.standard_errors, fit.parameter_standard_errors(robust=True)
    T1, K_ = len(fit.V), fit.n_factors
    for k in range(K_):
        ols = sm.OLS(fit.X[1:, k], sm.add_constant(fit.X[:-1])).fit()
        dof = np.sqrt((T1 - K_ - 1) / (T1 - 1))        # statsmodels: s^2 with T1-K-1; ACM's Sigma: T-2 = T1-1
        np.testing.assert_allclose(se["Phi"].to_numpy()[k], ols.bse[1:] * dof, rtol=1e-10)
        # mu = 0 by the NY Fed's convention: its error is the factors' sample mean's, the OLS intercept's
        np.testing.assert_allclose(se["mu"].to_numpy()[k], ols.bse[:1] * dof, rtol=1e-10)
    ols = sm.OLS(fit.short_rate, sm.add_constant(fit.X)).fit()
    per_year = fit.scale / fit.dt
    np.testing.assert_allclose(se["delta_0"].to_numpy().ravel(), ols.bse[:1] * per_year, rtol=1e-10)
    np.testing.assert_allclose(se["delta_1"].to_numpy().ravel(), ols.bse[1:] * per_year, rtol=1e-10)
    np.testing.assert_allclose(se_robust["delta_1"].to_numpy().ravel(), ols.HC0_se[1:] * per_year, rtol=1e-10)
    # labels as parameter_blocks
    blocks = fit.parameter_blocks()
    assert set(se) == set(blocks) - {"pc_weights", "pc_mean"}
    for name, frame in se.items():
        assert frame.index.equals(blocks[name].index) and frame.columns.equals(blocks[name].columns)


def xlatsm_sample():
    import xlatsm

    return xlatsm.load_sample()


def test_standard_errors_in_summary_and_refusals():
    fit = fit_acm(xlatsm_sample(), n_factors=3)
    text = fit.summary()
    assert "Standard errors: analytic, ACM (2013)" in text and "s.e." in text
    lam = fit.lambda1[2, 2] / fit.standard_errors["lambda_1"].iloc[2, 2]
    assert f"{lam:.2f}" in text                                   # the t statistic of lambda_1[PC3,PC3]
    with pytest.raises(InputError, match="no bootstrap for ACM"):
        fit.parameter_standard_errors(method="bootstrap")
    fixed = fit_acm(xlatsm_sample(), n_factors=3, sigma2=fit.sigma2)
    assert fixed.standard_errors["sigma2"].iloc[0, 0] == 0.0
    assert any("sigma^2 was given" in n for n in fixed.inference().notes)


def test_term_premium_and_short_rate_bands_cover_the_truth():
    """200 samples of 600 months (the NY Fed's sample is ~760): the 90% delta-method bands on the 10-year term
    premium (in the middle and at the end of the sample) and on the expected short rate 12 and 60 months ahead (at
    the end) cover the true values (true parameters and factors) at a rate between 0.8 and 0.97 (the NY Fed's
    VAR convention; the parameters' standard errors are checked under both above); the median standard error is
    within 25% of the robust (MAD) Monte Carlo dispersion of the estimate's error (the mean is not: a few samples
    with a risk-neutral root near one give huge errors and huge standard errors alike). The bands' estimates are term_premium_at and expected_short_rate_path."""
    n = 120
    A, B = acm_price_loadings(MU_Q, PHI_Q, OMEGA, SIGMA_E ** 2, DELTA0, DELTA1, n)
    Ap, Bp = acm_price_loadings(MU_Q + LAM0, PHI_Q + LAM1, OMEGA, SIGMA_E ** 2, DELTA0, DELTA1, n)
    mu, Phi = MU_Q + LAM0, PHI_Q + LAM1
    for var_intercept in (False,):
        rng = np.random.default_rng(5)
        covered, errors, ses = [], [], []
        for _ in range(200):
            panel, X, exact = _simulate_returns_model(600, rng)
            fit = fit_acm(panel, n_factors=K, pc_maturities=exact, rx_maturities=[f"{m}M" for m in RX_MONTHS],
                          var_intercept=var_intercept)
            x, path = X[-1], []
            for h in range(61):
                path.append((DELTA0 + DELTA1 @ x) * 12)
                x = mu + Phi @ x
            truth = np.concatenate([(-((A[n] - Ap[n]) + X @ (B[n] - Bp[n])) / 10)[[300, 599]],
                                    np.array(path)[[12, 60]]])
            band = pd.concat([fit.term_premium_bands(0.9, "10Y").iloc[[300, 599]],
                              fit.expected_short_rate_bands(60, 0.9).iloc[[12, 60]]])
            covered.append((band["lower"].to_numpy() <= truth) & (truth <= band["upper"].to_numpy()))
            errors.append(band["estimate"].to_numpy() - truth)
            ses.append(band["std_error"].to_numpy())
        rate = np.mean(covered, axis=0)
        assert np.all((rate >= 0.8) & (rate <= 0.97)), (var_intercept, rate)
        errors = np.array(errors)
        mad = 1.4826 * np.median(np.abs(errors - np.median(errors, axis=0)), axis=0)
        ratio = np.median(ses, axis=0) / mad
        assert np.all((ratio > 0.75) & (ratio < 1.25)), (var_intercept, ratio)
    tp = fit.term_premium_bands(0.9, "10Y")
    np.testing.assert_allclose(tp["estimate"], fit.term_premium_at("10Y"), rtol=1e-12)
    assert tp.attrs["units"] == "decimal" and tp.attrs["what"] == "term premium 10Y"
    short = fit.expected_short_rate_bands(60, 0.9)
    np.testing.assert_allclose(short["estimate"], fit.expected_short_rate_path(60).iloc[-1], rtol=1e-12)
    with pytest.raises(InputError, match="delta method"):
        fit.term_premium_bands(method="bootstrap")
