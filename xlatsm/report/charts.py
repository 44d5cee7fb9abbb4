"""PNG charts of the things people would rather look at than read: factors, fitted curves, term premia, errors.

Rules every chart keeps (tested on the figures): both axes say what they measure and in what units; dates on the
x axis are years (``1990``), never ``1985-11-29 0:00:00``; a legend sits outside the plotting area, so it hides
no data; bands are drawn only where promised and the promise is kept: a +-2 s.e. band too thin to see at the
chart's scale is said to be so, and its width is shown in a panel of its own; anything at an extrapolated maturity
is dashed and its label carries the mark (:mod:`xlatsm.extrapolation`).

``*_figure`` functions return the matplotlib figure (for tests and embedding); ``plot_*`` save a PNG and return its
path.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: charts are files, never windows
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: a band thinner than this many pixels (median over dates) is not visible next to a 1.2 pt line
MIN_BAND_PIXELS = 3.0
DPI = 110


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _date_axis(ax, index) -> None:
    if isinstance(index, pd.DatetimeIndex) and len(index):
        span_years = (index[-1] - index[0]).days / 365.25
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y" if span_years > 3 else "%Y-%m"))
        ax.set_xlabel("date (month-end)" if _monthly(index) else "date")
    else:
        ax.set_xlabel("observation")


def _monthly(index: pd.DatetimeIndex) -> bool:
    if len(index) < 3:
        return False
    step = float(np.median(np.diff(index.values.astype("datetime64[D]").astype(np.int64))))
    return 27 <= step <= 32


def _legend_outside(ax, ncol: int = 3) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.0, -0.16), fontsize=8, ncol=ncol,
                  frameon=False, borderaxespad=0.0)


def band_pixels(ax, half_width: np.ndarray) -> float:
    """Median height in pixels of a band ``value +- half_width`` on ``ax`` at its current limits."""
    lo, hi = ax.get_ylim()
    height = ax.get_window_extent().height
    return float(np.nanmedian(2 * np.asarray(half_width) / (hi - lo) * height)) if hi > lo else 0.0


# -- time series ---------------------------------------------------------------------------------------------
def lines_figure(frame: pd.DataFrame, title: str, ylabel: str, dashed: set | None = None,
                 bands: pd.DataFrame | None = None):
    """One line per column against the dates; ``dashed`` columns (extrapolated) are dashed; optional +-2 s.e.
    ``bands`` (same columns), drawn only if visible, else said to be too thin."""
    dashed = dashed or set()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for col in frame.columns:
        ax.plot(frame.index, frame[col], lw=1.3, ls="--" if col in dashed else "-", label=str(col))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    _date_axis(ax, frame.index)
    ax.grid(alpha=0.3)
    if bands is not None:
        _draw_bands(ax, frame, bands)
    _legend_outside(ax, ncol=min(3, max(1, len(frame.columns))))
    return fig


def _draw_bands(ax, frame, bands) -> bool:
    visible = True
    for line, col in zip(ax.get_lines(), frame.columns):
        if col in bands:
            se = bands[col].to_numpy()
            ax.fill_between(frame.index, frame[col] - 2 * se, frame[col] + 2 * se, color=line.get_color(),
                            alpha=0.3, lw=0, label=f"{col} +-2 s.e.")
            visible &= band_pixels(ax, 2 * se) >= MIN_BAND_PIXELS
    return visible


def factors_figure(values: pd.DataFrame, std_errors: pd.DataFrame | None, labels: dict | None = None,
                   title: str = "Factors", why_no_bands: str = ""):
    """One panel per factor (own scale, y axis labelled with what the factor is and its units) with its +-2 s.e.
    band; when the standard errors are not all zero a last panel shows 2 s.e. of each factor, so the uncertainty
    is visible even where the band is thinner than the line (each such panel says so)."""
    labels = labels or {c: str(c) for c in values.columns}
    has_se = std_errors is not None and bool(np.nanmax(np.abs(std_errors.to_numpy()), initial=0.0) > 0)
    n = len(values.columns) + (1 if has_se else 0)
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.3 * n + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, col in zip(axes, values.columns):
        name, _, what = labels.get(col, str(col)).partition(": ")
        line, = ax.plot(values.index, values[col], lw=1.2, label=name)
        ax.set_ylabel(_wrap(what or name), fontsize=8)
        heading = labels.get(col, str(col))
        if has_se:
            se = std_errors[col].to_numpy()
            ax.fill_between(values.index, values[col] - 2 * se, values[col] + 2 * se, color=line.get_color(),
                            alpha=0.35, lw=0)
            if band_pixels(ax, 2 * se) < MIN_BAND_PIXELS:
                heading += f"; +-2 s.e. band thinner than the line (2 s.e. about {np.nanmedian(2 * se):.2g}, " \
                           "bottom panel)"
            else:
                heading += "; shaded: +-2 s.e."
        ax.set_title(heading, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    if has_se:
        ax = axes[-1]
        for col in values.columns:
            ax.plot(std_errors.index, 2 * std_errors[col], lw=1.2, label=labels.get(col, str(col)).split(":")[0])
        unit = _unit_of(labels)
        ax.set_ylabel(_wrap(f"2 s.e. ({unit})" if unit else "2 s.e."), fontsize=8)
        ax.set_title("Width of the bands: 2 standard errors of each factor", fontsize=9, loc="left")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        _legend_outside(ax, ncol=len(values.columns))
    _date_axis(axes[-1], values.index)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    fig.suptitle(title + (f" ({why_no_bands})" if why_no_bands and not has_se else ""), fontsize=11)
    fig.tight_layout()
    return fig


def _unit_of(labels: dict) -> str:
    for text in labels.values():
        if text.endswith(")") and "(" in text:
            return text[text.rindex("(") + 1:-1]
    return ""


def _wrap(text: str, width: int = 22) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "\n".join(lines + [cur])


def band_figure(bands: pd.DataFrame, title: str | None = None, ylabel: str | None = None, dashed: bool = False):
    """The estimate with its confidence band shaded between ``lower`` and ``upper``: a frame of
    :meth:`ATSMResult.term_premium_bands` (dates on the x axis) or :meth:`ATSMResult.expected_short_rate_bands`
    (periods ahead). The legend says the level and the method (from the frame's ``attrs``); a band too thin to see
    is said to be so in the title, with its median width."""
    attrs = bands.attrs
    level, method = attrs.get("level"), attrs.get("method", "")
    units = attrs.get("units", "")
    what = attrs.get("what", "estimate")
    fig, ax = plt.subplots(figsize=(9, 4.2))
    x = bands.index
    line, = ax.plot(x, bands["estimate"], lw=1.3, ls="--" if dashed else "-", label=what)
    band_name = (f"{level:.0%} band" if isinstance(level, float) else "band") + (f" ({method})" if method else "")
    ax.fill_between(x, bands["lower"], bands["upper"], color=line.get_color(), alpha=0.25, lw=0, label=band_name)
    ax.set_title(title or (f"{what} at {attrs['date']}" if "date" in attrs else what))
    ax.set_ylabel(ylabel or (f"{what} ({units})" if units else what))
    if isinstance(x, pd.DatetimeIndex):
        _date_axis(ax, x)
    else:
        ax.set_xlabel(str(x.name or "horizon"))
    ax.grid(alpha=0.3)
    half = 0.5 * (bands["upper"] - bands["lower"]).to_numpy()
    if band_pixels(ax, half) < MIN_BAND_PIXELS:
        ax.set_title(f"{ax.get_title()}\n({band_name} thinner than the line: median width "
                     f"{np.nanmedian(2 * half):.2g} {units})", fontsize=10)
    _legend_outside(ax, ncol=2)
    return fig


def plot_bands(bands: pd.DataFrame, path: str | Path, title: str | None = None, ylabel: str | None = None,
               dashed: bool = False) -> Path:
    """:func:`band_figure` saved as a PNG (the term-premium chart with its bands, or an expected short-rate
    path with its bands)."""
    return save(band_figure(bands, title, ylabel, dashed), path)


# -- curves and bars -----------------------------------------------------------------------------------------
def curves_figure(maturities: np.ndarray, observed: pd.DataFrame, fitted: pd.DataFrame, ylabel: str,
                  dates: list | None = None, title: str = "Yield curve: observed (dots) and fitted (lines)"):
    """Observed (markers) and fitted (lines) curves on a few dates (default: first, middle, last)."""
    if dates is None:
        idx = observed.index
        dates = [idx[0], idx[len(idx) // 2], idx[-1]]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for date in dates:
        line, = ax.plot(maturities, fitted.loc[date].to_numpy(), lw=1.5, label=f"{_label(date)} fitted")
        ax.plot(maturities, observed.loc[date].to_numpy(), "o", color=line.get_color(), ms=4,
                label=f"{_label(date)} observed")
    ax.set_xlabel("maturity (years)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _legend_outside(ax, ncol=2 * min(3, len(dates)))
    return fig


def bars_figure(series: pd.Series, title: str, ylabel: str, xlabel: str = "maturity"):
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.bar([str(i) for i in series.index], series.to_numpy(), color="#4472c4")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="y")
    if len(series) > 10:
        ax.tick_params(axis="x", labelrotation=45)
    return fig


# -- file-writing wrappers -----------------------------------------------------------------------------------
def plot_lines(frame: pd.DataFrame, path: str | Path, title: str, ylabel: str, dashed: set | None = None,
               bands: pd.DataFrame | None = None) -> Path:
    return save(lines_figure(frame, title, ylabel, dashed, bands), path)


def plot_factors(values: pd.DataFrame, path: str | Path, std_errors: pd.DataFrame | None = None,
                 labels: dict | None = None, title: str = "Factors", why_no_bands: str = "") -> Path:
    return save(factors_figure(values, std_errors, labels, title, why_no_bands), path)


def plot_curves(maturities, observed, fitted, path: str | Path, ylabel: str, dates: list | None = None) -> Path:
    return save(curves_figure(maturities, observed, fitted, ylabel, dates), path)


def plot_bars(series: pd.Series, path: str | Path, title: str, ylabel: str, xlabel: str = "maturity") -> Path:
    return save(bars_figure(series, title, ylabel, xlabel), path)


def _label(date) -> str:
    return date.strftime("%Y-%m") if hasattr(date, "strftime") else str(date)
