"""Results -> rectangular, labelled 2-D blocks (lists of rows) that spill into cells. Layout only, no maths.

Every block's first row is a header; missing numbers are empty strings (a cell left blank rather than 0 or an
error); dates are Python datetimes, which xlwings writes as Excel dates.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..extrapolation import flag as extrapolation_flag, marked_loadings, term_premium
from ..report.factors import analyst_factors

Block = list[list[Any]]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (np.floating, float)):
        return "" if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.complexfloating, complex)):
        return f"{value.real:.6g}{value.imag:+.6g}i"
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def rectangular(rows: Block) -> Block:
    width = max(len(r) for r in rows)
    return [[_cell(v) for v in r] + [""] * (width - len(r)) for r in rows]


def frame_block(frame: pd.DataFrame, index_label: str = "date") -> Block:
    """A DataFrame with its index as the first column and its columns as the header row."""
    rows: Block = [[index_label] + [str(c) for c in frame.columns]]
    for idx, values in zip(frame.index, frame.to_numpy()):
        rows.append([idx] + list(values))
    return rectangular(rows)


def matrix_block(name: str, frame: pd.DataFrame) -> Block:
    """A labelled matrix: its name top-left, column labels across, row labels down."""
    return frame_block(frame, index_label=name)


def stacked_block(blocks: dict[str, pd.DataFrame]) -> Block:
    """Several labelled matrices one under the other, a blank row between them."""
    rows: Block = []
    for name, frame in blocks.items():
        if rows:
            rows.append([""])
        rows.extend(matrix_block(name, frame))
    return rectangular(rows)


def pairs_block(pairs: list[tuple[str, Any]], header=("item", "value")) -> Block:
    return rectangular([list(header)] + [[k, v] for k, v in pairs])


def choose(outputs: dict[str, Any], output: str) -> Block:
    """Pick the block named ``output`` from a dict of zero-argument block makers: the exact name first (LGSSM has
    both ``C`` and ``c``), then case-insensitively."""
    exact = str(output or "").strip()
    if exact in outputs:
        return outputs[exact]()
    wanted = exact.lower()
    for name, make in outputs.items():
        if name.lower() == wanted:
            return make()
    raise InputError(f"unknown output {output!r}: choose one of {', '.join(outputs)}")


# ----------------------------------------------------------------------------------------------------------------
# per-model outputs
# ----------------------------------------------------------------------------------------------------------------
def with_unit(frame: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The same columns, each header saying its unit: ``10Y (percent)``."""
    return frame.set_axis([f"{c} ({unit})" for c in frame.columns], axis=1)


def atsm_outputs(result, handle: str) -> dict[str, Any]:
    blocks = result.parameter_blocks()
    unit = result.units
    jsz_form = hasattr(result, "params") and hasattr(result.params, "structure")   # acm/afns/dns have their own
    outputs = {
        "summary": lambda: pairs_block(atsm_summary_pairs(result, handle) if jsz_form else
                                       list(result.summary_pairs()) + [("handle", handle)]),
        "params": lambda: stacked_block(blocks),
        "factors": lambda: frame_block(analyst_factors(result).frame() if jsz_form else with_unit(
            result.factors, result.factor_units)),
        "factors_model": lambda: frame_block(result.factors.join(result.factor_std_errors.add_suffix("_se")).set_axis(
            [f"{c} (model units: W y, {unit})" for c in list(result.factors.columns) + [
                f"{c}_se" for c in result.factor_std_errors.columns]], axis=1)),
        "fitted": lambda: frame_block(with_unit(result.fitted_yields, unit)),
        "errors": lambda: frame_block(result.pricing_errors.to_frame("RMSE_bp").T, index_label="maturity"),
        "term_premium": lambda: frame_block(with_unit(_term_premium_block(result), unit)),
        "risk_neutral": lambda: frame_block(with_unit(result.risk_neutral_yields, unit)),
        "loadings": lambda: frame_block(marked_loadings(result) if jsz_form else result.loadings(),
                                        index_label="maturity"),
        "loglik": lambda: [["loglik"], [result.loglik]],
        "params_se": lambda: params_se_block(result),
        "term_premium_bands": lambda: bands_block(_uncertainty(result, "term_premium_bands")(
            level=0.9, maturity="10Y", method="delta")),
        "handle": lambda: [[handle]],
    }
    for name, frame in blocks.items():
        outputs[name] = (lambda name=name, frame=frame: matrix_block(name, frame))
    return outputs


def _uncertainty(result, name: str):
    """The fit's uncertainty attribute ``name`` (:mod:`xlatsm.inference`); a model without it says so."""
    found = getattr(type(result), name, None)
    if found is None:
        raise InputError(f"{type(result).__name__.replace('Result', '')} fits have no {name.replace('_', ' ')}: "
                         "bands come with ATSM_FIT methods jsz, kalman, em and acm (standard errors also with "
                         "LGSSM_EM)")
    return getattr(result, name)


def _notes(notes) -> Block:
    """The notes of an inference result, one row each under a blank row (nothing when there are none)."""
    notes = list(notes or [])
    return [[""]] + [[f"note: {n}"] for n in notes] if notes else []


def params_se_block(result, errors: dict[str, pd.DataFrame] | None = None) -> Block:
    """Standard errors of every parameter block (default: the fit's ``standard_errors``), laid out as ``params``
    (same labels, same units), under a title row; what the standard errors hold fixed, and why they are blank when
    they are, in notes under the block."""
    if errors is None:
        errors = _uncertainty(result, "standard_errors")      # a property: dict of frames like parameter_blocks
    return rectangular([["standard errors (same units as params)"]] + stacked_block(errors)
                       + _notes(result.inference().notes))


def bands_block(frame: pd.DataFrame) -> Block:
    """A band frame of :mod:`xlatsm.inference` (columns estimate, lower, upper, std_error; ``attrs`` units, level,
    what, notes) with headers saying what and in which unit: ``term premium 10Y (percent)``, ``lower 90%
    (percent)``, ..., its notes under it."""
    unit, level, what = frame.attrs.get("units", ""), frame.attrs.get("level", 0.9), frame.attrs.get("what", "")
    percent = f"{100 * level:g}%"
    said = frame.rename(columns={"estimate": f"{what} ({unit})", "lower": f"lower {percent} ({unit})",
                                 "upper": f"upper {percent} ({unit})", "std_error": f"s.e. ({unit})"})
    return rectangular(frame_block(said, index_label=frame.index.name or "date") + _notes(frame.attrs.get("notes")))


def bands_outputs(result, level: float, maturity: str, method: str, n_boot: int, seed: int,
                  horizon: int) -> dict[str, Any]:
    """The uncertainty blocks with their options (``XLATSM_BANDS``): ``method`` "delta" (inverse observed
    information, delta method), "robust" (the sandwich information instead) or "bootstrap" (``n_boot``
    parametric-bootstrap refits from ``seed``; no progress bar in a cell)."""
    robust, band_method = method == "robust", ("bootstrap" if method == "bootstrap" else "delta")
    common = dict(robust=robust, n_boot=n_boot, seed=seed, progress=False)
    return {
        "term_premium_bands": lambda: bands_block(_uncertainty(result, "term_premium_bands")(
            level=level, maturity=maturity, method=band_method, **common)),
        "short_rate_bands": lambda: bands_block(_uncertainty(result, "expected_short_rate_bands")(
            horizon=horizon, level=level, method=band_method, **common)),
        "params_se": lambda: params_se_block(result) if method == "delta" else params_se_block(
            result, _uncertainty(result, "parameter_standard_errors")(
                method="bootstrap" if method == "bootstrap" else "observed", **common)),
    }


def _term_premium_block(result) -> pd.DataFrame:
    """Term premia at the fitted maturities and the 10-year, its header marked when 10Y lies outside them."""
    tp = result.term_premium
    head, where = term_premium(result, "10Y")
    return tp if where.label in tp.columns else tp.join(head)


def atsm_summary_pairs(result, handle: str) -> list[tuple[str, Any]]:
    p = result.params
    tp10, where10 = term_premium(result, "10Y")
    pairs = [
        ("model", f"{getattr(result, 'model_name', 'Gaussian ATSM, JSZ canonical form')}, {result.n_factors} "
                  "factors"),
        ("method", result.method if getattr(result, "method_requested", result.method) == result.method
         else f"{result.method} (chosen by {result.method_requested})"),
        ("converged", "yes" if result.converged else f"NO - {result.message}"),
        ("iterations", result.n_iter),
        ("log-likelihood", result.loglik),
        ("dates", len(result.panel.dates)),
        ("first date", f"{result.panel.dates[0]:%Y-%m-%d}"),   # text: a summary column holds numbers of all kinds,
        ("last date", f"{result.panel.dates[-1]:%Y-%m-%d}"),   # so no date format could be given to it
        ("maturities", ", ".join(result.panel.labels)),
        ("yield units", result.units),
        ("maturity units read", result.panel.maturity_units),
        ("mean RMSE (bp)", float(result.pricing_errors.mean())),
        ("max RMSE (bp)", float(result.pricing_errors.max())),
        (f"term premium {where10.text}, last", float(tp10.iloc[-1])),
        (f"term premium {where10.text}, mean", float(tp10.mean())),
        ("r_inf_Q", p.rinfQ * result.scale),
        ("seconds", result.seconds),
        ("handle", handle),
    ]
    if getattr(result, "time", "discrete") == "continuous":
        pairs.insert(2, ("time", "continuous (K, theta, Sigma per year; exactly discretised at the data's period)"))
    pairs += [(f"lambda_Q {i + 1}", _cell(v)) for i, v in enumerate(p.lamQ)]
    pairs += [("note", n) for n in list(result.panel.notes) + list(result.notes)]
    extra = extrapolation_flag(result, ["10Y"], "the 10y term premium")
    return flag_pairs(result) + ([(f"FLAG {extra.code}", extra.message)] if extra is not None else []) + pairs


def flag_pairs(result) -> list[tuple[str, Any]]:
    """One ``FLAG`` row per flag of the fit (:mod:`xlatsm.diagnostics`), put first so that no one misses them."""
    return [(f"FLAG {f.code}", f.message) for f in getattr(result, "flags", [])]


def lgssm_outputs(result, handle: str) -> dict[str, Any]:
    blocks = result.parameter_blocks()
    outputs = {
        "summary": lambda: pairs_block(flag_pairs(result) + [
            ("model", f"LGSSM, {result.params.k_states} factors, VAR({result.params.lags}), exact EM"),
            ("converged", "yes" if result.converged else "NO - raise max_iter"),
            ("iterations", result.n_iter), ("log-likelihood", result.loglik), ("AIC", result.aic),
            ("BIC", result.bic), ("dates", len(result.index)), ("series", result.params.k_endog),
            ("normalisation", result.normalisation), ("handle", handle)]
            + [("note", n) for n in getattr(result, "notes", [])]),
        "params": lambda: stacked_block(blocks),
        "factors": lambda: frame_block(analyst_factors(result).frame()),
        "factors_model": lambda: frame_block(result.factors.join(result.factor_std_errors.add_suffix("_se"))),
        "fitted": lambda: frame_block(result.fitted),
        "rmse": lambda: frame_block(result.rmse.to_frame("RMSE").T, index_label="series"),
        "loglik": lambda: [["loglik"], [result.loglik]],
        "loglik_path": lambda: frame_block(pd.DataFrame({"loglik": result.loglik_path}), index_label="iteration"),
        "params_se": lambda: params_se_block(result),       # the model says whether it has them
        "handle": lambda: [[handle]],
    }
    for name, frame in blocks.items():
        outputs[name] = (lambda name=name, frame=frame: matrix_block(name, frame))
    return outputs


def smooth_outputs(smoothed, unit: str | None = None, model=None, term_premium=None) -> dict[str, Any]:
    """Blocks of a smoothing run; ``unit`` (an ATSM model's yield units) is said in the value headers. With the
    ``model``, factors are restated as average yields and spreads, as the fit's own ``factors`` block. With
    ``term_premium`` (a maker of the smoothed factors' term premia, an ATSM model), a ``term_premium`` block."""
    factors = smoothed.factors
    se = pd.DataFrame(smoothed.std_errors, index=factors.index, columns=list(factors.columns))
    fitted = pd.DataFrame(smoothed.fitted, index=factors.index, columns=smoothed.columns)
    said = (lambda frame: with_unit(frame, unit)) if unit else (lambda frame: frame)
    if model is not None:
        restated = analyst_factors(model, factors, se)
        values = restated.values.rename(columns=restated.labels)
        errors = restated.std_errors.rename(columns={c: f"{restated.labels[c]} s.e." for c in factors.columns})
    else:
        values, errors = said(factors), said(se.add_suffix("_se"))
    return {
        "factors": lambda: frame_block(values),
        "std_errors": lambda: frame_block(errors),
        "factors_se": lambda: frame_block(values.join(errors)),
        "fitted": lambda: frame_block(said(fitted)),
        "loglik": lambda: [["loglik"], [smoothed.loglik]],
        **({"term_premium": lambda: frame_block(said(term_premium()))} if term_premium is not None else {}),
    }


def evaluation_outputs(frames: dict[str, pd.DataFrame], model, method: str) -> dict[str, Any]:
    """Blocks of a model without a Kalman smoother of its own (ACM, AFNS, DNS) evaluated on other dates' curves
    (``model.evaluate_frames``): its factors in the fit's factor units, labelled as the fit's own factors block,
    and what it gives of their standard errors, fitted yields and term premia, in the fit's yield units. An output
    the model does not have says why."""
    unit, factor_unit = model.units, model.factor_units
    factors = with_unit(frames["factors"], factor_unit)

    def refuse(reason: str):
        def make():
            raise InputError(reason)
        return make

    outputs = {"factors": lambda: frame_block(factors)}
    if "factor_std_errors" in frames:
        errors = with_unit(frames["factor_std_errors"].add_suffix("_se"), factor_unit)
        outputs["std_errors"] = lambda: frame_block(errors)
        outputs["factors_se"] = lambda: frame_block(factors.join(errors))
    else:
        kind = ("principal components of the curves" if method == "acm" else "least squares per date")
        outputs["std_errors"] = outputs["factors_se"] = refuse(
            f"{method}'s factors are {kind}: they carry no standard errors (afns and jsz/kalman/em handles do)")
    outputs["fitted"] = lambda: frame_block(with_unit(frames["fitted_yields"], unit))
    if "term_premium" in frames:
        outputs["term_premium"] = lambda: frame_block(with_unit(frames["term_premium"], unit))
    else:
        def no_term_premium():
            model.term_premium_at("10Y")          # raises the model's own reason (DNS: not arbitrage-free)
            raise InputError(f"{method} gives no term premium of new curves")
        outputs["term_premium"] = no_term_premium
    outputs["loglik"] = refuse(f"no likelihood of new curves for {method}: use XLATSM_GET(handle, \"loglik\") "
                               "for the fit's own")
    return outputs


FORECAST_BLOCKS = {"forecast": "yields", "forecast_factors": "factors", "forecast_short_rate": "short_rate",
                   "forecast_term_premium": "term_premium"}


def forecast_outputs(result, horizon: int, level: float = 0.9) -> dict[str, Any]:
    """Forecast blocks of a fit, h = 1..horizon periods after its last date (:func:`xlatsm.forecast.forecast`):
    rows are horizons, then the target date, then per series its mean and the ``level`` band, each header saying
    its unit; the forecast's notes (what the bands hold) under the block. Made when asked for: the forecast is
    computed once per call of any of them."""
    import functools

    @functools.lru_cache(maxsize=1)
    def made():
        from ..forecast import forecast

        return forecast(result, horizon, level=level)

    def block(name: str) -> Block:
        fc = made()
        table = fc.table(name)
        unit = fc.factor_units if name == "factors" else fc.units
        values = [c for c in table.columns if c != "date"]
        table = table.rename(columns={c: f"{c} ({unit})" for c in values})
        rows = frame_block(table, index_label="h")
        notes = [[f"note: {n}"] for n in fc.notes]
        return rectangular(rows + ([[""]] + notes if notes else []))

    return {output: (lambda name=name: block(name)) for output, name in FORECAST_BLOCKS.items()}


HORIZON_OUTPUTS = set(FORECAST_BLOCKS) | {"short_rate_bands"}
FORECAST_HORIZON, SHORT_RATE_HORIZON = 12, 120      # periods ahead when the cell gives no horizon


def horizon_outputs(result, horizon: int | None) -> dict[str, Any]:
    """The blocks that look ahead ``horizon`` periods: the forecasts (default 12) and, for models with it, the
    expected short-rate path with its bands at the last date (default 120)."""
    outputs = forecast_outputs(result, FORECAST_HORIZON if horizon is None else horizon)
    if getattr(type(result), "expected_short_rate_bands", None) is not None:
        outputs["short_rate_bands"] = lambda: bands_block(result.expected_short_rate_bands(
            horizon=SHORT_RATE_HORIZON if horizon is None else horizon, level=0.9, method="delta"))
    return outputs

