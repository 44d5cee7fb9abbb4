"""Tenor spelling: the one place that turns maturity labels into years.

Accepted spellings (case-insensitive, surrounding blanks ignored):

* tenor labels ``"3M"``, ``"18m"``, ``"1Y"``, ``"10Y"``, ``"1Y6M"``, ``"2W"``, ``"30D"``;
* column names of the shared data sets: ``"m003"`` (Liu-Wu, months), ``"M3"`` (Fama-Bliss, months),
  ``"SVENY10"`` (Gurkaynak-Sack-Wright, years);
* plain numbers, read in ``maturity_units`` ("months" or "years"; "auto" takes months when the largest
  maturity exceeds 40, years otherwise).
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np

from ..errors import InputError

_DAYS_PER_YEAR = 365.0
_UNIT_YEARS = {"D": 1 / _DAYS_PER_YEAR, "W": 7 / _DAYS_PER_YEAR, "M": 1 / 12, "Y": 1.0}
_TENOR = re.compile(r"^(?:(\d+(?:\.\d+)?)\s*([DWMY]))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([DWMY])")
_PREFIXED = [(re.compile(r"^SVENY(\d+)$"), 1.0), (re.compile(r"^SVENF(\d+)$"), 1.0), (re.compile(r"^M(\d+)$"), 1 / 12)]

MATURITY_UNITS = ("auto", "months", "years")


def tenor_to_years(label: str) -> float:
    """Years in one tenor label such as ``"3M"``, ``"10Y"``, ``"1Y6M"``, ``"m120"`` or ``"SVENY05"``."""
    text = str(label).strip().upper().replace(" ", "")
    for pattern, scale in _PREFIXED:
        match = pattern.match(text)
        if match:
            return float(match.group(1)) * scale
    if text and _TENOR.match(text):
        return float(sum(float(n) * _UNIT_YEARS[u] for n, u in _PART.findall(text)))
    raise InputError(
        f"unknown tenor label {label!r}: write maturities as tenors like '3M', '2Y', '10Y' or as numbers "
        "with maturity_units='months' or 'years'"
    )


def _as_number(value) -> float | None:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def maturities_to_years(labels: Sequence, maturity_units: str = "auto") -> tuple[np.ndarray, str]:
    """Convert maturity labels or numbers to years.

    Returns ``(years, units_read)`` where ``units_read`` is "tenor", "months" or "years" and says how the input
    was understood, so results can echo it back. Maturities must be positive and strictly increasing.
    """
    if maturity_units not in MATURITY_UNITS:
        raise InputError(f"maturity_units must be one of {MATURITY_UNITS}, not {maturity_units!r}")
    labels = list(labels)
    if not labels:
        raise InputError("no maturities given: the first row of the range should hold tenors like '3M', '10Y'")
    numbers = [_as_number(v) for v in labels]
    if all(n is not None for n in numbers):
        values = np.asarray(numbers, dtype=float)
        units = maturity_units
        if units == "auto":
            units = "months" if np.nanmax(values) > 40 else "years"
        years = values / 12.0 if units == "months" else values
    else:
        years = np.array([tenor_to_years(v) if n is None else np.nan for v, n in zip(labels, numbers)])
        if np.isnan(years).any():
            raise InputError(
                "maturities mix tenor labels and bare numbers: write them all as tenors ('6M', '2Y') "
                "or all as numbers"
            )
        units = "tenor"
    check_maturities(years, labels)
    return years, units


def check_maturities(years: np.ndarray, labels: Iterable | None = None) -> None:
    """Raise :class:`InputError` unless the maturities are finite, positive and strictly increasing."""
    years = np.asarray(years, dtype=float)
    labels = list(labels) if labels is not None else [f"{y:g}y" for y in years]
    if not np.all(np.isfinite(years)) or np.any(years <= 0):
        raise InputError(f"maturities must be positive numbers; got {labels}")
    steps = np.diff(years)
    if np.any(steps == 0):
        i = int(np.argmax(steps == 0))
        raise InputError(f"maturity {labels[i + 1]!r} appears twice: each column must be a different maturity")
    if np.any(steps < 0):
        i = int(np.argmax(steps < 0))
        raise InputError(
            f"maturities must increase from left to right, but {labels[i + 1]!r} comes after {labels[i]!r}: "
            "sort the columns by maturity"
        )


def years_to_label(years: float) -> str:
    """Short tenor label for a maturity in years: 0.25 -> '3M', 1.5 -> '18M', 10 -> '10Y'."""
    months = years * 12.0
    if abs(months - round(months)) < 1e-6:
        m = int(round(months))
        return f"{m // 12}Y" if m % 12 == 0 else f"{m}M"
    return f"{years:g}Y"
