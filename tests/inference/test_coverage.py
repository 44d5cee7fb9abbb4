"""Monte Carlo: known parameters, simulated panels, fitted by jsz; the 90% bands on the 10-year term premium must
cover the truth at a rate in [0.8, 0.97] over 100 replications, by the delta method and by the bootstrap, and the
standard errors of every tracked parameter must be within 25% of the estimates' dispersion.

Sizes (``benchmarks/inference_coverage.py`` runs the same experiment with more refits, every interval and the
realistic, more persistent truth; the README reports both):

* truth: the jsz fit of the embedded GSW sample (1Y 2Y 3Y 5Y 9Y 12Y, the 1Y/3Y/12Y yields priced exactly), its
  physical roots scaled by 0.9 (largest 0.89: first-order asymptotics are a fair description at T = 300; with the
  sample's own roots, largest 0.993, the 90% bands cover less, see the benchmark);
* delta method: 300 replications of T = 300 months, fitted as a user would (deterministic starts); coverage on
  the last date (one Bernoulli per replication). Why 300 and not the 100 the requirement names: at this truth
  the delta bands cover about 0.85 (benchmark), and with 100 replications the binomial s.e. is 0.036, so the
  [0.8, 0.97] check would fail by chance for about one seed in ten (100 replications at seed 1 gave exactly 0.80);
  with 300 (s.e. 0.021) a failure means the bands are wrong. Replications cost about 0.3 s each.
* bootstrap: 100 replications (its refits make each one 0.8 s), binomial s.e. 0.03 at 0.9.
* bootstrap: 39 refits per replication (simulate from the fit, refit from it), the studentized (bootstrap-t)
  interval. Why that interval and not the basic or percentile one: the term premium's standard error depends on
  the estimated persistence (the 10-year average of expected short rates moves with the largest physical root),
  so ``draw - estimate`` is not pivotal and its quantiles are those of a world as persistent as the estimate;
  ``(draw - estimate) / s.e.(draw)`` is nearly pivotal, and its quantiles times the estimate's s.e. carry over
  (Hall 1992, ch. 3). Each draw's s.e. is its own delta-method s.e. on its simulated sample (the VAR block
  ``Omega_P kron (Z'Z)^-1`` exactly, 99% of the variance; the rest held at the estimate's). Quantiles by the
  (B+1) rule, so 39 draws give exact order statistics (the 2nd and 38th). Measured (benchmark, 199 refits, this
  truth): basic and percentile intervals cover a few points less than the studentized one; numpy's default
  quantile rule with 39 draws undercovers by a further ~0.02 (the 0.78 of the earlier basic interval).
"""
from dataclasses import replace

import numpy as np
import pytest

import xlatsm
from xlatsm.data import load_sample
from xlatsm.inference.montecarlo import coverage_experiment

COLUMNS = ["SVENY01", "SVENY02", "SVENY03", "SVENY05", "SVENY09", "SVENY12"]
PORTFOLIOS = ["1Y", "3Y", "12Y"]
BOOTSTRAP = "bootstrap:studentized"


@pytest.fixture(scope="module")
def truth():
    fit = xlatsm.fit_atsm(load_sample()[COLUMNS], method="jsz", portfolios=PORTFOLIOS)
    p = fit.params
    lam, V = np.linalg.eig(p.K1P)
    K1 = np.real(V @ np.diag(0.9 * lam) @ np.linalg.inv(V))
    mean = np.linalg.solve(np.eye(3) - p.K1P, p.K0P)
    return replace(p, K1P=K1, K0P=(np.eye(3) - K1) @ mean)


@pytest.fixture(scope="module")
def delta_experiment(truth):
    return coverage_experiment(truth, 300, 300, seed=11, methods=("delta",), portfolios=PORTFOLIOS)


@pytest.fixture(scope="module")
def experiment(truth):
    return coverage_experiment(truth, 300, 100, seed=1, methods=(BOOTSTRAP,), n_boot=39,
                               portfolios=PORTFOLIOS)


def test_delta_bands_cover_and_standard_errors_match_the_dispersion(delta_experiment):
    res = delta_experiment
    assert len(res.covered_last) == 300
    coverage = float(res.coverage()["delta"])
    assert 0.8 <= coverage <= 0.97, coverage
    assert 0.8 <= float(res.covered_share["delta"].mean()) <= 0.97
    # every tracked parameter, k_inf^Q included: the estimators put it on the largest real Q-root in every fit
    # (kinf_on_largest_root), so it means the same thing in every replication
    ratio = res.se_ratio()
    assert "k_inf_Q" in ratio.index
    assert res.std_errors.notna().all().all()
    assert ((ratio > 0.75) & (ratio < 1.25)).all(), ratio.round(3).to_dict()


def test_bootstrap_bands_cover(experiment):
    res = experiment
    coverage = float(res.coverage()[BOOTSTRAP])
    assert 0.8 <= coverage <= 0.97, coverage
    assert 0.75 <= float(res.covered_share[BOOTSTRAP].mean()) <= 0.97
    assert any("39 refits per replication, 0 failed" in note for note in res.notes), res.notes
