"""The compiled k-dimensional kernel (xlatsm.ssm.kernel) against statsmodels' smoother, its reference.

statsmodels runs on the p-dimensional companion state space (LGSSMParams.to_state_space) with its steady-state
switch off (``tolerance = 0``: its default switch decides on an absolute change of det P and can be off by 1e-6 of
log-likelihood when a shock variance is small, see test_robust), so both sides are exact to rounding.
"""
import dataclasses
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from bruteforce import posterior
from conftest import simulate_lgssm
from xlatsm import ConvergenceWarning, LGSSMParams, fit_lgssm
from xlatsm.ssm import kernel
from xlatsm.ssm.kalman import KalmanSmootherRunner
from xlatsm.ssm.kernel import KernelSmoother

TOL = 1e-10


def random_params(rng, k, p, L, known_init, full_R=False):
    A = np.stack([0.5 / L * np.eye(k) + 0.05 * rng.normal(size=(k, k)) for _ in range(L)])
    R = np.diag(rng.uniform(0.2, 0.6, p))
    if full_R:
        B = 0.2 * rng.normal(size=(p, p))
        R = R + B @ B.T
    params = LGSSMParams(A=A, C=rng.normal(size=(p, k)), Q=0.3 * np.eye(k) + 0.05, R=R,
                         state_intercept=rng.normal(size=k), obs_intercept=rng.normal(size=p))
    if known_init:
        m = k * L
        params = dataclasses.replace(params, initial_mean=rng.normal(size=m), initial_cov=np.eye(m) + 0.2)
    return params


def reference(y, params):
    k, L = params.k_states, params.lags
    runner = KalmanSmootherRunner(y, k * L, k, lag_cov=True, collapse=False)
    runner._ks.tolerance = 0.0
    return runner.smooth(params.to_state_space(len(y)))


def panel(rng, n, p, case, L):
    y = rng.normal(size=(n, p)) + 2.0
    if case == "partly missing":
        y[rng.random(y.shape) < 0.3] = np.nan
        y[L:, 0] = np.where(rng.random(n - L) < 0.5, np.nan, y[L:, 0])
    elif case == "wholly missing dates":
        y[rng.random(y.shape) < 0.2] = np.nan
        y[[L + 3, L + 4, n - 1]] = np.nan   # two dates running and the last date
    y[:L] = rng.normal(size=(L, p))         # a diffuse start needs the first L dates observed
    return y


def close(a, b, tol=TOL):
    scale = max(1.0, float(np.nanmax(np.abs(b))))
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * scale)


CASES = ["complete", "partly missing", "wholly missing dates"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("lags", [1, 2, 3])
@pytest.mark.parametrize("full_R", [False, True])
def test_known_start_matches_statsmodels(case, lags, full_R):
    rng = np.random.default_rng(10 * lags + full_R)
    params = random_params(rng, 2, 5, lags, known_init=True, full_R=full_R)
    y = panel(rng, 80, 5, case, lags)
    ref = reference(y, params)
    mine = KernelSmoother(y, 2, lags).smooth(params)
    assert mine.loglik == pytest.approx(ref.loglik, rel=TOL)
    close(mine.loglik_obs, ref.loglik_obs)
    close(mine.states, ref.states)
    close(mine.cov, ref.cov)
    close(mine.lag_cov[1:], ref.lag_cov[1:])
    assert np.isnan(mine.lag_cov[0]).all()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("lags", [1, 2, 3])
def test_diffuse_start_matches_statsmodels(case, lags):
    """Exact-diffuse start: the log-likelihood and the factors' moments equal statsmodels' exact-diffuse
    smoother; the lag-one covariances (NaN in statsmodels' diffuse periods) equal the cross block of the extra-lag
    state statsmodels smooths, and the dense joint Gaussian of tests/bruteforce.py."""
    rng = np.random.default_rng(20 + lags)
    params = random_params(rng, 2, 5, lags, known_init=False)
    y = panel(rng, 60, 5, case, lags)
    ref = reference(y, params)
    mine = KernelSmoother(y, 2, lags, diffuse=True).smooth(params)
    assert mine.loglik == pytest.approx(ref.loglik, rel=TOL)
    close(mine.loglik_obs[lags:], ref.loglik_obs[lags:])
    # statsmodels' exact-diffuse smoother is good to ~2e-10 at the held start dates (measured against the dense
    # joint Gaussian below, which the kernel matches to 1e-15 there)
    for a, b in zip(params.factor_moments(mine.states, mine.cov), params.factor_moments(ref.states, ref.cov)):
        close(a, b, 1e-9)
    # after the start the whole companion state agrees
    close(mine.states[lags:], ref.states[lags:])
    close(mine.cov[lags:], ref.cov[lags:])
    k, n = 2, len(y)
    extra = KalmanSmootherRunner(y, k * (lags + 1), k, lag_cov=False, collapse=False)
    extra._ks.tolerance = 0.0
    ex = extra.smooth(params.to_state_space(n, extra_lag=True))
    close(mine.lag_cov[lags:, :k, :k], ex.cov[lags:, :k, k:2 * k])
    _, mean, var, lag = posterior(params, y)
    factors, factor_var = params.factor_moments(mine.states, mine.cov)
    close(factors, mean)
    close(factor_var, var)
    close(mine.lag_cov[lags:, :k, :k], lag[lags:])


def test_diffuse_start_needs_the_first_dates():
    y = np.ones((20, 4))
    y[0, :3] = np.nan
    assert not KernelSmoother.usable(np.isnan(y), 2, 1, diffuse=True)
    assert KernelSmoother.usable(np.isnan(y), 2, 1, diffuse=False)


def test_steady_state_is_exact():
    """A long complete panel switches to the steady-state gain: the same numbers as the full Riccati recursion."""
    rng = np.random.default_rng(5)
    params = random_params(rng, 3, 8, 1, known_init=True)
    y, _ = simulate_lgssm(params, 400, rng)
    y[200:210, 2] = np.nan   # the steady run is broken and resumed
    ref = reference(y, params)
    mine = KernelSmoother(y, 3, 1).smooth(params)
    assert mine.loglik == pytest.approx(ref.loglik, rel=TOL)
    close(mine.states, ref.states)
    close(mine.cov, ref.cov)
    close(mine.lag_cov[1:], ref.lag_cov[1:])


@pytest.mark.skipif(not kernel.HAVE_NUMBA, reason="numba not installed")
def test_compiled_and_interpreted_kernel_agree():
    """The same source run by Python (what a numba-less environment would run) and compiled."""
    rng = np.random.default_rng(6)
    params = random_params(rng, 2, 4, 2, known_init=True)
    y = panel(rng, 30, 4, "partly missing", 2)
    smoother = KernelSmoother(y, 2, 2)
    compiled = smoother.smooth(params)
    try:
        kernel.filter_smooth, original = kernel.filter_smooth.py_func, kernel.filter_smooth
        interpreted = smoother.smooth(params)
    finally:
        kernel.filter_smooth = original
    assert interpreted.loglik == pytest.approx(compiled.loglik, rel=1e-13)
    close(interpreted.states, compiled.states, 1e-13)
    close(interpreted.lag_cov[1:], compiled.lag_cov[1:], 1e-13)


@pytest.mark.parametrize("options", [dict(), dict(initial_state="diffuse", lags=2),
                                     dict(measurement_error="full")])
def test_fallback_gives_the_same_fit(monkeypatch, options):
    """fit_lgssm with the kernel and with statsmodels' smoother (kernel.ENABLED = False, what runs without
    numba): the same log-likelihood path and parameters."""
    rng = np.random.default_rng(9)
    truth = random_params(rng, 2, 6, options.get("lags", 1), known_init=False)
    y, _ = simulate_lgssm(truth, 200, rng)
    y[rng.random(y.shape) < 0.1] = np.nan
    y[:2] = simulate_lgssm(truth, 2, rng)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast = fit_lgssm(y, 2, max_iter=15, tol=0, **options)
        monkeypatch.setattr(kernel, "ENABLED", False)
        slow = fit_lgssm(y, 2, max_iter=15, tol=0, **options)
    np.testing.assert_allclose(fast.loglik_path, slow.loglik_path, rtol=1e-9)
    np.testing.assert_allclose(fast.params.C, slow.params.C, atol=1e-6)
    np.testing.assert_allclose(fast.smoothed_states, slow.smoothed_states, atol=1e-6)


def test_environment_switch_turns_numba_off():
    code = ("import warnings, xlatsm.ssm.kernel as k, numpy as np, xlatsm; warnings.simplefilter('ignore'); "
            "print(k.HAVE_NUMBA, k.ENABLED); "
            "y = np.random.default_rng(0).normal(size=(60, 4)); "
            "print(round(xlatsm.fit_lgssm(y, 1, max_iter=5, tol=0).loglik, 6))")
    env = dict(os.environ, XLATSM_NUMBA="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.split()
    assert lines[:2] == ["False", "False"]
    y = np.random.default_rng(0).normal(size=(60, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert float(lines[2]) == pytest.approx(fit_lgssm(y, 1, max_iter=5, tol=0).loglik, abs=2e-6)


@pytest.mark.parametrize("share", [0.0, 0.05, 0.4])
@pytest.mark.parametrize("by_date", [True, False])
def test_vectorised_observation_moments_equal_the_pattern_loop(share, by_date):
    """The M-step's completed-data moments (diagonal R; per missing cell or per pattern) equal the general
    pattern-by-pattern computation (which conditions each missing block on the observed cells through R)."""
    from xlatsm.ssm import em

    rng = np.random.default_rng(int(share * 100) + by_date)
    params = random_params(rng, 3, 12, 1, known_init=True)
    n = 150
    y = rng.normal(size=(n, 12))
    y[rng.random(y.shape) < share] = np.nan
    if share:
        y[7] = np.nan
    missing = np.isnan(y)
    groups = em._missing_groups(missing)
    M = rng.normal(size=(n, 3))
    B = rng.normal(size=(n, 3, 3))
    P = B @ B.transpose(0, 2, 1)
    data = em.ObservedData(y, missing, groups)
    data.by_date = by_date
    fast = em._obs_moments(y, missing, groups, M, P, params, True, data)
    general = em._obs_moments_full_R(y, missing, groups, M, P, params, True)
    for a, b in zip(fast[:3], general[:3]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())
    diagonal = em._obs_moments(y, missing, groups, M, P, params, True, data, diag_only=True)
    np.testing.assert_allclose(diagonal[0], np.diag(general[0]), rtol=1e-12)
    for a, b in zip(diagonal[1:3], general[1:3]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())


@pytest.mark.parametrize("lagged", [False, True])
@pytest.mark.parametrize("case", ["complete", "blanks"])
def test_atsm_collapsed_pass_matches_statsmodels(monkeypatch, lagged, case):
    """The ATSM's collapsed filter (xlatsm.atsm.collapsed) in the kernel and in statsmodels' smoother: the same
    log-likelihood, factors and (lagged) covariances, also with dates that observe fewer maturities than factors."""
    from xlatsm.atsm.collapsed import CollapsedYields

    rng = np.random.default_rng(3)
    T, J, N = 150, 8, 3
    Y = 0.05 + 0.01 * rng.normal(size=(T, J))
    if case == "blanks":
        Y[1:][rng.random((T - 1, J)) < 0.3] = np.nan
        Y[5, :7] = np.nan     # one maturity: identifies one direction of three
        Y[9] = np.nan
    data = CollapsedYields(Y)
    A, B = 0.01 * rng.normal(size=J), rng.normal(size=(J, N))
    sigma2 = rng.uniform(1e-6, 4e-6, J)
    K0, K1 = 1e-3 * rng.normal(size=N), 0.9 * np.eye(N) + 0.02 * rng.normal(size=(N, N))
    Omega = 1e-6 * (np.eye(N) + 0.3)
    fast = data.run(A, B, sigma2, K0, K1, Omega, lagged=lagged)
    monkeypatch.setattr(kernel, "ENABLED", False)
    slow = data.run(A, B, sigma2, K0, K1, Omega, lagged=lagged)
    assert fast.loglik == pytest.approx(slow.loglik, rel=TOL)
    close(fast.states, slow.states)
    np.testing.assert_allclose(fast.cov, slow.cov, rtol=0, atol=TOL * np.abs(slow.cov).max())
