"""Exact EM: monotone, stationary at its maximum, consistent with statsmodels, and it recovers the truth."""
import warnings

import numpy as np
import pytest

from bruteforce import posterior
from conftest import simulate_lgssm
from xlatsm import ConvergenceWarning, InputError, LGSSMParams, fit_lgssm, smooth_states


def dgp(lags=1, intercepts=True):
    k, p = 2, 6
    A1 = np.array([[0.7, 0.1], [0.0, 0.6]])
    A = np.stack([A1] + [np.array([[0.1, 0.0], [0.05, 0.05]])] * (lags - 1))
    C = np.array([[1.0, 0.0], [0.8, 0.5], [0.6, 0.9], [0.4, 1.0], [0.3, 0.8], [0.2, 0.6]])
    return LGSSMParams(A=A, C=C, Q=np.array([[0.5, 0.1], [0.1, 0.4]]), R=np.diag(np.linspace(0.1, 0.3, p)),
                       state_intercept=np.array([0.3, -0.2]) if intercepts else np.zeros(k),
                       obs_intercept=np.linspace(1, 2, p) if intercepts else np.zeros(p))


def relative_steps(path):
    return np.diff(path) / np.abs(path[:-1])


@pytest.mark.parametrize("lags", [1, 2, 3])
@pytest.mark.parametrize("intercepts", [True, False])
@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_loglik_never_decreases(lags, intercepts, missing):
    rng = np.random.default_rng(100 * lags + 10 * intercepts + int(missing * 10))
    y, _ = simulate_lgssm(dgp(lags, intercepts), 300, rng)
    y[rng.random(y.shape) < missing] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_lgssm(y, 2, lags=lags, intercepts=intercepts, max_iter=60, tol=0)
    assert result.n_iter == 60 and len(result.loglik_path) == 61
    assert relative_steps(result.loglik_path).min() >= -1e-9
    assert result.loglik_path[-1] > result.loglik_path[0]


@pytest.mark.parametrize("options", [dict(diagonal_R=False), dict(initial_state="diffuse"),
                                     dict(diagonal_R=False, initial_state="diffuse", lags=2), dict(lags=3)])
def test_loglik_never_decreases_other_options(options):
    rng = np.random.default_rng(7)
    y, _ = simulate_lgssm(dgp(options.get("lags", 1)), 250, rng)
    y[rng.random(y.shape) < 0.2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_lgssm(y, 2, max_iter=50, tol=0, **options)
    assert relative_steps(result.loglik_path).min() >= -1e-9


@pytest.mark.parametrize("lags", [1, 2])
def test_maximum_is_a_fixed_point(lags):
    """From converged parameters 50 more iterations move the log-likelihood by < 1e-6 relative.
    (A transposed lag-one covariance passes the monotonicity test above and fails this one.)"""
    rng = np.random.default_rng(3)
    y, _ = simulate_lgssm(dgp(lags), 400, rng)
    y[rng.random(y.shape) < 0.1] = np.nan
    first = fit_lgssm(y, 2, lags=lags, max_iter=5000, tol=1e-10)
    assert first.converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again = fit_lgssm(y, 2, lags=lags, start=first.params, max_iter=50, tol=0)
    assert abs(again.loglik - first.loglik) / abs(first.loglik) < 1e-6
    assert again.loglik_path[0] == pytest.approx(first.loglik, rel=1e-10)


@pytest.mark.parametrize("lags", [1, 2])
def test_loglik_matches_dense_gaussian_at_fitted_params(lags):
    rng = np.random.default_rng(9)
    y, _ = simulate_lgssm(dgp(lags), 40, rng)
    y[rng.random(y.shape) < 0.2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_lgssm(y, 2, lags=lags, max_iter=30)
    loglik, mean, _, _ = posterior(result.params, y)
    assert result.loglik == pytest.approx(loglik, rel=1e-8)
    np.testing.assert_allclose(result.smoothed_states, mean, atol=1e-7)


def implied_autocov(params, max_lag=2):
    """Autocovariances of y at lags 0..max_lag implied by a stationary VAR(L) LGSSM (companion Lyapunov)."""
    from scipy.linalg import solve_discrete_lyapunov

    k, L = params.k_states, params.lags
    T = params.companion_transition()
    S = np.zeros((k * L, k * L))
    S[:k, :k] = params.Q
    V = solve_discrete_lyapunov(T, S)
    out = []
    for h in range(max_lag + 1):
        Vh = np.linalg.matrix_power(T, h) @ V
        out.append(params.C @ Vh[:k, :k] @ params.C.T + (params.R if h == 0 else 0))
    return out


def test_recovery_of_autocovariances_and_likelihood():
    truth = dgp(1)
    rng = np.random.default_rng(2024)
    y, _ = simulate_lgssm(truth, 2000, rng)
    result = fit_lgssm(y, 2, max_iter=3000, tol=1e-9)
    true_ll = smooth_states(y, truth).loglik
    assert result.loglik >= true_ll
    sample = [np.cov(y[h:].T, y[:len(y) - h].T)[:6, 6:] for h in range(3)]
    for h, (fit, true, samp) in enumerate(zip(implied_autocov(result.params), implied_autocov(truth), sample)):
        sampling_error = np.linalg.norm(samp - true)
        # the model-implied autocovariance is at least as close to the truth as the raw sample moment, give or take
        assert np.linalg.norm(fit - true) < 2 * sampling_error + 0.02, h


def seed_example(seed=1, n=200):
    """The notebooks' seed example: k=2, p=3, A=[[.8,.1],[0,.9]], C=[[1,0],[.5,1],[0,.3]], Q=.1I, R=.5I."""
    np.random.seed(seed)
    A = np.array([[0.8, 0.1], [0.0, 0.9]])
    C = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 0.3]])
    x = np.zeros(2)
    y = np.empty((n, 3))
    for t in range(n):
        x = A @ x + np.random.multivariate_normal(np.zeros(2), 0.1 * np.eye(2))
        y[t] = C @ x + np.random.multivariate_normal(np.zeros(3), 0.5 * np.eye(3))
    truth = LGSSMParams(A=A, C=C, Q=0.1 * np.eye(2), R=0.5 * np.eye(3), state_intercept=np.zeros(2),
                        obs_intercept=np.zeros(3))
    return y, truth


def test_seed_example_climbs_monotonically():
    y, truth = seed_example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_lgssm(y, 2, intercepts=False, max_iter=300)
    steps = relative_steps(result.loglik_path)
    assert steps.min() >= -1e-9
    assert result.loglik == max(result.loglik_path)
    assert result.loglik > smooth_states(y, truth).loglik
    # the notebooks' EM on this design (seed 1) peaked at -729.2 and fell to -740.6
    assert result.loglik > -729.2


def test_deterministic_and_identified():
    rng = np.random.default_rng(5)
    y, _ = simulate_lgssm(dgp(1), 300, rng)
    a = fit_lgssm(y, 2, max_iter=2000, tol=1e-10)
    b = fit_lgssm(y, 2, max_iter=2000, tol=1e-10)
    np.testing.assert_array_equal(a.params.C, b.params.C)
    # the reported normalisation: orthonormal loadings, uncorrelated factors ordered by variance
    np.testing.assert_allclose(a.params.C.T @ a.params.C, np.eye(2), atol=1e-10)
    second = (a.smoothed_states.T @ a.smoothed_states + a.smoothed_cov.sum(0)) / len(y)
    cov = second - np.outer(a.smoothed_states.mean(0), a.smoothed_states.mean(0))
    assert abs(cov[0, 1]) < 1e-8 * cov[0, 0] and cov[0, 0] > cov[1, 1]
    assert (a.params.C.sum(0) > 0).all()
    # a rotated start converges to the same identified parameters
    M = np.array([[2.0, 0.5], [-0.3, 1.0]])
    c = fit_lgssm(y, 2, start=a.params.rotate(M), max_iter=2000, tol=1e-10)
    np.testing.assert_allclose(c.params.C, a.params.C, atol=1e-4)
    np.testing.assert_allclose(c.params.A, a.params.A, atol=1e-4)


def test_fixed_loadings_are_kept_and_still_monotone():
    truth = dgp(1)
    rng = np.random.default_rng(8)
    y, _ = simulate_lgssm(truth, 300, rng)
    y[rng.random(y.shape) < 0.15] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_lgssm(y, 2, fixed={"C": truth.C}, max_iter=40, tol=0)
    np.testing.assert_array_equal(result.params.C, truth.C)
    assert relative_steps(result.loglik_path).min() >= -1e-9
    assert "C" in result.fixed and "fixed by the given C" in result.summary()


def test_max_iter_reports_non_convergence():
    y, _ = seed_example()
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        result = fit_lgssm(y, 2, max_iter=3)
    assert not result.converged and result.n_iter == 3
    assert "NO" in result.summary()


def test_smooth_states_agrees_with_fit():
    y, _ = seed_example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_lgssm(y, 2, max_iter=20)
    again = smooth_states(y, result.params)
    np.testing.assert_allclose(again.states, result.smoothed_states, atol=1e-10)
    assert again.loglik == pytest.approx(result.loglik, rel=1e-12)


@pytest.mark.parametrize("data, kwargs, match", [
    ([[1.0, 2.0, 3.0], [1.0, "abc", 2.0]] * 20, dict(k_states=1), "not a number"),
    (np.column_stack([np.arange(40.0), np.full(40, np.nan), np.arange(40.0) ** 0.5]), dict(k_states=1),
     "hold no numbers"),
    (np.random.default_rng(0).normal(size=(50, 3)), dict(k_states=3), "smaller than the number of series"),
    (np.random.default_rng(0).normal(size=(8, 4)), dict(k_states=2, lags=2), "too few"),
    (np.random.default_rng(0).normal(size=(50, 4)), dict(k_states=0), "k_states"),
    (np.random.default_rng(0).normal(size=(50, 4)), dict(k_states=1, initial_state="stationary"), "initial_state"),
    (np.random.default_rng(0).normal(size=(50, 4)), dict(k_states=1, fixed={"B": 1}), "cannot fix"),
])
def test_bad_input_raises_typed_error(data, kwargs, match):
    with pytest.raises(InputError, match=match):
        fit_lgssm(data, **kwargs)


def test_summary_names_everything():
    y, _ = seed_example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        text = fit_lgssm(y, 2, lags=2, max_iter=5).summary()
    for word in ("A_1", "A_2", "Q (factor", "C (loadings)", "R (measurement", "Identification", "Log-likelihood"):
        assert word in text


def test_the_factors_level_is_identified_two_fits_agree():
    """x* = x + a moves d and c and leaves the likelihood alone, so the reported fit centres the smoothed factors
    (sample mean zero): a fit started from a shifted copy of the answer reports the same d and c."""
    import xlatsm

    y = xlatsm.load_sample().iloc[:, [0, 1, 3, 5, 8, 11]]
    first = xlatsm.fit_lgssm(y, 2, tol=1e-10)
    again = xlatsm.fit_lgssm(y, 2, tol=1e-10, start=first.params.shifted(np.array([0.3, -0.2])))
    assert "factors centred over the sample" in first.normalisation
    np.testing.assert_allclose(first.factors.mean().to_numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(again.params.state_intercept, first.params.state_intercept, atol=1e-6)
    np.testing.assert_allclose(again.params.obs_intercept, first.params.obs_intercept, atol=1e-6)
    np.testing.assert_allclose(again.params.C, first.params.C, atol=1e-6)
    # the shift is exact: same likelihood as the uncentred parameters, smoothed states moved by the shift
    moved = first.params.shifted(np.array([0.3, -0.2]))
    assert abs(first.smooth().loglik - xlatsm.smooth_states(y, moved).loglik) < 1e-8 * abs(first.loglik)
