r"""What the ATSM result methods return: standard-error blocks and bands, by the delta method or the bootstrap.

Bands (DataFrames; ``attrs`` carry ``units``, ``level``, ``method``, ``what`` and ``notes``):

* :func:`term_premium_bands`: one row per date, ``estimate``, ``lower``, ``upper``, ``std_error`` of the term
  premium at one maturity, in the yields' units. Delta method: ``estimate -+ z_{(1+level)/2} std_error``;
  bootstrap: the studentized (bootstrap-t; jsz only, the default there with ``interval="auto"``), basic
  (reverse-percentile, bias-correcting) or percentile interval of the bootstrap draws (``std_error`` their
  standard deviation), quantiles by the (B+1) rule. Coverage measured by ``benchmarks/inference_coverage.py``.
* :func:`short_rate_bands`: one row per horizon ``h = 0..horizon`` periods, the same columns, for the physical
  expectation ``E_t[r_{t+h}]`` at one date (default the last).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..atsm.results import expected_short_rate_values, parameter_blocks_of, term_premium_values
from ..errors import InputError
from .atsm import BAND_METHODS, band_frame, check_level, maturity_periods, z_value
from .bootstrap import draw_factors, noise_rng

SE_METHODS = ("observed", "bootstrap")


def _check_method(method: str, allowed=BAND_METHODS, what: str = "method") -> str:
    name = str(method).strip().lower()
    if name not in allowed:
        raise InputError(f"{what} must be one of {', '.join(allowed)}, not {method!r}")
    return name


def parameter_standard_errors(result, robust: bool = False, method: str = "observed", n_boot: int = 199,
                              seed: int = 0, progress=True) -> dict[str, pd.DataFrame]:
    """Standard errors matching ``result.parameter_blocks()`` (same keys, labels, units): ``"observed"`` (inverse
    observed information, or the sandwich with ``robust``, through the delta method) or ``"bootstrap"`` (standard
    deviation over the parametric-bootstrap draws)."""
    method = _check_method(method, SE_METHODS)
    if method == "observed":
        key = ("standard_errors", bool(robust))
        cache = result._inference_cache
        if key not in cache:
            cache[key] = result.inference(robust=robust).standard_errors()
        return {name: frame.copy() for name, frame in cache[key].items()}
    boot = result.bootstrap(n_boot=n_boot, seed=seed, progress=progress)
    template = result.parameter_blocks()
    stacks = {name: [] for name in template}
    for draw in boot.draws:
        blocks = parameter_blocks_of(draw, result.scale, result.factor_names, result.panel.labels)
        for name in template:
            stacks[name].append(blocks[name].to_numpy(float))
    return {name: pd.DataFrame(np.nanstd(np.array(stacks[name]), axis=0, ddof=1), index=template[name].index,
                               columns=template[name].columns) for name in template}


INTERVALS = ("basic", "percentile", "studentized")


def _resolve_interval(result, interval: str) -> str:
    """The bootstrap interval to use: ``"auto"`` is the studentized one for jsz (measured to cover best, see
    ``benchmarks/inference_coverage.py``) and the basic one for kalman/em (no closed-form VAR block there)."""
    interval = _check_method(interval, INTERVALS + ("auto",), "interval")
    jsz = getattr(result, "method", None) == "jsz"
    if interval == "auto":
        return "studentized" if jsz else "basic"
    if interval == "studentized" and not jsz:
        raise InputError("interval='studentized' is available for jsz fits (the VAR block of each draw's standard "
                         "error is OLS there); use 'basic' or 'percentile' for kalman/em")
    return interval


def _quantiles(draws: np.ndarray, probs) -> list[np.ndarray]:
    """Bootstrap quantiles by the (B+1) rule: ``q_p`` is the ``p (B+1)``-th smallest of B draws (interpolated
    between order statistics when that is not whole; Davison and Hinkley 1997, 5.2). With B = 39, 99, 199, ...
    and a 90% band these are exact order statistics, and the band holds a fresh draw with probability exactly
    0.9; numpy's default rule (position ``p (B-1)``) takes points inside those and undercovers by ~1/B."""
    return [np.nanquantile(draws, p, axis=0, method="weibull") for p in probs]


def _bootstrap_band(draws: np.ndarray, estimate: np.ndarray, level: float, interval: str,
                    pivot_scale=None, estimate_se=None):
    """(lower, upper, std) of a bootstrap band. ``"percentile"``: the draws' quantiles ``q_(a/2), q_(1-a/2)``;
    ``"basic"`` (reverse percentile): ``2 est - q_(1-a/2), 2 est - q_(a/2)``, which moves the band against the
    estimator's bias as the bootstrap measures it (the draws' centre minus the estimate); ``"studentized"``
    (bootstrap-t): with ``t_b = (draw_b - est) / pivot_scale_b`` (each draw's own standard error),
    ``est - t_(1-a/2) se, est - t_(a/2) se`` for the estimate's standard error ``estimate_se``."""
    alpha = 1.0 - level
    if interval == "studentized":
        t_low, t_high = _quantiles((draws - estimate) / pivot_scale, (alpha / 2, 1 - alpha / 2))
        low, high = estimate - t_high * estimate_se, estimate - t_low * estimate_se
    else:
        low, high = _quantiles(draws, (alpha / 2, 1 - alpha / 2))
        if interval == "basic":
            low, high = 2 * estimate - high, 2 * estimate - low
    return low, high, np.nanstd(draws, axis=0, ddof=1)


def _var_block_variance(params, design_inverse: np.ndarray, values) -> np.ndarray:
    r"""Delta-method variance of ``values(G)`` through the VAR coefficients ``G = [K0_P K1_P]`` alone.

    ``K0_P, K1_P`` are OLS in the jsz model: ``Cov(G_ia, G_jb) = Omega_ij [(Z'Z)^-1]_ab`` exactly, and this block of
    the inverse information is uncorrelated with the rest (the cross-derivatives of the log-likelihood carry
    ``sum_t u_t Z_t' = 0``, zero at OLS), so the full delta variance is this plus that of the other parameters.
    ``values(G)`` maps (M, N, N+1) coefficient sets to (M, m) outputs; derivatives by central differences of
    1e-3 standard errors, all perturbations in one call. Returns (m,) variances (decimals squared)."""
    N = len(params.K0P)
    G0 = np.column_stack([params.K0P, params.K1P])
    Omega = params.Omega_P
    steps = 1e-3 * np.sqrt(np.outer(np.diag(Omega), np.diag(design_inverse)))
    k = N * (N + 1)
    sets = np.repeat(G0[None], 2 * k, axis=0)
    idx = np.arange(k)
    rows, cols = np.unravel_index(idx, (N, N + 1))
    sets[2 * idx, rows, cols] += steps[rows, cols]
    sets[2 * idx + 1, rows, cols] -= steps[rows, cols]
    out = values(sets)
    grad = (out[0::2] - out[1::2]) / (2 * steps[rows, cols])[:, None]       # (k, m)
    grad = grad.T.reshape(-1, N, N + 1)                                       # (m, N, N+1)
    return np.einsum("mia,ij,ab,mjb->m", grad, Omega, design_inverse, grad)


def physical_yield_loadings(G: np.ndarray, Omega: np.ndarray, rho0: float, rho1: np.ndarray, n: int,
                            dt: float) -> tuple[np.ndarray, np.ndarray]:
    r"""(A (M,), B (M, N)): yields at ``n`` periods priced with the physical dynamics ``G = [K0 K1]`` (M sets,
    (M, N, N+1)), lambda = 0 and convexity in, ``y = A + B'x`` (decimals per year): the recursion
    ``b_(k+1) = K1'b_k - rho1 dt``, ``a_(k+1) = a_k + K0'b_k + b_k'Omega b_k / 2 - rho0 dt`` of
    :func:`xlatsm.atsm.loadings.discrete_price_loadings`, for every set at once."""
    K0, K1 = G[:, :, 0], G[:, :, 1:]
    b = np.zeros(K0.shape)
    a = np.zeros(len(G))
    for _ in range(n):
        a = a + np.einsum("mi,mi->m", b, K0) + 0.5 * np.einsum("mi,ij,mj->m", b, Omega, b) - rho0 * dt
        b = np.einsum("mji,mj->mi", K1, b) - rho1 * dt
    scale = -1.0 / (n * dt)
    return a * scale, b * scale


def _tp_var_block(params, design_inverse, X, n: int) -> np.ndarray:
    """(T,) VAR-block variance of the term premium at ``n`` periods on factors X (T, N): the term premium is the
    model yield (no K0_P, K1_P in it) minus the physical-measure yield."""
    q = params.q_dynamics()

    def values(G):
        A, B = physical_yield_loadings(G, params.Omega_P, q["rho0"], q["rho1"], n, params.structure.dt)
        return A[:, None] + B @ X.T

    return _var_block_variance(params, design_inverse, values)


def _short_rate_var_block(params, design_inverse, x, horizon: int) -> np.ndarray:
    """(horizon+1,) VAR-block variance of E_t[r_(t+h)] = rho0 + rho1'E_t[P_(t+h)] from factors x (N,)."""
    q = params.q_dynamics()

    def values(G):
        K0, K1 = G[:, :, 0], G[:, :, 1:]
        state = np.repeat(x[None], len(G), axis=0)
        out = np.empty((len(G), horizon + 1))
        for h in range(horizon + 1):
            out[:, h] = q["rho0"] + state @ q["rho1"]
            state = K0 + np.einsum("mij,mj->mi", K1, state)
        return out

    return _var_block_variance(params, design_inverse, values)


def _studentizing(result, boot, estimate_se, block_variance) -> tuple[np.ndarray, np.ndarray]:
    """(per-draw standard errors (B, m), estimate's (m,)) for the studentized interval (jsz only): each draw's
    delta-method standard error on its own simulated sample, the VAR block exactly (``block_variance(params,
    (Z'Z)^-1)``, :func:`_var_block_variance`) and the other parameters' share held at the estimate's (the
    estimate's delta variance minus its VAR block; about 1% of the term premium's)."""
    if len(boot.design_inverses) != boot.n_draws:
        raise InputError("this bootstrap kept no VAR moments of its draws: the studentized interval needs a jsz fit")
    from .bootstrap import var_design_inverse

    P = result.panel.yields @ result.params.structure.W.T
    own = block_variance(result.params, var_design_inverse(P))
    rest = np.maximum(estimate_se ** 2 - own, 0.0)
    scales = np.array([np.sqrt(block_variance(draw, Z) + rest) for draw, Z in zip(boot.draws,
                                                                                   boot.design_inverses)])
    return scales, estimate_se


def term_premium_bands(result, level: float = 0.9, maturity="10Y", method: str = "delta", *, robust: bool = False,
                       n_boot: int = 199, seed: int = 0, progress=True, interval: str = "auto") -> pd.DataFrame:
    level = check_level(level)
    method = _check_method(method)
    interval = _resolve_interval(result, interval)
    periods, label = maturity_periods(result, maturity)
    s = result.scale
    what = f"term premium {label}"
    if method == "delta":
        inf = result.inference(robust=robust)
        estimate, se = inf.term_premium_delta(periods)
        z = z_value(level)
        notes = list(inf.notes) + [f"delta method, {level:.0%} band: estimate -+ {z:.3f} s.e."]
        return band_frame(result.panel.dates, estimate * s, (estimate - z * se) * s, (estimate + z * se) * s,
                          se * s, units=result.units, level=level, method="delta", what=what, notes=notes)
    boot = result.bootstrap(n_boot=n_boot, seed=seed, progress=progress)
    rng = noise_rng(boot, int(periods[0]))
    draws = np.empty((boot.n_draws, len(result.panel.dates)))
    from ..atsm.results import term_premium_factor_loading

    for i, draw in enumerate(boot.draws):
        X, V = draw_factors(result, draw)
        draws[i] = term_premium_values(draw, X, periods)[:, 0]
        if V is not None:
            b = term_premium_factor_loading(draw, periods)[0]
            draws[i] += np.sqrt(np.maximum(np.einsum("i,tij,j->t", b, V, b), 0.0)) * rng.standard_normal(len(X))
    estimate = term_premium_values(result.params, result._smoothed[0], periods)[:, 0]
    scales = estimate_se = None
    if interval == "studentized":
        _, estimate_se = result.inference(robust=robust).term_premium_delta(periods)
        X, n = result._smoothed[0], int(periods[0])
        scales, _ = _studentizing(result, boot, estimate_se, lambda p, Z: _tp_var_block(p, Z, X, n))
    lower, upper, se = _bootstrap_band(draws, estimate, level, interval, scales, estimate_se)
    notes = list(boot.notes) + [f"{interval} bootstrap interval of the {boot.n_draws} draws"]
    return band_frame(result.panel.dates, estimate * s, lower * s, upper * s, se * s, units=result.units,
                      level=level, method="bootstrap", what=what, notes=notes)


def _date_row(result, date) -> int:
    dates = result.panel.dates
    if date is None:
        return len(dates) - 1
    if isinstance(date, (int, np.integer)) and not isinstance(date, bool):
        if not -len(dates) <= date < len(dates):
            raise InputError(f"date index {date} is outside the sample's {len(dates)} dates")
        return int(date) % len(dates)
    try:
        stamp = pd.Timestamp(date)
    except (TypeError, ValueError):
        raise InputError(f"date {date!r} is not a date: give e.g. '2012-04-30', or None for the last") from None
    if stamp not in dates:
        raise InputError(f"date {stamp.date()} is not in the sample ({dates[0].date()}..{dates[-1].date()}); give "
                         "one of its dates")
    return int(dates.get_loc(stamp))


def short_rate_bands(result, horizon: int = 120, level: float = 0.9, date=None, method: str = "delta", *,
                     robust: bool = False, n_boot: int = 199, seed: int = 0, progress=True,
                     interval: str = "auto") -> pd.DataFrame:
    level = check_level(level)
    method = _check_method(method)
    interval = _resolve_interval(result, interval)
    if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 0:
        raise InputError(f"horizon must be a whole number of periods >= 0, not {horizon!r}")
    row = _date_row(result, date)
    s = result.scale
    per_year = round(1.0 / result.params.structure.dt)
    unit = {12: "months", 4: "quarters", 52: "weeks", 252: "business days"}.get(per_year, "periods")
    index = pd.Index(np.arange(horizon + 1), name=f"h ({unit} ahead)")
    when = result.panel.dates[row]
    when = when.date() if hasattr(when, "date") else when
    what = "expected short rate E_t[r_(t+h)]"
    if method == "delta":
        inf = result.inference(robust=robust)
        estimate, se = inf.short_rate_delta(horizon, row)
        z = z_value(level)
        notes = list(inf.notes) + [f"delta method, {level:.0%} band: estimate -+ {z:.3f} s.e."]
        return band_frame(index, estimate * s, (estimate - z * se) * s, (estimate + z * se) * s, se * s,
                          units=result.units, level=level, method="delta", what=what, notes=notes, date=when)
    boot = result.bootstrap(n_boot=n_boot, seed=seed, progress=progress)
    rng = noise_rng(boot, 100000 + row)
    draws = np.empty((boot.n_draws, horizon + 1))
    for i, draw in enumerate(boot.draws):
        X, V = draw_factors(result, draw)
        x = X[row]
        if V is not None:
            lam, vec = np.linalg.eigh(0.5 * (V[row] + V[row].T))
            x = x + vec @ (np.sqrt(np.maximum(lam, 0.0)) * rng.standard_normal(len(x)))
        draws[i] = expected_short_rate_values(draw, x[None, :], horizon)[0]
    estimate = expected_short_rate_values(result.params, result._smoothed[0][row:row + 1], horizon)[0]
    scales = estimate_se = None
    if interval == "studentized":
        _, estimate_se = result.inference(robust=robust).short_rate_delta(horizon, row)
        x = result._smoothed[0][row]
        scales, _ = _studentizing(result, boot, estimate_se,
                                  lambda p, Z: _short_rate_var_block(p, Z, x, horizon))
    lower, upper, se = _bootstrap_band(draws, estimate, level, interval, scales, estimate_se)
    notes = list(boot.notes) + [f"{interval} bootstrap interval of the {boot.n_draws} draws"]
    return band_frame(index, estimate * s, lower * s, upper * s, se * s, units=result.units, level=level,
                      method="bootstrap", what=what, notes=notes, date=when)
