r"""Parametric bootstrap of a JSZ-canonical ATSM fit: simulate from the estimate, refit, recompute.

Each replication simulates a panel of the fit's size from the estimated parameters, starting from the first date's
factors, and refits it with the estimator's own likelihood, from the estimate (the truth of the simulated world):

* ``jsz``: ``P_t = K0P + K1P P_{t-1} + Sigma_P eps_t`` from ``P_1 = W y_1``, and
  ``y_t = A_P + B_P P_t + sigma (I - W'W) e_t`` (the N portfolios priced exactly, iid errors in the J - N other
  directions: the jsz model itself); refit by the concentrated JSZ likelihood with the same W.
* ``kalman``/``em``: every yield with error (:func:`xlatsm.atsm.simulate.simulate_yields` from the smoothed
  ``P_1``), the original panel's blank cells blank again; refit by the quasi-Newton search on the exact Kalman
  likelihood (the em estimator climbs the same likelihood to the same top, more slowly).

The draws are parameter sets in the fit's rotation; a band on a term premium or an expected short-rate path is
built from that quantity recomputed at every draw on the *observed* data (for kalman/em the factors are
re-smoothed with each draw's parameters and a draw from their posterior ``N(P_t|T, V_t|T)`` is added, so the
band holds both parameter and factor uncertainty), by the interval of :mod:`xlatsm.inference.bands` (for jsz each
draw also keeps ``(Z'Z)^-1`` of its simulated VAR regressors, for the studentized interval). The jsz refits share
one search metric, the curvature of the fit's own likelihood (:func:`jsz_search_curvature`), and stop by the
same rule as the estimator. Replications whose refit fails or does not converge are left out and counted (none
in the coverage benchmark's 100 x 99 jsz refits). Random numbers: one ``numpy.random.default_rng(seed)``; the same
seed gives the same draws.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..atsm.likelihood import YieldModel
from ..atsm.model import ATSMParams, kinf_on_largest_root
from ..atsm.params_vector import chol_to_free, q_to_free
from ..atsm.results import _smooth
from ..errors import EstimationError, InputError
from .atsm import _FAILURES, progress_reporter


@dataclass
class ATSMBootstrap:
    """Parameter draws of a parametric bootstrap (module docstring) and what it did."""

    draws: list
    n_requested: int
    n_failed: int
    seed: int
    method: str
    notes: list = field(default_factory=list)
    # jsz: per draw, (Z'Z)^-1 of its simulated sample's VAR regressors Z_t = (1, P_(t-1)'): the OLS covariance of
    # that draw's K0_P, K1_P is Omega_P kron (Z'Z)^-1 (the studentized interval uses it)
    design_inverses: list = field(default_factory=list)

    @property
    def n_draws(self) -> int:
        return len(self.draws)


def simulate_jsz_panel(params: ATSMParams, P1: np.ndarray, n_dates: int, rng: np.random.Generator) -> np.ndarray:
    """(T, J) yields in decimals from the jsz model: the portfolios W y_t are exactly the VAR factors P_t."""
    N = len(params.K0P)
    W = params.structure.W
    ld = params.loadings()
    P = np.empty((n_dates, N))
    P[0] = P1
    shocks = rng.standard_normal((n_dates, N)) @ params.Sigma_P.T
    for t in range(1, n_dates):
        P[t] = params.K0P + params.K1P @ P[t - 1] + shocks[t]
    J = W.shape[1]
    errors = (rng.standard_normal((n_dates, J)) @ (np.eye(J) - W.T @ W)) * params.sigma_e[0]
    return ld.A_P + P @ ld.B_P.T + errors


def jsz_search_curvature(Y: np.ndarray, params: ATSMParams) -> np.ndarray:
    """-Hessian of the concentrated JSZ log-likelihood of Y at ``params`` in the search coordinates
    ``[q_free, chol]`` (finite differences): the metric every bootstrap refit of that fit can share."""
    from ..atsm.estimate import _JSZObjective

    obj = _JSZObjective(params.structure, Y)
    rel = np.tril(np.linalg.solve(obj.L_ref, params.Sigma_P))
    return obj.curvature(np.concatenate([q_to_free(params.q_coefs), chol_to_free(rel)]))


def refit_jsz(Y: np.ndarray, start: ATSMParams, max_iter: int = 300, tol: float = 1e-9,
              curvature: np.ndarray | None = None):
    """(params, converged): the concentrated JSZ likelihood of Y maximised from ``start`` (same W).

    ``curvature``: a fixed metric for the search (:func:`jsz_search_curvature` of the fit the panels are
    simulated from). A bootstrap panel's likelihood is curved much like the original's near its maximum, so the
    search needs no Hessian of its own (a quarter of the cost); it stops by the same Newton-decrement rule, so the
    answer is the same maximum to the tolerance. A search that does not converge with it is redone with its own
    finite-difference curvature."""
    from ..atsm.estimate import _JSZObjective
    from ..atsm.optim import maximise

    obj = _JSZObjective(start.structure, Y)
    rel = np.tril(np.linalg.solve(obj.L_ref, start.Sigma_P))
    theta0 = np.concatenate([q_to_free(start.q_coefs), chol_to_free(rel)])
    fg = lambda th: (obj.loglik(th), None)  # noqa: E731
    res = None
    if curvature is not None:
        res = maximise(fg, theta0, lambda x: curvature, max_iter=max_iter, tol=tol, fd_coordinates="raw")
    if res is None or not res.converged:
        res = maximise(fg, theta0, obj.curvature, max_iter=max_iter, tol=tol)
    return kinf_on_largest_root(obj.params(res.x)), bool(res.converged)


def simulate_kalman_panel(params: ATSMParams, P1: np.ndarray, n_dates: int, rng: np.random.Generator,
                          blank: np.ndarray) -> np.ndarray:
    from ..atsm.simulate import simulate_yields

    frame, _ = simulate_yields(params, n_dates, rng, burn=0, start=P1)
    Y = np.array(frame.to_numpy(), float)     # a writable copy
    Y[blank] = np.nan
    return Y


def refit_kalman(Y: np.ndarray, start: ATSMParams, measurement_error: str, max_iter: int = 500,
                 tol: float = 1e-9):
    """(params, converged): the exact Kalman likelihood of Y maximised from ``start`` (same W)."""
    from ..atsm.estimate import _fit_kalman

    model = YieldModel(Y, start.structure, measurement_error, start.Sigma_P)
    theta, _, converged, *_ = _fit_kalman(model, start, max_iter, tol)
    return kinf_on_largest_root(model.unpack(theta)), bool(converged)


def atsm_bootstrap(result, n_boot: int = 199, seed: int = 0, progress=True) -> ATSMBootstrap:
    """``n_boot`` parametric-bootstrap draws of a jsz/kalman/em fit (module docstring); ``progress``: True for a
    tqdm bar, a callable ``progress(done, total)``, or False."""
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 2:
        raise InputError(f"n_boot must be a whole number of at least 2 replications, not {n_boot!r}")
    method = result.method
    if method not in ("jsz", "kalman", "em"):
        raise InputError(f"the parametric bootstrap is not available for method {method!r}")
    rng = np.random.default_rng(seed)
    params = result.params
    Y = result.panel.yields
    n_dates = len(Y)
    P1 = result._smoothed[0][0]
    blank = np.isnan(Y)
    update, close = progress_reporter(progress, n_boot, f"bootstrap ({method})")
    draws, failed, first_error, design_inverses = [], 0, "", []
    metric = jsz_search_curvature(Y, params) if method == "jsz" else None
    try:
        for _ in range(n_boot):
            try:
                if method == "jsz":
                    sim = simulate_jsz_panel(params, P1, n_dates, rng)
                    draw, converged = refit_jsz(sim, params, curvature=metric)
                else:
                    sim = simulate_kalman_panel(params, P1, n_dates, rng, blank)
                    draw, converged = refit_kalman(sim, params, result.measurement_error)
            except _FAILURES as exc:
                draw, converged = None, False
                first_error = first_error or f"{type(exc).__name__}: {exc}"
            if converged and draw is not None:
                draws.append(draw)
                if method == "jsz":
                    design_inverses.append(var_design_inverse(sim @ params.structure.W.T))
            else:
                failed += 1
            update()
    finally:
        close()
    if len(draws) < 2:
        why = f" (first failure: {first_error})" if first_error else " (they did not converge)"
        raise EstimationError(f"the bootstrap refits failed in {failed} of {n_boot} replications{why}: use the "
                              "delta method (method='delta') or check the fit's flags")
    notes = [f"parametric bootstrap: {len(draws)} of {n_boot} replications refitted ({method}, seed {seed})"]
    if failed:
        notes.append(f"{failed} replications whose refit failed or did not converge are left out"
                     + (f" (first failure: {first_error})" if first_error else ""))
    return ATSMBootstrap(draws=draws, n_requested=n_boot, n_failed=failed, seed=seed, method=method, notes=notes,
                         design_inverses=design_inverses)


def var_design_inverse(P: np.ndarray) -> np.ndarray:
    """(Z'Z)^-1 for the VAR(1) regressors ``Z_t = (1, P_(t-1)')``, t = 2..T, of factors P (T, N)."""
    Z = np.column_stack([np.ones(len(P) - 1), P[:-1]])
    return np.linalg.inv(Z.T @ Z)


def draw_factors(result, draw: ATSMParams):
    """(factors (T, N), posterior variances (T, N, N)) on the observed panel at a draw's parameters."""
    if result.method == "jsz":
        X = result.panel.yields @ draw.structure.W.T
        return X, None
    out = _smooth(result.panel.yields, draw)
    return out.states, out.cov


def noise_rng(boot: ATSMBootstrap, what: int) -> np.random.Generator:
    """The generator of the factor-posterior draws added to a band (reproducible, independent of the refits')."""
    return np.random.default_rng([boot.seed, 1 + what])
