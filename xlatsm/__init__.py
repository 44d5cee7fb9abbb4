"""xlatsm: affine term structure models and linear Gaussian state-space models, for Python and Excel.

Layers (each imports only the ones before it): ``data`` (ranges/files -> clean panels) -> ``ssm`` (Kalman
smoother, exact EM) and ``atsm`` (Gaussian affine term structure models) -> ``excel`` (UDFs, layout, cache) and
``cli``.
"""
from .errors import ConvergenceWarning, EstimationError, InputError, ModelError, StaleHandleError, XlatsmError

# The estimators load on first use: Excel pays ``import xlatsm`` at every start, and most of it is scipy and
# statsmodels that a recalculation from the cache never needs.
_LAZY = {"load_sample": "data", "read_observations": "data", "read_panel": "data", "LGSSMParams": "ssm",
         "LGSSMResult": "ssm", "SmoothResult": "ssm", "fit_lgssm": "ssm", "smooth_states": "ssm",
         "ATSMParams": "atsm", "ATSMResult": "atsm", "fit_atsm": "atsm.methods", "fit_acm": "atsm.acm",
         "fit_dns": "atsm.nelson_siegel", "fit_afns": "atsm.afns", "rolling": "reestimation",
         "RollingResult": "reestimation", "ForecastResult": "forecast"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xlatsm' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))

__version__ = "0.1.0"

__all__ = ["fit_atsm", "fit_acm", "fit_dns", "fit_afns", "ATSMParams", "ATSMResult", "fit_lgssm", "smooth_states", "LGSSMParams", "LGSSMResult", "SmoothResult", "load_sample",
           "read_observations", "read_panel", "XlatsmError", "InputError", "ModelError", "EstimationError",
           "StaleHandleError", "ConvergenceWarning", "rolling", "RollingResult", "ForecastResult", "__version__"]

# xlwings Lite (Pyodide, where sys.platform is "emscripten") registers the custom functions and scripts it finds among
# a module's members; where it imports this package as a plugin, the spreadsheet functions are here for it to find.
# Elsewhere nothing is imported (import xlatsm stays light). README "Excel without installing Python" step 3 is the
# sure route: `from xlatsm.excel.lite import *` in the workbook's main.py.
import sys as _sys

if _sys.platform == "emscripten":
    try:
        from .excel.lite import *  # noqa: F401,F403
    except ImportError:            # no xlwings in this Pyodide (not inside the Lite add-in): the library still works
        pass
