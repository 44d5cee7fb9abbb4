"""The spreadsheet functions, once: each converts its cells (:mod:`xlatsm.excel.convert`), calls the core, lays
the result out (:mod:`xlatsm.excel.layout`) through the fit cache (:mod:`xlatsm.excel.cache`), and never raises:
any problem comes back as one cell of text starting ``#xlatsm:`` that says what to fix.

    =ATSM_FIT(yields, [maturities], [n_factors], [output], [method], [yield_units], [maturity_units], [time],
              [horizon])
    =LGSSM_EM(data, k_states, [lags], [output], [max_iter], [measurement_error], [horizon])
    =SMOOTH_STATES(data, model, [output], [yield_units])   model: a handle such as ATSM#3f9a1c or LGSSM#0b12ff
    =XLATSM_GET(model, [output], [horizon])        any block of a fitted model, by handle
    =XLATSM_BANDS(model, [output], [level], [maturity], [method], [n_boot], [seed], [horizon])
                                                   standard errors and bands with their options

``yields``/``data`` are ranges with dates down and maturities/series across; a header row of tenors ("3M",
"10Y") and a first column of dates are detected. ``output`` picks the block that spills ("summary" by default;
see :mod:`xlatsm.excel.layout` for the names). Fits are cached: ten blocks of one range cost one fit, and a
recalculated block is found from a hash of the raw cells before any parsing.

Two thin layers declare these functions to Excel, each with its own runtime's decorators and nothing else:
:mod:`xlatsm.excel.udfs` (classic xlwings: VBA wrappers, Windows) and :mod:`xlatsm.excel.lite` (xlwings Lite:
Office.js custom functions on Windows, macOS and the web). What both declare -- each argument's name, its help
text and whether it is a block of cells -- is recorded here, on the function (:class:`Declaration`).
"""
from __future__ import annotations

import functools
import inspect
import warnings
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ..errors import ConvergenceWarning, InputError, XlatsmError
from . import convert, layout
from .cache import CACHE, raw_key

# A block of cells: always 2-D, blanks as None, error cells as their text ("#N/A": a missing value). These are
# xlwings converter options, which classic xlwings and xlwings Lite both apply to an argument before the call.
RANGE = dict(ndim=2, empty=None, err_to_str=True)
LABELS = dict(ndim=2, empty=None)    # an optional row or column of labels (maturities)


@dataclass(frozen=True)
class Arg:
    name: str
    doc: str
    options: dict | None = None      # xlwings converter options; None: one cell, as the runtime hands it over


@dataclass(frozen=True)
class Declaration:
    """What both declaration layers say about a function: its arguments' help and converter options, and whether
    it may run long (a fit; classic xlwings then runs it in a worker thread)."""
    slow: bool
    args: tuple[Arg, ...]


def declared(slow: bool, *args: Arg):
    """Record the declaration on ``f`` (``f.declaration``), after checking that it names f's parameters."""
    def inner(f):
        names = list(inspect.signature(f).parameters)
        if names != [a.name for a in args]:
            raise TypeError(f"{f.__name__}: declared {[a.name for a in args]}, parameters {names}")
        f.declaration = Declaration(slow, tuple(args))
        return f
    return inner


def declaration_copy(f: Callable, module: str) -> Callable:
    """A new function object calling ``f``, with f's name, docstring, signature and declaration, belonging to
    ``module``. Each runtime's decorators store their metadata on the function object itself (both under
    ``__xlfunc__``), so each declaration layer marks its own copy and the shared function stays unmarked."""
    @functools.wraps(f)
    def copy(*args, **kwargs):
        return f(*args, **kwargs)

    copy.__module__ = module
    copy.__qualname__ = f.__name__
    return copy


# The heavy parts (the estimators, statsmodels, the data layer's parsers) are imported on first use, not when a
# runtime imports this module at every Excel start: see _core().
@functools.lru_cache(maxsize=None)
def _core():
    """The estimators and the data layer, imported once, when the first formula needs them."""
    from ..atsm.methods import fit_atsm
    from ..data import read_observations
    from ..data.align import align_series, align_yields
    from ..ssm import fit_lgssm
    return fit_atsm, fit_lgssm, read_observations, align_yields, align_series


def fit_atsm(*args, **kwargs):
    return _core()[0](*args, **kwargs)


def fit_lgssm(*args, **kwargs):
    return _core()[1](*args, **kwargs)


def cell_error(message: str) -> list[list[str]]:
    text = " ".join(str(message).split())
    return [[f"#xlatsm: {text}"]]


def never_raise(f):
    """Turn every exception into a one-cell ``#xlatsm:`` message (no traceback ever reaches a cell)."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # reported in the summary block instead
                return f(*args, **kwargs)
        except XlatsmError as exc:
            return cell_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - the cell must get text, whatever happened
            if type(exc).__name__ == "LinAlgError":
                return cell_error(f"the fit broke down numerically ({exc}): check the data for outliers, use fewer "
                                  "factors or a shorter sample, or try method \"kalman\"")
            return cell_error(f"could not finish ({type(exc).__name__}: {exc}): check the input range and options; "
                              "if they look right, please report this with the data")
    return wrapper


def _whole(value, name: str, low: int, high: int, default: int) -> int:
    value = convert.scalar(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number from {low} to {high}, got {value!r}") from None
    if number != int(number) or not low <= number <= high:
        raise InputError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


def _check_range(value) -> None:
    if not isinstance(value, (list, tuple)):
        raise InputError("expected a range of cells (dates down, maturities across), got a single value: "
                         "select the whole block")
    if len(value) == 1 and isinstance(value[0], (list, tuple)) and len(value[0]) == 1:
        raise InputError("expected a range of cells (dates down, maturities across), got a single value: "
                         "select the whole block")


def _range(value):
    """A range argument read by the data layer's rules (NaN = blank; blank rows and columns at the edges of the
    selection dropped; dates checked). A single value is not a panel (and must never be read as a file path)."""
    _check_range(value)
    return _core()[2](convert.cells(value))


def _text(value, default: str) -> str:
    value = convert.scalar(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value).strip()


def _handle(value) -> str:
    """The model handle in a cell; a cell that itself shows an error passes that error on (the fix is upstream).
    A range is read as its one non-blank cell (a handle cell selected with the blank cell beside it)."""
    if isinstance(value, (list, tuple)):
        cells = [convert.cell(c) for row in value for c in (row if isinstance(row, (list, tuple)) else [row])]
        filled = [c for c in cells if c is not None and not (isinstance(c, str) and not c.strip())]
        if len(filled) > 1:
            raise InputError(f"the model argument is a range of {len(cells)} cells holding {len(filled)} values: "
                             "point it at the one cell holding the handle (e.g. ATSM#3f9a1c)")
        value = filled[0] if filled else None
    text = _text(value, "")
    if text.startswith("#xlatsm:"):
        raise InputError(f"the model cell shows an error, so there is no model to use; fix that first: "
                         f"{text[len('#xlatsm:'):].strip()}")
    if text.upper().startswith("#N/A WAITING"):
        raise InputError("the model cell is still calculating (it shows #N/A waiting...): this cell updates "
                         "when it is done")
    if text.startswith("#") and text.upper().rstrip("!?") in {"#N/A", "#VALUE", "#REF", "#NAME", "#NUM", "#DIV/0",
                                                              "#NULL", "#SPILL", "#CALC", "#GETTING_DATA", "#BUSY"}:
        raise InputError(f"the model cell shows {text}: fix that cell (or wait while it calculates) first")
    if not text:
        raise InputError("give the model handle, e.g. the cell holding =ATSM_FIT(A1:K300,,,\"handle\")")
    return text


def _maturities(value):
    """An optional row/column of maturities (tenors or numbers), flattened."""
    value = convert.cells(value)
    if value is None:
        return None
    cells = [c for row in (value if isinstance(value, list) else [[value]]) for c in
             (row if isinstance(row, list) else [row])]
    cells = [c for c in cells if c is not None and str(c).strip()]
    return cells or None


def _cached_block(kind: str, cells, options: dict, output: str, fit, outputs, horizon: int | None):
    """One block of a cached fit. The cache is found from a hash of the raw cells and options *before* any
    parsing; a block already laid out is returned as it is (a recalculation is a hash and a look-up). The
    forecast horizon is not a fit option (a longer forecast needs no refit): it is part of the block's name."""
    raw = raw_key(kind, cells, options)
    name = f"{output} h={horizon}" if output.strip().lower() in layout.HORIZON_OUTPUTS else output
    block = CACHE.block(raw, name)
    if block is not None:
        return block
    found = CACHE.result_for_raw(raw)
    result, key = found if found is not None else fit()
    makers = CACHE.outputs(key, lambda: outputs(result, CACHE.handle(kind, key)))
    makers = {**makers, **layout.horizon_outputs(result, horizon)}
    block = layout.choose(makers, output)
    CACHE.remember(raw, key, name, block)
    return block


def _horizon(value) -> int | None:
    """Periods ahead, or None for each block's own default (forecasts 12, the short-rate path 120)."""
    return _whole(value, "horizon", 1, 1200, None)


# ----------------------------------------------------------------------------------------------------------------
# the functions
# ----------------------------------------------------------------------------------------------------------------
@declared(
    True,
    Arg("yields", "zero-coupon yields: dates down, maturities across (header row of tenors)", RANGE),
    Arg("maturities", "optional maturities if the range has no header (tenors or months)", LABELS),
    Arg("n_factors", "number of factors, 1-5 (default 3; acm: 5)"),
    Arg("output", "block to return: summary, params, factors, fitted, errors, term_premium, loadings, K1_P, "
                  "Sigma_P, K1_Q, lambda_1, ..., params_se, term_premium_bands, short_rate_bands, forecast, "
                  "forecast_factors, forecast_short_rate, forecast_term_premium, handle"),
    Arg("method", "auto (default: jsz, or kalman when cells are blank), jsz, kalman, em, acm, afns or dns"),
    Arg("yield_units", "auto (default), percent, decimal or bp"),
    Arg("maturity_units", "auto (default), months or years: how numeric maturities are meant"),
    Arg("time", "discrete (default: the model in periods of the data) or continuous (jsz, kalman, em)"),
    Arg("horizon", "periods ahead: forecast outputs (default 12), short_rate_bands (default 120)"))
@never_raise
def ATSM_FIT(yields, maturities=None, n_factors=None, output="summary", method="auto", yield_units="auto",
             maturity_units="auto", time="discrete", horizon=None):
    """Fit a Gaussian affine term structure model (JSZ canonical form) and return one labelled block."""
    _check_range(yields)
    method = _text(method, "auto").lower()
    options = dict(maturities=_maturities(maturities),
                   n_factors=_whole(n_factors, "n_factors", 1, 10 if method == "acm" else 5, None),
                   method=method, yield_units=_text(yield_units, "auto").lower(),
                   maturity_units=_text(maturity_units, "auto").lower(), time=_text(time, "discrete").lower())
    horizon = _horizon(horizon)

    def fit():
        obs = _range(yields)
        if options["maturities"] is not None and len(options["maturities"]) != obs.values.shape[1]:
            raise InputError(f"{len(options['maturities'])} maturities given for {obs.values.shape[1]} yield "
                             "columns: give one maturity per column")
        return CACHE.get_or_fit_key("ATSM", obs.frame, options, lambda: fit_atsm(
            obs, maturities=options["maturities"], n_factors=options["n_factors"], method=options["method"],
            yield_units=options["yield_units"], maturity_units=options["maturity_units"], time=options["time"]))

    return _cached_block("ATSM", yields, options, _text(output, "summary"), fit, layout.atsm_outputs, horizon)


@declared(
    True,
    Arg("data", "observations: dates down, series across", RANGE),
    Arg("k_states", "number of factors (fewer than series)"),
    Arg("lags", "VAR lags of the factors (default 1)"),
    Arg("output", "block to return: summary, params, A_1, C, Q, R, d, c, factors, fitted, rmse, loglik, "
                  "params_se, forecast, forecast_factors, handle"),
    Arg("max_iter", "EM iteration cap (default 5000)"),
    Arg("measurement_error", "diagonal (default: one variance per series), common (one for all) or full"),
    Arg("horizon", "periods ahead for the forecast outputs (default 12)"))
@never_raise
def LGSSM_EM(data, k_states=None, lags=1, output="summary", max_iter=5000, measurement_error="diagonal",
             horizon=None):
    """Fit a linear Gaussian state-space model with VAR(L) factors by exact EM and return one labelled block."""
    _check_range(data)
    if convert.scalar(k_states) is None:
        raise InputError("give k_states, the number of factors (e.g. 3)")
    options = dict(k_states=_whole(k_states, "k_states", 1, 50, 1), lags=_whole(lags, "lags", 1, 12, 1),
                   max_iter=_whole(max_iter, "max_iter", 1, 100000, 5000),
                   measurement_error=_text(measurement_error, "diagonal").lower())
    horizon = _horizon(horizon)

    def fit():
        obs = _range(data)
        return CACHE.get_or_fit_key("LGSSM", obs.frame, options, lambda: fit_lgssm(
            obs, options["k_states"], lags=options["lags"], max_iter=options["max_iter"],
            measurement_error=options["measurement_error"]))

    return _cached_block("LGSSM", data, options, _text(output, "summary"), fit, layout.lgssm_outputs, horizon)


@declared(
    False,
    Arg("data", "observations with the same columns the model was fitted to", RANGE),
    Arg("model", "a model handle from ATSM_FIT(...,\"handle\") or LGSSM_EM(...,\"handle\")"),
    Arg("output", "factors (default), std_errors, factors_se, fitted, term_premium (ATSM), loglik"),
    Arg("yield_units", "auto (default), percent, decimal or bp: the units of these yields (ATSM models)"))
@never_raise
def SMOOTH_STATES(data, model=None, output="factors", yield_units="auto"):
    """Factors of (new) data under a fitted model: Kalman-smoothed (jsz/kalman/em, afns, LGSSM), the model's own
    rule otherwise (acm: principal components, dns: least squares). Columns are matched to the model's by label
    (any order); yields are converted to the model's units."""
    text = _handle(model)
    result = CACHE.lookup(text)
    obs = _range(data)
    align_yields, align_series = _core()[3:5]
    is_atsm = text.upper().startswith("ATSM#")
    if is_atsm and not hasattr(result, "smooth"):
        # ACM, AFNS, DNS: the model's own evaluation of other dates' curves (AFNS: its Kalman smoother)
        frames = result.evaluate_frames(obs, yield_units=_text(yield_units, "auto"))
        method = type(result).__name__.replace("Result", "").lower()          # acm, afns, dns
        return layout.choose(layout.evaluation_outputs(frames, result, method), _text(output, "factors"))
    if is_atsm:
        panel = result.panel
        frame = align_yields(obs, panel.maturities, panel.labels, panel.yield_units, _text(yield_units, "auto"),
                             model_level=panel.median_level)
    else:
        frame = align_series(obs, result.columns).frame
    smoothed = result.smooth(frame)
    unit = result.units if is_atsm else None
    premia = (lambda: _smoothed_term_premium(result, smoothed)) if is_atsm else None
    return layout.choose(layout.smooth_outputs(smoothed, unit, result, premia), _text(output, "factors"))


def _smoothed_term_premium(result, smoothed):
    """Term premia at the fitted maturities of a JSZ model's smoothed factors (fit's yield units)."""
    if getattr(result, "time", "discrete") != "discrete":
        raise InputError("term premia of new curves are computed for time='discrete' fits only: read this fit's own "
                         "with ATSM_FIT(..., \"term_premium\")")
    from ..atsm.results import term_premium_values

    states = smoothed.factors.to_numpy(float) / result.scale
    premia = term_premium_values(result.params, states, result.params.structure.periods) * result.scale
    return pd.DataFrame(premia, index=smoothed.factors.index, columns=list(result.panel.labels))


@declared(
    False,
    Arg("model", "a model handle such as ATSM#3f9a1c"),
    Arg("output", "the block to return (as in ATSM_FIT / LGSSM_EM)"),
    Arg("horizon", "periods ahead: forecast outputs (default 12), short_rate_bands (default 120)"))
@never_raise
def XLATSM_GET(model=None, output="summary", horizon=None):
    """Any block of a fitted model, by its handle."""
    text = _handle(model)
    horizon = _horizon(horizon)
    result, key = CACHE.lookup_key(text)
    kind = "ATSM" if text.upper().startswith("ATSM#") else "LGSSM"
    outputs = layout.atsm_outputs if kind == "ATSM" else layout.lgssm_outputs
    return _cached_block(kind, [[text]], {"accessor": True}, _text(output, "summary"), lambda: (result, key),
                         outputs, horizon)


BAND_METHODS = ("delta", "robust", "bootstrap")


@declared(
    True,
    Arg("model", "a model handle: ATSM_FIT(...,\"handle\") with method jsz, kalman, em or acm; LGSSM_EM for "
                 "params_se"),
    Arg("output", "term_premium_bands (default), short_rate_bands or params_se"),
    Arg("level", "probability of the bands, between 0 and 1 (default 0.9)"),
    Arg("maturity", "maturity of the term premium, a tenor such as 10Y (default) or 5Y"),
    Arg("method", "delta (default: delta method), robust (sandwich information) or bootstrap"),
    Arg("n_boot", "bootstrap refits (default 199)"),
    Arg("seed", "bootstrap random seed (default 0)"),
    Arg("horizon", "short_rate_bands: months ahead (default 120)"))
@never_raise
def XLATSM_BANDS(model=None, output="term_premium_bands", level=0.9, maturity="10Y", method="delta", n_boot=199,
                 seed=0, horizon=120):
    """Standard errors and bands of a fitted term structure model, by its handle, with their options."""
    text = _handle(model)
    result, key = CACHE.lookup_key(text)     # a model without standard errors or bands says so itself
    chosen = _text(method, "delta").lower()
    if chosen not in BAND_METHODS:
        raise InputError(f"method must be one of {', '.join(BAND_METHODS)}, not {chosen!r}")
    probability = convert.scalar(level)
    options = dict(output=_text(output, "term_premium_bands"), method=chosen,
                   level=0.9 if probability is None else probability, maturity=_text(maturity, "10Y"),
                   n_boot=_whole(n_boot, "n_boot", 1, 100000, 199), seed=_whole(seed, "seed", 0, 2 ** 31 - 1, 0),
                   horizon=_whole(horizon, "horizon", 1, 1200, 120))
    raw = raw_key("BANDS", [[text]], options)
    block = CACHE.block(raw, "bands")
    if block is None:
        makers = layout.bands_outputs(result, options["level"], options["maturity"], chosen, options["n_boot"],
                                      options["seed"], options["horizon"])
        block = layout.choose(makers, options["output"])
        CACHE.remember(raw, key, "bands", block)
    return block


FUNCTIONS = [ATSM_FIT, LGSSM_EM, SMOOTH_STATES, XLATSM_GET, XLATSM_BANDS]
"""Every spreadsheet function; each declaration layer declares each of them once."""
