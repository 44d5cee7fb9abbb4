"""Factors in units an analyst reads: each factor restated as the portfolio of yields it is.

The models' own factors are in awkward units: the ATSM's ``level`` is ``W_1 y_t`` with unit-length weights, about
sqrt(J) times an average yield (25 "percent" for 7 maturities at 9%); the LGSSM's are coordinates in orthonormal
loadings. Restated, each factor is ``sum_i w_i y_i`` with its weights scaled so that the weights of its dominant
side sum to one: the level (all weights of one sign) becomes a weighted *average yield*; the slope and curvature
(weights of both signs) become *spreads*, long minus short or belly minus wings, in the yields' units. The
restatement is a fixed linear rescaling per factor (the standard errors scale with it); the model's parameters
stay in the model's units.

No matplotlib here, so the spreadsheet layer can use it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class AnalystFactors:
    """``values`` and ``std_errors`` (dates x factors) in ``units``; ``labels`` say what each column is;
    ``weights`` (factors x series) are the portfolio weights that give them from the yields."""

    values: pd.DataFrame
    std_errors: pd.DataFrame
    labels: dict[str, str]
    weights: pd.DataFrame
    units: str
    note: str

    def frame(self, with_se: bool = True) -> pd.DataFrame:
        """One labelled frame (headers like ``level: average yield (percent)``), s.e. columns after."""
        out = self.values.rename(columns=self.labels)
        if with_se:
            se = self.std_errors.rename(columns={c: f"{c} s.e." for c in self.std_errors.columns})
            out = out.join(se)
        return out


def _scale(weights: np.ndarray) -> float:
    """The dominant side's weights sum to one (positive), so the factor reads as an average or a spread."""
    pos = float(np.sum(weights[weights > 0]))
    neg = float(-np.sum(weights[weights < 0]))
    return pos if pos >= neg else -neg


def _describe(name: str, w: np.ndarray, labels: list[str], units: str) -> str:
    if np.all(w >= 0) or np.all(w <= 0):
        return f"{name}: average yield ({units})" if name == "level" else f"{name}: weighted average ({units})"
    plus = [lab for lab, v in zip(labels, w) if v > 0]
    minus = [lab for lab, v in zip(labels, w) if v < 0]
    if name == "slope" or (len(plus) and len(minus) and (w[0] > 0) != (w[-1] > 0)):
        long_short = "long minus short" if w[-1] > 0 else "short minus long"
        return f"{name}: {long_short} spread ({units})"
    if name == "curvature" or (w[0] > 0) == (w[-1] > 0):
        kind = "wings minus belly" if w[0] > 0 else "belly minus wings"
        return f"{name}: {kind} spread ({units})"
    return f"{name}: spread, {'+'.join(plus[:1])} side minus {minus[0]} side ({units})"


def _build(raw: pd.DataFrame, se: pd.DataFrame, W: np.ndarray, offset: np.ndarray, series: list[str],
           units: str, note: str) -> AnalystFactors:
    names = list(raw.columns)
    scales = np.array([_scale(W[j]) for j in range(len(names))])
    scaled_w = W / scales[:, None]
    values = (raw + offset[None, :]) / scales[None, :]
    std = se.abs() / np.abs(scales)[None, :]
    labels = {n: _describe(n, scaled_w[j], series, units) for j, n in enumerate(names)}
    weights = pd.DataFrame(scaled_w, index=names, columns=series)
    return AnalystFactors(values, std, labels, weights, units, note)


def analyst_factors(result, factors: pd.DataFrame | None = None,
                    std_errors: pd.DataFrame | None = None) -> AnalystFactors:
    """The factors of an ATSM or LGSSM result as average yields and spreads (see the module docstring); or, given
    ``factors`` / ``std_errors`` in the model's units (e.g. smoothed from new data), those restated alike."""
    if factors is not None:
        result = _WithFactors(result, factors, std_errors if std_errors is not None else factors * np.nan)
    if hasattr(result, "panel") and not hasattr(getattr(result, "params", None), "structure"):
        # ACM, AFNS, DNS: their factors have their own meaning (standardised principal components; Nelson-Siegel
        # level, slope, curvature in yield units); shown as they are, labelled so
        units = result.factor_units
        names = list(result.factors.columns)
        return AnalystFactors(result.factors, result.factor_std_errors, {n: f"{n} ({units})" for n in names},
                              pd.DataFrame(np.full((len(names), len(result.panel.labels)), np.nan), index=names,
                                           columns=list(result.panel.labels)), units,
                              "factors in the model's own units")
    if hasattr(result, "panel"):  # ATSM: P_t = W y_t, in the yields' units
        W = np.asarray(result.params.structure.W, dtype=float)
        return _build(result.factors, result.factor_std_errors, W, np.zeros(W.shape[0]), list(result.panel.labels),
                      result.units, "factor = W y (principal-component portfolio of the fitted yields), weights "
                                    "rescaled so the dominant side sums to one")
    # LGSSM: y = c + C x + e with C'C = I, so the portfolio C_j'y of the fitted series is C_j'c + x_j
    C = np.asarray(result.params.C, dtype=float)
    c = np.asarray(result.params.obs_intercept, dtype=float)
    units = getattr(result, "units", None) or "data's units"
    if not np.allclose(C.T @ C, np.eye(C.shape[1]), atol=1e-6):
        # not orthonormal (e.g. loadings held fixed): no portfolio reading; say so and leave them as they are
        k = C.shape[1]
        labels = {n: f"{n} (model units)" for n in result.factors.columns}
        return AnalystFactors(result.factors, result.factor_std_errors, labels,
                              pd.DataFrame(np.full((k, C.shape[0]), np.nan), index=list(result.factors.columns),
                                           columns=result.columns), "model units",
                              "loadings are not orthonormal: factors are in the model's own units")
    return _build(result.factors, result.factor_std_errors, C.T, C.T @ c, list(result.columns), units,
                  "factor = portfolio C_j'y of the smoothed series (C'C = I), weights rescaled so the dominant "
                  "side sums to one")


class _WithFactors:
    """A result seen with other factors (same model, other dates)."""

    def __init__(self, result, factors: pd.DataFrame, std_errors: pd.DataFrame):
        self._result, self.factors, self.factor_std_errors = result, factors, std_errors

    def __getattr__(self, name):
        return getattr(self._result, name)
