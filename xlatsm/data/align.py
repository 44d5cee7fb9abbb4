"""New data for a fitted model: its columns matched to the model's by label, its yields put in the model's units.
The one place these rules live (SMOOTH_STATES, ``result.smooth`` and ``result.evaluate`` use them).

* Yield columns are matched by maturity (``10Y``, ``m120`` and ``SVENY10`` are the same column), other series by
  label (case and surrounding blanks ignored); order does not matter. A column the model needs and the data lack
  is an error naming it; columns the model was not fitted to are left out. Data without a header (``y1``, ``y2``
  ...) are taken in the model's order when they have as many columns.
* Yield units are read from the data by the unit rule (:mod:`.units`), falling back to the model's units when the
  data alone leave the reading uncertain; ``yield_units`` overrides.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .panel import Observations, read_panel
from .table import is_generic as _generic
from .tenors import maturities_to_years
from .units import SCALE, normalise_yield_units


def _missing(what: Sequence[str], model_cols: Sequence[str]) -> InputError:
    return InputError(f"the data lack {', '.join(what)}, which the model was fitted to ({', '.join(model_cols)}): "
                      "add the column(s), blank where unknown")


def align_series(obs: Observations, model_columns: Sequence[str]) -> Observations:
    """Reorder (and subset) ``obs``'s columns to ``model_columns`` by label."""
    model_columns = [str(c) for c in model_columns]
    cols = [str(c) for c in obs.columns]
    if _generic(cols) and len(cols) == len(model_columns):
        picks = list(range(len(cols)))
    else:
        keys = {c.strip().lower(): j for j, c in enumerate(cols)}
        lacking = [c for c in model_columns if c.strip().lower() not in keys]
        if lacking:
            raise _missing(lacking, model_columns)
        picks = [keys[c.strip().lower()] for c in model_columns]
    return Observations(values=obs.values[:, picks], index=obs.index, columns=list(model_columns), notes=obs.notes,
                        row_names=obs.row_names, percent_cells=obs.percent_cells,
                        percent_stated=obs.percent_stated)


def _years_or_nan(labels, maturity_units: str) -> np.ndarray:
    try:
        return maturities_to_years(labels, maturity_units, ordered=False)[0]
    except InputError:
        out = []
        for label in labels:
            try:
                out.append(maturities_to_years([label], "years" if maturity_units == "auto" else maturity_units,
                                               ordered=False)[0][0])
            except InputError:
                out.append(np.nan)
        return np.asarray(out, dtype=float)


def align_yields(obs: Observations, model_maturities: np.ndarray, model_labels: Sequence[str], model_units: str,
                 yield_units: str = "auto", maturity_units: str = "auto",
                 model_level: float | None = None) -> pd.DataFrame:
    """New yields as a frame in the model's units, with the model's column labels and order. ``model_level`` is
    the median |yield| of the model's own data in decimals (for judging the units of one or two dates)."""
    model_labels = list(model_labels)
    if _generic(obs.columns) and len(obs.columns) == len(model_labels):
        picks = list(range(len(obs.columns)))
    else:
        years = _years_or_nan(list(obs.columns), maturity_units)      # '2s10s', 'Fed funds': not maturities
        picks, lacking = [], []
        for m, label in zip(model_maturities, model_labels):
            hit = np.flatnonzero(np.abs(years - m) < 1e-6)
            (picks.append(int(hit[0])) if len(hit) else lacking.append(label))
        if lacking:
            raise _missing(lacking, model_labels)
    sub = Observations(values=obs.values[:, picks], index=obs.index, columns=model_labels, notes=obs.notes,
                       row_names=obs.row_names, percent_cells=obs.percent_cells,
                        percent_stated=obs.percent_stated)
    units = normalise_yield_units(yield_units)
    panel = read_panel(sub, yield_units=units)
    if units == "auto" and not panel.units_certain:
        # too few dates to judge by moves (one curve: today's): the unit whose median yield comes nearest the
        # model's own data, in ratio, decides
        level = float(np.nanmedian(np.abs(sub.values)))
        if model_level is not None and level > 0:
            best = min(SCALE, key=lambda u: abs(np.log(level / SCALE[u] / model_level)))
        else:
            best = model_units
        panel = read_panel(sub, yield_units=best)
    return pd.DataFrame(panel.yields * SCALE[model_units], index=obs.index, columns=model_labels)
