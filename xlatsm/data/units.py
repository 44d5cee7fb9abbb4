"""Yield-unit rules: in which unit a panel is written, and whether its parts agree. The one place they live.

**The unit rule.** Yields are read in the unit (decimal, percent or basis points) that makes the panel's typical
move from one date to the next, restated per month, closest to 15 bp, among the units that keep every yield
between -5% and 100%: real curves move 1.5 to 150 bp a month (1961-2022 Treasury panels: 4 to 80 bp), and the
three units are a factor 100 apart, so one unit lands in that range; when two units come within a factor 3 of each
other on that score, the one that puts the median yield nearer 3% is chosen. Outside 3..75 bp the reading is called
uncertain and the summary says what was assumed and how to override it (``yield_units``). A panel written
entirely as ``4.5%`` text is percent (a mix of ``4.5%`` text and numbers follows Excel: 4.5% = 0.045); a panel
with a single date has no moves and is read by its level (percent assumed, said).

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
_TYPICAL_LEVEL = 0.03
_CONFIDENT_BP = (3.0, 75.0)
_LOWEST, _HIGHEST = -0.05, 1.0          # plausible yields, decimals per year
_FACTORS = (100.0, 10000.0, 0.01, 0.0001)


def normalise_yield_units(text) -> str:
    key = " ".join(str(text if text is not None else "auto").strip().lower().split())
    if key not in _ALIASES:
        raise InputError(f"yield_units must be one of {', '.join(YIELD_UNITS)}, not {text!r}")
    return _ALIASES[key]


def monthly_move(values: np.ndarray, periods_per_year: float = 12.0) -> float:
    """The typical change of the cells from one date to the next, restated per month by sqrt(12 /
    periods_per_year) (random-walk scaling), in the input's units; NaN when no change is observed.

    Typical = 1.4826 x the median absolute change (the standard deviation for normal moves, and blind to a few
    wild cells such as one number typed in another unit); the root mean square where most changes are zero
    (rates pinned at a floor)."""
    if values.shape[0] < 2:
        return np.nan
    changes = np.diff(values, axis=0)
    changes = np.abs(changes[np.isfinite(changes)])
    if not len(changes):
        return np.nan
    typical = 1.4826 * float(np.median(changes))
    if typical == 0:
        typical = float(np.sqrt(np.mean(changes ** 2)))
    return typical * float(np.sqrt(periods_per_year / 12.0))


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
    # only units that keep every yield between -5% and 100% per year are candidates (a -28% yield is not a yield)
    plausible = [u for u in SCALE if np.nanmin(values) / SCALE[u] >= _LOWEST and np.nanmax(values) / SCALE[u]
                 <= _HIGHEST] or list(SCALE)
    in_bp = {u: move / SCALE[u] * 1e4 for u in plausible}
    distance = {u: abs(np.log(in_bp[u] / _TYPICAL_MOVE_BP)) for u in in_bp}
    chosen = min(distance, key=distance.get)
    level = float(np.nanmedian(np.abs(values)))
    close = [u for u in distance if distance[u] - distance[chosen] < np.log(3.0)]
    if len(close) > 1 and level > 0:       # a near tie: the median yield nearer 3% decides
        chosen = min(close, key=lambda u: abs(np.log(level / SCALE[u] / _TYPICAL_LEVEL)))
    low, high = _CONFIDENT_BP
    bp = in_bp[chosen]
    if low <= bp <= high:
        return UnitDecision(chosen, f"yields read as {chosen} (typical monthly move {bp:.3g} bp)", True)
    others = [u for u in in_bp if u != chosen]
    if not others:
        return UnitDecision(chosen, f"yields read as {chosen}: the only unit in which every yield lies between -5% "
                                    f"and 100% (typical monthly move {bp:.3g} bp); pass yield_units if not", True)
    alternative = min(others, key=lambda u: abs(np.log(in_bp[u] / _TYPICAL_MOVE_BP)))
    return UnitDecision(chosen, f"yields read as {chosen}, uncertain: their typical monthly move is {bp:.3g} bp "
                                f"in {chosen} ({in_bp[alternative]:.3g} bp if they were {alternative}); pass "
                                f"yield_units='{alternative}' if they are {alternative}", False)


# ----------------------------------------------------------------------------------------------------------------
# agreement of columns, rows and cells
# ----------------------------------------------------------------------------------------------------------------
def _better_scale(values: np.ndarray, reference: np.ndarray, move: float = 0.0) -> float | None:
    """A factor (100, 1e4, 1/100, 1/1e4) that brings ``values`` in line with ``reference`` (same sign, both
    observed): the median ratio of the rescaled values to the reference at least 10 times nearer one than the raw
    values', where the values are far (3 typical moves) from the reference. None when there is no such factor."""
    ok = np.isfinite(values) & np.isfinite(reference) & (values * reference > 0)
    ok &= np.abs(values - reference) > 3 * move
    if ok.sum() == 0:
        return None
    v, r = values[ok], reference[ok]
    raw = np.median(np.abs(np.log(np.abs(v / r))))
    for f in _FACTORS:
        if np.median(np.abs(np.log(np.abs(f * v / r)))) < raw - np.log(10.0):
            return f
    return None


def _factor_words(f: float) -> str:
    return {100.0: "100 times too small", 10000.0: "10,000 times too small", 0.01: "100 times too large",
            0.0001: "10,000 times too large"}[f]


def _robust_moves(values: np.ndarray) -> np.ndarray:
    """Per column: the typical change from one date to the next (1.4826 x median |change|; RMS if that is 0)."""
    changes = np.abs(np.diff(values, axis=0))
    with np.errstate(all="ignore"), _quiet():
        typical = 1.4826 * np.nanmedian(changes, axis=0)
        rms = np.sqrt(np.nanmean(changes ** 2, axis=0))
    return np.where(typical > 0, typical, rms)


def _beside(values: np.ndarray) -> np.ndarray:
    """For each cell, the median of the two maturities on each side on the same date (cells already found to be
    in another unit left out by the caller), NaN where none is observed."""
    frame = pd.DataFrame(values)
    around = [frame.shift(k, axis=1).to_numpy() for k in (-2, -1, 1, 2)]
    with np.errstate(all="ignore"), _quiet():
        return np.nanmedian(np.stack(around), axis=0)


def _factor_fits(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Elementwise factor f (100, 1e4, 0.01, 1e-4) whose rescaled value's ratio to ``reference`` is at least 10
    times nearer one than the raw value's (same sign), 0 where none is."""
    out = np.zeros(values.shape)
    with np.errstate(all="ignore"):
        same_sign = values * reference > 0
        raw = np.abs(np.log(np.abs(values / reference)))
        for f in _FACTORS:
            better = np.abs(np.log(np.abs(f * values / reference))) < raw - np.log(10.0)
            hit = np.nan_to_num(same_sign & better, nan=0).astype(bool) & (out == 0)
            out[hit] = f
    return out


def _column_units(values: np.ndarray) -> np.ndarray:
    """(p,) factor for each column whose typical move, rescaled, comes in line with its neighbours' moves (two
    passes, the first's finds left out of the second). Moves, not levels: near zero rates levels differ by any
    ratio, but neighbouring maturities never move 10 times more or less than each other."""
    moves = _robust_moves(values)[None, :]
    masked = moves.copy()
    found = np.zeros(moves.shape)
    for _ in range(2):
        found = _factor_fits(moves, _beside(masked))
        masked = np.where(found != 0, np.nan, moves)
    return found[0]


def _cell_units(values: np.ndarray) -> np.ndarray:
    """(T, p) factor for each cell that, rescaled, comes in line (10 times nearer in ratio) with the cells beside
    it on its date *and* with its own column's previous (or, on the first date, next) value, all far from zero (3
    typical moves) so that ratios mean something. The second condition keeps a rate that is merely near zero (-0.001 beside -0.1) from being
    taken for a unit slip: it is in line with its own column's history."""
    T, p = values.shape
    move = monthly_move(values)
    move = move if np.isfinite(move) else 0.0
    masked = values
    found = np.zeros(values.shape)
    for _ in range(2):
        beside = _beside(masked)
        found = _factor_fits(values, beside)
        with np.errstate(all="ignore"):
            clear = (np.abs(beside) > 3 * move) & (np.abs(found * values) > 3 * move)
        found[~np.nan_to_num(clear, nan=0).astype(bool)] = 0
        masked = np.where(found != 0, np.nan, values)
    frame = pd.DataFrame(values)
    before = frame.ffill().shift(1).to_numpy()
    after = frame.bfill().shift(-1).to_numpy()
    near = np.where(np.isfinite(before), before, after)
    with np.errstate(all="ignore"):
        in_time = (found * values * near > 0) & (np.abs(near) > 3 * move) & (
            np.abs(np.log(np.abs(found * values / near))) < np.abs(np.log(np.abs(values / near))) - np.log(10.0))
    return np.where(np.nan_to_num(in_time, nan=0).astype(bool) & (found != 0), found, 0.0), found


def check_scale_agreement(values: np.ndarray, row_names: Sequence[str], col_names: Sequence[str],
                          percent_text: bool = False) -> None:
    """Refuse columns, runs of cells, rows and cells written in another unit than the rest (module docstring),
    naming them."""
    T, p = values.shape
    if p >= 2 and T >= 2:
        columns = _column_units(values)
        whole = [j for j in range(p) if columns[j] != 0]
        if whole and len(whole) * 2 < p:
            names = ", ".join(repr(col_names[j]) for j in whole)
            raise InputError(f"column(s) {names} look {_factor_words(columns[whole[0]])} next to the maturities "
                             "beside them (one in decimals among percent, or bp among percent?): write every "
                             "column in the same unit")
    if p >= 2:
        starts, cross = _cell_units(values)
        hits = np.argwhere(starts != 0)
        if len(hits) and len(hits) * 2 < np.isfinite(values).sum():
            t, j = hits[0]
            f = starts[t, j]
            run = int(np.sum((cross[t:, j] == f).cumprod()))
            if run >= 2:
                raise InputError(f"column {col_names[j]!r} looks {_factor_words(f)} from {row_names[t]} on ({run} "
                                 "dates) next to the maturities beside it: was it pasted in another unit? write "
                                 "every cell in the same unit")
            hint = (" (a '4.5%' text cell is 0.045, as in Excel: type 4.5 in a percent panel)"
                    if percent_text and f in (100.0, 0.01) else "")
            raise InputError(f"the cell at {row_names[t]}, {col_names[j]} holds {values[t, j]:g}, "
                             f"{_factor_words(f)} next to the cells beside it (another unit?){hint}: correct it "
                             "or clear it (blank = missing)")
    if T >= 2:
        # walk down the dates: a row that comes 10 times closer to the row before it (blanks carried forward)
        # when rescaled starts a run in another unit; the units of the most rows are the panel's
        previous = pd.DataFrame(values).ffill().shift(1).to_numpy()
        move = monthly_move(values)
        move = move if np.isfinite(move) else 0.0
        level = np.zeros(T)
        for t in range(1, T):
            f = _better_scale(values[t], previous[t], move)
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
    with np.errstate(all="ignore"), _quiet():    # a column with no two consecutive dates has no move: NaN
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
    filled = np.where(observed, values, 0.0)
    for j in range(p - 1):                 # column j against every later column at once (p numpy passes, not p^2)
        both = observed[:, j:j + 1] & observed[:, j + 1:]
        same = ((filled[:, j:j + 1] == filled[:, j + 1:]) | ~both).all(axis=0) & (both.sum(axis=0) >= 3)
        if same.any():
            k = j + 1 + int(np.flatnonzero(same)[0])
            raise InputError(f"columns {col_names[j]!r} and {col_names[k]!r} are identical on every date: a "
                             "copy-paste slip? put the right yields in one of them or leave it out")
