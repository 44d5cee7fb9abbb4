"""The three ATSM estimators: published results, simulation recovery, real data, invariance, bad input."""
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm import ConvergenceWarning, InputError, ModelError
from xlatsm.atsm.loadings import discrete_yield_loadings
from xlatsm.atsm.results import ATSMResult
from xlatsm.atsm.simulate import simulate_yields


def lw_panel(shared_data, start="1971-08", columns=("m003", "m006", "m012", "m024", "m036", "m060", "m084", "m120")):
    lw = pd.read_csv(shared_data / "lw_monthly_1961_2022.csv", index_col=0, parse_dates=True)
    return lw.loc[start:, list(columns)]


def test_reproduces_published_jsz_sample_model(shared_data):
    """JSZ's MATLAB sample: N=3, 6m/2y/10y priced exactly. Published loglik 8210.0508 and lambda^Q."""
    zeros = pd.read_csv(shared_data.parent / "reference" / "jsz_sample" / "jsz_sample_zeros.csv", index_col=0,
                        parse_dates=True)
    zeros.columns = ["6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y"]
    ref = json.loads((shared_data.parent / "reference" / "jsz_sample" / "jsz_sample_model.json").read_text())
    fit = xlatsm.fit_atsm(zeros, portfolios=["6M", "2Y", "10Y"], yield_units="decimal")
    assert fit.converged
    assert fit.loglik == pytest.approx(8210.05077, abs=2e-4)
    np.testing.assert_allclose(fit.params.lamQ, 1 + np.diag(np.array(ref["K1Q_X"])), atol=2e-6)
    assert fit.params.rinfQ == pytest.approx(float(np.ravel(ref["rinfQ"])[0]), abs=2e-5)
    assert fit.params.sigma_e[0] == pytest.approx(float(np.ravel(ref["sigma_e"])[0]), rel=1e-5)


@pytest.fixture(scope="module")
def truth(request):
    from conftest import SHARED_DATA

    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside this checkout")
    cols = ("m003", "m006", "m012", "m024", "m036", "m048", "m060", "m084", "m096", "m120")
    fit = xlatsm.fit_atsm(lw_panel(SHARED_DATA, columns=cols))
    return replace(fit.params, sigma_e=np.full(10, 0.0005))   # 5 bp errors


def true_term_premium(truth, panel):
    result = ATSMResult(params=truth, panel=panel, method="kalman", loglik=0.0, converged=True, n_iter=0,
                        loglik_path=np.array([]), message="")
    return result.term_premium["10Y"]


def test_simulation_recovery_all_three_estimators(truth):
    rng = np.random.default_rng(0)
    yields, _ = simulate_yields(truth, 600, rng)
    fits = {m: xlatsm.fit_atsm(yields, method=m, yield_units="decimal") for m in ("jsz", "kalman", "em")}
    tp_true = true_term_premium(truth, fits["kalman"].panel)
    for method, fit in fits.items():
        assert fit.converged, method
        np.testing.assert_allclose(np.real(fit.params.lamQ), truth.lamQ, atol=0.006, err_msg=method)
        assert fit.params.rinfQ == pytest.approx(truth.rinfQ, abs=0.03), method
        tp = fit.term_premium["10Y"]
        assert np.corrcoef(tp, tp_true)[0, 1] > 0.6, method
        assert fit.pricing_errors.max() < 7.0  # 5 bp noise
    # kalman (direct MLE) and em (ECM) climb the same likelihood to the same top
    assert fits["em"].loglik == pytest.approx(fits["kalman"].loglik, rel=1e-6)
    assert np.diff(fits["em"].loglik_path).min() >= -1e-9 * abs(fits["em"].loglik)


def test_term_premium_estimates_are_unbiased_across_samples(truth):
    """Over independent samples the 10y term premium error averages out: its mean is within 3 Monte Carlo
    standard errors of zero (sampling error measured, not assumed)."""
    errors = []
    for seed in range(8):
        yields, _ = simulate_yields(truth, 600, np.random.default_rng(100 + seed))
        fit = xlatsm.fit_atsm(yields, yield_units="decimal")
        errors.append((fit.term_premium["10Y"] - true_term_premium(truth, fit.panel)).mean())
    errors = np.array(errors)
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / np.sqrt(len(errors)) + 0.002


def test_real_data_liu_wu(shared_data):
    panel = lw_panel(shared_data)
    first = xlatsm.fit_atsm(panel)
    second = xlatsm.fit_atsm(panel)
    assert first.converged
    assert (first.pricing_errors < 10).all(), first.pricing_errors
    np.testing.assert_array_equal(first.params.K1P, second.params.K1P)
    np.testing.assert_array_equal(first.params.q_coefs, second.params.q_coefs)
    tp10 = first.term_premium["10Y"]
    assert tp10.notna().all() and len(tp10) == len(panel)
    assert 0.5 < tp10.mean() < 3.5   # percent: the familiar size of the US 10y term premium 1971-2022
    assert np.all(np.abs(first.params.lamQ) < 1)


def test_acm_term_premium_comovement(shared_data):
    """Not the same model (ACM is 5-factor OLS), but the 10y term premia should move together."""
    acm = pd.read_csv(shared_data.parent / "reference" / "ACMTermPremium_replicated_monthly_1m_120m.csv.gz",
                      index_col=0, parse_dates=True)["ACMTP10"]
    fit = xlatsm.fit_atsm(lw_panel(shared_data, start="1990-01"))
    tp = fit.term_premium["10Y"]
    both = pd.concat([tp, acm.reindex(tp.index, method="nearest", tolerance=pd.Timedelta("5D"))], axis=1).dropna()
    assert len(both) > 300
    assert both.corr().iloc[0, 1] > 0.7


def test_missing_cells_and_late_maturity_in_the_filter(shared_data):
    """Liu-Wu from 1966: the 10y starts in 1971 and a few cells are blanked; kalman keeps every date."""
    panel = lw_panel(shared_data, start="1966-01").copy()
    assert panel["m120"].isna().sum() > 50
    panel.iloc[100:110, 2] = np.nan
    with pytest.raises(InputError, match="use method='kalman'"):
        xlatsm.fit_atsm(panel, method="jsz")
    fit = xlatsm.fit_atsm(panel)   # method="auto": the blanks send it to the Kalman filter, and it says so
    blank = int(panel.isna().sum().sum())
    assert fit.method == "kalman" and fit.method_requested == "auto"
    assert f"method auto -> kalman: {blank} cells are blank; jsz needs a complete panel" in fit.summary(), blank
    assert fit.converged and len(fit.factors) == len(panel)
    assert fit.factors.notna().all().all() and (fit.factor_std_errors.iloc[100:110].mean() > 0).all()
    assert (fit.pricing_errors < 12).all()


def test_units_invariance(shared_data):
    percent = lw_panel(shared_data, start="1990-01")
    a = xlatsm.fit_atsm(percent)
    b = xlatsm.fit_atsm(percent / 100)
    assert a.units == "percent" and b.units == "decimal"
    np.testing.assert_allclose(a.params.q_coefs, b.params.q_coefs, rtol=1e-8)
    np.testing.assert_allclose(a.fitted_yields.to_numpy() / 100, b.fitted_yields.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(a.term_premium.to_numpy() / 100, b.term_premium.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(a.pricing_errors, b.pricing_errors, rtol=1e-8)
    assert a.parameter_blocks()["K0_P"].iloc[0, 0] == pytest.approx(100 * b.parameter_blocks()["K0_P"].iloc[0, 0])


def test_q_dynamics_in_factor_rotation_reprice_the_curve(shared_data):
    """K0Q, K1Q, rho0, rho1 reported in the P_t rotation, fed to the generic recursion, give A_P and B_P."""
    fit = xlatsm.fit_atsm(lw_panel(shared_data, start="1990-01"))
    p = fit.params
    q = p.q_dynamics()
    A, B = discrete_yield_loadings(q["K0Q"], q["K1Q"], p.Omega_P, q["rho0"], q["rho1"], p.structure.periods,
                                   p.structure.dt)
    ld = p.loadings()
    np.testing.assert_allclose(B, ld.B_P, atol=1e-9)
    np.testing.assert_allclose(A, ld.A_P, atol=1e-11)
    lam0, lam1 = p.market_price_of_risk()
    np.testing.assert_allclose(p.Sigma_P @ lam1, p.K1P - q["K1Q"], atol=1e-12)
    np.testing.assert_allclose(np.sort(np.real(np.linalg.eigvals(q["K1Q"]))), np.sort(np.real(p.lamQ)), atol=1e-8)


def test_outputs_shapes_and_summary(shared_data):
    fit = xlatsm.fit_atsm(lw_panel(shared_data, start="2000-01"))
    T, J = fit.panel.yields.shape
    assert fit.factors.shape == (T, 3) and list(fit.factors.columns) == ["level", "slope", "curvature"]
    assert fit.fitted_yields.shape == (T, J) and fit.term_premium.shape == (T, J)
    assert fit.expected_short_rate_path(24).shape == (T, 25)
    loadings = fit.loadings(["1Y", "10Y", "20Y"])
    assert list(loadings.index) == ["1Y", "10Y", "20Y"] and loadings.shape == (3, 4)
    np.testing.assert_allclose(fit.loadings(["10Y"]).iloc[0, 1:], fit.params.loadings().B_P[-1], atol=1e-12)
    np.testing.assert_allclose(fit.term_premium_at("10Y"), fit.term_premium["10Y"], atol=1e-10)
    text = fit.summary()
    for word in ("lambda_Q", "K1_P", "Sigma_P", "K1_Q", "lambda_1", "K_P", "RMSE", "Term premium", "percent"):
        assert word in text


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_factors=0), "n_factors"), (dict(n_factors=8), "n_factors"), (dict(method="gmm"), "method"),
    (dict(measurement_error="huge"), "measurement_error"), (dict(portfolios=["1Y", "2Y"]), "one per factor"),
    (dict(portfolios=["1Y", "2Y", "11Y"]), "not among"),
])
def test_bad_options(kwargs, match):
    sample = xlatsm.load_sample()
    with pytest.raises(InputError, match=match):
        xlatsm.fit_atsm(sample, **kwargs)


def test_bad_panels():
    sample = xlatsm.load_sample()
    with pytest.raises(InputError, match="cannot identify"):
        xlatsm.fit_atsm(sample.iloc[:, :3])
    # columns out of maturity order are sorted by the data layer (with a note): the same fit
    shuffled = xlatsm.fit_atsm(sample.iloc[:, [1, 0, 2, 3, 4]])
    assert shuffled.loglik == pytest.approx(xlatsm.fit_atsm(sample.iloc[:, :5]).loglik, rel=1e-10)
    with pytest.raises(InputError, match="too few"):
        xlatsm.fit_atsm(sample.iloc[:10])
    blank = sample.copy()
    blank.iloc[:, 2] = np.nan
    with pytest.raises(InputError, match="hold no numbers"):
        xlatsm.fit_atsm(blank)


def test_non_stationary_start_and_non_convergence_are_reported():
    sample = xlatsm.load_sample().iloc[:, :7]
    fit = xlatsm.fit_atsm(sample)
    explosive = replace(fit.params, K1P=fit.params.K1P * 1.2)
    with pytest.raises(ModelError, match="stationary"):
        xlatsm.fit_atsm(sample, method="kalman", start=explosive)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        result = xlatsm.fit_atsm(sample, method="em", max_iter=1)
    assert not result.converged and "NOT CONVERGED" in result.summary()


def test_cached_loadings_equal_the_direct_computation():
    """The jsz and Kalman objectives cache what depends on the Q-eigenvalues alone and add Sigma_P's convexity
    term through the affine map: the intercepts equal those of jsz_loadings_affine at the full Omega_P, and the
    cache returns the same numbers on a second call."""
    from xlatsm.atsm.estimate import _JSZObjective, _structure
    from xlatsm.atsm.likelihood import YieldModel
    from xlatsm.atsm.model import jsz_loadings_affine
    from xlatsm.atsm.params_vector import free_to_q, n_chol, q_to_free

    from xlatsm.data import read_panel

    panel = read_panel(xlatsm.load_sample().iloc[:, :7])
    structure, _ = _structure(panel, 3, None)
    Y = np.asarray(panel.yields, float)
    obj = _JSZObjective(structure, Y)
    rng = np.random.default_rng(0)
    theta = np.concatenate([q_to_free(np.array([0.997, 0.95, 2e-4])), 0.1 * rng.normal(size=n_chol(3))])
    L = obj.chol(theta[3:])
    Omega = L @ L.T
    alpha, B, A0, G, _ = obj.q_part(theta[:3])
    dA, _, _, ld = jsz_loadings_affine(free_to_q(theta[:3]), Omega, structure)
    np.testing.assert_allclose(A0 + np.einsum("jkl,kl->j", G, Omega), ld.A_P, rtol=0, atol=1e-14)
    np.testing.assert_allclose(B, ld.B_P, rtol=0, atol=1e-14)
    np.testing.assert_allclose(alpha, dA, rtol=0, atol=1e-14)
    assert obj.evaluate(theta)[0] == obj.evaluate(theta.copy())[0]
    model = YieldModel(Y, structure, "common", L_ref=obj.L_ref)
    A_k, B_k, _ = model._loadings(theta[:3], 0.01, theta[3:])
    dA, _, _, ld = jsz_loadings_affine(free_to_q(theta[:3]), Omega, structure)
    np.testing.assert_allclose(A_k, ld.A_P + 0.01 * dA, rtol=0, atol=1e-14)
    np.testing.assert_allclose(B_k, ld.B_P, rtol=0, atol=1e-14)


def test_the_data_period_follows_the_data_layer_annual_and_quarterly_included():
    """Audit B21: the ATSM's period comes from the data layer's frequency rule, so annual data fit (one period a
    year) instead of being refused, and the fit equals the one with the period stated."""
    sample = xlatsm.load_sample()
    for months, per_year, name in (([12], 1, "annual"), ([3, 6, 9, 12], 4, "quarterly")):
        panel = sample[sample.index.month.isin(months)]
        inferred = xlatsm.fit_atsm(panel, method="jsz")
        stated = xlatsm.fit_atsm(panel, method="jsz", periods_per_year=per_year)
        assert any(n.startswith(f"period: {name} (median spacing") for n in inferred.notes), inferred.notes
        assert inferred.loglik == stated.loglik
        np.testing.assert_array_equal(inferred.term_premium.to_numpy(), stated.term_premium.to_numpy())
