"""Extrapolation: is an output at some maturity inside the range of maturities the model was fitted to?

One rule, used by the summary, the spreadsheet blocks, the charts, the report and the command line: a maturity is
*extrapolated* when it lies below the shortest or above the longest fitted maturity (a maturity between two fitted
ones is interpolated by the model's loadings and is not marked). Every output at an extrapolated maturity carries
the mark, e.g. ``10Y (extrapolated: fitted 1Y-9Y)``, and the result gets one ``extrapolated`` flag
(:mod:`xlatsm.diagnostics`) naming the maturities.

Maturities are tenor labels (``"10Y"``, ``"3M"``) or numbers of years, as everywhere in the core.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .data import maturities_to_years, years_to_label
from .diagnostics import Flag

#: two maturities closer than this (in years, about 30 seconds) are the same maturity
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Extrapolation:
    """Where ``maturity`` (years) lies against the fitted range ``[shortest, longest]`` (years)."""

    maturity: float
    shortest: float
    longest: float

    @property
    def side(self) -> str | None:
        """"below" the shortest fitted maturity, "above" the longest, or None inside the fitted range."""
        if self.maturity < self.shortest - TOLERANCE:
            return "below"
        if self.maturity > self.longest + TOLERANCE:
            return "above"
        return None

    @property
    def extrapolated(self) -> bool:
        return self.side is not None

    @property
    def label(self) -> str:
        """The maturity as a tenor: ``10Y``."""
        return years_to_label(self.maturity)

    @property
    def fitted(self) -> str:
        """The fitted range as tenors: ``1Y-9Y``."""
        return f"{years_to_label(self.shortest)}-{years_to_label(self.longest)}"

    @property
    def mark(self) -> str:
        """``extrapolated: fitted 1Y-9Y``, or "" inside the fitted range."""
        return f"extrapolated: fitted {self.fitted}" if self.extrapolated else ""

    @property
    def text(self) -> str:
        """The label with its mark: ``10Y (extrapolated: fitted 1Y-9Y)``, or ``10Y`` inside the fitted range."""
        return f"{self.label} ({self.mark})" if self.extrapolated else self.label

    def name(self, stem: str) -> str:
        """A column or series name with the mark: ``term_premium_10Y (extrapolated: fitted 1Y-9Y)``."""
        return f"{stem} ({self.mark})" if self.extrapolated else stem

    def __str__(self) -> str:
        return self.text


def to_years(maturities) -> np.ndarray:
    """Tenor labels or years (one or a sequence) -> years."""
    if isinstance(maturities, (str, int, float, np.integer, np.floating)):
        maturities = [maturities]
    values = list(maturities)
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
        return np.asarray(values, dtype=float)
    years, _ = maturities_to_years(values, "years", ordered=False)
    return np.asarray(years, dtype=float)


def fitted_maturities(result) -> np.ndarray:
    """The maturities (years) a result was fitted to: an ATSM's panel; an LGSSM's series when every label is a
    maturity (else an empty array: series that are not maturities have nothing to extrapolate to)."""
    panel = getattr(result, "panel", None)
    if panel is not None:
        return np.asarray(panel.maturities, dtype=float)
    try:
        return to_years(list(getattr(result, "columns", [])))
    except Exception:  # noqa: BLE001 - labels that are not maturities
        return np.array([])


def check(fitted, maturity) -> Extrapolation:
    """Where ``maturity`` lies against the fitted maturities ``fitted`` (labels or years, or a result)."""
    years = fitted_maturities(fitted) if hasattr(fitted, "panel") or hasattr(fitted, "columns") else to_years(fitted)
    if len(years) == 0:
        raise ValueError("no fitted maturities to compare with")
    return Extrapolation(float(to_years(maturity)[0]), float(np.min(years)), float(np.max(years)))


def mark(fitted, maturity) -> str:
    """``10Y`` inside the fitted range, ``10Y (extrapolated: fitted 1Y-9Y)`` outside it."""
    return check(fitted, maturity).text


def is_extrapolated(fitted, maturity) -> bool:
    return check(fitted, maturity).extrapolated


def extrapolated(fitted, maturities: Iterable) -> list[Extrapolation]:
    """The extrapolated ones among ``maturities``, in their order."""
    return [e for e in (check(fitted, m) for m in maturities) if e.extrapolated]


def flag(fitted, maturities: Iterable, what: str = "outputs") -> Flag | None:
    """One ``extrapolated`` flag naming the maturities outside the fitted range (None when there are none)."""
    outside = extrapolated(fitted, maturities)
    if not outside:
        return None
    names = ", ".join(e.label for e in outside)
    it = "them" if len(outside) > 1 else "it"
    return Flag("extrapolated", f"{what} at {names}: outside the fitted maturities {outside[0].fitted}, where the "
                               f"model extrapolates and fits no data; fit a panel that includes {it} to rely on {it}")


def summary_lines(fitted, values: Sequence[tuple[str, object, str]]) -> list[str]:
    """Summary lines for outputs at chosen maturities: ``values`` is ``(what, maturity, text)``, e.g.
    ``("Term premium", "10Y", "mean 3.03, last 1.91 (percent)")`` ->
    ``Term premium 10Y (extrapolated: fitted 1Y-9Y): mean 3.03, last 1.91 (percent)``."""
    return [f"{what} {mark(fitted, maturity)}: {text}" for what, maturity, text in values]


def mark_index(labels: Sequence, fitted) -> list[str]:
    """Row or column labels that are maturities, each with its mark when extrapolated (for loadings, curves)."""
    return [mark(fitted, label) for label in labels]


def short_rate_note(fitted) -> str | None:
    """The one extrapolation every ATSM makes: its short rate (one period) lies below the fitted range when the
    shortest fitted maturity is a year or more, and expected short rates and term premia rest on it."""
    years = fitted_maturities(fitted) if hasattr(fitted, "panel") else to_years(fitted)
    if len(years) and float(np.min(years)) >= 0.5:
        return (f"the shortest fitted maturity is {years_to_label(float(np.min(years)))}: the model's short rate, "
                "and with it expected short rates and term premia, is extrapolated below the data; add a short "
                "end (3M, 6M) to pin it down")
    return None


def term_premium(result, maturity="10Y"):
    """``(series, Extrapolation)``: an ATSM's term premium at ``maturity`` named ``term_premium_10Y``, with the
    mark appended to the name when ``maturity`` lies outside the fitted range
    (``term_premium_10Y (extrapolated: fitted 1Y-9Y)``)."""
    where = check(result, maturity)
    series = result.term_premium_at(maturity)
    return series.rename(where.name(f"term_premium_{where.label}")), where


def marked_loadings(result, maturities=None):
    """An ATSM's loadings (``result.loadings``) at ``maturities`` (default: the fitted ones), sorted by maturity,
    each row label carrying the mark when extrapolated."""
    labels = list(result.panel.labels) if maturities is None else [years_to_label(y) for y in
                                                                   sorted(set(to_years(list(maturities))))]
    frame = result.loadings(labels)
    frame.index = mark_index(list(frame.index), result)
    return frame
