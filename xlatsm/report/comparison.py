"""Several term-structure models on the same panel, side by side: pricing errors by maturity and the headline
(10-year) term premium's correlations across models.

    >>> cmp = compare_models(yields)                       # JSZ, AFNS, ACM, DNS
    >>> print(cmp.table())
    >>> cmp.pricing_errors                                 # models x maturities, RMSE in bp
    >>> cmp.term_premia.corr()                             # == cmp.correlations

Every model is fitted by :func:`xlatsm.fit_atsm` to the same input read the same way (same dates, maturities and
units), so the cells are the same for all. Numbers are the fits' own: row ``m`` of ``pricing_errors`` is
``fits[m].pricing_errors`` (root mean squared yield error per maturity over the observed cells, basis points);
column ``m`` of ``term_premia`` is ``fits[m].term_premium_at(headline)`` (the yields' units). ``correlations`` are
Pearson correlations of the term-premium levels over the common dates (pandas ``DataFrame.corr``),
``change_correlations`` those of their period-to-period changes (``term_premia.diff().corr()``).

A model without term premia (dynamic Nelson-Siegel: it is not arbitrage-free, so there is no risk-neutral measure)
is in the pricing-error table and not in the term-premium ones; ``no_term_premium`` says why, in the model's words.

No matplotlib here (charts: :mod:`xlatsm.report.charts_compare`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import extrapolation
from ..errors import InputError, ModelError

__all__ = ["compare_models", "ComparisonResult", "DEFAULT_METHODS", "MODEL_LABELS"]

# "auto" is JSZ by its own likelihood on a complete panel and by the Kalman filter when cells are blank
DEFAULT_METHODS = ("auto", "afns", "acm", "dns")
#: the table's name of each fit_atsm method
MODEL_LABELS = {"auto": "JSZ", "jsz": "JSZ", "kalman": "JSZ (Kalman)", "em": "JSZ (EM)", "acm": "ACM",
                "afns": "AFNS", "dns": "DNS"}


@dataclass
class ComparisonResult:
    """Models fitted to one panel (see the module docstring).

    ``fits`` label -> fitted result; ``pricing_errors`` (models x maturities, RMSE in bp); ``term_premia`` (dates x
    models with a term premium, in ``units``) at ``headline``; ``no_term_premium`` label -> why not; ``seconds``
    per fit; ``notes`` (e.g. an extrapolated headline)."""

    fits: dict
    pricing_errors: pd.DataFrame
    term_premia: pd.DataFrame
    headline: str
    units: str
    no_term_premium: dict = field(default_factory=dict)
    seconds: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    notes: list = field(default_factory=list)

    @property
    def correlations(self) -> pd.DataFrame:
        """Correlations of the headline term premia (levels) across models."""
        return self.term_premia.corr()

    @property
    def change_correlations(self) -> pd.DataFrame:
        """Correlations of the headline term premia's period-to-period changes across models."""
        return self.term_premia.diff().corr()

    @property
    def term_premium_stats(self) -> pd.DataFrame:
        """Mean, standard deviation, minimum, maximum and last value of each model's headline term premium."""
        tp = self.term_premia
        last = tp.index[-1]
        return pd.DataFrame({"mean": tp.mean(), "std": tp.std(), "min": tp.min(), "max": tp.max(),
                             f"last ({last:%Y-%m})" if hasattr(last, "strftime") else "last": tp.iloc[-1]})

    @property
    def errors_table(self) -> pd.DataFrame:
        """``pricing_errors`` with the mean over maturities as a last column (bp)."""
        table = self.pricing_errors.copy()
        table["mean"] = table.mean(axis=1)
        return table

    @property
    def flags(self) -> list[tuple[str, object]]:
        """``(label, Flag)`` for every flag of every fit: a comparison hides none of them."""
        return [(label, flag) for label, fit in self.fits.items() for flag in getattr(fit, "flags", []) or []]

    @property
    def panel(self):
        return next(iter(self.fits.values())).panel

    def describe_panel(self) -> str:
        panel = self.panel
        dates = panel.dates
        period = f"{dates[0]:%Y-%m}..{dates[-1]:%Y-%m}" if hasattr(dates[0], "strftime") else f"{dates[0]}..{dates[-1]}"
        return (f"{len(dates)} dates {period}, maturities {', '.join(panel.labels)}, yields in {self.units}")

    def table(self) -> str:
        """The comparison as plain text: pricing errors (bp) by maturity, the headline term premium's correlations
        (levels and changes) and its mean, std and last value; a model without term premia says why."""
        lines = [f"Model comparison on one panel: {self.describe_panel()}", "",
                 "Pricing errors, RMSE by maturity (bp)", _text(self.errors_table, "{:.2f}"), ""]
        head = f"{self.headline} term premium ({self.units})"
        if self.term_premia.shape[1]:
            lines += [f"{head}: correlations of levels", _text(self.correlations, "{:.3f}"), "",
                      f"{head}: correlations of changes", _text(self.change_correlations, "{:.3f}"), "",
                      f"{head}: statistics", _text(self.term_premium_stats, "{:.3f}"), ""]
        lines += [f"{label}: no term premium; {why}" for label, why in self.no_term_premium.items()]
        lines += [f"FLAG {label} {flag.code}: {flag.message}" for label, flag in self.flags]
        lines += [f"Note: {n}" for n in self.notes]
        lines.append("Fit time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in self.seconds.items()))
        return "\n".join(lines)

    def markdown(self) -> str:
        """The pricing-error and correlation tables as Markdown (for a README)."""
        out = ["| RMSE (bp) | " + " | ".join(map(str, self.errors_table.columns)) + " |",
               "|---|" + "---:|" * self.errors_table.shape[1]]
        out += _md_rows(self.errors_table, "{:.1f}")
        if self.term_premia.shape[1]:
            corr = self.correlations
            out += ["", f"| {self.headline} term premium, correlation | " + " | ".join(corr.columns) + " |",
                    "|---|" + "---:|" * corr.shape[1]]
            out += _md_rows(corr, "{:.2f}")
        return "\n".join(out)

    def summary(self) -> str:
        return self.table()

    def __str__(self) -> str:
        return self.table()


def _text(frame: pd.DataFrame, fmt: str) -> str:
    return frame.to_string(float_format=lambda v: fmt.format(v), na_rep="")


def _md_rows(frame: pd.DataFrame, fmt: str) -> list[str]:
    return ["| " + str(i) + " | " + " | ".join(fmt.format(v) if np.isfinite(v) else "" for v in row) + " |"
            for i, row in zip(frame.index, frame.to_numpy(float))]


def _specs(methods) -> dict[str, dict]:
    """``methods`` (names, or label -> fit_atsm keyword arguments with "method") -> label -> keyword arguments."""
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if isinstance(methods, Mapping):
        specs = {str(label): dict(options) for label, options in methods.items()}
    else:
        specs = {}
        for name in methods:
            key = str(name).strip().lower()
            if key not in MODEL_LABELS:
                raise InputError(f"unknown method {name!r} to compare: choose from "
                                 f"{', '.join(m for m in MODEL_LABELS if m != 'auto')}")
            specs.setdefault(MODEL_LABELS[key], {"method": key})
    if not specs:
        raise InputError("no methods to compare: name at least one, e.g. jsz,afns,acm,dns")
    for label, options in specs.items():
        if "method" not in options:
            raise InputError(f"the options of {label!r} name no method (e.g. {{'method': 'afns'}})")
    return specs


def compare_models(yields, methods: Sequence[str] | Mapping[str, Mapping] = DEFAULT_METHODS, headline="10Y", *,
                   maturities=None, yield_units: str = "auto", maturity_units: str = "auto",
                   progress: Callable[[str, int, int], None] | None = None) -> ComparisonResult:
    """Fit each model to the same yields and put their pricing errors and headline term premia side by side.

    Parameters
    ----------
    yields : anything :func:`xlatsm.fit_atsm` accepts (dates down, maturities across). ACM needs every cell: on a
        panel with blanks it is left out and ``notes`` says so (refused if it is the only model).
    methods : fit_atsm method names (default auto, afns, acm, dns; labelled JSZ, AFNS, ACM, DNS), or a mapping
        label -> fit_atsm keyword arguments, e.g. ``{"AFNS corr.": {"method": "afns", "afns_version":
        "correlated"}}``.
    headline : the maturity of the term premium compared (default 10Y; a maturity outside the fitted range is
        extrapolated by every model and ``notes`` says so).
    progress : called as ``progress(label, i, n)`` before the i-th of n fits (for a progress display).

    Returns a :class:`ComparisonResult`.
    """
    from ..atsm.methods import fit_atsm
    from ..atsm.results_other import read_yields

    specs = _specs(methods)
    panel = read_yields(yields, maturities, yield_units, maturity_units)
    notes = []
    balanced = [label for label, o in specs.items() if str(o["method"]).lower() == "acm"]
    if balanced and np.isnan(panel.yields).any():
        # ACM's regressions need every cell; the other models handle blanks in their Kalman filters, so ACM alone
        # is left out (said in the notes) unless nothing else would be compared
        n_bad = int(np.isnan(panel.yields).any(axis=1).sum())
        why = (f"{', '.join(balanced)} (regressions) needs every cell, and {n_bad} date(s) have blanks")
        if len(balanced) == len(specs):
            raise InputError(f"{why}: compare on complete dates (trim the sample or the columns) or add a model "
                             "that handles blanks (jsz, afns, dns)")
        specs = {label: o for label, o in specs.items() if label not in balanced}
        notes.append(f"{why}, so it is left out; trim the sample to complete dates to compare it")
    try:
        where = extrapolation.check(panel.maturities, headline)
    except InputError as exc:
        raise InputError(f"headline {headline!r}: {exc}") from None
    fits, seconds, premia, missing = {}, {}, {}, {}
    for i, (label, options) in enumerate(specs.items()):
        if progress is not None:
            progress(label, i, len(specs))
        options = dict(options)
        started = time.perf_counter()
        options_method = options.pop("method")
        fit = fit_atsm(yields, maturities, method=options_method, yield_units=yield_units,
                       maturity_units=maturity_units, **options)
        seconds[label] = time.perf_counter() - started
        if str(options_method).lower() == "auto" and fit.method != "jsz":
            notes.append(f"{label} estimated by {fit.method}: {_auto_reason(fit)}")
        if list(fit.panel.labels) != list(panel.labels) or len(fit.panel.dates) != len(panel.dates):
            raise InputError(f"{label} read the data differently from the others ({', '.join(fit.panel.labels)}); "
                             "state yield_units and maturity_units")
        fits[label] = fit
        try:
            premia[label] = fit.term_premium_at(where.label)
        except ModelError as exc:
            missing[label] = str(exc)
    errors = pd.DataFrame({label: fit.pricing_errors for label, fit in fits.items()}).T
    errors.columns.name = "RMSE (bp)"
    term_premia = pd.DataFrame(premia, index=panel.dates) if premia else pd.DataFrame(index=panel.dates)
    short_end = extrapolation.short_rate_note(panel.maturities)
    if short_end:
        notes.append(short_end)
    if where.extrapolated:
        notes.append(f"the {where.label} term premium is extrapolated by every model: {where.mark}")
    units = next(iter(fits.values())).units
    return ComparisonResult(fits, errors, term_premia, where.label, units, missing, pd.Series(seconds), notes)


def _auto_reason(fit) -> str:
    """Why ``method="auto"`` chose what it did: the fit's first note (``method auto -> ...: why``)."""
    first = next((n for n in getattr(fit, "notes", []) or [] if str(n).startswith("method auto")), "")
    return first.split(": ", 1)[-1] if first else "method auto chose it"


def add_comparison_section(doc, comparison: ComparisonResult, charts: list | None = None) -> None:
    """The comparison's section of a report (:class:`xlatsm.report.document.Document`): what was compared, the
    pricing-error table and chart, the term premia chart, their correlations and statistics, and why a model has
    no term premium. ``charts`` are :func:`xlatsm.report.charts_compare.comparison_charts` already drawn."""
    import tempfile
    from pathlib import Path

    from .charts_compare import comparison_charts

    cmp = comparison
    doc.heading("Model comparison: " + ", ".join(cmp.fits) + " on the same panel")
    doc.para(f"Every model fitted to the same cells: {cmp.describe_panel()}. Pricing errors are each fit's own root "
             "mean squared yield errors by maturity (bp); the term premia are each model's "
             f"{cmp.headline} term premium ({cmp.units}), compared by correlations of their levels and of their "
             "monthly changes over the common dates.")
    doc.table(cmp.errors_table, "Pricing errors, RMSE by maturity (bp)", 3)
    with tempfile.TemporaryDirectory() as tmp:
        for png, caption in charts or comparison_charts(cmp, Path(tmp)):
            doc.figure(png, caption)
    if cmp.term_premia.shape[1]:
        doc.table(cmp.correlations, f"{cmp.headline} term premium: correlations of levels", 3)
        doc.table(cmp.change_correlations, f"{cmp.headline} term premium: correlations of changes", 3)
        doc.table(cmp.term_premium_stats, f"{cmp.headline} term premium ({cmp.units}): statistics", 3)
    for label, why in cmp.no_term_premium.items():
        doc.para(f"{label}: no term premium; {why}.")
    if cmp.flags:
        doc.para("Flags of the compared fits (each model's own, as in its report):")
        doc.flags([replace(flag, message=f"{label}: {flag.message}") for label, flag in cmp.flags])
    for note in cmp.notes:
        doc.para(f"Note: {note}.")


def comparison_document(comparison: ComparisonResult, title: str = "Model comparison",
                        charts: list | None = None):
    """A report of its own for a comparison: the comparison section (with every fit's flags), then each model's
    one-line description and the comparison as text."""
    from .document import Document
    from .html import describe_model

    doc = Document(title)
    add_comparison_section(doc, comparison, charts)
    doc.heading("The models")
    for label, fit in comparison.fits.items():
        doc.para(f"{label}: {describe_model(fit)}; mean pricing error {fit.pricing_errors.mean():.2f} bp; fitted in "
                 f"{comparison.seconds.get(label, float('nan')):.2f} s.")
    doc.heading("Comparison as text")
    doc.pre(comparison.table())
    return doc
