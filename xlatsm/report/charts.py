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
