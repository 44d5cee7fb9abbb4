"""Factors in units an analyst reads: each restated factor is exactly the portfolio of yields its weights say,
the level's weights sum to one (an average yield), the others' dominant side sums to one (a spread)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xlatsm
from xlatsm.errors import ConvergenceWarning
from xlatsm.report.factors import analyst_factors


@pytest.fixture(scope="module")
def sample():
    return xlatsm.load_sample().iloc[:120]


def test_atsm_factors_are_portfolios_of_the_yields(sample):
    fit = xlatsm.fit_atsm(sample.iloc[:, :7], method="jsz")
    af = analyst_factors(fit)
    weights = af.weights.to_numpy()
    # jsz prices the portfolios exactly: the restated factors are the weighted yields, date by date
    np.testing.assert_allclose(af.values.to_numpy(), fit.panel.frame.to_numpy() @ weights.T, rtol=1e-10)
    assert weights[0].sum() == pytest.approx(1.0) and (weights[0] > 0).all()
    for row in weights[1:]:
        assert max(row[row > 0].sum(), -row[row < 0].sum()) == pytest.approx(1.0)
    assert af.labels["level"] == "level: average yield (percent)"
    assert "spread (percent)" in af.labels["slope"] and "spread (percent)" in af.labels["curvature"]
    # a fixed rescaling of the model's factors
    ratio = af.values.to_numpy() / fit.factors.to_numpy()
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-10)
    assert list(af.frame().columns[:3]) == list(af.labels.values())


def test_atsm_kalman_standard_errors_scale_with_the_factors(sample):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = xlatsm.fit_atsm(sample.iloc[:, :7], method="kalman", max_iter=100)
    af = analyst_factors(fit)
    scale = np.abs(fit.factors.to_numpy()[0] / af.values.to_numpy()[0])
    np.testing.assert_allclose(af.std_errors.to_numpy() * scale, fit.factor_std_errors.to_numpy(), rtol=1e-8)


def test_lgssm_factors_are_portfolios_of_the_smoothed_series(sample):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = xlatsm.fit_lgssm(sample, 3, max_iter=50)
    af = analyst_factors(fit)
    np.testing.assert_allclose(af.values.to_numpy(), fit.fitted.to_numpy() @ af.weights.to_numpy().T,
                               rtol=1e-8, atol=1e-10)
    level = af.values.iloc[:, 0].to_numpy()
    data = sample.to_numpy()
    assert np.all(level > data.min(axis=1) - 0.05) and np.all(level < data.max(axis=1) + 0.05)
    assert "weighted average" in af.labels["f1"] and "spread" in af.labels["f2"]
