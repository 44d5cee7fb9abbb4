"""Cell values as the two Excel runtimes hand them over -> one convention (classic xlwings'), so that everything
after this module (the data layer's range reader, the cache keys, the option parsers) sees the same values
whichever runtime called.

Classic xlwings (COM, ``@xw.arg(..., ndim=2, empty=None, err_to_str=True)``): numbers are floats, blanks None,
date cells datetimes, error cells their text (``"#N/A"``).

xlwings Lite (Office.js custom functions in Pyodide, every parameter registered as an ``any`` matrix): a whole
number arrives as an int (Pyodide turns a JavaScript number that is an integer into an int), a date cell as its
serial number (custom functions see a date cell's value, not its format: "xlwings will detect numbers, strings,
and booleans but not cells with a date/time format"), a blank cell as ``""`` or JavaScript ``null`` (Pyodide
>= 0.28: the ``JsNull`` sentinel, not None), an error cell as ``{"type": "Error", "basicValue": "#N/A", ...}``.
xlwings' own converter applies our arg options before we see the values (blanks -> None, errors -> their
text), but nothing here relies on that: a raw Office.js value is read the same way.

Serial numbers are left as numbers: the data layer reads a first column of Excel serials (10000..80000) as dates
(:mod:`xlatsm.data.dates`), so a Lite range and the same range from classic xlwings give the same panel.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

# Office.js error types (Excel.ErrorCellValueType) -> the text classic xlwings reads with err_to_str=True
_ERROR_TEXT = {"Div0": "#DIV/0!", "NotAvailable": "#N/A", "Name": "#NAME?", "Null": "#NULL!", "Num": "#NUM!",
               "Ref": "#REF!", "Value": "#VALUE!", "Spill": "#SPILL!", "Calc": "#CALC!", "Busy": "#BUSY!",
               "GettingData": "#GETTING_DATA", "Field": "#FIELD!", "Connect": "#CONNECT!", "Blocked": "#BLOCKED!",
               "Unknown": "#UNKNOWN!"}


def _is_js_null(value: Any) -> bool:
    """Pyodide's ``JsNull`` (JavaScript ``null``), recognised by its type name: importing pyodide here would tie
    this module to one runtime."""
    return type(value).__name__ == "JsNull"


def cell(value: Any) -> Any:
    """One cell in the classic convention: None for a blank, float for a number, datetime for a date, the error's
    text for an error cell; text and booleans as they are."""
    if value is None or _is_js_null(value):
        return None
    if isinstance(value, str):
        return None if value == "" else value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):        # an Office.js rich value: an error, or a formatted number (a date)
        if value.get("type") == "Error":
            return value.get("basicValue") or _ERROR_TEXT.get(value.get("errorType"), "#VALUE!")
        return cell(value.get("basicValue"))
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    to_datetime = getattr(value, "to_pydatetime", None)   # pandas Timestamp
    if to_datetime is not None:
        return cell(to_datetime())
    item = getattr(value, "item", None)                   # numpy scalar
    if item is not None:
        number = item()
        if isinstance(number, float) and math.isnan(number):
            return None
        return cell(number)
    return value


def cells(value: Any) -> Any:
    """A range argument in the classic convention: rows of :func:`cell`. A single value stays single (the caller
    says that a range was wanted); a one-row range that arrives flattened (Lite hands a 1 x n range to a
    parameter without ``ndim`` as a flat list) becomes one row."""
    if isinstance(value, (list, tuple)):
        if value and not any(isinstance(row, (list, tuple)) for row in value):
            return [[cell(v) for v in value]]
        return [[cell(v) for v in row] if isinstance(row, (list, tuple)) else [cell(row)] for row in value]
    return cell(value)


def scalar(value: Any) -> Any:
    """An option argument (one cell): :func:`cell`, with a 1 x 1 range taken as its one value."""
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return cell(value)
