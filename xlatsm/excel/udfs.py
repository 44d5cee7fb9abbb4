"""The spreadsheet functions declared to classic xlwings (Windows: VBA wrappers in the workbook call them over
COM). Declarations only: the functions themselves live once in :mod:`xlatsm.excel.core`, shared with the xlwings
Lite declarations in :mod:`xlatsm.excel.lite`.

    =ATSM_FIT(yields, [maturities], [n_factors], [output], [method], [yield_units], [maturity_units], [time],
              [horizon])
    =LGSSM_EM(data, k_states, [lags], [output], [max_iter], [measurement_error], [horizon])
    =SMOOTH_STATES(data, model, [output], [yield_units])
    =XLATSM_GET(model, [output], [horizon])
    =XLATSM_BANDS(model, [output], [level], [maturity], [method], [n_boot], [seed], [horizon])

The workbook's VBA is generated from these declarations (workbook/build.py): rebuild it after a change.
"""
from __future__ import annotations

from . import core
from .declare import classic

# Module attributes named as in Excel (ATSM_FIT, ...): xlwings finds the functions by scanning this module, and
# the VBA wrappers call them by these names.
UDFS = [classic(f) for f in core.FUNCTIONS]
globals().update({f.__name__: f for f in UDFS})
__all__ = [f.__name__ for f in UDFS] + ["UDFS"]
