"""The report a desk would send around, for every model: what was fitted, the flags of the fit, key figures,
charts (factors in analyst units with bands, fit, errors, term premium), parameter tables and the summary.

``report(result, path)`` picks the layout by the result's type (ATSM, LGSSM) and writes HTML (``.html``) or PDF
(``.pdf``); ``atsm_report``/``lgssm_report`` build the :class:`~xlatsm.report.document.Document` and write HTML.
Outputs at maturities outside the fitted range carry the extrapolation mark (:mod:`xlatsm.extrapolation`).
"""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .. import extrapolation
from .charts import plot_bars, plot_curves, plot_factors, plot_lines
from .document import Document
from .factors import analyst_factors

ATSM_TABLES = ("lambda_Q", "r_inf_Q", "K1_P", "K0_P", "Sigma_P", "K1_Q", "lambda_0", "lambda_1", "sigma_e")


def _period(index) -> str:
    return f"{index[0]:%Y-%m} to {index[-1]:%Y-%m}" if hasattr(index[0], "strftime") else f"{index[0]}..{index[-1]}"


def _flags_with_extrapolation(result, maturities) -> list:
    flags = list(getattr(result, "flags", []) or [])
    fitted = extrapolation.fitted_maturities(result)
    if len(fitted) and maturities:
        extra = extrapolation.flag(fitted, maturities, "outputs shown")
        if extra is not None and not any(f.code == "extrapolated" for f in flags):
            flags.append(extra)
    return flags


def headline_term_premium(result, maturity="10Y"):
    """``(series, Extrapolation)``: the term premium at ``maturity``, its name carrying the mark when outside the
    fitted maturities (:func:`xlatsm.extrapolation.term_premium`)."""
    return extrapolation.term_premium(result, maturity)


def has_term_premium(result) -> bool:
    """Whether the model defines term premia (dynamic Nelson-Siegel does not: it is not arbitrage-free)."""
    return not no_term_premium_reason(result)


def no_term_premium_reason(result) -> str:
    """The model's own words for why it has no term premium (the ModelError its ``term_premium_at`` raises), or
    "" when it has one."""
    from ..errors import ModelError

    try:
        result.term_premium_at(result.panel.labels[-1])
    except ModelError as exc:
        return str(exc)
    return ""


def is_jsz(result) -> bool:
    """The JSZ canonical-form ATSM (methods jsz, kalman, em): its factors are portfolios of yields, W y."""
    return hasattr(getattr(result, "params", None), "structure")


def describe_model(result) -> str:
    """One sentence naming the model, its estimator and its factors."""
    if is_jsz(result):
        requested = getattr(result, "method_requested", "") or result.method
        method = result.method if requested == result.method else f"{result.method} (requested {requested})"
        clock = ", continuous time (K, theta, Sigma per year)" if getattr(result, "time", "") == "continuous" else ""
        return (f"Gaussian affine term structure model, JSZ canonical form{clock}, {result.n_factors} factors, "
                f"method {method}")
    if result.method == "acm":
        return (f"Adrian-Crump-Moench (2013) regression model: {result.n_factors} principal components of the "
                "yields (standardised), VAR(1) by OLS, prices of risk from excess-return regressions; method acm")
    if result.method == "afns":
        return (f"arbitrage-free Nelson-Siegel model (Christensen-Diebold-Rudebusch 2011), {result.version} "
                f"factors level, slope, curvature by Kalman maximum likelihood, lambda {result.lam:.4f} per year; "
                "method afns")
    if result.method in ("two_step", "one_step"):
        how = ("Diebold-Li two-step: least squares per date, then the factors' dynamics by OLS"
               if result.method == "two_step" else "Diebold-Rudebusch-Aruoba one-step: Kalman maximum likelihood")
        return (f"dynamic Nelson-Siegel model ({how}), factors level, slope, curvature, lambda {result.lam:.4f} per "
                "month of maturity; method dns, not arbitrage-free, so it has no term premium")
    return f"{getattr(result, 'model_name', 'term structure model')}, method {result.method}"


def _loadings_caption(result, units: str) -> str:
    if is_jsz(result):
        return f"y(maturity) = A + B'P; A in {units}, B unit-free"
    if result.method == "acm":
        return f"y(maturity) = A + B'X, X the standardised principal components; A and B in {units}"
    if result.method == "afns":
        return f"y(maturity) = A + B'X; A (the yield adjustment) in {units}, B the Nelson-Siegel loadings, unit-free"
    return "y(maturity) = B'(level, slope, curvature): the Nelson-Siegel loadings, unit-free"


def atsm_document(result, title: str = "Term structure model report", headline="10Y",
                  charts: list | None = None, comparison=None) -> Document:
    """The report of a term structure model (JSZ, ACM, AFNS or DNS); ``charts`` are :func:`atsm_charts` already
    drawn (else drawn in a temporary folder). A model without term premia (DNS) says so in their place. With a
    ``comparison`` (:func:`xlatsm.report.comparison.compare_models` on the same panel) its section is added."""
    units = result.units
    doc = Document(title)
    why_no_tp = no_term_premium_reason(result)
    doc.para(f"{describe_model(result)}; {len(result.panel.dates)} dates {_period(result.panel.dates)}; fitted "
             f"maturities {', '.join(result.panel.labels)}; yields in {units}, pricing errors in bp. Converged: "
             f"{'yes' if getattr(result, 'converged', True) else 'NO'}. Generated {dt.datetime.now():%Y-%m-%d %H:%M} "
             "by xlatsm.")
    doc.heading("Flags of the fit")
    doc.flags(_flags_with_extrapolation(result, [] if why_no_tp else [headline]))
    note = None if why_no_tp else extrapolation.short_rate_note(result)
    if note:
        doc.para("Note: " + note + ".")
    kpis = [("mean pricing error", f"{result.pricing_errors.mean():.1f}", "bp")]
    if why_no_tp:
        doc.para(f"Term premia: not defined; {why_no_tp}.")
    else:
        tp, where = headline_term_premium(result, headline)
        kpis = [(f"term premium {where.text}, last", f"{tp.iloc[-1]:.2f}", units),
                ("mean", f"{tp.mean():.2f}", units)] + kpis
    doc.kpis(kpis)
    af = analyst_factors(result)
    with tempfile.TemporaryDirectory() as tmp:
        for png, caption in charts or atsm_charts(result, Path(tmp), headline, af):
            doc.figure(png, caption)
    doc.heading("Factors")
    if is_jsz(result):
        doc.para("Factors are shown as the portfolios of yields they are: " + "; ".join(af.labels.values()) +
                 ". The weights (each factor's dominant side sums to one) are below; the model's parameters are in "
                 "its own factor units (unit-length principal-component weights).")
        doc.table(af.weights, "Factor weights on the fitted yields", 3)
    else:
        doc.para("Factors in the model's own units: " + "; ".join(af.labels.values()) + ".")
    doc.heading("Pricing errors (RMSE, bp)")
    doc.table(result.pricing_errors.to_frame().T, "", 3)
    doc.heading("Loadings")
    shown = list(result.panel.labels) + ([] if why_no_tp else [headline_term_premium(result, headline)[1].label])
    doc.table(extrapolation.marked_loadings(result, shown), _loadings_caption(result, units), 4)
    if comparison is not None:
        from .comparison import add_comparison_section

        add_comparison_section(doc, comparison)
    doc.heading("Parameters")
    for name, block in result.parameter_blocks().items():
        if name in ATSM_TABLES or not is_jsz(result):
            doc.table(block, name)
    doc.heading("Summary")
    doc.pre(result.summary())
    return doc


def add_bands_section(doc: Document, term_premium_bands=None, short_rate_bands=None, charts: list | None = None,
                      why_not: str = "") -> None:
    """The fit's uncertainty: the headline term premium and the expected short-rate path with their bands
    (frames of ``result.term_premium_bands`` / ``result.expected_short_rate_bands``, drawn by
    :func:`xlatsm.report.charts.band_figure` unless ``charts`` are given), the bands' width and what they hold
    fixed; or, for a model without them, ``why_not``. Placed before the report's parameter tables."""
    whole, doc = doc, Document("")
    _bands_section(doc, term_premium_bands, short_rate_bands, charts, why_not)
    whole.merge(doc, before="Parameters")


def _bands_section(doc, term_premium_bands, short_rate_bands, charts, why_not) -> None:
    from .charts import plot_bands

    doc.heading("Uncertainty: bands on the term premium and the expected short rate")
    if term_premium_bands is None:
        doc.para(f"Bands: not available; {why_not}.")
        return
    tp, attrs = term_premium_bands, term_premium_bands.attrs
    level = attrs.get("level", float("nan"))
    units = attrs.get("units", "")
    width = (tp["upper"] - tp["lower"])
    doc.para(f"{level:.0%} bands by the {attrs.get('method', '')} method. {attrs.get('what', 'term premium')}: "
             f"last {tp['estimate'].iloc[-1]:.2f} ({tp['lower'].iloc[-1]:.2f} to {tp['upper'].iloc[-1]:.2f}) "
             f"{units}; band width median {width.median():.2f}, last {width.iloc[-1]:.2f} {units}.")
    with tempfile.TemporaryDirectory() as tmp:
        drawn = charts or [(plot_bands(tp, Path(tmp) / "tp_bands.png"), "term premium bands")] + (
            [(plot_bands(short_rate_bands, Path(tmp) / "short_bands.png"), "expected short rate bands")]
            if short_rate_bands is not None else [])
        for png, caption in drawn:
            doc.figure(png, caption)
    for note in attrs.get("notes", []):
        doc.para(f"Note: {note}.")


def add_forecast_section(doc: Document, fc, charts: list | None = None) -> None:
    """A forecast's section (:func:`xlatsm.forecast.forecast`): what was forecast from where, the chart
    (:func:`xlatsm.forecast.plot_forecast`, drawn here unless given), the yield forecasts' means and bands and, where
    the model has them, the term premia's means. Placed before the report's parameter tables."""
    whole, doc = doc, Document("")
    _forecast_section(doc, fc, charts)
    whole.merge(doc, before="Parameters")


def _forecast_section(doc, fc, charts) -> None:
    from ..forecast import plot_forecast

    pct = f"{fc.level * 100:g}%"
    doc.heading("Forecasts")
    doc.para(f"{fc.model}: forecasts 1 to {fc.horizon} periods ahead from {_date_label(fc.origin)}, means with "
             f"central {pct} bands (normal forecast distribution of the fitted dynamics); yields in {fc.units}.")
    with tempfile.TemporaryDirectory() as tmp:
        for png, caption in charts or [(Path(plot_forecast(fc, Path(tmp) / "forecast.png")), "forecast")]:
            doc.figure(png, caption)
    for name, what in (("yields", "Yields"), ("term_premium", "Term premia")):
        if name in fc.blocks:
            mean, lower, upper = fc.mean(name), fc.lower(name), fc.upper(name)
            table = pd.concat({"mean": mean, f"lower {pct}": lower, f"upper {pct}": upper}, axis=1)
            table = table.swaplevel(axis=1)[list(mean.columns)]
            table.index = [_date_label(d) for d in fc.target_dates]
            doc.table(table, f"{what}: forecast means and {pct} bands ({fc.units})", 4)
    if fc.no_term_premium:
        doc.para(f"Term premia: not forecast; {fc.no_term_premium}.")
    for note in getattr(fc, "notes", []) or []:
        doc.para(f"Note: {note}.")


def _date_label(value) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def _why_no_bands(result) -> str:
    """Why a model's factor chart has no +-2 s.e. bands ("" when it has them)."""
    if result.method == "jsz":
        return "observed exactly: jsz prices the factor portfolios without error, so there are no bands"
    if result.method == "acm":
        return "observed: acm's factors are principal components of the yields, so there are no bands"
    if result.method == "two_step":
        return "least squares per date (dns two-step), so there are no bands"
    return ""


def atsm_charts(result, folder: Path, headline="10Y", af=None) -> list[tuple[Path, str]]:
    """The ATSM's charts as PNGs in ``folder``: factors.png, fitted_curve.png, pricing_errors.png and
    term_premium_<10y>.png (file name by the headline maturity; none for a model without term premia, DNS)."""
    units = result.units
    af = af or analyst_factors(result)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    why = _why_no_bands(result)
    charts = [
        (plot_factors(af.values, folder / "factors.png", None if why else af.std_errors, af.labels,
                      "Yield-curve factors", why), "factors"),
        (plot_curves(result.panel.maturities, result.panel.frame, result.fitted_yields, folder / "fitted_curve.png",
                     f"yield ({units})"), "fitted curve"),
        (plot_bars(result.pricing_errors, folder / "pricing_errors.png", "Pricing errors, RMSE by maturity",
                   "RMSE (bp)"), "pricing errors"),
    ]
    if has_term_premium(result):
        tp, where = headline_term_premium(result, headline)
        years = float(extrapolation.to_years(headline)[0])
        tp_title = f"{where.label} term premium ({units})" + (f", {where.mark}: dashed" if where.extrapolated else "")
        charts.append((plot_lines(tp.to_frame(), folder / f"term_premium_{years:g}y.png", tp_title,
                                  f"term premium ({units})", dashed={tp.name} if where.extrapolated else set()),
                       "term premium"))
    return charts


def lgssm_document(result, title: str = "State-space model report", units: str = "data's units",
                   charts: list | None = None) -> Document:
    """The LGSSM report; ``charts`` are :func:`lgssm_charts` already drawn (else drawn in a temporary folder)."""
    p = result.params
    doc = Document(title)
    doc.para(f"Linear Gaussian state-space model (dynamic factor model) by exact EM: {p.k_states} factors, "
             f"VAR({p.lags}), {p.k_endog} series ({', '.join(map(str, result.columns))}), {len(result.index)} dates "
             f"{_period(result.index)}, {result.n_obs_cells} observed cells; measurement error "
             f"{result.measurement_error}; series in {units}. Log-likelihood {result.loglik:.4f} after "
             f"{result.n_iter} EM iterations; converged: {'yes' if result.converged else 'NO'}. Generated "
             f"{dt.datetime.now():%Y-%m-%d %H:%M} by xlatsm.")
    doc.heading("Flags of the fit")
    doc.flags(list(getattr(result, "flags", []) or []))
    rmse = result.rmse
    doc.kpis([("mean RMSE", f"{rmse.mean():.3g}", units), ("log-likelihood", f"{result.loglik:.1f}", ""),
              ("EM iterations", str(result.n_iter), "")])
    af = _lgssm_factors(result, units)
    with tempfile.TemporaryDirectory() as tmp:
        for png, caption in charts or lgssm_charts(result, Path(tmp), units, af):
            doc.figure(png, caption)
    doc.heading("Factors")
    doc.para("Factors are shown as the portfolios of the smoothed series they are (the reported normalisation "
             "has orthonormal loadings, C'C = I): " + "; ".join(af.labels.values()) + ". " + af.note + ".")
    doc.table(af.weights, "Factor weights on the series", 3)
    doc.heading("RMSE of the smoothed fit by series")
    doc.table(rmse.to_frame(f"RMSE ({units})").T, "", 3)
    doc.heading("Parameters")
    for name, block in result.parameter_blocks().items():
        if name == "R" and result.measurement_error != "full":
            block = pd.DataFrame({"R_ii": np.diag(block.to_numpy())}, index=block.index)
        doc.table(block, {"d": "d (state intercept)", "c": "c (observation intercept)", "Q": "Q (factor shocks)",
                          "C": "C (loadings)", "R": "R (measurement error)"}.get(name, name))
    doc.heading("Summary")
    doc.pre(result.summary())
    return doc


def _lgssm_factors(result, units: str):
    af = analyst_factors(result)
    if units != "data's units":
        af.labels = {k: v.replace("(data's units)", f"({units})") for k, v in af.labels.items()}
    return af


def lgssm_charts(result, folder: Path, units: str = "data's units", af=None) -> list[tuple[Path, str]]:
    """The LGSSM's charts: smoothed_factors.png (with bands), rmse.png, and fitted_curve.png when every series
    is a maturity."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    af = af or _lgssm_factors(result, units)
    unit = "bp" if units == "percent" else units
    rmse = result.rmse * (100.0 if units == "percent" else 1.0)
    out = [(plot_factors(af.values, folder / "smoothed_factors.png", af.std_errors, af.labels,
                         "Smoothed factors"), "smoothed factors"),
           (plot_bars(rmse, folder / "rmse.png", "RMSE of the smoothed fit by series", f"RMSE ({unit})",
                      "series"), "rmse")]
    fitted = extrapolation.fitted_maturities(result)
    if len(fitted) == len(result.columns):
        observed = pd.DataFrame(result.data, index=result.index, columns=result.columns)
        out.append((plot_curves(fitted, observed, result.fitted, folder / "fitted_curve.png", f"yield ({units})"),
                    "fitted curve"))
    return out


def _write(doc: Document, path, pdf_route: str = "auto") -> Path:
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        return doc.write_pdf(path, pdf_route)
    return doc.write_html(path)


def atsm_report(result, path, title: str = "Term structure model report", headline="10Y") -> Path:
    """Write the ATSM report (HTML, or PDF when ``path`` ends in .pdf)."""
    return _write(atsm_document(result, title, headline), path)


def lgssm_report(result, path, title: str = "State-space model report", units: str = "data's units") -> Path:
    """Write the LGSSM report (HTML, or PDF when ``path`` ends in .pdf)."""
    return _write(lgssm_document(result, title, units), path)


def generic_document(result, title: str = "Model report", units: str = "") -> Document:
    """The report of a model with no layout of its own (a method added later): the same parts where the result
    has them: ``flags``, ``factors`` with ``factor_std_errors`` (bands), ``rmse`` or ``pricing_errors``,
    ``parameter_blocks()``, ``summary()``."""
    doc = Document(title)
    doc.para(f"{type(result).__name__}" + (f", converged: {'yes' if result.converged else 'NO'}"
                                           if hasattr(result, "converged") else "") +
             f". Generated {dt.datetime.now():%Y-%m-%d %H:%M} by xlatsm.")
    doc.heading("Flags of the fit")
    doc.flags(list(getattr(result, "flags", []) or []))
    unit = f" ({units})" if units else ""
    with tempfile.TemporaryDirectory() as tmp:
        factors = getattr(result, "factors", None)
        if isinstance(factors, pd.DataFrame):
            se = getattr(result, "factor_std_errors", None)
            labels = {c: f"{c}: factor{unit}" for c in factors.columns}
            doc.figure(plot_factors(factors, Path(tmp) / "factors.png", se if isinstance(se, pd.DataFrame) else None,
                                    labels, "Factors"), "factors")
        errors = getattr(result, "rmse", None)
        errors = errors if isinstance(errors, pd.Series) else getattr(result, "pricing_errors", None)
        if isinstance(errors, pd.Series):
            doc.figure(plot_bars(errors, Path(tmp) / "rmse.png", "RMSE by series", f"RMSE{unit or ' (data units)'}",
                                 "series"), "rmse")
            doc.heading("RMSE by series")
            doc.table(errors.to_frame().T, "", 3)
    if hasattr(result, "parameter_blocks"):
        doc.heading("Parameters")
        for name, block in result.parameter_blocks().items():
            doc.table(block, name)
    if hasattr(result, "summary"):
        doc.heading("Summary")
        doc.pre(result.summary())
    return doc


def build_document(result, title: str | None = None, **options) -> Document:
    """The report of any fitted model, by its type (ATSM, LGSSM; any other result gets :func:`generic_document`)."""
    if hasattr(result, "panel") and hasattr(result, "term_premium_at"):
        return atsm_document(result, title or "Term structure model report", **options)
    if hasattr(result, "params") and hasattr(result.params, "C") and hasattr(result, "smoothed_states"):
        return lgssm_document(result, title or "State-space model report", **options)
    return generic_document(result, title or "Model report", options.get("units", ""))


def report(result, path, title: str | None = None, pdf_route: str = "auto", **options) -> Path:
    """Write the report of any fitted model: HTML for ``.html``, PDF for ``.pdf``."""
    return _write(build_document(result, title, **options), path, pdf_route)
