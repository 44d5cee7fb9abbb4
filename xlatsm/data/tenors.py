"""Tenor spelling: the one place that turns maturity labels into years.

Accepted spellings (case-insensitive; blanks, ``-``, ``_`` and ``.`` ignored):

* tenor labels ``"3M"``, ``"18m"``, ``"1Y"``, ``"10Y"``, ``"1Y6M"``, ``"2W"``, ``"30D"``, with the unit spelt as
  data vendors and the US Treasury write it: ``"3 Mo"``, ``"1 Yr"``, ``"  1 m"``, ``"10 YR"``, ``"6 mos"``,
  ``"1 Month"``, ``"10 Years"``, ``"1-Year"``;
* the unit first: ``"m120"``, ``"m003"`` (Liu-Wu), ``"M3"`` (Fama-Bliss), ``"y10"``;
* vendor column names: ``"SVENY10"`` (Gurkaynak-Sack-Wright, years), ``"BC_10YEAR"``, ``"BC_1MONTH"`` (US Treasury),
  ``"DGS10"``, ``"DGS3MO"`` (FRED), ``"ACMY10"`` (ACM fitted yields, years), ``"USGG10YR Index"``, ``"GT10 Govt"``
  (Bloomberg), ``"US10YT=RR"`` (Refinitiv), ``"SR_10Y"`` (ECB), ``"10Y (%)"``, ``"UST 10Y"``, ``"1Y yield"``,
  ``"O/N"`` (one day);
* plain numbers, read in ``maturity_units`` ("months" or "years"). With "auto": numbers with a fraction are years
  (0.25 is 3 months), whole numbers from 51 up are months (no curve is quoted beyond 50 years); anything else,
  such as 3, 6, 12, 24, 36, could be either and is refused with a request for ``maturity_units``.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np

from ..errors import InputError

_DAYS_PER_YEAR = 365.0
_UNIT_YEARS = {"D": 1 / _DAYS_PER_YEAR, "W": 7 / _DAYS_PER_YEAR, "M": 1 / 12, "Y": 1.0}
_UNIT_WORDS = [("MONTHS", "M"), ("MONTH", "M"), ("MTHS", "M"), ("MTH", "M"), ("MOS", "M"), ("MO", "M"),
               ("YEARS", "Y"), ("YEAR", "Y"), ("YRS", "Y"), ("YR", "Y"), ("WEEKS", "W"), ("WEEK", "W"),
               ("WKS", "W"), ("WK", "W"), ("DAYS", "D"), ("DAY", "D")]
_UNIT_WORD = re.compile(r"(\d)(" + "|".join(w for w, _ in _UNIT_WORDS) + r")(?=\d|$)")
_TENOR = re.compile(r"^(?:(\d+(?:\.\d+)?)([DWMY]))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([DWMY])")
_UNIT_FIRST = re.compile(r"^([MY])(\d+(?:\.\d+)?)$")
# vendor prefixes and the unit of a bare number after them (None: the unit must follow the number)
_PREFIXES = [("SVENY", "Y"), ("ACMY", "Y"), ("BC", None), ("DGS", "Y"), ("TCM", None), ("USGG", None),
             ("UST", None), ("GT", "Y"), ("US", None), ("SR", None), ("ZC", None)]
# words around a tenor that say what it is, not how long: Bloomberg "USGG10YR Index", "GT10 Govt", Refinitiv
# "US10YT=RR", "10Y (%)", "1Y yield"
_NOISE = re.compile(r"(INDEX|GOVT|CORP|CURNCY|YIELDS?|YLD|RATES?|ZERO|T=RR|=RR|%)$")
_SEPARATORS = re.compile(r"[\s\-_.()/]+")

MATURITY_UNITS = ("auto", "months", "years")
_LONGEST_YEARS = 50      # no curve is quoted beyond 50 years: a bare whole number above it is months


def _normalise(label) -> str:
    text = _SEPARATORS.sub("", str(label).upper())
    while True:
        stripped = _NOISE.sub("", text)
        if stripped == text or not stripped:
            break
        text = stripped
    if text in ("ON", "O/N", "OVERNIGHT"):
        return "1D"
    return _UNIT_WORD.sub(lambda m: m.group(1) + dict(_UNIT_WORDS)[m.group(2)], text)


def tenor_to_years(label: str) -> float:
    """Years in one tenor label such as ``"3M"``, ``"10 Yr"``, ``"1Y6M"``, ``"m120"``, ``"BC_10YEAR"`` or
    ``"SVENY05"``."""
    text = _normalise(label)
    for prefix, unit in _PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            rest = text[len(prefix):]
            if unit is not None and re.fullmatch(r"\d+(?:\.\d+)?", rest):
                return float(rest) * _UNIT_YEARS[unit]
            text = rest
            break
    match = _UNIT_FIRST.match(text)
    if match:
        return float(match.group(2)) * _UNIT_YEARS[match.group(1)]
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


def numeric_maturity_units(values: np.ndarray, maturity_units: str = "auto") -> str:
    """"months" or "years" for bare numbers (the rule in this module's docstring), or an error asking."""
    if maturity_units != "auto":
        return maturity_units
    if np.any(values != np.round(values)):
        return "years"
    if np.max(values) > _LONGEST_YEARS:
        return "months"
    shown = ", ".join(f"{v:g}" for v in values[:8]) + (", ..." if len(values) > 8 else "")
    raise InputError(f"maturities {shown} could be months or years: say which with maturity_units "
                     "('months' or 'years'), or write them as tenors like '3M', '10Y'")


def maturities_to_years(labels: Sequence, maturity_units: str = "auto", ordered: bool = True
                        ) -> tuple[np.ndarray, str]:
    """Convert maturity labels or numbers to years.

    Returns ``(years, units_read)`` where ``units_read`` is "tenor", "months" or "years" and says how the input
    was understood, so results can echo it back. Maturities must be positive and (when ``ordered``, as for a
    panel to fit) strictly increasing.
    """
    if maturity_units not in MATURITY_UNITS:
        raise InputError(f"maturity_units must be one of {MATURITY_UNITS}, not {maturity_units!r}")
    labels = list(labels)
    if not labels:
        raise InputError("no maturities given: the first row of the range should hold tenors like '3M', '10Y'")
    numbers = [_as_number(v) for v in labels]
    if all(n is not None for n in numbers):
        values = np.asarray(numbers, dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise InputError(f"maturities must be positive numbers; got {labels}")
        units = numeric_maturity_units(values, maturity_units)
        years = values / 12.0 if units == "months" else values
    else:
        years = np.array([tenor_to_years(v) if n is None else np.nan for v, n in zip(labels, numbers)])
        if np.isnan(years).any():
            raise InputError(
                "maturities mix tenor labels and bare numbers: write them all as tenors ('6M', '2Y') "
                "or all as numbers"
            )
        units = "tenor"
    if ordered:
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
