"""LGSSM standard errors (xlatsm.inference.lgssm) against independent computations: the score against differences
of the exact log-likelihood, the information against statsmodels' numerical Hessian of its own Kalman filter's
log-likelihood at the same parameters, a Monte Carlo of the estimator, scale invariance, missing cells, Heywood
cases and refusals, and the spreadsheet and command-line outputs."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_fprime, approx_hess3
from statsmodels.tsa.statespace.mlemodel import MLEModel

import xlatsm
from conftest import simulate_lgssm
from xlatsm.errors import EstimationError, InputError, XlatsmError
from xlatsm.inference.lgssm import LGSSMLikelihood, block_vector, parameter_vector
from xlatsm.ssm.params import LGSSMParams

K, P = 2, 6


def truth(lags: int = 1) -> LGSSMParams:
    """Two factors of clearly different variance (a stable order) loading on six series with sizeable errors."""
    A = np.array([[[0.8, 0.1], [0.0, 0.4]]] if lags == 1 else [[[0.6, 0.1], [0.0, 0.3]], [[0.15, 0.0], [0.0, 0.1]]])
    C = np.array([[1, 0.5], [1, 0.2], [1, -0.1], [1, -0.4], [0.8, -0.6], [0.6, -0.8]])
    return LGSSMParams(A=A, C=C, Q=np.array([[1.0, 0.3], [0.3, 0.6]]), R=np.diag([0.3, 0.2, 0.25, 0.2, 0.3, 0.4]),
                       state_intercept=np.array([0.2, -0.1]), obs_intercept=np.linspace(1.0, 3.0, P))


def panel(seed: int = 0, n: int = 300, lags: int = 1, missing: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y, _ = simulate_lgssm(truth(lags), n, rng)
    if missing:
        y[rng.random(y.shape) < missing] = np.nan
    return pd.DataFrame(y, columns=[f"y{i + 1}" for i in range(P)],
                        index=pd.date_range("2000-01-31", periods=n, freq="ME"))


def flat(blocks: dict) -> np.ndarray:
    return np.concatenate([frame.to_numpy(float).ravel() for frame in blocks.values()])


# ----------------------------------------------------------------------------------------------------------------
# the score and the information
# ----------------------------------------------------------------------------------------------------------------
CASES = {
    "diagonal": dict(),
    "full R": dict(measurement_error="full"),
    "common R, diffuse": dict(measurement_error="common", initial_state="diffuse"),
    "diffuse, L=2, missing cells": dict(initial_state="diffuse", lags=2, missing=0.08),
    "L=2, missing cells, no intercepts": dict(lags=2, missing=0.08, intercepts=False),
}


def correlated_errors_panel() -> np.ndarray:
    """Five series, two factors, a full R with correlated errors (a full-R fit of it has no Heywood direction:
    full-R fits of most panels do, and are refused)."""
    rng = np.random.default_rng(1)
    C = rng.normal(size=(5, K))
    S = rng.normal(size=(5, 5))
    A, Q, R = np.diag([0.8, 0.5]), np.array([[1.0, 0.2], [0.2, 0.5]]), S @ S.T / 5 + 0.3 * np.eye(5)
    x, y = np.zeros(K), np.empty((400, 5))
    for t in range(400):
        x = A @ x + rng.multivariate_normal(np.zeros(K), Q)
        y[t] = C @ x + rng.multivariate_normal(np.zeros(5), R)
    return y


def fit_case(name: str, n: int = 300, seed: int = 0):
    options = dict(CASES[name])
    if name == "full R":
        return xlatsm.fit_lgssm(correlated_errors_panel(), K, **options)
    missing, lags = options.pop("missing", 0.0), options.get("lags", 1)
    y = panel(seed, n, lags, missing)
    if not options.get("intercepts", True):
        y = y - y.mean()
    return xlatsm.fit_lgssm(y, K, **options)


@pytest.mark.parametrize("name", list(CASES))
def test_fisher_score_is_the_derivative_of_the_exact_loglik(name):
    """The Fisher-identity score (expected complete-data score at the smoothed moments) equals central differences
    of the exact log-likelihood, at a point away from the maximum (where it is not zero)."""
    fit = fit_case(name, n=150)
    assert fit.converged and not fit.flags
    lik = LGSSMLikelihood(fit)
    theta = lik.pack(lik.estimate)
    assert lik.loglik(theta) == pytest.approx(fit.loglik, abs=1e-7 * abs(fit.loglik))
    assert np.max(np.abs(lik.score(theta))) < 0.05          # the EM answer is a maximum
    moved = theta + 0.01 * np.random.default_rng(1).normal(size=len(theta))
    numeric = approx_fprime(moved, lik.loglik, epsilon=1e-6, centered=True)
    exact = lik.score(moved)
    assert np.max(np.abs(numeric)) > 1.0
    np.testing.assert_allclose(exact, numeric, atol=1e-5 * np.max(np.abs(numeric)))


def statsmodels_loglikeobs(y: np.ndarray, diffuse: bool):
    """Per-date log-likelihood of y at LGSSMParams, from statsmodels' Kalman filter on the companion form (its own
    exact-diffuse start when ``diffuse``, plus the -(L/2) log det Q of xlatsm's diffuse prior in units of Q)."""
    model = None

    def loglikeobs(params: LGSSMParams) -> np.ndarray:
        nonlocal model
        ss = params.to_state_space(len(y))
        if model is None:
            model = MLEModel(y, k_states=ss.k_states, k_posdef=ss.state_cov.shape[0])
        for name in ("design", "obs_intercept", "obs_cov", "transition", "state_intercept", "selection",
                     "state_cov"):
            model.ssm[name] = getattr(ss, name)
        if diffuse:
            model.ssm.initialize_diffuse()
        else:
            model.ssm.initialize_known(ss.initial_mean, ss.initial_cov)
        out = np.array(model.ssm.loglikeobs(), float)
        out[0] += params.diffuse_loglik_correction()
        return out

    return loglikeobs


@pytest.mark.parametrize("name", list(CASES))
def test_standard_errors_match_statsmodels_hessian(name):
    """Standard errors of every reported entry from statsmodels' numerical Hessian (approx_hess3) of its own Kalman
    filter's log-likelihood on the same identified coordinates u (theta = theta_hat + B u), pushed through the
    reported normalisation by plain differences in u: the same numbers as result.standard_errors to 2e-3."""
    fit = fit_case(name)
    assert fit.converged and not fit.flags
    inference = fit.inference()
    assert inference.ok and not inference.held.any()
    lik, B = inference.likelihood, inference.basis
    assert B.shape[1] == fit.n_params
    loglikeobs = statsmodels_loglikeobs(fit.data, fit.initial_state == "diffuse")

    def params_at(u):
        return lik.unpack(inference.theta + B @ u).unscaled(lik.shift, lik.scale)

    u0 = np.zeros(B.shape[1])
    assert np.sum(loglikeobs(params_at(u0))) == pytest.approx(fit.loglik, abs=1e-6 * abs(fit.loglik))
    hessian = approx_hess3(u0, lambda u: np.sum(loglikeobs(params_at(u))), epsilon=1e-4)
    cov_u = np.linalg.inv(-hessian)
    jac = approx_fprime(u0, lambda u: parameter_vector(fit, lik.reported(inference.theta + B @ u)), epsilon=1e-6,
                        centered=True)
    reference = np.sqrt(np.diag(jac @ cov_u @ jac.T))
    mine = block_vector(fit, fit.standard_errors)
    identified = reference > 0
    assert identified.sum() >= 25
    np.testing.assert_allclose(mine[identified], reference[identified], rtol=2e-3)
    assert np.all(mine[~identified] == 0.0)      # none: every carried entry is identified here
    if fit.measurement_error != "full":         # the structural zeros off a diagonal R are not carried: s.e. 0
        R_se = fit.standard_errors["R"].to_numpy()
        assert np.all(R_se[~np.eye(len(R_se), dtype=bool)] == 0.0)
    if name == "diagonal":
        # the sandwich from statsmodels' per-date log-likelihood terms (scores by differences)
        scores = approx_fprime(u0, lambda u: loglikeobs(params_at(u)), epsilon=1e-6, centered=True)
        robust_u = cov_u @ (scores.T @ scores) @ cov_u
        robust_reference = np.sqrt(np.diag(jac @ robust_u @ jac.T))
        robust = block_vector(fit, fit.parameter_standard_errors(robust=True))
        np.testing.assert_allclose(robust[identified], robust_reference[identified], rtol=5e-3)


# ----------------------------------------------------------------------------------------------------------------
# Monte Carlo: the standard errors describe the estimator's dispersion
# ----------------------------------------------------------------------------------------------------------------
def test_standard_errors_match_the_monte_carlo_dispersion():
    """k = 2, p = 6, T = 300, 100 replications: for every identified entry, the root-mean-square standard error
    is within 25% of the Monte Carlo standard deviation of the estimate's error against the true parameters put in
    the same (sample) normalisation. A larger run: benchmarks/lgssm_inference.py."""
    from xlatsm.inference.lgssm import monte_carlo

    errors, ses = monte_carlo(truth(), n_dates=300, n_reps=100, seed=7)
    sd = errors.std(axis=0, ddof=1)
    rms = np.sqrt(np.mean(ses ** 2, axis=0))
    identified = sd > 0
    assert identified.sum() == 4 + 2 + 4 + 12 + 6 + 6            # A, d, Q (4 entries, 3 distinct), C, c, R_ii
    ratio = rms[identified] / sd[identified]
    assert np.all((ratio > 0.75) & (ratio < 1.25)), ratio


# ----------------------------------------------------------------------------------------------------------------
# units, missing cells, Heywood cases, refusals
# ----------------------------------------------------------------------------------------------------------------
def test_standard_errors_are_in_the_data_units_and_invariant_to_rescaling():
    y = panel(3, 200)
    base = xlatsm.fit_lgssm(y, K).standard_errors
    moved = xlatsm.fit_lgssm(100.0 * y - 7.0, K).standard_errors
    factor = {"A_1": 1.0, "C": 1.0, "d": 100.0, "c": 100.0, "Q": 1e4, "R": 1e4}
    for name, f in factor.items():
        np.testing.assert_allclose(moved[name].to_numpy(), f * base[name].to_numpy(), rtol=1e-5, atol=1e-12)
        assert list(moved[name].index) == list(base[name].index)


def test_missing_cells_give_finite_standard_errors_that_grow():
    """Blanks are handled in the filter; losing a third of one series' cells raises that series' s.e."""
    y = panel(4, 300)
    complete = xlatsm.fit_lgssm(y, K).standard_errors
    holed = y.copy()
    holed.iloc[::3, 2] = np.nan
    fit = xlatsm.fit_lgssm(holed, K)
    se = fit.standard_errors
    assert np.all(np.isfinite(flat(se)))
    assert se["c"].loc["y3", "c"] > complete["c"].loc["y3", "c"]
    assert se["R"].loc["y3", "y3"] > complete["R"].loc["y3", "y3"]


def test_heywood_variances_are_held_fixed_and_said():
    """GSW, 5 maturities, 3 factors: three measurement variances on their floor. They are held fixed (s.e. 0), the
    notes and the summary say so, and every other entry has a finite positive s.e."""
    y = xlatsm.load_sample().iloc[:300, ::3]
    fit = xlatsm.fit_lgssm(y, 3)
    assert "heywood" in {f.code for f in fit.flags}
    se = fit.standard_errors
    said = next(f.message for f in fit.flags if f.code == "heywood").split(" sits on its floor")[0]
    floored = [s for s in fit.columns if s in said]
    assert len(floored) == 3
    for s in floored:
        assert se["R"].loc[s, s] == 0.0
    others = [s for s in fit.columns if s not in floored]
    assert all(se["R"].loc[s, s] > 0 for s in others)
    assert np.all(se["C"].to_numpy() > 0) and np.all(se["A_1"].to_numpy() > 0)
    notes = " ".join(fit.inference().notes)
    assert "held fixed at their floor" in notes and all(s in notes for s in floored)
    text = fit.summary()
    assert "Standard errors: held fixed at their floor" in text and "s.e." in text


def test_refusals_are_typed_and_say_what_to_do():
    y = panel(5, 150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short = xlatsm.fit_lgssm(y, K, max_iter=5)
    with pytest.raises(EstimationError, match="need a converged EM.*raise max_iter"):
        short.standard_errors
    assert "Standard errors: not available (standard errors need a converged EM" in short.summary()
    heywood_full = xlatsm.fit_lgssm(xlatsm.load_sample().iloc[:300, ::3], 3, measurement_error="full")
    if "heywood" in {f.code for f in heywood_full.flags}:
        with pytest.raises(EstimationError, match='measurement_error="diagonal" or "common"'):
            heywood_full.standard_errors
    fit = xlatsm.fit_lgssm(y, K)
    with pytest.raises(InputError, match="bootstrap"):
        fit.parameter_standard_errors(method="bootstrap")


def test_fixed_blocks_get_zero_and_unidentified_entries_nan():
    """Fixed C pins the rotation (only the factors' level is free, normalised): C's s.e. are 0, the rest finite.
    Fixed A leaves a scaling of each factor free that nothing normalises: the entries it moves (C, Q) are NaN with
    a note, never a made-up number."""
    y = panel(6, 200)
    first = xlatsm.fit_lgssm(y, K)
    with_c = xlatsm.fit_lgssm(y, K, fixed={"C": first.params.C})
    se = with_c.standard_errors
    assert np.all(se["C"].to_numpy() == 0.0)
    assert np.all(np.isfinite(flat(se))) and np.all(se["Q"].to_numpy() > 0)
    assert "held at their given values (s.e. 0): C" in " ".join(with_c.inference().notes)
    with_a = xlatsm.fit_lgssm(y, K, fixed={"A": np.diag([0.8, 0.4])})
    se = with_a.standard_errors
    assert np.all(se["A_1"].to_numpy() == 0.0)
    assert np.all(np.isnan(se["C"].to_numpy())) and np.isnan(se["Q"].iloc[0, 0])
    assert np.all(np.isfinite(se["R"].to_numpy()))            # R does not move with the factors
    assert "not identified" in " ".join(with_a.inference().notes)


def test_standard_errors_are_cached():
    fit = xlatsm.fit_lgssm(panel(8, 150), K)
    assert fit.inference() is fit.inference()
    assert fit.standard_errors is fit.standard_errors
    assert fit.inference(robust=True) is not fit.inference()


# ----------------------------------------------------------------------------------------------------------------
# the spreadsheet and the command line
# ----------------------------------------------------------------------------------------------------------------
def test_params_se_in_cells(monkeypatch):
    from xlatsm.excel import core

    y = panel(10, 150)
    rows = [["date"] + list(y.columns)] + [[d.strftime("%Y-%m-%d")] + list(v) for d, v in zip(y.index, y.to_numpy())]
    block = core.LGSSM_EM(rows, 2, 1, "params_se")
    assert block[0][0] == "standard errors (same units as params)"
    handle = core.LGSSM_EM(rows, 2, 1, "handle")[0][0]
    assert core.XLATSM_GET(handle, "params_se") == block
    result = core.CACHE.lookup(handle)
    expected = result.standard_errors
    values = [v for row in block for v in row if isinstance(v, float)]
    np.testing.assert_allclose(sorted(values), sorted(flat(expected)))
    assert any(str(row[0]).startswith("note: observed information") for row in block)
    robust = core.XLATSM_BANDS(handle, "params_se", None, None, "robust")
    assert robust[0][0] == "standard errors (same units as params)" and robust != block
    assert core.XLATSM_BANDS(handle, "params_se", None, None, "bootstrap")[0][0].startswith("#xlatsm:")


def test_cli_lgssm_prints_standard_errors(tmp_path, capsys):
    from xlatsm.cli import main

    path = tmp_path / "y.csv"
    panel(10, 150).to_csv(path)
    assert main(["lgssm", str(path), "--n-factors", "2", "--out", str(tmp_path / "out"), "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "Standard errors: observed information" in out
    assert "estimate         s.e.        t" in out


def test_summary_leaves_large_models_to_standard_errors(monkeypatch):
    from xlatsm.ssm import results

    fit = xlatsm.fit_lgssm(panel(11, 150), K)
    monkeypatch.setattr(results, "SUMMARY_SE_LIMIT", 10)
    text = fit.summary()
    assert f"Standard errors: not computed for the summary ({fit.n_params} identified parameters" in text
    assert "s.e." not in text.split("Standard errors:")[-1]
    fit.standard_errors                                      # computed on request: the summary then shows them
    assert "estimate         s.e.        t" in fit.summary()


def test_delta_method_of_a_rotation_invariant_function():
    """delta_std_errors of the series' one-step forecast mean c + C (d + A x_T) (rotation invariant, so the slice's
    own rotation serves) equals the delta method by plain differences in u with the same covariance, and is the
    fit's own forecast."""
    fit = xlatsm.fit_lgssm(panel(12, 200), K)
    inference = fit.inference()
    lik, B = inference.likelihood, inference.basis

    def one_step(theta):
        p = inference.params_at(theta)
        es, _ = lik.e_step(lik.unpack(theta))
        x_last = es.states[-1, :K] * lik.scale
        return p.obs_intercept + p.C @ (p.state_intercept + p.A[0] @ x_last)

    se = inference.delta_std_errors(one_step)
    u0 = np.zeros(B.shape[1])
    jac = approx_fprime(u0, lambda u: one_step(inference.theta + B @ u), epsilon=1e-6, centered=True)
    cov_u = B.T @ inference.covariance @ B
    np.testing.assert_allclose(se, np.sqrt(np.diag(jac @ cov_u @ jac.T)), rtol=1e-4)
    np.testing.assert_allclose(one_step(inference.theta),
                               fit.params.obs_intercept + fit.params.C @ (fit.params.state_intercept
                                                                          + fit.params.A[0] @ fit.smoothed_states[-1]))
