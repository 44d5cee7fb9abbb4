"""The Kalman maximum-likelihood fits (AFNS independent and correlated, DNS one-step; all through
``statespace_mle.GaussianSSM.maximise``) stop at a maximum, checked independently of the maximiser:

* the gradient of the exact log-likelihood at the answer, by central differences of the Kalman filter's
  ``log p(y)`` (not the Fisher-identity score the maximiser uses), is ~0 in units of each parameter's own scale;
* the observed information (differences of the exact score) is positive definite there, or the fit is flagged;
* scipy's BFGS on the exact log-likelihood (an independent maximiser, gradients by differences of ``log p(y)``)
  started from the answer gains < 1e-5;
* the maximiser restarted from a perturbed answer reaches the same log-likelihood (1e-6 relative) and the same
  term premia (0.01 bp) or, for DNS, the same factors.

Measurement variances held on their floor (Heywood cases, flagged ``heywood``) and parameters in which the
log-likelihood is flat (a boundary, flagged ``at_bound``) are left out of the checks: there the maximum is on the
boundary of the parameter space."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from xlatsm.atsm.afns import _Build, fit_afns
from xlatsm.atsm.nelson_siegel import dns_matrices, fit_dns
from xlatsm.atsm.statespace_mle import GaussianSSM, _natural_scale
from xlatsm.data import load_sample


def _panel(name):
    if name == "sample":
        return load_sample()
    from conftest import SHARED_DATA

    path = SHARED_DATA / "fama_bliss_unsmoothed_1987_2002_cdr.csv"
    if not path.exists():
        pytest.skip("../shared/data is not beside this checkout")
    return pd.read_csv(path, index_col=0, parse_dates=True)


FITS = [("sample", "independent"), ("sample", "correlated"), ("sample", "dns"),
        ("cdr", "independent"), ("cdr", "correlated"), ("cdr", "dns")]


@pytest.fixture(scope="module", params=FITS, ids=["-".join(f) for f in FITS])
def case(request):
    data, kind = request.param
    panel = _panel(data)
    if kind == "dns":
        fit = fit_dns(panel, method="one_step")
        years, floor = fit.panel.maturities, fit.h_floor
        model = GaussianSSM(fit.panel.yields, lambda th: dns_matrices(th, years, floor), log_h_tail=True)
    else:
        fit = fit_afns(panel, version=kind)
        model = GaussianSSM(fit.panel.yields, _Build(fit.panel.maturities, fit.dt, kind, fit.h_floor),
                            log_h_tail=True)
    J = len(fit.panel.labels)
    tail = np.exp(fit.theta[-J:])
    floor = fit.h_floor * np.ones(J)
    held = len(fit.theta) - J + np.flatnonzero(tail < 1e-2 * floor)
    free = np.setdiff1d(np.arange(len(fit.theta)), held)
    scale_all = _natural_scale(model.complete_information(fit.theta))
    info = model.observed_information(fit.theta, free, scale_all) * np.outer(scale_all[free], scale_all[free])
    # parameters in which log p(y) is flat (a boundary: a factor shock's log sd at -inf) must be flagged at_bound
    flat = np.diag(info) < 1e-7
    return kind, fit, model, free[~flat], scale_all[free[~flat]], info[np.ix_(~flat, ~flat)], free[flat]


def _exact_gradient(model, theta, free, scale, step=1e-3):
    """d log p(y) / d u, u = (theta - theta_hat) / scale on the free coordinates, by central differences of the
    Kalman filter's log-likelihood."""
    g = np.empty(len(free))
    for c, i in enumerate(free):
        up, down = theta.copy(), theta.copy()
        up[i] += step * scale[c]
        down[i] -= step * scale[c]
        g[c] = (model.loglik(up) - model.loglik(down)) / (2 * step)
    return g


def test_converged_and_flagged_only_if_not(case):
    kind, fit, model, free, scale, info, flat = case
    assert fit.loglik > fit.start_loglik
    assert fit.loglik == pytest.approx(model.loglik(fit.theta), rel=1e-13)
    flagged = any(f.code == "not_converged" for f in fit.flags)
    assert flagged == (not fit.converged)
    assert fit.converged, fit.message
    assert any(f.code == "at_bound" for f in fit.flags) == (len(flat) > 0)


def test_gradient_vanishes_in_scaled_units(case):
    kind, fit, model, free, scale, info, flat = case
    g = _exact_gradient(model, fit.theta, free, scale)
    # a gradient of 1e-3 per unit of a parameter's own scale leaves ~1e-6 of log-likelihood on the table
    assert np.abs(g).max() < 1e-3, np.abs(g).max()


def test_observed_information_is_positive_definite(case):
    kind, fit, model, free, scale, info, flat = case
    eig = np.linalg.eigvalsh(info)
    assert eig.min() > 0, eig[:3]


def test_bfgs_polish_gains_nothing(case):
    """scipy's BFGS from the answer, on the exact log-likelihood in scaled coordinates, with its own
    central-difference gradients."""
    kind, fit, model, free, scale, info, flat = case
    theta = fit.theta

    def at(u):
        x = theta.copy()
        x[free] += scale * u
        return x

    def f(u):
        value = model.loglik(at(u))
        return -value if np.isfinite(value) else 1e10

    def jac(u):
        return -_exact_gradient(model, at(u), free, scale)

    res = minimize(f, np.zeros(len(free)), jac=jac, method="BFGS", options={"gtol": 1e-7, "maxiter": 100})
    gain = -res.fun - fit.loglik
    assert gain < 1e-5, gain


def _refit(kind, fit, model, theta):
    """The fit's outputs at another theta: (log-likelihood, 10-year term premium or DNS factors in yield units)."""
    ll = model.loglik(theta)
    sm = model.smooth(theta)
    if kind == "dns":
        return ll, sm.states * fit.scale
    lam, KP, thetaP, Sigma, h = model.build.unpack(theta)
    other = replace(fit, theta=theta, lam=lam, KP=KP, thetaP=thetaP, Sigma=Sigma, h=h, X=sm.states, X_cov=sm.cov)
    return ll, other.term_premium.to_numpy()


def test_restart_from_a_perturbed_answer_reaches_the_same_maximum(case):
    kind, fit, model, free, scale, info, flat = case
    rng = np.random.default_rng(7)
    start = fit.theta.copy()
    start[free] += 0.3 * scale * rng.standard_normal(len(free))
    theta, ll, ok, *_ = model.maximise(start, release_floors=False)     # the climb alone: the same basin
    assert ok
    assert ll == pytest.approx(fit.loglik, rel=1e-6)
    ll_again, out_again = _refit(kind, fit, model, theta)
    _, out = _refit(kind, fit, model, fit.theta)
    np.testing.assert_allclose(out_again, out, rtol=0, atol=1e-6 * fit.scale)     # 0.01 bp in the fit's units
