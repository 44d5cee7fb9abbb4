"""Forecasts (xlatsm.forecast): means and bands against closed forms (matrix powers), statsmodels' VAR forecasts
at the same parameters, brute-force simulation and the models' own expected short-rate paths; the LGSSM's
filtered companion state against its smoother; scenario paths against the closed-form Gaussian conditional
expectation; bad input."""
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import xlatsm
from xlatsm import InputError, ModelError
from xlatsm.forecast import ForecastResult, forecast, plot_forecast, state_space_of


@pytest.fixture(scope="module")
def sample():
    return xlatsm.load_sample()[["SVENY01", "SVENY02", "SVENY03", "SVENY05", "SVENY06", "SVENY09"]].iloc[-150:]


@pytest.fixture(scope="module")
def jsz(sample):
    return xlatsm.fit_atsm(sample, method="jsz")


def _powers_moments(T, d, Q, a, P, H):
    """Closed forms E[s_{T+h}] = T^h a + sum_{j<h} T^j d, Var = T^h P T^h' + sum_{j<h} T^j Q T^j'."""
    means, covs = [], []
    for h in range(1, H + 1):
        Th = np.linalg.matrix_power(T, h)
        means.append(Th @ a + sum(np.linalg.matrix_power(T, j) @ d for j in range(h)))
        covs.append(Th @ P @ Th.T + sum(np.linalg.matrix_power(T, j) @ Q @ np.linalg.matrix_power(T, j).T
                                        for j in range(h)))
    return np.array(means), np.array(covs)


def test_atsm_forecast_closed_form(jsz, sample):
    H = 12
    fc = jsz.forecast(H, level=0.8)
    assert isinstance(fc, ForecastResult)
    p = jsz.params
    s = jsz.scale
    x_T = p.structure.W @ (sample.to_numpy()[-1] / 100)          # jsz: the last date's portfolios, observed
    means, covs = _powers_moments(p.K1P, p.K0P, p.Omega_P, x_T, np.zeros((3, 3)), H)
    np.testing.assert_allclose(fc.factors.to_numpy(), means * s, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fc.factors_std.to_numpy(), np.sqrt(np.diagonal(covs, axis1=1, axis2=2)) * s,
                               rtol=1e-10)
    ld = p.loadings()
    np.testing.assert_allclose(fc.yields.to_numpy(), (ld.A_P + means @ ld.B_P.T) * s, rtol=1e-10)
    sd = np.sqrt(np.einsum("jk,hkl,jl->hj", ld.B_P, covs, ld.B_P) + p.sigma_e ** 2) * s
    np.testing.assert_allclose(fc.yields_std.to_numpy(), sd, rtol=1e-10)
    z = norm.ppf(0.9)
    np.testing.assert_allclose(fc.yields_lower.to_numpy(), fc.yields.to_numpy() - z * sd, rtol=1e-10)
    np.testing.assert_allclose(fc.yields_upper.to_numpy(), fc.yields.to_numpy() + z * sd, rtol=1e-10)
    # the short-rate mean is the model's own E_T[r_{T+h}] (ATSMResult.expected_short_rate_path)
    path = jsz.expected_short_rate_path(H).iloc[-1].to_numpy()[1:]
    np.testing.assert_allclose(fc.short_rate["short_rate"].to_numpy(), path, rtol=1e-10)
    assert list(fc.yields.columns) == list(jsz.panel.labels)
    assert fc.target_dates[0] == pd.Timestamp(sample.index[-1]) + pd.offsets.MonthEnd(1)
    assert "parameters are taken as known" in fc.summary()


def test_atsm_forecast_against_simulation(jsz, sample):
    """Brute force: simulate the VAR and the measurement error from the last date, price every path."""
    H, n = 6, 40000
    fc = forecast(jsz, H)
    p = jsz.params
    ld = p.loadings()
    q = p.q_dynamics()
    A_rn, B_rn = jsz._risk_neutral_loadings(p.structure.periods)
    rng = np.random.default_rng(7)
    x = np.tile(p.structure.W @ (sample.to_numpy()[-1] / 100), (n, 1))
    for _ in range(H):
        x = p.K0P + x @ p.K1P.T + rng.standard_normal((n, 3)) @ p.Sigma_P.T
    y = ld.A_P + x @ ld.B_P.T + rng.standard_normal((n, len(p.sigma_e))) * p.sigma_e
    r = q["rho0"] + x @ q["rho1"]
    tp = (ld.A_P - A_rn) + x @ (ld.B_P - B_rn).T
    s = jsz.scale
    for sim, mean, sd in ((y, fc.yields, fc.yields_std), (r[:, None], fc.short_rate, fc.short_rate_std),
                          (tp, fc.term_premium, fc.term_premium_std)):
        se = sim.std(axis=0) * s / np.sqrt(n)
        assert np.all(np.abs(sim.mean(axis=0) * s - mean.iloc[-1].to_numpy()) < 5 * se)
        np.testing.assert_allclose(sim.std(axis=0) * s, sd.iloc[-1].to_numpy(), rtol=0.02)


def test_dns_var_against_statsmodels(sample):
    from statsmodels.tsa.api import VAR

    fit = xlatsm.fit_dns(sample, dynamics="var")
    H = 9
    fc = forecast(fit, H)
    F = fit.F
    res = VAR(F).fit(1, trend="c")
    np.testing.assert_allclose(fc.factors.to_numpy() / 100, res.forecast(F[-1:], H), rtol=1e-9, atol=1e-12)
    # statsmodels' sigma_u divides by T - 1 - k(p) - 1 degrees of freedom, DNS's Q by the T - 1 residuals
    mse = res.mse(H) * res.df_resid / res.nobs
    np.testing.assert_allclose(fc.factors_std.to_numpy() / 100, np.sqrt(np.diagonal(mse, axis1=1, axis2=2)),
                               rtol=1e-8)
    # yields: Nelson-Siegel loadings at the fitted maturities times the factor forecasts (statsmodels' above); the
    # result's own forecast() is this forecast; no term premium
    from xlatsm.atsm.nelson_siegel import ns_loadings

    loadings = ns_loadings(fit.panel.maturities, fit.lam_per_year)
    np.testing.assert_allclose(fc.yields.to_numpy() / 100, res.forecast(F[-1:], H) @ loadings.T, rtol=1e-9)
    np.testing.assert_allclose(fit.forecast(H).yields.to_numpy(), fc.yields.to_numpy(), rtol=1e-14)
    with pytest.raises(ModelError, match="not arbitrage-free"):
        fc.term_premium
    # the short rate is the instantaneous Nelson-Siegel rate level + slope
    np.testing.assert_allclose(fc.short_rate["short_rate"].to_numpy(),
                               fc.factors["level"].to_numpy() + fc.factors["slope"].to_numpy(), rtol=1e-12)


def test_acm_forecast_matches_its_short_rate_path_and_loadings(sample):
    fit = xlatsm.fit_atsm(sample, method="acm", n_factors=3)
    H = 8
    fc = fit.forecast(H)
    path = fit.expected_short_rate_path(H).iloc[-1].to_numpy()[1:]
    np.testing.assert_allclose(fc.short_rate["short_rate"].to_numpy(), path, rtol=1e-10)
    X = fc.factors.to_numpy()                       # standardised, unit-free
    np.testing.assert_allclose(fc.yields.to_numpy(), fit._yields(X, fit.periods) * fit.scale, rtol=1e-10)
    tp = (fit._yields(X, fit.periods) - fit._yields(X, fit.periods, True)) * fit.scale
    np.testing.assert_allclose(fc.term_premium.to_numpy(), tp, rtol=1e-9, atol=1e-12)
    means, covs = _powers_moments(fit.Phi, fit.mu, fit.Sigma, fit.X[-1], np.zeros((3, 3)), H)
    np.testing.assert_allclose(X, means, rtol=1e-10, atol=1e-12)
    assert fc.factor_units == "standardised"


def _lgssm_fit(rng, blank_last=False):
    from conftest import simulate_lgssm

    params = xlatsm.LGSSMParams(A=np.array([[[0.6, 0.1], [0.0, 0.5]], [[0.2, 0.0], [0.1, 0.2]]]),
                                C=np.array([[1.0, 0.0], [0.5, 1.0], [0.3, -0.4], [1.0, 0.8], [0.2, 0.6]]),
                                Q=np.array([[0.5, 0.1], [0.1, 0.3]]), R=np.diag([0.2, 0.3, 0.1, 0.25, 0.15]),
                                state_intercept=np.array([0.3, -0.1]), obs_intercept=np.arange(5.0))
    y, _ = simulate_lgssm(params, 160, rng)
    if blank_last:
        y[-1, [0, 2, 3]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlatsm.fit_lgssm(y, 2, lags=2, max_iter=30)


@pytest.mark.parametrize("blank_last", [False, True])
def test_lgssm_forecast_companion_state(blank_last):
    fit = _lgssm_fit(np.random.default_rng(3), blank_last)
    ss = state_space_of(fit)
    k = 2
    # the filtered companion state at T holds E[x_T|Y] and E[x_{T-1}|Y]: the smoothed factors of the last two dates
    np.testing.assert_allclose(ss.a[:k], fit.smoothed_states[-1], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ss.a[k:], fit.smoothed_states[-2], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ss.P[:k, :k], fit.smoothed_cov[-1], rtol=1e-5, atol=1e-8)
    H = 7
    fc = fit.forecast(H)
    p = fit.params
    x1, x0 = ss.a[:k], ss.a[k:]
    expected = []
    for _ in range(H):                       # the VAR(2) iterated directly
        x1, x0 = p.state_intercept + p.A[0] @ x1 + p.A[1] @ x0, x1
        expected.append(x1)
    expected = np.array(expected)
    np.testing.assert_allclose(fc.factors.to_numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fc.yields.to_numpy(), p.obs_intercept + expected @ p.C.T, rtol=1e-10)
    means, covs = _powers_moments(ss.T, ss.d, ss.Qs, ss.a, ss.P, H)
    sd = np.sqrt(np.einsum("jk,hkl,jl->hj", ss.Z, covs, ss.Z) + np.diag(p.R))
    np.testing.assert_allclose(fc.yields_std.to_numpy(), sd, rtol=1e-9)
    with pytest.raises(ModelError, match="no pricing model"):
        fc.short_rate


def test_scenario_short_rate_path_is_the_gaussian_conditional_expectation(jsz):
    H = 6
    path = [4.0, 4.25, 4.5]                          # percent, as the yields
    fc = jsz.forecast(H, condition={"short_rate": path})
    ss = state_space_of(jsz)
    mean, cov = _conditional_at(ss, H, ss.r1, {i: v / 100 for i, v in enumerate(path)}, intercept=ss.r0)
    np.testing.assert_allclose(fc.factors.to_numpy(), mean * 100, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fc.factors_std.to_numpy(), np.sqrt(np.diagonal(cov, axis1=1, axis2=2)) * 100,
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(fc.short_rate["short_rate"].to_numpy()[:3], path, atol=1e-8)
    assert np.all(fc.short_rate_std.to_numpy()[:3] < 1e-5)
    assert fc.scenario["short_rate"].tolist() == path
    assert "Scenario" in fc.summary()


def test_scenario_factor_path_lgssm_with_state_uncertainty():
    fit = _lgssm_fit(np.random.default_rng(5))
    ss = state_space_of(fit)
    H = 5
    path = [1.0, np.nan, 0.5]                         # NaN: free in the second period
    fc = fit.forecast(H, condition={"f2": path})
    row = np.zeros(len(ss.a))
    row[1] = 1.0
    mean, cov = _conditional_at(ss, H, row, {0: 1.0, 2: 0.5})      # observed in periods 1 and 3 only
    np.testing.assert_allclose(fc.factors.to_numpy(), mean[:, :2], rtol=1e-7, atol=1e-8)
    # a factor fixed by the scenario has variance 0, which the reference's rounding can make -1e-17
    np.testing.assert_allclose(fc.factors_std.to_numpy(),
                               np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))[:, :2],
                               rtol=1e-5, atol=1e-7)


def _conditional_at(ss, H, row, observed, intercept=0.0):
    """Closed form: the joint Gaussian of (s_{T+1}, .., s_{T+H}) (Cov(s_i, s_j) = T^{i-j} Var(s_j), i >= j) and
    E/Var given intercept + row's_{T+i} = observed[i] at the periods i given."""
    m = len(ss.a)
    means, covs = _powers_moments(ss.T, ss.d, ss.Qs, ss.a, ss.P, H)
    mu = means.reshape(-1)
    S = np.zeros((H * m, H * m))
    for i in range(H):
        for j in range(i + 1):
            block = np.linalg.matrix_power(ss.T, i - j) @ covs[j]
            S[i * m:(i + 1) * m, j * m:(j + 1) * m] = block
            S[j * m:(j + 1) * m, i * m:(i + 1) * m] = block.T
    G = np.zeros((len(observed), H * m))
    v = np.zeros(len(observed))
    for n, (i, value) in enumerate(observed.items()):
        G[n, i * m:(i + 1) * m] = row
        v[n] = value
    K = S @ G.T @ np.linalg.inv(G @ S @ G.T)
    mean = mu + K @ (v - intercept - G @ mu)
    cov = S - K @ G @ S
    return mean.reshape(H, m), np.array([cov[i * m:(i + 1) * m, i * m:(i + 1) * m] for i in range(H)])


def test_bad_input(jsz):
    with pytest.raises(InputError, match="horizon"):
        jsz.forecast(0)
    with pytest.raises(InputError, match="level"):
        jsz.forecast(3, level=1.5)
    with pytest.raises(InputError, match="cannot condition"):
        jsz.forecast(3, condition={"slope of the moon": [1.0]})
    with pytest.raises(InputError, match="more than the horizon"):
        jsz.forecast(2, condition={"short_rate": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match="cannot forecast"):
        forecast(object(), 3)
    with pytest.raises(InputError, match="no forecast block"):
        jsz.forecast(3).mean("curvature")


def test_table_and_chart(jsz, tmp_path):
    fc = jsz.forecast(12)
    table = fc.table("yields")
    assert list(table.columns[:4]) == ["date", "1Y", "1Y lower 90%", "1Y upper 90%"]
    assert np.all(table["9Y lower 90%"] < table["9Y"]) and np.all(table["9Y"] < table["9Y upper 90%"])
    out = plot_forecast(fc, tmp_path / "forecast.png")
    assert (tmp_path / "forecast.png").stat().st_size > 10000 and out == tmp_path / "forecast.png"
    with pytest.raises(InputError, match="no series"):
        plot_forecast(fc, tmp_path / "x.png", series="99Y")


def _continuous_moments(KP, thetaP, Omega, x, P, dt, H):
    """Continuous-time closed form over h dt: E = theta + e^{-K h dt}(x - theta), Var = e^{-K h dt} P e^{-K' h dt}
    + int_0^{h dt} e^{-Ks} Omega e^{-K's} ds (Van Loan, by scipy's expm)."""
    from scipy.linalg import expm

    m = len(x)
    means, covs = [], []
    for h in range(1, H + 1):
        E = expm(-KP * h * dt)
        M = np.zeros((2 * m, 2 * m))
        M[:m, :m], M[:m, m:], M[m:, m:] = KP, Omega, -KP.T
        V = expm(M * h * dt)
        Phi = V[m:, m:].T
        means.append(thetaP + E @ (x - thetaP))
        covs.append(E @ P @ E.T + Phi @ V[:m, m:])
    return np.array(means), np.array(covs)


def test_continuous_jsz_forecast_is_the_continuous_time_closed_form(sample):
    fit = xlatsm.fit_atsm(sample, method="jsz", time="continuous")
    p = fit.params
    H, dt = 6, p.structure.dt
    fc = fit.forecast(H)
    x = p.structure.W @ (sample.to_numpy()[-1] / 100)
    means, covs = _continuous_moments(p.KP, p.thetaP, p.Omega, x, np.zeros((3, 3)), dt, H)
    np.testing.assert_allclose(fc.factors.to_numpy(), means * 100, rtol=1e-8)
    np.testing.assert_allclose(fc.factors_std.to_numpy(), np.sqrt(np.diagonal(covs, axis1=1, axis2=2)) * 100,
                               rtol=1e-7)
    path = fit.expected_short_rate_path(H).iloc[-1].to_numpy()[1:]
    np.testing.assert_allclose(fc.short_rate["short_rate"].to_numpy(), path, rtol=1e-10)


def test_afns_forecast_is_the_continuous_time_closed_form(sample):
    fit = xlatsm.fit_atsm(sample.iloc[-60:], method="afns")
    H = 6
    fc = fit.forecast(H)
    means, covs = _continuous_moments(fit.KP, fit.thetaP, fit.Omega, fit.X[-1], fit.X_cov[-1], fit.dt, H)
    np.testing.assert_allclose(fc.factors.to_numpy(), means * 100, rtol=1e-8)
    np.testing.assert_allclose(fc.factors_std.to_numpy(), np.sqrt(np.diagonal(covs, axis1=1, axis2=2)) * 100,
                               rtol=1e-7)
    np.testing.assert_allclose(fc.short_rate["short_rate"].to_numpy(), (means[:, 0] + means[:, 1]) * 100,
                               rtol=1e-10)
    # term premia: the result's own term-premium function at the forecast factors
    for label in ("2Y", "9Y"):
        tp, _ = fit._tp(means, label)
        np.testing.assert_allclose(fc.term_premium[label].to_numpy(), tp * 100, rtol=1e-8, atol=1e-12)


def test_parameter_uncertainty_is_the_delta_method(jsz):
    """Bands with the parameters' estimation error: total variance = state-space variance + g' V g, with g the
    gradient of the forecast mean in the parameter vector (central differences here) and V the fit's inverse
    observed information (engineer inference's ATSMResult.inference)."""
    H = 6
    plain = jsz.forecast(H)
    full = jsz.forecast(H, parameter_uncertainty=True)
    inf = jsz.inference()
    lik, theta, V = inf.likelihood, inf.theta, inf.covariance
    free = np.flatnonzero(np.diag(V) > 0)

    def short_rate_path(th):
        p = lik.unpack(th)
        q = p.q_dynamics()
        x, out = lik.factors(th)[-1], []
        for _ in range(H):
            x = p.K0P + p.K1P @ x
            out.append(q["rho0"] + q["rho1"] @ x)
        return np.array(out)

    grad = np.zeros((H, len(theta)))
    for i in free:
        step = 1e-4 * np.sqrt(V[i, i])
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        grad[:, i] = (short_rate_path(up) - short_rate_path(down)) / (2 * step)
    delta_var = np.einsum("hi,ij,hj->h", grad, V, grad) * jsz.scale ** 2
    np.testing.assert_allclose(short_rate_path(theta) * jsz.scale, plain.short_rate["short_rate"], rtol=1e-10)
    total = plain.short_rate_std["short_rate"].to_numpy() ** 2 + delta_var
    np.testing.assert_allclose(full.short_rate_std["short_rate"].to_numpy() ** 2, total, rtol=1e-3)
    assert np.all(full.yields_std.to_numpy() > plain.yields_std.to_numpy())
    pd.testing.assert_frame_equal(full.yields, plain.yields)
    assert any("estimation error" in n for n in full.notes)
    with pytest.raises(InputError, match="unconditional"):
        jsz.forecast(H, parameter_uncertainty=True, condition={"short_rate": [4.0]})


def test_parameter_uncertainty_needs_an_atsm_likelihood(sample):
    with pytest.raises(InputError, match="jsz, kalman or em"):
        forecast(xlatsm.fit_dns(sample), 3, parameter_uncertainty=True)
