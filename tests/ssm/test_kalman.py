"""The Kalman smoother against a dense joint-Gaussian computation with no recursion in it."""
import dataclasses

import numpy as np
import pytest
import statsmodels.api as sm

from bruteforce import posterior
from xlatsm import LGSSMParams, smooth_states
from xlatsm.ssm.kalman import KalmanSmootherRunner


def random_params(rng, k, p, L, known_init):
    A = np.stack([0.3 * np.eye(k) + 0.05 * rng.normal(size=(k, k)) for _ in range(L)])
    params = LGSSMParams(A=A, C=rng.normal(size=(p, k)), Q=0.1 * np.eye(k) + 0.02, R=np.diag(rng.uniform(0.2, 0.6, p)),
                         state_intercept=rng.normal(size=k), obs_intercept=rng.normal(size=p))
    if known_init:
        m = k * L
        params = dataclasses.replace(params, initial_mean=rng.normal(size=m), initial_cov=np.eye(m) + 0.2)
    return params


@pytest.mark.parametrize("lags", [1, 2, 3])
@pytest.mark.parametrize("known_init", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_smoother_matches_dense_gaussian(lags, known_init, seed):
    rng = np.random.default_rng(seed)
    params = random_params(rng, 2, 3, lags, known_init)
    y = rng.normal(size=(9, 3))
    y[rng.random(y.shape) < 0.3] = np.nan
    y[-1] = np.nan  # a whole date missing
    result = smooth_states(y, params)
    loglik, mean, var, _ = posterior(params, y)
    assert result.loglik == pytest.approx(loglik, rel=1e-9, abs=1e-8)
    np.testing.assert_allclose(result.states, mean, atol=1e-8)
    np.testing.assert_allclose(result.cov, var, atol=1e-6)


@pytest.mark.parametrize("lags", [1, 2])
def test_extra_lag_state_holds_exact_cross_moments(lags):
    """The EM reads Cov(x_t, x_{t-1}|Y) from the extra-lag state's covariance: check it, diffuse start."""
    rng = np.random.default_rng(11)
    params = random_params(rng, 2, 3, lags, known_init=False)
    y = rng.normal(size=(10, 3))
    y[rng.random(y.shape) < 0.25] = np.nan
    k = 2
    es = KalmanSmootherRunner(y, k * (lags + 1), k, lag_cov=False).smooth(params.to_state_space(10, extra_lag=True))
    _, mean, _, lag = posterior(params, y)
    for t in range(lags, 10):
        np.testing.assert_allclose(es.cov[t, :k, k:2 * k], lag[t], atol=1e-8)
        np.testing.assert_allclose(es.states[t, k:2 * k], mean[t - 1], atol=1e-8)


def test_lag_cov_known_start_matches_dense_and_is_nan_where_diffuse():
    rng = np.random.default_rng(2)
    params = random_params(rng, 2, 3, 1, known_init=True)
    y = rng.normal(size=(8, 3))
    es = KalmanSmootherRunner(y, 2, 2).smooth(params.to_state_space(8))
    _, _, _, lag = posterior(params, y)
    np.testing.assert_allclose(es.lag_cov[1:], lag[1:], atol=1e-10)
    diffuse = KalmanSmootherRunner(y, 2, 2).smooth(dataclasses.replace(params, initial_mean=None,
                                                                       initial_cov=None).to_state_space(8))
    assert np.isnan(diffuse.lag_cov[1]).all()


@pytest.mark.parametrize("known_init", [True, False])
def test_loglik_equals_statsmodels_mlemodel(known_init):
    """statsmodels' own MLEModel, set up independently from the same matrices, gives the same log-likelihood;
    under a diffuse start xlatsm's prior is flat in units of Q, which adds exactly -(1/2) log det Q."""
    rng = np.random.default_rng(4)
    params = random_params(rng, 2, 4, 1, known_init=known_init)
    y = rng.normal(size=(60, 4))
    y[rng.random(y.shape) < 0.2] = np.nan
    if known_init:
        model = sm.tsa.statespace.MLEModel(y, k_states=2, k_posdef=2, initialization="known",
                                           initial_state=params.initial_mean,
                                           initial_state_cov=params.initial_cov)
        correction = 0.0
    else:
        model = sm.tsa.statespace.MLEModel(y, k_states=2, k_posdef=2, initialization="diffuse")
        correction = -0.5 * np.linalg.slogdet(params.Q)[1]
    model["design"], model["obs_intercept"], model["obs_cov"] = params.C, params.obs_intercept, params.R
    model["transition"], model["state_intercept"] = params.A[0], params.state_intercept
    model["selection"], model["state_cov"] = np.eye(2), params.Q
    assert smooth_states(y, params).loglik == pytest.approx(model.loglike([]) + correction, rel=1e-10)


def test_diffuse_loglik_is_rotation_invariant():
    rng = np.random.default_rng(6)
    params = random_params(rng, 2, 4, 2, known_init=False)
    y = rng.normal(size=(30, 4))
    M = np.array([[3.0, 1.0], [0.5, 0.2]])
    assert smooth_states(y, params.rotate(M)).loglik == pytest.approx(smooth_states(y, params).loglik, rel=1e-10)


def test_collapse_gives_the_same_pass():
    rng = np.random.default_rng(12)
    params = random_params(rng, 2, 9, 1, known_init=True)
    y = rng.normal(size=(50, 9))
    ss = params.to_state_space(50)
    plain = KalmanSmootherRunner(y, 2, 2, collapse=False).smooth(ss)
    collapsed_runner = KalmanSmootherRunner(y, 2, 2, collapse=True)
    assert collapsed_runner.collapse
    collapsed = collapsed_runner.smooth(ss)
    assert collapsed.loglik == pytest.approx(plain.loglik, rel=1e-12)
    np.testing.assert_allclose(collapsed.states, plain.states, atol=1e-10)
    np.testing.assert_allclose(collapsed.lag_cov[1:], plain.lag_cov[1:], atol=1e-10)


def test_collapse_follows_changing_parameters():
    """A runner reused across parameter sets (as in EM) must not keep the first set's collapse matrices."""
    rng = np.random.default_rng(13)
    a = random_params(rng, 2, 9, 1, known_init=True)
    b = random_params(rng, 2, 9, 1, known_init=True)
    y = rng.normal(size=(40, 9))
    runner = KalmanSmootherRunner(y, 2, 2, collapse=True)
    runner.smooth(a.to_state_space(40))
    again = runner.smooth(b.to_state_space(40))
    fresh = KalmanSmootherRunner(y, 2, 2, collapse=False).smooth(b.to_state_space(40))
    assert again.loglik == pytest.approx(fresh.loglik, rel=1e-12)
