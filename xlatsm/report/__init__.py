"""Charts and reports (matplotlib, headless). Imports the core, never the Excel layer."""
from .charts import plot_bars, plot_curves, plot_factors, plot_lines
from .html import atsm_report

__all__ = ["plot_factors", "plot_lines", "plot_curves", "plot_bars", "atsm_report"]
