"""What the ACM, dynamic Nelson-Siegel and arbitrage-free Nelson-Siegel results share with :class:`ATSMResult`.

Conventions (the same as :mod:`xlatsm.atsm.results`): inside, yields are decimals per year and maturities years;
every yield-like output (fitted yields, risk-neutral yields, term premia, yield-like parameters) is reported in
the units the yields were given in (``panel.scale``: 1 decimal, 100 percent, 1e4 bp); pricing errors are always
root mean squared errors in basis points.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..data import YieldPanel, maturities_to_years, read_panel, years_to_label
from ..diagnostics import Flag
from ..errors import InputError

__all__ = ["read_yields", "CurveResult", "maturity_years", "check_balanced", "explosive_flags"]


def read_yields(yields, maturities=None, yield_units: str = "auto", maturity_units: str = "auto") -> YieldPanel:
    """:func:`xlatsm.read_panel`, plus ``yield_units="bp"`` (read as decimals, divided by 1e4)."""
    if isinstance(yields, YieldPanel):
        return yields
    if isinstance(yield_units, str) and yield_units.strip().lower() in ("bp", "bps", "basis points"):
        panel = read_panel(yields, maturities, "decimal", maturity_units)
        return replace(panel, yields=panel.yields / 1e4, yield_units="bp",
                       notes=["yields read as basis points (stated)"] + panel.notes[1:])
    return read_panel(yields, maturities, yield_units, maturity_units)


def maturity_years(maturity) -> float:
    """A tenor label ("10Y", "6M") or a number of years -> years."""
    if isinstance(maturity, (int, float, np.integer, np.floating)) and not isinstance(maturity, bool):
        if maturity <= 0:
            raise InputError(f"maturity must be positive, got {maturity!r}")
        return float(maturity)
    years, _ = maturities_to_years([maturity], "years")
    return float(years[0])


def check_balanced(panel: YieldPanel, what: str, alternative: str) -> None:
    """Regression estimators need every cell: name the dates with blanks and say what to do."""
    bad = np.isnan(panel.yields).any(axis=1)
    if bad.any():
        first = panel.dates[int(np.argmax(bad))]
        raise InputError(f"{what} needs every cell of the panel, but {int(bad.sum())} date(s) have blanks (first "
                         f"{_date(first)}): trim the sample or the columns, or use {alternative}")


def explosive_flags(K1P: np.ndarray | None = None, K1Q: np.ndarray | None = None) -> list[Flag]:
    flags = []
    if K1Q is not None and np.max(np.abs(np.linalg.eigvals(K1Q))) >= 1.0:
        flags.append(Flag("explosive_q", f"a risk-neutral root is at or above one (|eig| = "
                                         f"{np.max(np.abs(np.linalg.eigvals(K1Q))):.5f}): long yields have no "
                                         "risk-neutral limit; use a shorter maximum maturity or fewer factors"))
    if K1P is not None and np.max(np.abs(np.linalg.eigvals(K1P))) >= 1.0:
        flags.append(Flag("explosive_p", f"a physical root is at or above one (|eig| = "
                                         f"{np.max(np.abs(np.linalg.eigvals(K1P))):.5f}): expected short rates do "
                                         "not mean-revert, so long-horizon forecasts and term premia are not "
                                         "meaningful; use a longer sample or fewer factors"))
    return flags


class CurveResult:
    """Mixin: ``panel`` (YieldPanel), ``_fitted`` (T, J) decimals; gives ``scale``, ``units``, frames, pricing
    errors and the finite-output check."""

    panel: YieldPanel

    @property
    def scale(self) -> float:
        """Decimal -> user units (100 for percent, 1e4 for bp)."""
        return 1e4 if self.panel.yield_units == "bp" else self.panel.scale

    @property
    def units(self) -> str:
        return self.panel.yield_units

    @property
    def factor_units(self) -> str:
        """The units the ``factors`` are in: the yields' (overridden where factors are standardised)."""
        return self.units

    def _frame(self, values: np.ndarray, columns=None, index=None) -> pd.DataFrame:
        return pd.DataFrame(values, index=self.panel.dates if index is None else index,
                            columns=list(self.panel.labels) if columns is None else columns)

    def _factor_frame(self, states: np.ndarray, names) -> pd.DataFrame:
        """(T, k) factors in decimals -> labelled frame in yield units."""
        return self._frame(states * self.scale, list(names))

    def _std_error_frame(self, cov: np.ndarray, names) -> pd.DataFrame:
        """(T, k, k) factor covariances in decimals -> labelled standard deviations in yield units."""
        return self._frame(np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0)) * self.scale, list(names))

    def forecast(self, horizon: int = 12, level: float = 0.9, **options):
        """h-step forecasts of factors, yields, short rate and term premia with bands (:mod:`xlatsm.forecast`)."""
        from ..forecast import forecast
        return forecast(self, horizon, level=level, **options)

    # -- uncertainty: ATSMResult (jsz/kalman/em) overrides these; the regression and Nelson-Siegel estimators have
    # no likelihood-based inference in xlatsm, and say so rather than return numbers that would look like it
    def _no_inference(self, what: str):
        method = getattr(self, "method", "") or self.model_name
        raise InputError(f"{what} are not available for {self.model_name} ({method}): xlatsm computes them for the "
                         "JSZ-canonical ATSM; fit with method='jsz', 'kalman' or 'em' (or 'auto') for standard errors "
                         "and bands")

    @property
    def standard_errors(self) -> dict:
        """Not available for this model (raises :class:`~xlatsm.errors.InputError` saying so)."""
        self._no_inference("standard errors")

    def parameter_standard_errors(self, *args, **kwargs) -> dict:
        self._no_inference("standard errors")

    def term_premium_bands(self, *args, **kwargs) -> pd.DataFrame:
        """Not available for this model (raises :class:`~xlatsm.errors.InputError` saying so)."""
        self._no_inference("term-premium bands")

    def expected_short_rate_bands(self, *args, **kwargs) -> pd.DataFrame:
        self._no_inference("expected short-rate bands")

    @property
    def fitted_yields(self) -> pd.DataFrame:
        """Model-implied yields at the fitted maturities, in yield units."""
        return self._frame(self._fitted * self.scale)

    @property
    def pricing_errors(self) -> pd.Series:
        """Root mean squared yield pricing error per maturity, basis points (observed cells only)."""
        resid = self.panel.yields - self._fitted
        return pd.Series(np.sqrt(np.nanmean(resid ** 2, axis=0)) * 1e4, index=self.panel.labels, name="RMSE_bp")

    model_name = "term structure model"

    def _extra_pairs(self) -> list[tuple[str, object]]:
        return []

    def summary_pairs(self) -> list[tuple[str, object]]:
        """The summary as (item, value) rows, flags first (what the spreadsheet's summary block shows)."""
        from ..errors import ModelError

        errors = self.pricing_errors
        dates = self.panel.dates
        pairs = [(f"FLAG {f.code}", f.message) for f in getattr(self, "flags", [])]
        pairs += [
            ("model", self.model_name), ("method", getattr(self, "method", "")),
            ("converged", "yes" if getattr(self, "converged", True) else f"NO - {getattr(self, 'message', '')}"),
            ("iterations", getattr(self, "n_iter", 0)),
            ("log-likelihood", getattr(self, "loglik", None) if getattr(self, "loglik", None) is not None
             else "n/a"),
            ("dates", len(dates)), ("first date", _date_text(dates[0])), ("last date", _date_text(dates[-1])),
            ("maturities", ", ".join(self.panel.labels)), ("yield units", self.units),
            ("maturity units read", self.panel.maturity_units),
            ("mean RMSE (bp)", float(errors.mean())), ("max RMSE (bp)", float(errors.max())),
        ]
        try:
            tp = self.term_premium_at("10Y")
            pairs += [("10y term premium, last", float(tp.iloc[-1])), ("10y term premium, mean", float(tp.mean()))]
        except ModelError as exc:
            pairs.append(("term premium", str(exc)))
        pairs += self._extra_pairs()
        pairs.append(("seconds", float(getattr(self, "seconds", 0.0))))
        pairs += [("note", n) for n in getattr(self, "notes", [])]
        return pairs

    def _nonfinite_flags(self, names) -> list[Flag]:
        bad = []
        for name in names:
            try:
                value = getattr(self, name)
                if not np.all(np.isfinite(np.asarray(value, dtype=float))):
                    bad.append(name)
            except Exception as exc:  # noqa: BLE001 - the failure is what the flag reports
                bad.append(f"{name} ({exc})")
        return [Flag("nonfinite", "not finite: " + ", ".join(bad) + "; do not use this fit")] if bad else []


def tenor_label(years: float) -> str:
    return years_to_label(years)


def _date_text(value) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def _date(value) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)
