"""Yield-unit rules: in which unit a panel is written, and whether its parts agree. The one place they live.

**The unit rule.** Yields are read in the unit (decimal, percent or basis points) that makes the panel's typical
move from one date to the next, restated per month, closest to 15 bp: real curves move 1.5 to 150 bp a month
(1961-2022 Treasury panels: 4 to 80 bp), and the three units are a factor 100 apart, so exactly one unit lands
in that range. Outside 3..75 bp the reading is called uncertain and the summary says what was assumed and how to
override it (``yield_units``). A cell written ``4.5%`` states percent; a panel with a single date has no moves
and is read by its level (percent assumed, said).

**The agreement rules.** A column that never moves (a stale feed, a filled-down value) or that repeats another
column on every date (a copy-paste slip) carries no information about its maturity: refused, naming it. A column (or a run of rows) that comes 10 times closer to the rest of the panel when
multiplied by 100 or 10,000 (or divided) is written in another unit: refused, naming it. A cell 10 or 100 times
its neighbouring dates' values is a typo: refused, naming it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

YIELD_UNITS = ("auto", "percent", "decimal", "bp")
SCALE = {"decimal": 1.0, "percent": 100.0, "bp": 10000.0}      # input units per decimal
_ALIASES = {"%": "percent", "pct": "percent", "percentage": "percent", "percent": "percent",
            "decimal": "decimal", "decimals": "decimal", "dec": "decimal", "fraction": "decimal",
            "bp": "bp", "bps": "bp", "basis points": "bp", "basis_points": "bp", "basispoints": "bp",
            "auto": "auto", "": "auto"}
_TYPICAL_MOVE_BP = 15.0
_CONFIDENT_BP = (3.0, 75.0)
_FACTORS = (100.0, 10000.0, 0.01, 0.0001)


def normalise_yield_units(text) -> str:
    key = " ".join(str(text if text is not None else "auto").strip().lower().split())
    if key not in _ALIASES:
        raise InputError(f"yield_units must be one of {', '.join(YIELD_UNITS)}, not {text!r}")
    return _ALIASES[key]


def monthly_move(values: np.ndarray, periods_per_year: float = 12.0) -> float:
    """Root mean square change of the cells from one date to the next (NaN-aware), restated per month by
    sqrt(12 / periods_per_year) (random-walk scaling), in the input's units; NaN when no change is observed."""
    if values.shape[0] < 2:
        return np.nan
    changes = np.diff(values, axis=0)
    if not np.isfinite(changes).any():
        return np.nan
    return float(np.sqrt(np.nanmean(changes ** 2)) * np.sqrt(periods_per_year / 12.0))


@dataclass(frozen=True)
class UnitDecision:
    units: str          # "decimal" | "percent" | "bp"
    note: str           # what was read and why (with the override when uncertain)
    certain: bool


def decide_yield_units(values: np.ndarray, yield_units: str = "auto", periods_per_year: float = 12.0,
                       stated: str | None = None) -> UnitDecision:
    """Apply the unit rule (module docstring). ``stated`` is a unit the cells themselves wrote (``4.5%``)."""
    units = normalise_yield_units(yield_units)
    if units != "auto":
        return UnitDecision(units, f"yields read as {units} (as stated)", True)
    if stated is not None:
        return UnitDecision(stated, f"yields read as {stated} (the cells say %)", True)
    move = monthly_move(values, periods_per_year)
    if not np.isfinite(move) or move == 0:
        return UnitDecision("percent", "yields read as percent (one date only, so no moves to judge the unit "
                                       "by): pass yield_units='decimal' or 'bp' if they are not", False)
    in_bp = {u: move / SCALE[u] * 1e4 for u in SCALE}
    chosen = min(in_bp, key=lambda u: abs(np.log(in_bp[u] / _TYPICAL_MOVE_BP)))
    low, high = _CONFIDENT_BP
    bp = in_bp[chosen]
    if low <= bp <= high:
        return UnitDecision(chosen, f"yields read as {chosen} (typical monthly move {bp:.3g} bp)", True)
    alternative = max(SCALE, key=lambda u: -abs(np.log(in_bp[u] / _TYPICAL_MOVE_BP)) if u != chosen else -np.inf)
    return UnitDecision(chosen, f"yields read as {chosen}, uncertain: their typical monthly move is {bp:.3g} bp "
                                f"in {chosen} ({in_bp[alternative]:.3g} bp if they were {alternative}); pass "
                                f"yield_units='{alternative}' if they are {alternative}", False)


# ----------------------------------------------------------------------------------------------------------------
# agreement of columns, rows and cells
# ----------------------------------------------------------------------------------------------------------------
def _better_scale(values: np.ndarray, reference: np.ndarray) -> float | None:
    """A factor (100, 1e4, 1/100, 1/1e4) that brings ``values`` 10 times closer to ``reference``, or None."""
    ok = np.isfinite(values) & np.isfinite(reference)
    if ok.sum() == 0:
        return None
    v, r = values[ok], reference[ok]
    raw = np.median(np.abs(v - r))
    if raw == 0:
        return None
    for f in _FACTORS:
        if np.median(np.abs(f * v - r)) * 10 < raw:
            return f
    return None


def _factor_words(f: float) -> str:
    return {100.0: "100 times too small", 10000.0: "10,000 times too small", 0.01: "100 times too large",
            0.0001: "10,000 times too large"}[f]


def check_scale_agreement(values: np.ndarray, row_names: Sequence[str], col_names: Sequence[str]) -> None:
    """Refuse columns, rows and cells written in another unit than the rest (module docstring), naming them."""
    T, p = values.shape
    if p >= 3 and T >= 1:
        with np.errstate(all="ignore"), _quiet():
            row_median = np.nanmedian(values, axis=1)
        bad = [(j, f) for j in range(p) if (f := _better_scale(values[:, j], row_median)) is not None]
        if bad and len(bad) * 2 < p:
            names = ", ".join(repr(col_names[j]) for j, _ in bad)
            raise InputError(f"column(s) {names} look {_factor_words(bad[0][1])} next to the others (one in "
                             "decimals among percent, or bp among percent?): write every column in the same unit")
    if T >= 2:
        # walk down the dates: a row that comes 10 times closer to the row before it (blanks carried forward)
        # when rescaled starts a run in another unit; the units of the most rows are the panel's
        previous = pd.DataFrame(values).ffill().shift(1).to_numpy()
        level = np.zeros(T)
        for t in range(1, T):
            f = _better_scale(values[t], previous[t])
            level[t] = level[t - 1] + (np.log10(f) if f is not None else 0.0)
        kinds, counts = np.unique(np.round(level), return_counts=True)
        if len(kinds) > 1:
            majority = kinds[np.argmax(counts)]
            bad_rows = np.flatnonzero(np.round(level) != majority)
            shift = float(np.round(level[bad_rows[0]]) - majority)
            rows = ", ".join(row_names[t] for t in bad_rows[:5]) + (" ..." if len(bad_rows) > 5 else "")
            raise InputError(f"{len(bad_rows)} row(s) look {_factor_words(10.0 ** shift)} next to the other dates "
                             f"({rows}): were they pasted in another unit? write every row in the same unit")
    _check_typos(values, row_names, col_names)


def _check_typos(values: np.ndarray, row_names: Sequence[str], col_names: Sequence[str]) -> None:
    """A cell 10x or 100x (or 1/10, 1/100) the average of the dates before and after it, where those two agree and
    the jump is 8 typical moves of its column: a slipped decimal point."""
    T, p = values.shape
    if T < 3:
        return
    a, y, b = values[:-2], values[1:-1], values[2:]
    with np.errstate(all="ignore"):
        # a robust typical move (the typo's own two jumps must not inflate it): 1.4826 x median |change|
        moves = 1.4826 * np.nanmedian(np.abs(np.diff(values, axis=0)), axis=0)
        mid = 0.5 * (a + b)
        dev = np.abs(y - mid)
        ratio = np.abs(y / mid)
        typo = ((dev > 8 * moves) & (np.abs(a - b) * 5 < dev)
                & np.any([np.abs(ratio / r - 1) < 0.2 for r in (10.0, 100.0, 0.1, 0.01)], axis=0))
    hits = np.argwhere(np.nan_to_num(typo, nan=0).astype(bool))
    if len(hits):
        t, j = hits[0]
        raise InputError(f"the cell at {row_names[t + 1]}, {col_names[j]} holds {values[t + 1, j]:g} between "
                         f"{values[t, j]:g} and {values[t + 2, j]:g} on the dates around it: a slipped decimal "
                         f"point? correct it or clear it (blank = missing)"
                         + (f"; {len(hits) - 1} more such cell(s)" if len(hits) > 1 else ""))


class _quiet:
    """Silence numpy's 'All-NaN slice' RuntimeWarning inside nanmedian (an all-blank row is legitimate)."""

    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def check_columns_move(values: np.ndarray, col_names: Sequence[str]) -> None:
    """Refuse a column that never moves and two columns identical on every date they share (module docstring)."""
    T, p = values.shape
    observed = np.isfinite(values)
    for j in range(p):
        v = values[observed[:, j], j]
        if len(v) >= 3 and np.all(v == v[0]):
            raise InputError(f"column {col_names[j]!r} holds {v[0]:g} on every date: a stale or filled-down column "
                             "carries no information; fill in the real yields or leave the column out")
    for j in range(p - 1):
        for k in range(j + 1, p):
            both = observed[:, j] & observed[:, k]
            if both.sum() >= 3 and np.array_equal(values[both, j], values[both, k]):
                raise InputError(f"columns {col_names[j]!r} and {col_names[k]!r} are identical on every date: a "
                                 "copy-paste slip? put the right yields in one of them or leave it out")
