"""Forecast bands with the parameters' estimation error for the LGSSM (forecast(..., parameter_uncertainty=True)):
the added variance equals an independent delta method, by central differences in the likelihood's own parameter
coordinates with the covariance F F' (not the whitened directions the forecast code differentiates along)."""
import numpy as np
import pytest

import xlatsm
from xlatsm.forecast import _block_means, _lgssm, _mean_path

HORIZON = 4


@pytest.fixture(scope="module")
def fit():
    panel = xlatsm.load_sample().iloc[:, [0, 1, 3, 5, 8, 11]]
    result = xlatsm.fit_lgssm(panel, 2, tol=1e-10)
    assert result.converged
    return result


def test_lgssm_parameter_uncertainty_is_the_delta_method(fit):
    plain = fit.forecast(HORIZON)
    wide = fit.forecast(HORIZON, parameter_uncertainty=True)
    inference = fit.inference()
    lik, theta, cov = inference.likelihood, inference.theta, inference.covariance

    def means(th):
        sub = _lgssm(fit, lik.reported(th))
        blocks = _block_means(sub, _mean_path(sub, HORIZON))
        return np.concatenate([blocks["yields"].ravel(), blocks["factors"].ravel()])

    moving = np.flatnonzero(np.diag(cov) > 0)
    jac = np.zeros((len(means(theta)), len(theta)))
    for i in moving:
        step = 1e-5 * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        jac[:, i] = (means(up) - means(down)) / (2 * step)
    delta = np.diag(jac @ cov @ jac.T)
    n_y = HORIZON * len(fit.columns)
    added_yields = (wide.yields_std.to_numpy() ** 2 - plain.yields_std.to_numpy() ** 2).ravel()
    added_factors = (wide.factors_std.to_numpy() ** 2 - plain.factors_std.to_numpy() ** 2).ravel()
    np.testing.assert_allclose(added_yields, delta[:n_y], rtol=2e-3, atol=1e-10)
    np.testing.assert_allclose(added_factors, delta[n_y:], rtol=2e-3, atol=1e-10)
    assert (added_yields > 0).all()
    np.testing.assert_allclose(wide.yields.to_numpy(), plain.yields.to_numpy())   # the means do not move
    assert any("estimation error" in note for note in wide.notes)


def test_an_unconverged_lgssm_refuses_parameter_uncertainty(fit):
    with pytest.warns(xlatsm.ConvergenceWarning):
        short = xlatsm.fit_lgssm(xlatsm.load_sample().iloc[:, [0, 1, 3, 5, 8, 11]], 2, max_iter=5)
    with pytest.raises(xlatsm.XlatsmError, match="converged EM"):
        short.forecast(3, parameter_uncertainty=True)
    assert short.forecast(3).yields.shape == (3, 6)            # without it the forecast is still there
