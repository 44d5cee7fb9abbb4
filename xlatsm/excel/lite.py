"""The spreadsheet functions and the Refit script declared to xlwings Lite (Python in the Office add-in's browser
engine via Pyodide: Windows, macOS and Excel on the web, no local Python). Declarations only: the functions live
once in :mod:`xlatsm.excel.core`, shared with the classic declarations in :mod:`xlatsm.excel.udfs`.

    =ATSM_FIT(yields, [maturities], [n_factors], [output], [method], [yield_units], [maturity_units], [time],
              [horizon])
    =LGSSM_EM(data, k_states, [lags], [output], [max_iter], [measurement_error], [horizon])
    =SMOOTH_STATES(data, model, [output], [yield_units])
    =XLATSM_GET(model, [output], [horizon])
    =XLATSM_BANDS(model, [output], [level], [maturity], [method], [n_boot], [seed], [horizon])
    script xlatsm_refit: fit the Yields sheet and write the result sheets (the classic ribbon button's role)

Lite's decorators are the ones its documentation gives, imported from ``xlwings`` (which the add-in provides and
in which they are its own): ``func`` registers a custom function, ``arg`` sets an argument's help (``doc``) and
converter options, ``script`` registers a script that gets the workbook as a parameter annotated ``xw.Book``.
Lite registers every custom-function parameter as a matrix of any values, so each range argument is declared with
``ndim=2`` (a one-row range stays 2-D), ``empty=None`` and ``err_to_str=True``; a returned list of rows spills as
a dynamic array (classic xlwings' ``expand`` option is not needed and not given). Options that only classic
xlwings knows (``category``, ``call_in_wizard``, ``async_mode``) stay in the classic layer.

Registration: adding ``xlatsm`` to the workbook's requirements.txt makes it a Lite plugin; the same functions can
also be registered by one line in the workbook's main.py, ``from xlatsm.excel.lite import *`` (Lite registers the
decorated functions it finds in main.py, imported ones included).
"""
from __future__ import annotations

import xlwings as xw
from xlwings import arg, func, script

from . import core


def declare(f):
    """``f`` (a function of :mod:`xlatsm.excel.core`) declared to xlwings Lite from its declaration, as a copy
    belonging to this module."""
    declared = core.declaration_copy(f, __name__)
    for argument in reversed(f.declaration.args):
        declared = arg(argument.name, doc=argument.doc, **(argument.options or {}))(declared)
    return func(declared)


# Module attributes named as in Excel: Lite finds custom functions by scanning a module's members.
FUNCTIONS = [declare(f) for f in core.FUNCTIONS]
globals().update({f.__name__: f for f in FUNCTIONS})


@script
def xlatsm_refit(book: xw.Book):
    """Fit the model to the Yields sheet (dates down column A, maturities across row 1) with the settings named
    Settings_N / Settings_Method when the workbook defines them, and write the results: a status line in
    Results!A1, the summary, parameters and pricing errors on Results, factors, fitted yields and term premia on
    RefitFactors, RefitFitted and RefitTermPremium."""
    from .refit import LiteBook, refit_book    # the estimators load when the script runs, not at every start

    print(refit_book(LiteBook(book)))


__all__ = [f.__name__ for f in FUNCTIONS] + ["xlatsm_refit"]
