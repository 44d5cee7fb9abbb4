r"""Kalman filter and smoother for the linear Gaussian state space

.. math::

    y_t = c + Z s_t + e_t,\quad e_t \sim N(0, H) \qquad
    s_t = d + T s_{t-1} + G w_t,\quad w_t \sim N(0, Q) \qquad
    s_1 \sim N(a_1, P_1)\ \text{or diffuse}

with ``y`` (n_obs, p) holding NaN for missing cells. Filtering and smoothing run in statsmodels' Cython
``KalmanSmoother`` (exact diffuse initialisation, missing data by dropping the missing rows of ``Z`` at each ``t``);
this module only moves matrices in and results out in xlatsm's time-major shapes.

Time-major shapes throughout: states (n_obs, m), covariances (n_obs, m, m).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.tsa.statespace.initialization import Initialization
from statsmodels.tsa.statespace.kalman_smoother import (SMOOTHER_STATE, SMOOTHER_STATE_AUTOCOV, SMOOTHER_STATE_COV,
                                                       KalmanSmoother)

from ..errors import EstimationError


@dataclass
class StateSpace:
    """Matrices of one linear Gaussian state space (see the module docstring for the equations).

    ``initial_mean``/``initial_cov`` give s_1 ~ N(a_1, P_1); leave both ``None`` for an exact diffuse start.
    With ``n_diffuse > 0`` the first ``n_diffuse`` states are diffuse and ``initial_mean``/``initial_cov`` describe
    the remaining ``m - n_diffuse`` (a mixed start).
    """

    design: np.ndarray            # Z (p, m)
    obs_intercept: np.ndarray     # c (p,)
    obs_cov: np.ndarray           # H (p, p)
    transition: np.ndarray        # T (m, m)
    state_intercept: np.ndarray   # d (m,)
    selection: np.ndarray         # G (m, r)
    state_cov: np.ndarray         # Q (r, r)
    initial_mean: np.ndarray | None = None   # a_1 (m,)
    initial_cov: np.ndarray | None = None    # P_1 (m, m)
    n_diffuse: int = 0

    @property
    def k_states(self) -> int:
        return self.transition.shape[0]


@dataclass
class SmoothedStates:
    """What the smoother returns, time-major.

    ``states[t] = E[s_t | y_1..y_n]``, ``cov[t] = Var(s_t | y)``, ``lag_cov[t] = Cov(s_t, s_{t-1} | y)`` for
    ``t >= 1`` (``lag_cov[0]`` is NaN: there is no ``s_0``), ``loglik`` = log p(y_1..y_n) (the diffuse
    log-likelihood under a diffuse start), ``loglik_obs[t]`` its terms. The compiled kernel also returns
    ``cov_sum`` = sum of ``cov[t]`` over ``t >= sums_from`` and ``lag_sum`` = sum of ``lag_cov[t]`` over
    ``t > sums_from`` (what the M-step needs, without summing (n, m, m) arrays again).
    """

    states: np.ndarray
    cov: np.ndarray
    lag_cov: np.ndarray | None
    loglik: float
    loglik_obs: np.ndarray
    cov_sum: np.ndarray | None = None
    lag_sum: np.ndarray | None = None
    sums_from: int = 0


class KalmanSmootherRunner:
    """A statsmodels KalmanSmoother bound once to the data ``y`` (n_obs, p), rerun for new matrices.

    Binding once matters for EM: each iteration only swaps the matrices, so the per-iteration cost is the Cython
    filter and smoother passes themselves.
    """

    def __init__(self, y: np.ndarray, k_states: int, k_posdef: int, lag_cov: bool = True, collapse: bool = True):
        y = np.ascontiguousarray(y, dtype=float)
        self.y = y
        self.n_obs, self.k_endog = y.shape
        self.k_states, self.k_posdef = k_states, k_posdef
        self._lag_cov = lag_cov
        self._outputs = SMOOTHER_STATE | SMOOTHER_STATE_COV | (SMOOTHER_STATE_AUTOCOV if lag_cov else 0)
        # Jungbacker-Koopman collapse of the p observations onto the m states: the same results (to 1e-12,
        # tested) several times faster when p is several times m. Two statsmodels limits shape how it is used:
        # the collapse takes no observation intercept (so it is subtracted from the data), and the collapse
        # matrices of a time-invariant system are computed once per smoother object (so a collapsed pass gets a
        # fresh object; constructing one costs microseconds).
        # (a fresh object costs ~0.3 ms of set-up per pass, which the collapse repays once p >= 4m, or p >= 3m
        # over 1000+ dates; with missing cells statsmodels recomputes the collapse at every date, which costs
        # more than it saves, so only complete panels are collapsed)
        self.collapse = collapse and not np.isnan(y).any() and (
            self.k_endog >= 4 * k_states or (self.k_endog >= 3 * k_states and self.n_obs >= 1000))
        self._ks = self._new(y)

    def _new(self, data: np.ndarray) -> KalmanSmoother:
        ks = KalmanSmoother(k_endog=self.k_endog, k_states=self.k_states, k_posdef=self.k_posdef)
        ks.bind(data)
        ks.set_smoother_output(0, smoother_state=True, smoother_state_cov=True,
                               smoother_state_autocov=self._lag_cov)
        return ks

    def _load(self, ss: StateSpace) -> None:
        # the collapse needs Z'H^-1 Z invertible: a time-invariant design loading every state
        collapse = self.collapse and ss.design.ndim == 2 and bool(np.all(np.any(ss.design != 0, axis=0)))
        if collapse:
            self._ks = ks = self._new(self.y - ss.obs_intercept)
            ks["obs_intercept"] = np.zeros(self.k_endog)
            ks.filter_collapsed = True
        else:
            if self._ks.filter_collapsed:
                self._ks = self._new(self.y)
            ks = self._ks
            ks["obs_intercept"] = ss.obs_intercept
        ks["design"] = ss.design
        ks["obs_cov"] = ss.obs_cov
        ks["transition"] = ss.transition
        ks["state_intercept"] = ss.state_intercept
        ks["selection"] = ss.selection
        ks["state_cov"] = ss.state_cov
        m = ss.k_states
        if ss.initial_mean is None:
            ks.initialize_diffuse()
        elif ss.n_diffuse == 0:
            ks.initialize_known(np.asarray(ss.initial_mean, float), np.asarray(ss.initial_cov, float))
        else:
            init = Initialization(m)
            init.set((0, ss.n_diffuse), "diffuse")
            init.set((ss.n_diffuse, m), "known", constant=np.asarray(ss.initial_mean, float),
                     stationary_cov=np.asarray(ss.initial_cov, float))
            ks.initialize(init)

    def smooth(self, ss: StateSpace) -> SmoothedStates:
        self._load(ss)
        # only the outputs the E-step reads, and no copy of every filter array (as statsmodels' own EM does)
        res = self._ks.smooth(self._outputs, update_filter=False)
        loglik_obs = np.array(self._ks._kalman_filter.loglikelihood, copy=True)
        llf = float(np.sum(loglik_obs))
        if not np.isfinite(llf):
            raise EstimationError("the Kalman filter's log-likelihood is not finite at these parameters "
                                  "(a covariance matrix may have lost positive definiteness)")
        states = res.smoothed_state.T
        cov = np.moveaxis(res.smoothed_state_cov, 2, 0)
        lag_cov = None
        if self._lag_cov:
            # statsmodels stores Cov(s_{t+1}, s_t) at position t; xlatsm indexes it by the later date.
            # Inside the exact-diffuse periods statsmodels' autocovariance is wrong (checked against the limit of
            # a large-variance start), so those entries are NaN; the EM avoids them (see xlatsm.ssm.em).
            lag_cov = np.full_like(cov, np.nan)
            lag_cov[1:] = np.moveaxis(res.smoothed_state_autocov[:, :, :-1], 2, 0)
            lag_cov[1:self._ks._kalman_filter.nobs_diffuse + 1] = np.nan
        return SmoothedStates(states=states, cov=cov, lag_cov=lag_cov, loglik=llf, loglik_obs=loglik_obs)

    def loglik(self, ss: StateSpace) -> float:
        """log p(y) only (filter pass, no smoothing)."""
        self._load(ss)
        return float(self._ks.loglike())


def smooth(y: np.ndarray, ss: StateSpace) -> SmoothedStates:
    """One filter + smoother pass of ``y`` (n_obs, p; NaN = missing) through the state space ``ss``."""
    return KalmanSmootherRunner(y, ss.k_states, ss.state_cov.shape[0]).smooth(ss)
