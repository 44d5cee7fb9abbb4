"""Date rules: which first columns are dates, how each form is read, and what a panel's dates must satisfy.
The one place these rules live.

Recognised forms (a column is read as dates when every non-blank cell is one of them):

* date and datetime values (Excel dates arrive as these through xlwings);
* Excel serial numbers 10000..80000 (1927-05-18 .. 2119-01-10), as Excel shows a date cell without its format;
* ``YYYYMM`` integers (196106), ``YYYYMMDD`` integers (19610630) and ``YYYY`` years in a column that steps by one;
* text: ISO ``2001-03-31``, ``2001-03``, ``2001:03``, ``2001M03``, ``2001Q1``, ``200103``, ``20010331``,
  ``31/03/2001``, ``31.03.2001``, ``03/31/2001`` (day-first or month-first, decided for the whole column from
  the cells that only one order fits; when none decides, month-first is assumed and said), ``Mar 2001``,
  ``31-Mar-2001``.

Month-only forms (``YYYYMM``, ``2001-03``, ``2001:03``, ``2001M03``) are month-ends; quarters are quarter-ends and
years are year-ends, so they line up with month-end data.

A panel's dates must be unique and in order (a descending column is sorted, and a note says so) and keep one
frequency (business-daily, weekly, monthly, quarterly or annual); a whole missing month (week, quarter, year)
is inserted as a blank row, which the Kalman filter treats as missing. Anything else is an error naming the row.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .cells import is_blank

_SERIAL_RANGE = (10000, 80000)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_MONTH_FORMS = [re.compile(p) for p in (r"^(\d{4})-(\d{1,2})$", r"^(\d{4}):(\d{1,2})$", r"^(\d{4})[mM](\d{1,2})$",
                                        r"^(\d{4})/(\d{1,2})$", r"^(\d{4})(\d{2})$")]
_QUARTER = re.compile(r"^(\d{4})\s*[-:]?\s*[qQ]([1-4])$")
_QUARTER_FIRST = re.compile(r"^[qQ]([1-4])\s*[-:/]?\s*(\d{4})$")
_MONTH_YY = re.compile(r"^([A-Za-z]{3,9})[-\s'/]*(\d{2})$")
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_YMD_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
YEAR_FIRST = "yy-mm-dd"      # the day order of a column written yy-mm-dd (see _day_order)


def _month_end(year: int, month: int) -> pd.Timestamp | None:
    if not (1800 <= year <= 2200 and 1 <= month <= 12):
        return None
    return pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)


def _ymd(year: int, month: int, day: int) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(year=year, month=month, day=day) if 1800 <= year <= 2200 else None
    except ValueError:
        return None


def _from_integer(number: float, years_column: bool) -> pd.Timestamp | None:
    if number != int(number):
        if _SERIAL_RANGE[0] <= number <= _SERIAL_RANGE[1]:
            return (_EXCEL_EPOCH + pd.Timedelta(days=float(number))).normalize()
        return None
    n = int(number)
    if 180001 <= n <= 220012:
        return _month_end(n // 100, n % 100)
    if 18000101 <= n <= 22001231:
        return _ymd(n // 10000, (n // 100) % 100, n % 100)
    if years_column and 1800 <= n <= 2200:
        return pd.Timestamp(year=n, month=12, day=31)
    if _SERIAL_RANGE[0] <= n <= _SERIAL_RANGE[1]:
        return _EXCEL_EPOCH + pd.Timedelta(days=n)
    return None


def _from_text(text: str, dayfirst: bool | str | None) -> pd.Timestamp | None:
    text = text.strip()
    for pattern in _MONTH_FORMS:
        m = pattern.match(text)
        if m:
            return _month_end(int(m.group(1)), int(m.group(2)))
    m = _QUARTER.match(text)
    if m:
        return _month_end(int(m.group(1)), 3 * int(m.group(2)))
    m = _QUARTER_FIRST.match(text)
    if m:
        return _month_end(int(m.group(2)), 3 * int(m.group(1)))
    m = re.match(r"^(\d{4})[\s\-/]+([A-Za-z]{3,9})$", text)      # '2019 Dec'
    if m and m.group(2)[:3].lower() in _MONTHS:
        return _month_end(int(m.group(1)), _MONTHS[m.group(2)[:3].lower()])
    m = _MONTH_YY.match(text)          # 'Mar-20', as Excel exports an mmm-yy date
    if m and m.group(1)[:3].lower() in _MONTHS:
        yy = int(m.group(2))
        return _month_end(yy + (2000 if yy < 50 else 1900), _MONTHS[m.group(1)[:3].lower()])
    m = _YMD_COMPACT.match(text)
    if m:
        return _ymd(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _NUMERIC_DMY.match(text)
    if m and (dayfirst == YEAR_FIRST or (dayfirst is None and _year_first(m))):
        yy, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        return _ymd(yy + (2000 if yy < 50 else 1900), month, day) if len(m.group(3)) <= 2 else None
    if m:
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        year += 0 if year >= 100 else (2000 if year < 50 else 1900)
        if dayfirst is None:          # one cell alone: the order that is a date, dots meaning day first
            dayfirst = a > 12 or (b <= 12 and "." in text)
        day, month = (a, b) if dayfirst else (b, a)
        return _ymd(year, month, day)
    if not re.search(r"\d", text) or not re.search(r"\d{4}|[A-Za-z]{3}", text):
        return None   # 'Average', 'Mean', '1', '4.5' are not dates
    try:
        with np.errstate(all="ignore"):
            stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if pd.isna(stamp) or not 1800 <= stamp.year <= 2200:
        return None
    if re.fullmatch(r"[A-Za-z]{3,9}[\s\-]+\d{4}", text):    # 'Mar 2001' is the month, not its first day
        stamp = stamp + pd.offsets.MonthEnd(0)
    return stamp.tz_localize(None) if stamp.tzinfo else stamp


def _year_first(m: re.Match) -> bool:
    """'85-01-28': a first field above 31 can only be a two-digit year (yy-mm-dd, as some exports write dates)."""
    return int(m.group(1)) > 31 and len(m.group(3)) <= 2


def _day_order(texts: Sequence[str]) -> tuple[bool | str, str | None]:
    """(dayfirst, note) for numeric a/b/yyyy dates: the cells that only one order fits decide. A column in which
    some cell can only be yy-mm-dd is read that way throughout (``YEAR_FIRST``)."""
    firsts, seconds = [], []
    for t in texts:
        m = _NUMERIC_DMY.match(t.strip())
        if m:
            if _year_first(m):
                return YEAR_FIRST, (f"dates like {t.strip()!r} read as year-month-day with two-digit years "
                                    "(1950-2049); write four-digit years (e.g. 1985-01-28) to be sure")
            firsts.append(int(m.group(1)))
            seconds.append(int(m.group(2)))
    if not firsts:
        return False, None
    day_first_only = any(a > 12 for a in firsts)
    month_first_only = any(b > 12 for b in seconds)
    if day_first_only and month_first_only:
        raise InputError("the date column mixes day/month/year and month/day/year: write the dates one way "
                         "(best as 2001-03-31)")
    if day_first_only:
        return True, None
    if month_first_only:
        return False, None
    if all("." in t for t in texts if _NUMERIC_DMY.match(t.strip())):
        return True, None            # 01.02.2001 is written day first wherever dots are used
    # neither order is ruled out: take the one whose dates step most regularly
    spreads = {}
    for order in (False, True):
        stamps = [_from_text(t, order) for t in texts]
        if any(d is None for d in stamps):
            continue
        steps = np.diff(pd.DatetimeIndex(stamps).values).astype("timedelta64[D]").astype(float)
        if len(steps) and (np.all(steps > 0) or np.all(steps < 0)):
            spreads[order] = float(np.std(np.abs(steps)))
    if len(spreads) == 1:
        return next(iter(spreads)), None
    if spreads and spreads[True] < spreads[False]:
        return True, "dates like 01/02/2001 read day-first (the order that makes them regular)"
    return False, "dates like 01/02/2001 read month-first (US); write them as 2001-02-01 if they are day-first"


def parse_date(value: Any, dayfirst: bool | str | None = None, years_column: bool = False) -> pd.Timestamp | None:
    """One cell -> Timestamp, or None when it is not a date in any recognised form. ``dayfirst``: True, False,
    ``YEAR_FIRST`` for a yy-mm-dd column, or None for one cell alone (the order that is a date)."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value
    if isinstance(value, (_dt.datetime, _dt.date, np.datetime64)):
        return pd.Timestamp(value)
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return None if not np.isfinite(value) else _from_integer(float(value), years_column)
    if isinstance(value, str):
        return _from_text(value, dayfirst)
    return None


def _years_column(values: Sequence[Any]) -> bool:
    numbers = [v for v in values if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)]
    if len(numbers) < 2 or len(numbers) != len(values):
        return False
    arr = np.asarray(numbers, dtype=float)
    return bool(np.all(arr == np.round(arr)) and np.all((arr >= 1800) & (arr <= 2200))
                and np.all(np.abs(np.diff(arr)) == 1))


@dataclass(frozen=True)
class DateColumn:
    """A first column read as dates: the parsed index (NaT where a cell is blank) and what was assumed."""

    index: pd.DatetimeIndex
    notes: tuple[str, ...]


def read_date_column(values: Sequence[Any], row_names: Sequence[str] | None = None,
                     strict: bool = False) -> DateColumn | None:
    """Read ``values`` as dates, or None when the column is not a date column.

    A column is a date column when most of its non-blank cells are dates; then every non-blank cell must be one
    (``strict``, or when most are), otherwise an :class:`InputError` names the first row that is not, such as an
    'Average' row under the data."""
    non_blank = [(i, v) for i, v in enumerate(values) if not is_blank(v)]
    if not non_blank:
        return None
    texts = [v for _, v in non_blank if isinstance(v, str)]
    dayfirst, note = _day_order(texts)
    years = _years_column([v for _, v in non_blank])
    parsed = [(i, v, parse_date(v, dayfirst, years)) for i, v in non_blank]
    bad = [(i, v) for i, v, d in parsed if d is None]
    if len(bad) * 2 >= len(non_blank) and not strict:
        return None
    if bad:
        i, v = bad[0]
        where = row_names[i] if row_names is not None else f"row {i + 1}"
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise InputError(f"{where} of the date column holds {v!r}, which is not a date{more}: remove summary or "
                         "note rows from the range, or write the date (e.g. 2001-03-31)")
    stamps = [pd.NaT] * len(values)
    for i, _, d in parsed:
        stamps[i] = d
    return DateColumn(index=pd.DatetimeIndex(stamps), notes=(note,) if note else ())


# ----------------------------------------------------------------------------------------------------------------
# frequency, order, gaps
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frequency:
    name: str                 # "business daily", "weekly", "monthly", "quarterly", "annual"
    periods_per_year: int
    months: int               # months per period (0 for daily/weekly)
    days: tuple[float, float]  # spacing of one period, in days (low, high)


FREQUENCIES = (Frequency("business daily", 252, 0, (1, 5)), Frequency("weekly", 52, 0, (6, 8)),
               Frequency("monthly", 12, 1, (25, 35)), Frequency("quarterly", 4, 3, (85, 96)),
               Frequency("annual", 1, 12, (360, 370)))


def _frequency_of(days: float) -> Frequency | None:
    for f in FREQUENCIES:
        if f.days[0] <= days <= f.days[1]:
            return f
    return None


def infer_frequency(dates: pd.DatetimeIndex) -> Frequency:
    """The frequency of (sorted, unique) dates from the median spacing."""
    if len(dates) < 2:
        return FREQUENCIES[2]
    spacing = float(np.median(np.diff(dates.values).astype("timedelta64[s]").astype(float)) / 86400.0)
    found = _frequency_of(spacing)
    if found is None:
        raise InputError(f"dates are {spacing:g} days apart on median: give business-daily, weekly, monthly, "
                         "quarterly or annual data")
    return found


def _month_number(stamp: pd.Timestamp) -> int:
    return stamp.year * 12 + stamp.month


def regularise_dates(frame: pd.DataFrame, row_names: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Check and tidy a dated panel: sort a descending one, refuse duplicates, out-of-order dates and a change
    of frequency (naming the row), insert blank rows for whole missing periods. Returns the frame and notes.

    Monthly, quarterly and annual data are judged by calendar months (any day of the month counts: month-ends,
    last business days, mid-month fixings), weekly data by 7-day steps, business-daily data not at all beyond
    order (weekends and holidays are not gaps)."""
    notes: list[str] = []
    index = frame.index
    names = list(row_names) if row_names is not None else [f"row {i + 1} ({d:%Y-%m-%d})" for i, d in enumerate(index)]
    if len(index) < 2:
        return frame, notes
    steps = np.diff(index.values).astype("timedelta64[s]").astype(float)
    if np.all(steps < 0):
        frame, names = frame.iloc[::-1], names[::-1]
        notes.append("dates were in descending order: sorted ascending")
        index = frame.index
        steps = -steps[::-1]
    dup = np.flatnonzero(steps == 0)
    if len(dup):
        i = int(dup[0])
        raise InputError(f"{names[i]} and {names[i + 1]} hold the same date: delete the duplicate row")
    back = np.flatnonzero(steps < 0)
    if len(back):
        i = int(back[0]) + 1
        # the culprit is the row above when leaving it out restores the order (a date typed too late)
        if i >= 2 and index[i - 2] < index[i] or i == 1 and len(index) > 2 and index[0] > index[2]:
            raise InputError(f"{names[i - 1]} is later than the row below it ({names[i]}): check that date, or "
                             "sort the rows by date")
        raise InputError(f"{names[i]} is earlier than the row above it ({names[i - 1]}): check that date, or sort "
                         "the rows by date")
    freq = infer_frequency(index)
    if freq.name == "business daily":
        weekend = (index.day_of_week >= 5) & frame.isna().all(axis=1).to_numpy()
        if weekend.any():
            keep = ~weekend
            frame, names = frame[keep], [n for n, k in zip(names, keep) if k]
            index = frame.index
            notes.append(f"{int(weekend.sum())} blank weekend rows left out (business-daily data)")
    new_rows: list[pd.Timestamp] = []
    for i in range(len(index) - 1):
        a, b = index[i], index[i + 1]
        days = (b - a).total_seconds() / 86400.0
        if freq.months:
            k = (_month_number(b) - _month_number(a)) / freq.months
            if k == 1 and days >= 14 * freq.months:     # 10-29 -> 11-05 is a week, not a month
                continue
            if k == int(k) and k >= 2:
                new_rows += _fill(a, int(k) - 1, freq, month_end=bool(index.is_month_end.all()))
                continue
        elif freq.name == "weekly":
            k = days / 7.0
            if abs(k - 1) <= 1.5 / 7:            # a holiday moves a weekly fixing by a day
                continue
            if abs(k - round(k)) <= 1.5 / 7 and round(k) >= 2:
                new_rows += _fill(a, int(round(k)) - 1, freq, month_end=False)
                continue
        else:    # business daily
            if days <= 5:
                continue
            if days <= 14:
                notes.append(f"a gap of {days:g} days before {b:%Y-%m-%d} counts as one business day")
                continue
        other = _frequency_of(days)
        turn = f" (dates turn {freq.name} -> {other.name} here)" if other is not None and other != freq else ""
        raise InputError(f"{names[i + 1]} is {days:g} days after the row above; the panel is {freq.name}{turn}: "
                         "keep one frequency (e.g. one date per month) or fit the parts separately")
    if new_rows:
        frame = frame.reindex(index.append(pd.DatetimeIndex(new_rows)).sort_values())
        notes.append(f"{len(new_rows)} missing {freq.name} date(s) inserted as blank rows "
                     f"(first {min(new_rows):%Y-%m-%d}); blanks are missing values")
    return frame, notes


def _fill(start: pd.Timestamp, count: int, freq: Frequency, month_end: bool) -> list[pd.Timestamp]:
    out = []
    for j in range(1, count + 1):
        if freq.months:
            stamp = start + pd.DateOffset(months=j * freq.months)
            out.append(stamp + pd.offsets.MonthEnd(0) if month_end else stamp)
        else:
            out.append(start + pd.Timedelta(days=7 * j))
    return out


def period_end(text: Any) -> pd.Timestamp | None:
    """The last day a bound such as ``2019``, ``2019-12``, ``12/2019`` or ``Dec 2019`` covers (an end date given
    without its day means the whole month or year); a full date is itself."""
    raw = str(text).strip()
    if re.fullmatch(r"\d{4}", raw):
        return pd.Timestamp(year=int(raw), month=12, day=31)
    m = re.fullmatch(r"(\d{1,2})[/.\-](\d{4})", raw)
    if m:
        return _month_end(int(m.group(2)), int(m.group(1)))
    stamp = parse_date(raw)
    if stamp is None:
        return None
    has_day = bool(re.search(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|^\d{8}$|\d{1,2}[\s\-][A-Za-z]{3}",
                             raw))
    return stamp if has_day else stamp + pd.offsets.MonthEnd(0)
