"""Charts of a model comparison (:mod:`xlatsm.report.comparison`): pricing errors by maturity, one line per model,
and the models' headline term premia on one time axis. They keep the rules of :mod:`xlatsm.report.charts` (axes
say what and in what units, dates as years, the legend outside the plotting area)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: charts are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .charts import _legend_outside, lines_figure, save  # noqa: E402
from .. import extrapolation  # noqa: E402


def errors_by_maturity_figure(errors: pd.DataFrame, title: str = "Pricing errors by maturity, RMSE"):
    """``errors`` (models x maturity labels, bp): one line with markers per model against maturity in years."""
    years = extrapolation.to_years(list(errors.columns))
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for model, row in errors.iterrows():
        ax.plot(years, row.to_numpy(float), "o-", lw=1.3, ms=4, label=str(model))
    ax.set_xlabel("maturity (years)")
    ax.set_ylabel("RMSE (bp)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _legend_outside(ax, ncol=min(4, max(1, len(errors))))
    return fig


def plot_errors_by_maturity(errors: pd.DataFrame, path: str | Path,
                            title: str = "Pricing errors by maturity, RMSE") -> Path:
    return save(errors_by_maturity_figure(errors, title), path)


def plot_term_premia(term_premia: pd.DataFrame, path: str | Path, headline: str, units: str) -> Path:
    """The models' ``headline`` term premia (dates x models, ``units``) on one chart."""
    return save(lines_figure(term_premia, f"{headline} term premium by model ({units})",
                             f"term premium ({units})"), path)


def comparison_charts(comparison, folder: str | Path) -> list[tuple[Path, str]]:
    """errors_by_maturity.png and, when any model has term premia, term_premia_<10y>.png in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    charts = [(plot_errors_by_maturity(comparison.pricing_errors, folder / "errors_by_maturity.png"),
               "pricing errors by maturity, every model")]
    if comparison.term_premia.shape[1]:
        years = float(extrapolation.to_years(comparison.headline)[0])
        charts.append((plot_term_premia(comparison.term_premia, folder / f"term_premia_{years:g}y.png",
                                        comparison.headline, comparison.units), "term premia, every model"))
    return charts
