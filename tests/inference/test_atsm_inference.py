"""ATSM standard errors and bands, each checked against an independent computation: the OLS closed form, a Hessian
taken another way, the full filter's prediction-error decomposition, units invariance, and a Monte Carlo."""
import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm import InputError
from xlatsm.data import load_sample
from xlatsm.inference.atsm import JSZLikelihood
from xlatsm.inference.numdiff import information_from_values

COLUMNS = ["SVENY01", "SVENY02", "SVENY03", "SVENY05", "SVENY09", "SVENY12"]


@pytest.fixture(scope="module")
def panel():
    return load_sample()[COLUMNS]


@pytest.fixture(scope="module")
def jsz(panel):
    return xlatsm.fit_atsm(panel, method="jsz")


@pytest.fixture(scope="module")
def kalman(panel):
    return xlatsm.fit_atsm(panel, method="kalman")


def test_full_jsz_likelihood_is_the_fit_and_peaks_at_it(jsz):
    """The full likelihood (k_inf, sigma, K0P, K1P free) equals the concentrated one at the estimate, and no
    coordinate raises it (the concentrated-out parameters are at their maximum)."""
    lik = JSZLikelihood(jsz.panel.yields, jsz.params)
    theta = lik.pack(jsz.params)
    assert lik.loglik(theta) == pytest.approx(jsz.loglik, rel=1e-12, abs=1e-8)
    se = np.sqrt(np.diag(jsz.inference().covariance))
    for i in range(len(theta)):
        for sign in (1, -1):
            step = theta.copy()
            step[i] += sign * 0.05 * se[i]
            assert lik.loglik(step) < jsz.loglik + 1e-7


def test_jsz_var_standard_errors_are_the_ols_closed_form(jsz):
    """K0P, K1P enter only the VAR part and are OLS: Var(vec[K0P K1P]) = Omega_P kron (Z'Z)^-1 exactly."""
    P = jsz.panel.yields @ jsz.params.structure.W.T
    Z = np.column_stack([np.ones(len(P) - 1), P[:-1]])
    ZZinv = np.linalg.inv(Z.T @ Z)
    Omega = jsz.params.Omega_P
    se_G = np.sqrt(np.outer(np.diag(Omega), np.diag(ZZinv)))     # (N, 1 + N): [K0P, K1P] rows
    se = jsz.standard_errors
    np.testing.assert_allclose(se["K0_P"].to_numpy()[:, 0], se_G[:, 0] * jsz.scale, rtol=2e-3)
    np.testing.assert_allclose(se["K1_P"].to_numpy(), se_G[:, 1:], rtol=2e-3)
    assert list(se["K1_P"].index) == list(jsz.parameter_blocks()["K1_P"].index)


def test_jsz_measurement_error_information_is_the_chi_square_one(jsz):
    """sigma^2 is the mean of (T-1)(J-N) squared pricing errors: the information of log sigma is 2 (T-1)(J-N)
    exactly; the marginal standard error is at least the conditional one sigma / sqrt(2 (T-1)(J-N)) (sigma is
    correlated with Sigma_P through the convexity term)."""
    T, J = jsz.panel.yields.shape
    n = (T - 1) * (J - jsz.n_factors)
    inf = jsz.inference()
    s = inf.likelihood.blocks["s"][0]
    information = np.linalg.inv(inf.covariance)
    assert information[s, s] == pytest.approx(2 * n, rel=1e-3)
    sigma = jsz.parameter_blocks()["sigma_e"].iloc[0, 0]
    assert jsz.standard_errors["sigma_e"].iloc[0, 0] >= sigma / np.sqrt(2 * n) * (1 - 1e-6)


def test_kalman_information_from_the_score_matches_one_from_values(kalman):
    """Differences of the exact score and second differences of the log-likelihood give the same covariance."""
    inf = kalman.inference()
    assert inf.ok and not inf.fixed.any()
    lik = inf.likelihood
    by_values = information_from_values(lik.loglik, inf.theta)
    se_score = np.sqrt(np.diag(inf.covariance))
    se_values = np.sqrt(np.diag(by_values.covariance))
    np.testing.assert_allclose(se_score, se_values, rtol=0.01)


def test_kalman_per_date_terms_add_up_to_the_collapsed_loglik(kalman):
    """The sandwich's per-date scores come from statsmodels' full (uncollapsed) filter; its terms sum to the
    collapsed filter's exact diffuse log-likelihood (to the ~1e-8 relative precision of statsmodels' exact-diffuse
    recursions, which the collapsed filter's closed-form start avoids)."""
    inf = kalman.inference()
    terms = inf.likelihood.contributions(inf.theta)
    assert len(terms) == len(kalman.panel.dates)
    assert terms.sum() == pytest.approx(kalman.loglik, rel=1e-7)


def test_robust_standard_errors_agree_with_the_model_based_ones_on_model_data(jsz):
    """On data simulated from the fitted model, the sandwich and the inverse information estimate the same thing."""
    from xlatsm.inference.bootstrap import simulate_jsz_panel

    rng = np.random.default_rng(3)
    Y = simulate_jsz_panel(jsz.params, jsz._smoothed[0][0], 600, rng)
    frame = pd.DataFrame(Y * 100, index=pd.date_range("1960-01-31", periods=600, freq="ME"),
                         columns=jsz.panel.labels)
    fit = xlatsm.fit_atsm(frame, method="jsz", yield_units="percent")
    plain = np.sqrt(np.diag(fit.inference().covariance))
    robust = np.sqrt(np.diag(fit.inference(robust=True).covariance))
    blocks = fit.inference().likelihood.blocks
    for block in ("q", "chol", "K0P", "K1P", "s"):
        ratio = robust[blocks[block]] / plain[blocks[block]]
        assert np.all((ratio > 0.7) & (ratio < 1.4)), (block, ratio)


def test_standard_errors_follow_the_units(panel, jsz):
    """The same yields in decimals: yield-like standard errors divide by 100, unit-free ones stay."""
    dec = xlatsm.fit_atsm(panel / 100, method="jsz", yield_units="decimal")
    a, b = jsz.standard_errors, dec.standard_errors
    for name in ("K0_P", "Sigma_P", "k_inf_Q", "sigma_e"):
        np.testing.assert_allclose(b[name].to_numpy() * 100, a[name].to_numpy(), rtol=2e-3, atol=1e-12)
    for name in ("K1_P", "lambda_Q", "K1_Q"):
        np.testing.assert_allclose(b[name].to_numpy(), a[name].to_numpy(), rtol=2e-3, atol=1e-12)
    tp_a, tp_b = jsz.term_premium_bands(), dec.term_premium_bands()
    np.testing.assert_allclose(tp_b["std_error"] * 100, tp_a["std_error"], rtol=2e-3)


def test_term_premium_band_frame(jsz):
    band = jsz.term_premium_bands(level=0.9)
    assert list(band.columns) == ["estimate", "lower", "upper", "std_error"]
    pd.testing.assert_series_equal(band["estimate"], jsz.term_premium_at("10Y"), check_names=False)
    assert (band["lower"] < band["estimate"]).all() and (band["estimate"] < band["upper"]).all()
    np.testing.assert_allclose(band["upper"] - band["estimate"], 1.6448536 * band["std_error"], rtol=1e-6)
    wider = jsz.term_premium_bands(level=0.99)
    assert (wider["upper"] - wider["lower"] > band["upper"] - band["lower"]).all()
    assert band.attrs["units"] == "percent" and band.attrs["method"] == "delta"
    # jsz: the short rate today is rho0 + rho1'W y_t, uncertain only through the parameters
    esr = jsz.expected_short_rate_bands(24)
    np.testing.assert_allclose(esr["estimate"], jsz.expected_short_rate_path(24).iloc[-1].to_numpy())
    assert esr["std_error"].iloc[0] < esr["std_error"].iloc[-1]


def test_kalman_bands_carry_the_factor_uncertainty(kalman):
    """kalman: the band's variance is at least the smoothed factors' own (parameters held at the estimate)."""
    from xlatsm.atsm.results import term_premium_factor_loading

    band = kalman.term_premium_bands()
    b = term_premium_factor_loading(kalman.params, np.array([120]))[0]
    factor_sd = np.sqrt(np.einsum("i,tij,j->t", b, kalman._smoothed[1], b)) * kalman.scale
    assert (band["std_error"].to_numpy() >= factor_sd - 1e-12).all()
    assert (band["std_error"].to_numpy() > factor_sd * 1.01).any()


def test_summary_shows_estimate_se_and_t(jsz):
    text = jsz.summary()
    assert "estimate" in text and "s.e." in text and "held fixed" in text
    line = next(row for row in text.splitlines() if row.startswith("level,level") and "0.99" in row)
    est, se, t = (float(x) for x in line.split()[1:4])
    assert t == pytest.approx(est / se, rel=1e-2)


def test_bad_requests_are_refused(jsz, panel):
    with pytest.raises(InputError, match="level"):
        jsz.term_premium_bands(level=90)
    with pytest.raises(InputError, match="method"):
        jsz.term_premium_bands(method="jackknife")
    with pytest.raises(InputError, match="n_boot"):
        jsz.term_premium_bands(method="bootstrap", n_boot=1)
    with pytest.raises(InputError, match="not in the sample"):
        jsz.expected_short_rate_bands(12, date="1970-01-31")
    dns = xlatsm.fit_atsm(panel, method="dns")
    with pytest.raises(InputError, match="not available"):
        dns.standard_errors
    with pytest.raises(InputError, match="not available"):
        dns.term_premium_bands()


def test_bootstrap_is_reproducible_and_brackets_the_estimate(jsz):
    first = jsz.term_premium_bands(method="bootstrap", n_boot=8, seed=5, progress=False)
    again = xlatsm.fit_atsm(jsz.panel.yields * 100, jsz.panel.labels, method="jsz", yield_units="percent")
    second = again.term_premium_bands(method="bootstrap", n_boot=8, seed=5, progress=False)
    np.testing.assert_allclose(first.to_numpy(), second.to_numpy())
    assert jsz.bootstrap(8, 5).n_draws == 8
    calls = []
    jsz.bootstrap(3, 1, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_lgssm_refuses_standard_errors_at_an_unconverged_em():
    """A 20-iteration EM has not reached the maximum (its score is not zero): no standard errors, a reason."""
    import warnings

    from xlatsm.errors import EstimationError

    y = load_sample()[COLUMNS].iloc[:120].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a short EM: only the refusal is tested
        fit = xlatsm.fit_lgssm(y, 2, max_iter=20)
    with pytest.raises(EstimationError, match="need a converged EM"):
        fit.standard_errors


def _label_switched(params):
    """The same model with k_inf^Q moved to the smallest real Q-root (by the shift of the latent factors that
    keeps r_inf^Q = k_inf^Q / (1 - lambda_1)): what a search could end at."""
    from dataclasses import replace

    from xlatsm.atsm.model import q_roots, roots_to_q

    roots = sorted(z.real for z in q_roots(params.q_coefs))
    assert len(roots) == 3
    small, mid, big = roots
    q = roots_to_q([small, big, mid])
    return replace(params, q_coefs=q, kinfQ=params.kinfQ * (1 - small) / (1 - params.q_coefs[0]))


@pytest.fixture(scope="module")
def jsz_real_roots(panel):
    """The jsz fit with the 1Y/3Y/12Y yields priced exactly: three real Q-roots (the PCA fit has a complex pair,
    which cannot carry k_inf^Q)."""
    fit = xlatsm.fit_atsm(panel, method="jsz", portfolios=["1Y", "3Y", "12Y"])
    assert np.isrealobj(fit.params.lamQ)
    return fit


def test_kinf_on_another_root_is_the_same_model_and_is_moved_back(jsz_real_roots):
    """Independent check of the normalisation: k_inf^Q on another Q-root with r_inf^Q kept gives the same
    loadings and log-likelihood (the full JSZ likelihood, a separate code path from the estimator's), and
    kinf_on_largest_root maps it back to the estimate's numbers; the estimate is left alone."""
    from xlatsm.atsm.model import kinf_on_largest_root

    jsz = jsz_real_roots
    p = jsz.params
    assert kinf_on_largest_root(p) is p
    other = _label_switched(p)
    assert other.q_coefs[0] < p.q_coefs[0] and other.kinfQ != pytest.approx(p.kinfQ, rel=1e-2)
    a, b = p.loadings(), other.loadings()
    np.testing.assert_allclose(b.A_P, a.A_P, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.B_P, a.B_P, rtol=1e-10, atol=1e-12)
    lik = JSZLikelihood(jsz.panel.yields, p)
    assert lik.loglik(lik.pack(other)) == pytest.approx(jsz.loglik, rel=1e-12)
    back = kinf_on_largest_root(other)
    np.testing.assert_allclose(back.q_coefs, p.q_coefs, rtol=1e-10, atol=1e-14)
    assert back.kinfQ == pytest.approx(p.kinfQ, rel=1e-9)
    assert back.rinfQ == pytest.approx(p.rinfQ, rel=1e-9)


def test_a_search_started_on_another_root_reports_the_same_parameters(jsz_real_roots):
    """Two fits of the same data, one warm-started with k_inf^Q on the smallest root, give the same numbers."""
    jsz = jsz_real_roots
    again = xlatsm.fit_atsm(jsz.panel.yields, jsz.panel.labels, method="jsz", yield_units="decimal",
                            portfolios=["1Y", "3Y", "12Y"], start=_label_switched(jsz.params))
    assert again.loglik == pytest.approx(jsz.loglik, rel=1e-10)
    np.testing.assert_allclose(again.params.q_coefs[0], jsz.params.q_coefs[0], rtol=1e-6)
    np.testing.assert_allclose(np.sort(again.params.lamQ.real), np.sort(jsz.params.lamQ.real), rtol=1e-4)
    assert again.params.kinfQ == pytest.approx(jsz.params.kinfQ, rel=1e-3)


def test_studentized_interval_pieces_against_independent_computations(jsz_real_roots, kalman):
    """The batched physical-measure loadings equal discrete_price_loadings' recursion; the VAR block of the term
    premium's delta variance (Omega_P kron (Z'Z)^-1 through its own differences) is at most the full delta
    variance (the information's numerical Hessian) and nearly all of it; the studentized band brackets the
    estimate, 'auto' is it for jsz, and kalman is refused before any refit."""
    from xlatsm.atsm.loadings import discrete_yield_loadings
    from xlatsm.inference.bands import _tp_var_block, physical_yield_loadings
    from xlatsm.inference.bootstrap import var_design_inverse

    fit = jsz_real_roots
    p, dt = fit.params, fit.params.structure.dt
    q = p.q_dynamics()
    rng = np.random.default_rng(0)
    G = np.column_stack([p.K0P, p.K1P])[None] + 1e-3 * rng.standard_normal((3, 3, 4)) * [[1e-2] + [1] * 3]
    A, B = physical_yield_loadings(G, p.Omega_P, q["rho0"], q["rho1"], 120, dt)
    for m in range(3):
        A1, B1 = discrete_yield_loadings(G[m, :, 0], G[m, :, 1:], p.Omega_P, q["rho0"], q["rho1"], [120], dt)
        np.testing.assert_allclose(A[m], A1[0], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(B[m], B1[0], rtol=1e-10, atol=1e-15)
    X = fit.panel.yields @ p.structure.W.T
    block = _tp_var_block(p, var_design_inverse(X), X, 120)
    _, se = fit.inference().term_premium_delta(np.array([120]))
    assert np.all(block <= se ** 2 * (1 + 1e-3)) and np.all(block >= 0.9 * se ** 2)
    band = fit.term_premium_bands(method="bootstrap", n_boot=19, seed=0, progress=False, interval="studentized")
    assert (band["lower"] < band["estimate"]).all() and (band["estimate"] < band["upper"]).all()
    assert "studentized" in band.attrs["notes"][-1]
    auto = fit.term_premium_bands(method="bootstrap", n_boot=19, seed=0, progress=False, interval="auto")
    np.testing.assert_allclose(auto.to_numpy(), band.to_numpy())
    with pytest.raises(InputError, match="studentized"):
        kalman.term_premium_bands(method="bootstrap", n_boot=19, progress=False, interval="studentized")


def test_kalman_bootstrap_keeps_the_blanks_and_refits(panel):
    """kalman with blank cells: the simulated panels are blank where the data are, and the refits converge."""
    from xlatsm.inference.bootstrap import simulate_kalman_panel

    data = panel.iloc[-150:].copy()
    data.iloc[10:14, 2] = np.nan
    fit = xlatsm.fit_atsm(data)
    assert fit.method == "kalman"
    blank = np.isnan(fit.panel.yields)
    sim = simulate_kalman_panel(fit.params, fit._smoothed[0][0], len(data), np.random.default_rng(0), blank)
    assert np.array_equal(np.isnan(sim), blank)
    boot = fit.bootstrap(n_boot=3, seed=0, progress=False)
    assert boot.n_draws == 3 and boot.n_failed == 0
    band = fit.term_premium_bands(method="bootstrap", n_boot=3, seed=0, progress=False)
    assert band["std_error"].gt(0).all() and band.attrs["method"] == "bootstrap"
