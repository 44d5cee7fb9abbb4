"""Cell rules: what one cell of a range or file means as a number. The one place these rules live.

* **Missing** (NaN, kept inside the Kalman filter): a blank cell, ``None``, NaN, Excel error values (``#N/A``,
  ``#VALUE!``, ... as text, or the integer codes -2146826xxx that newer errors such as ``#SPILL!``, ``#CALC!`` and
  ``#GETTING_DATA`` arrive as), and the placeholders data vendors write for "no value": ``-``, ``--``, ``n/a``,
  ``NA``, ``N.A.``, ``NaN``, ``null``, ``.``, ``ND`` (FRED writes ``.``, the Fed ``ND``).
* **Numbers**: numeric cells, and text such as ``"4.5"``, ``" 4.5 "``, ``"7,79"`` (a decimal comma, read when the
  panel's commas can only be decimal commas, see :func:`decimal_comma_in_use`), ``"1,234.5"`` (a thousands
  separator), ``"4.5%"`` (a number in percent: the cell states its unit).
* **Refused** (an error naming the cell): ``TRUE``/``FALSE``, infinities, and any other text; for yields also
  numbers too large to be any rate (|x| >= 1e6, :data:`TOO_LARGE`; other series may be that large).
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

import numpy as np

MISSING_TEXT = {"", "#N/A", "#VALUE!", "#DIV/0!", "#NUM!", "#REF!", "#NAME?", "#NULL!", "#GETTING_DATA", "#SPILL!",
                "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#N/A N/A",
                "NA", "N/A", "N.A.", "N.A", "N/AV", "NAV", "NAN", "NULL", "NONE", ".", "-", "--", "---", "ND", "N.D.", "#NV", "NV"}
# Excel's error values are CVErr codes 2000..2060 (xlErrNA = 2042 ...) and arrive, where no converter knows them, as
# the HRESULT 0x800A0000 + code read as a signed 32-bit integer: -2146826246 is #N/A, -2146826238 #SPILL!.
_CVERR_BASE = -2146828288
_CVERR_CODES = range(2000, 2100)
TOO_LARGE = 1e6        # no rate in any unit (decimal, percent, bp) reaches this (checked for yields only)

_PLAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_EURO_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")


class Cell:
    """Outcome kinds of :func:`read_cell`."""

    NUMBER, MISSING, PERCENT, BAD = "number", "missing", "percent", "bad"


def is_excel_error_code(value: Any) -> bool:
    """True for the integer an Excel error value arrives as (e.g. -2146826238 for #SPILL!)."""
    return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            and int(value) - _CVERR_BASE in _CVERR_CODES)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def decimal_comma_in_use(texts: Iterable[str]) -> bool:
    """Whether the commas in these text cells are decimal commas (European Excel, ``;``-separated CSV).

    Rule: a comma is a decimal comma unless every comma-holding cell reads as thousands groups (``1,234`` or
    ``12,345.6``) and the cells without a comma either use a decimal point somewhere or are themselves in the
    hundreds (a bp panel: ``950`` beside ``1,050``); ``1.234,5`` is a decimal comma with dots for thousands.
    So ``7,79`` is 7.79 and ``1,050`` among ``950`` is 1050."""
    with_comma, with_point, plain = [], False, []
    for t in texts:
        t = t.strip().rstrip("%").strip()
        if "," in t:
            with_comma.append(t)
        elif _PLAIN.match(t):
            with_point = with_point or "." in t
            plain.append(abs(float(t)))
    if not with_comma:
        return False
    if all(_THOUSANDS.match(t) for t in with_comma) and (with_point or (plain and np.median(plain) >= 100)):
        return False
    return any(_DECIMAL_COMMA.match(t) or _EURO_THOUSANDS.match(t) for t in with_comma)


def read_cell(value: Any, decimal_comma: bool = False) -> tuple[str, float]:
    """``(kind, number)`` for one cell; kind is one of :class:`Cell`'s (number is NaN unless NUMBER/PERCENT)."""
    if is_blank(value):
        return Cell.MISSING, np.nan
    if isinstance(value, (bool, np.bool_)):
        return Cell.BAD, np.nan
    if is_excel_error_code(value):
        return Cell.MISSING, np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            return Cell.BAD, np.nan
        return Cell.NUMBER, number
    if not isinstance(value, str):
        return Cell.BAD, np.nan
    try:                                  # the common case, a plain number as text, at C speed
        number = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(number) and "_" not in value:
            return Cell.NUMBER, number
    text = value.strip().replace("\u00a0", "").replace("\u2212", "-")   # non-breaking space, unicode minus
    if text.upper() in MISSING_TEXT:
        return Cell.MISSING, np.nan
    kind = Cell.NUMBER
    if text.endswith("%"):
        kind, text = Cell.PERCENT, text[:-1].strip()
    text = text.replace(" ", "").replace("'", "")          # 1 234,5 and 1'234.5 (Swiss) group digits
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".") if _EURO_THOUSANDS.match(text) else text.replace(",", ".")
    elif _THOUSANDS.match(text):
        text = text.replace(",", "")
    if not _PLAIN.match(text):
        return Cell.BAD, np.nan
    number = float(text)
    if not math.isfinite(number):
        return Cell.BAD, np.nan
    return kind, number


def describe(value: Any) -> str:
    """How a refused cell is quoted in a message."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)) and math.isinf(value):
        return "infinity"
    if isinstance(value, (float, np.floating, np.integer)):
        return f"{float(value):g}"
    return repr(value)


def why_refused(value: Any) -> str:
    """The fix for a refused cell, said for its kind."""
    if isinstance(value, (bool, np.bool_)):
        return "a TRUE/FALSE is not a yield: type the number or clear the cell (blank = missing)"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "this is not a rate in any unit: correct it or clear the cell (blank = missing)"
    return ("this text is not a number: type a number (4.5, 4,5 or 4.5%) or clear the cell "
            "(blank, '-' and 'n/a' count as missing)")


def apply_percent_rule(values: np.ndarray, percent_mask: np.ndarray) -> bool:
    """The ``4.5%`` rule, in place: a panel written entirely as percent text keeps its numbers and is percent
    (returns True); otherwise each percent-text cell is a fraction, as Excel reads it (4.5% = 0.045)."""
    count = int(percent_mask.sum())
    if count == 0:
        return False
    if count == int(np.isfinite(values).sum()):
        return True
    values[percent_mask] /= 100.0
    return False
