"""Charts and reports (matplotlib, headless). Imports the core, never the Excel layer.

``xlatsm.report.factors`` (factors in analyst units) does not import matplotlib; the rest is loaded on first use.
"""
from __future__ import annotations

_LAZY = {
    "plot_factors": "charts", "plot_lines": "charts", "plot_curves": "charts", "plot_bars": "charts",
    "atsm_report": "html", "lgssm_report": "html", "report": "html", "build_document": "html",
    "Document": "document", "find_browser": "document", "screenshot": "document",
    "analyst_factors": "factors", "AnalystFactors": "factors",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
