"""PNG charts of the things people would rather look at than read: factors, fitted curves, term premia."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: charts are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_lines(frame: pd.DataFrame, path: str | Path, title: str, ylabel: str = "",
               bands: pd.DataFrame | None = None) -> Path:
    """One line per column of ``frame`` against its index; optional +-2 s.e. ``bands`` (same shape)."""
    path = Path(path)
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for col in frame.columns:
        line, = ax.plot(frame.index, frame[col], lw=1.2, label=str(col))
        if bands is not None and col in bands:
            ax.fill_between(frame.index, frame[col] - 2 * bands[col], frame[col] + 2 * bands[col],
                            color=line.get_color(), alpha=0.15, lw=0)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, ncol=min(4, len(frame.columns)))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_factors(factors: pd.DataFrame, path: str | Path, std_errors: np.ndarray | None = None,
                 title: str = "Smoothed factors (+-2 s.e.)") -> Path:
    bands = None if std_errors is None else pd.DataFrame(std_errors, index=factors.index, columns=factors.columns)
    return plot_lines(factors, path, title, bands=bands)


def plot_curves(maturities: np.ndarray, observed: pd.DataFrame, fitted: pd.DataFrame, path: str | Path,
                dates: list | None = None, ylabel: str = "") -> Path:
    """Observed (markers) and fitted (lines) yield curves on a few dates (default: first, middle, last)."""
    path = Path(path)
    if dates is None:
        idx = observed.index
        dates = [idx[0], idx[len(idx) // 2], idx[-1]]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for date in dates:
        line, = ax.plot(maturities, fitted.loc[date].to_numpy(), lw=1.5, label=f"{_label(date)} fitted")
        ax.plot(maturities, observed.loc[date].to_numpy(), "o", color=line.get_color(), ms=4,
                label=f"{_label(date)} observed")
    ax.set_xlabel("maturity (years)")
    ax.set_ylabel(ylabel)
    ax.set_title("Yield curve: observed and model-fitted")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_bars(series: pd.Series, path: str | Path, title: str, ylabel: str = "") -> Path:
    path = Path(path)
    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=110)
    ax.bar([str(i) for i in series.index], series.to_numpy(), color="#4472c4")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _label(date) -> str:
    return date.strftime("%Y-%m") if hasattr(date, "strftime") else str(date)
