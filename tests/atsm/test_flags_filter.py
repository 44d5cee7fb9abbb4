"""The collapsed Kalman filter against a dense joint-Gaussian computation, the analytic score against differences,
units, method="auto", exact parameter counts, every flag provoked, and the whole Liu-Wu file."""
import time
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm import ConvergenceWarning
from xlatsm.atsm.collapsed import CollapsedYields
from xlatsm.atsm.likelihood import YieldModel
from xlatsm.atsm.results import diagnose
from xlatsm.atsm.simulate import simulate_yields

from bruteforce import posterior


def codes(fit):
    return {f.code for f in fit.flags}


@pytest.fixture(scope="module")
def base():
    """A 3-factor JSZ fit of the embedded GSW 1-9y sample (the model the simulations below start from)."""
    return xlatsm.fit_atsm(xlatsm.load_sample().iloc[:, :7], n_factors=3, method="jsz")


def lw_blanks(shared_data):
    lw = pd.read_csv(shared_data / "lw_monthly_1961_2022.csv", index_col=0, parse_dates=True)
    return lw.loc["1966-01":"1975-12", ["m003", "m006", "m012", "m024", "m036", "m060", "m084", "m120"]]


# ----------------------------------------------------------------------------------------------------------------
# the filter and the score
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("first_date_blank", [False, True])
@pytest.mark.parametrize("N", [1, 3, 5])
def test_collapsed_filter_matches_dense_joint_gaussian(shared_data, N, first_date_blank):
    """Log-likelihood, smoothed factors and their covariances of the collapsed (N-dimensional) filter equal the
    dense joint-Gaussian posterior of every factor given every observed cell (no recursion), with blank cells, a
    date that identifies fewer than N factors, per-maturity errors, and (parametrised) a first date that does
    not identify every factor (the exact diffuse start instead of the closed-form one)."""
    y = lw_blanks(shared_data).iloc[:70].copy()
    y.iloc[30:34, 2] = np.nan
    y.iloc[40, :6] = np.nan                      # two maturities left: fewer than N for N = 3, 5
    if first_date_blank:
        y.iloc[0, :7] = np.nan
    complete = lw_blanks(shared_data).loc["1972":]
    fit = xlatsm.fit_atsm(complete, n_factors=N, method="jsz")
    params = replace(fit.params, sigma_e=np.linspace(0.0004, 0.0009, 8))
    Y = y.to_numpy() / 100
    ll, mean, cov, _ = posterior(params.as_lgssm(), Y)
    ld = params.loadings()
    out = CollapsedYields(Y).run(ld.A_P, ld.B_P, params.sigma_e ** 2, params.K0P, params.K1P, params.Omega_P)
    assert out.loglik == pytest.approx(ll, abs=1e-8 * abs(ll))
    np.testing.assert_allclose(out.states, mean, atol=1e-10 * np.abs(mean).max())
    np.testing.assert_allclose(out.cov, cov, atol=1e-8 * np.abs(cov).max())


@pytest.mark.parametrize("measurement_error", ["common", "per_maturity"])
def test_score_is_the_gradient_of_the_log_likelihood(shared_data, measurement_error):
    """The analytic score (one smoother pass, Fisher's identity) equals central differences of the filter's
    log-likelihood, on a panel with blanks, away from the optimum."""
    y = lw_blanks(shared_data)
    with pytest.warns(ConvergenceWarning):    # a point short of the optimum, where the score is not zero
        fit = xlatsm.fit_atsm(y, n_factors=3, method="kalman", measurement_error=measurement_error, max_iter=3)
    model = YieldModel(fit.panel.yields, fit.params.structure, measurement_error, fit.params.Sigma_P)
    theta = model.pack(fit.params)
    theta = theta + 0.01 * np.random.default_rng(3).standard_normal(len(theta)) / np.sqrt(
        np.diag(model.information(theta)))
    _, score = model.score(theta)
    h = 1e-4 / np.sqrt(np.diag(model.information(theta)))
    numeric = np.array([(model.loglik(theta + h[i] * e) - model.loglik(theta - h[i] * e)) / (2 * h[i])
                        for i, e in enumerate(np.eye(len(theta)))])
    np.testing.assert_allclose(score, numeric, rtol=1e-5, atol=1e-5 * np.abs(numeric).max())


# ----------------------------------------------------------------------------------------------------------------
# units, auto, parameter counts
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["jsz", "kalman"])
def test_same_fit_in_decimal_percent_and_basis_points(method):
    """x0.01, x1, x100 of percent yields (decimal, percent, bp): the same model, reported in matching units,
    identical pricing errors in bp."""
    y = xlatsm.load_sample().iloc[-150:, :7]
    fits = {units: xlatsm.fit_atsm(y * factor, method=method, yield_units=units)
            for units, factor in (("decimal", 0.01), ("percent", 1.0), ("bp", 100.0))}
    ref = fits["percent"]
    for units, scale in (("decimal", 0.01), ("bp", 100.0)):
        fit = fits[units]
        assert fit.units == units
        assert fit.loglik == pytest.approx(ref.loglik, rel=1e-10)
        np.testing.assert_allclose(fit.params.q_coefs, ref.params.q_coefs, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(fit.pricing_errors, ref.pricing_errors, rtol=1e-7)
        np.testing.assert_allclose(fit.fitted_yields.to_numpy(), ref.fitted_yields.to_numpy() * scale, rtol=1e-7)
        np.testing.assert_allclose(fit.factors.to_numpy(), ref.factors.to_numpy() * scale, rtol=1e-6,
                                   atol=1e-9 * scale)
        for name in ("K0_P", "Sigma_P", "sigma_e", "k_inf_Q"):
            np.testing.assert_allclose(fit.parameter_blocks()[name].to_numpy(),
                                       ref.parameter_blocks()[name].to_numpy() * scale, rtol=1e-6,
                                       atol=1e-12 * scale)
        np.testing.assert_allclose(fit.parameter_blocks()["K1_P"], ref.parameter_blocks()["K1_P"], rtol=1e-7,
                                   atol=1e-10)


def test_auto_picks_jsz_on_a_complete_panel_and_says_so():
    fit = xlatsm.fit_atsm(xlatsm.load_sample().iloc[:, :7])
    assert fit.method == "jsz" and fit.method_requested == "auto"
    assert "method auto -> jsz: the panel is complete" in fit.summary()


def test_parameter_count_is_exact(shared_data):
    """AIC/BIC count every free parameter once: the count equals the length of the Kalman parameter vector, and
    at the optimum the curvature is nonsingular in every one of those directions (none is redundant)."""
    y = lw_blanks(shared_data)
    fit = xlatsm.fit_atsm(y, n_factors=3, method="kalman")
    N, J = 3, y.shape[1]
    assert fit.n_params == N + 1 + N * (N + 1) // 2 + N + N * N + 1
    model = YieldModel(fit.panel.yields, fit.params.structure, "common", fit.params.Sigma_P)
    theta = model.pack(fit.params)
    assert len(theta) == fit.n_params
    eig = np.linalg.eigvalsh(model.hessian(theta))
    assert eig.min() > 1e-10 * eig.max()         # negative definite, well away from singular
    assert fit.aic == pytest.approx(2 * fit.n_params - 2 * fit.loglik)
    assert fit.bic == pytest.approx(fit.n_params * np.log(int(y.notna().sum().sum())) - 2 * fit.loglik)
    per = xlatsm.fit_atsm(y, n_factors=3, method="kalman", measurement_error="per_maturity")
    assert per.n_params == fit.n_params - 1 + J
    jsz = xlatsm.fit_atsm(y.dropna(), n_factors=3, method="jsz")
    assert jsz.n_obs == (len(y.dropna()) - 1) * J and jsz.n_params == fit.n_params


# ----------------------------------------------------------------------------------------------------------------
# flags, each provoked
# ----------------------------------------------------------------------------------------------------------------
def test_flag_not_converged():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = xlatsm.fit_atsm(xlatsm.load_sample().iloc[:, :7], method="kalman", max_iter=1)
    assert "not_converged" in codes(fit) and "FLAG not_converged" in fit.summary()
    assert fit.loglik >= fit.start_loglik and np.isfinite(fit.loglik)


def test_flag_worse_than_start(base):
    """The estimators never return less than their start (the grid test checks that); the flag exists for a
    result that did, e.g. one assembled by hand."""
    assert "worse_than_start" not in codes(base)
    worse = replace(base, start_loglik=base.loglik + 1.0)
    assert "worse_than_start" in {f.code for f in diagnose(worse)}


def test_flag_explosive_q_on_the_30_year_curve():
    fit = xlatsm.fit_atsm(xlatsm.load_sample(), n_factors=3)     # GSW 1-30y: a Q-root above one
    assert np.max(np.abs(fit.params.lamQ)) >= 1
    flag = next(f for f in fit.flags if f.code == "explosive_q")
    assert "r_inf^Q" in flag.message and "shorter maximum maturity" in flag.message
    assert np.isnan(fit.parameter_blocks()["r_inf_Q"].iloc[0, 0])
    assert "FLAG explosive_q" in fit.summary()


def test_flag_explosive_p(base):
    """Yields simulated from factors with a root of 1.01 under P: the OLS K1P is explosive and flagged."""
    p = base.params
    K1P = np.diag([1.01, 0.95, 0.9])
    start = np.linalg.solve(np.eye(3) - p.K1P, p.K0P)
    sim = replace(p, K1P=K1P, K0P=(np.eye(3) - K1P) @ start)
    yields, _ = simulate_yields(sim, 240, np.random.default_rng(5), burn=0, start=start)
    fit = xlatsm.fit_atsm(yields, method="jsz", yield_units="decimal")
    assert np.max(np.abs(np.linalg.eigvals(fit.params.K1P))) >= 1
    assert "explosive_p" in codes(fit)


def test_flag_nonfinite(base):
    """A factor that flips sign each period (K1P root -0.6): K_P = -logm(K1P)/dt has no real value."""
    p = base.params
    K1P = np.diag([0.98, 0.9, -0.6])
    mean = np.linalg.solve(np.eye(3) - p.K1P, p.K0P)
    sim = replace(p, K1P=K1P, K0P=(np.eye(3) - K1P) @ mean)
    yields, _ = simulate_yields(sim, 300, np.random.default_rng(6))
    fit = xlatsm.fit_atsm(yields, method="jsz", yield_units="decimal")
    flag = next(f for f in fit.flags if f.code == "nonfinite")
    assert "K_P" in flag.message and "matrix logarithm" in flag.message


def test_flag_heywood_and_at_bound(base):
    """Yields simulated without measurement error lie exactly on the model's N-dimensional curve: the
    likelihood grows without bound as the error variances shrink, so they end on their floors: heywood (naming
    the maturities) with per-maturity errors, at_bound for the common sigma."""
    exact, _ = simulate_yields(replace(base.params, sigma_e=np.zeros(7)), 200, np.random.default_rng(8))
    fit = xlatsm.fit_atsm(exact, method="kalman", measurement_error="per_maturity", yield_units="decimal")
    flag = next(f for f in fit.flags if f.code == "heywood")
    assert all(label in flag.message for label in exact.columns)
    assert fit.loglik >= fit.start_loglik and np.all(np.isfinite(fit.params.sigma_e))
    fit = xlatsm.fit_atsm(exact, method="kalman", yield_units="decimal")
    assert "at_bound" in codes(fit) and np.all(np.isfinite(fit.params.sigma_e))
    # and data with measurement error raise neither
    noisy, _ = simulate_yields(replace(base.params, sigma_e=np.full(7, 0.0005)), 200, np.random.default_rng(8))
    fit = xlatsm.fit_atsm(noisy, method="kalman", measurement_error="per_maturity", yield_units="decimal")
    assert not {"heywood", "at_bound"} & codes(fit)


def test_jsz_factor_standard_errors_are_explained(base):
    assert (base.factor_std_errors.to_numpy() == 0).all()
    assert "factors are observed" in base.summary()
    kal = xlatsm.fit_atsm(xlatsm.load_sample().iloc[:, :7], method="kalman")
    assert (kal.factor_std_errors.to_numpy() > 0).all()


# ----------------------------------------------------------------------------------------------------------------
# the whole Liu-Wu file: 360 maturities, long ones blank before 1985
# ----------------------------------------------------------------------------------------------------------------
def test_whole_liu_wu_file_fits_finite_fast_and_small(shared_data):
    """(Peak memory is measured in the report: ~0.2 GB resident for the whole process; tracemalloc here would
    triple the run time.)"""
    path = shared_data / "lw_monthly_1961_2022.csv"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = xlatsm.fit_atsm(path)
    seconds = time.perf_counter() - t0
    assert fit.method == "kalman" and fit.method_requested == "auto"
    assert fit.converged and np.isfinite(fit.loglik) and fit.loglik >= fit.start_loglik
    assert np.all(np.diff(fit.loglik_path) >= 0)
    assert np.all(np.isfinite(fit.fitted_yields.to_numpy())) and np.all(np.isfinite(fit.factors.to_numpy()))
    assert fit.pricing_errors.median() < 15
    assert seconds < 120, f"{seconds:.0f} s"
