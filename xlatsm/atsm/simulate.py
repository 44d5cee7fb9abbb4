"""Simulate yields from a fitted or hand-made ATSM (for tests, Monte Carlo and teaching)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import years_to_label
from .model import ATSMParams


def simulate_yields(params: ATSMParams, n_periods: int, rng: np.random.Generator, *, burn: int = 300,
                    start: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """(yields (T, J) in decimals with month-end dates and tenor labels, factors P (T, N)).

    P_t follows the physical VAR(1); y_t = A_P + B_P P_t + e_t, e_t ~ N(0, diag(sigma_e^2)) (every yield observed
    with error, the ``kalman``/``em`` model). With continuous-time parameters
    (:class:`~xlatsm.atsm.continuous.ContinuousParams`) ``K0P, K1P, Sigma_P`` are the exact discretisation of the
    OU process at the data's period, so this is an exact simulation of ``dP = K_P(theta_P - P)dt + Sigma dW``
    sampled every period (no Euler error), priced with the continuous-time loadings."""
    ld = params.loadings()
    N = len(params.K0P)
    P = np.zeros((n_periods + burn, N))
    if start is not None:
        P[0] = start
    else:
        P[0] = np.linalg.solve(np.eye(N) - params.K1P, params.K0P)
    shocks = rng.standard_normal((n_periods + burn, N)) @ params.Sigma_P.T
    for t in range(1, n_periods + burn):
        P[t] = params.K0P + params.K1P @ P[t - 1] + shocks[t]
    P = P[burn:]
    errors = rng.standard_normal((n_periods, len(ld.A_P))) * params.sigma_e
    Y = ld.A_P + P @ ld.B_P.T + errors
    dates = pd.date_range("1970-01-31", periods=n_periods, freq="ME")
    labels = [years_to_label(m) for m in params.structure.maturities]
    return pd.DataFrame(Y, index=dates, columns=labels), P
