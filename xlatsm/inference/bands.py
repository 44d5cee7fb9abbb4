r"""What the ATSM result methods return: standard-error blocks and bands, by the delta method or the bootstrap.

Bands (DataFrames; ``attrs`` carry ``units``, ``level``, ``method``, ``what`` and ``notes``):

* :func:`term_premium_bands`: one row per date, ``estimate``, ``lower``, ``upper``, ``std_error`` of the term
  premium at one maturity, in the yields' units. Delta method: ``estimate -+ z_{(1+level)/2} std_error``;
  bootstrap: the basic (reverse-percentile, bias-correcting) or percentile interval of the bootstrap draws
  (``std_error`` their standard deviation).
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


INTERVALS = ("basic", "percentile")


def _bootstrap_band(draws: np.ndarray, estimate: np.ndarray, level: float, interval: str):
    """(lower, upper, std) of a bootstrap band. ``"percentile"``: the draws' quantiles ``q_(a/2), q_(1-a/2)``;
    ``"basic"`` (reverse percentile): ``2 est - q_(1-a/2), 2 est - q_(a/2)``, which moves the band against the
    estimator's bias as the bootstrap measures it (the draws' centre minus the estimate)."""
    alpha = 1.0 - level
    low = np.nanquantile(draws, alpha / 2, axis=0)
    high = np.nanquantile(draws, 1 - alpha / 2, axis=0)
    if interval == "basic":
        low, high = 2 * estimate - high, 2 * estimate - low
    return low, high, np.nanstd(draws, axis=0, ddof=1)


def term_premium_bands(result, level: float = 0.9, maturity="10Y", method: str = "delta", *, robust: bool = False,
                       n_boot: int = 199, seed: int = 0, progress=True, interval: str = "basic") -> pd.DataFrame:
    level = check_level(level)
    method = _check_method(method)
    interval = _check_method(interval, INTERVALS, "interval")
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
    lower, upper, se = _bootstrap_band(draws, estimate, level, interval)
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
                     interval: str = "basic") -> pd.DataFrame:
    level = check_level(level)
    method = _check_method(method)
    interval = _check_method(interval, INTERVALS, "interval")
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
    lower, upper, se = _bootstrap_band(draws, estimate, level, interval)
    notes = list(boot.notes) + [f"{interval} bootstrap interval of the {boot.n_draws} draws"]
    return band_frame(index, estimate * s, lower * s, upper * s, se * s, units=result.units, level=level,
                      method="bootstrap", what=what, notes=notes, date=when)
