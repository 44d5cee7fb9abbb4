"""Every chart: both axes labelled with units, years (not timestamps) on date axes, a legend that hides no data,
bands where promised and visible (or said to be too thin, with their width shown). Checked on the drawn figures
and on the PNG files they become."""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm.report import charts
from xlatsm.report.factors import analyst_factors
from xlatsm.report.html import atsm_charts, lgssm_charts


@pytest.fixture(scope="module")
def fits():
    sample = xlatsm.load_sample()
    return {
        "jsz": xlatsm.fit_atsm(sample.iloc[:120, :7], method="jsz"),
        "kalman": xlatsm.fit_atsm(sample.iloc[:120, :7], method="kalman", max_iter=200),
        "lgssm": xlatsm.fit_lgssm(sample.iloc[:120], 3, max_iter=100),
    }


@pytest.fixture
def drawn(monkeypatch):
    """Capture the figures the report functions save (and still write the PNGs)."""
    figures = []
    original = charts.save

    def save(fig, path):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()     # measured before saving: a closed figure has no renderer
        data_axes = [ax for ax in fig.axes if ax.has_data()]
        fig.xlatsm_boxes = ([ax.get_window_extent(renderer) for ax in data_axes],
                            [ax.get_legend().get_window_extent(renderer) for ax in data_axes if ax.get_legend()])
        figures.append((fig, path))
        return original(fig, path)

    monkeypatch.setattr(charts, "save", save)
    yield figures
    plt.close("all")


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 - 1 and b.x0 < a.x1 - 1 and a.y0 < b.y1 - 1 and b.y0 < a.y1 - 1


@pytest.mark.parametrize("which", ["jsz", "kalman", "lgssm"])
def test_every_chart_has_units_on_both_axes_dates_as_years_and_a_legend_that_hides_nothing(which, fits, drawn,
                                                                                         tmp_path):
    fit = fits[which]
    if which == "lgssm":
        lgssm_charts(fit, tmp_path, "percent")
    else:
        atsm_charts(fit, tmp_path)
    assert len(drawn) >= 3
    for fig, path in drawn:
        assert path.read_bytes()[:4] == b"\x89PNG"
        data_axes = [ax for ax in fig.axes if ax.has_data()]
        for ax in data_axes:
            ylabel = ax.get_ylabel()
            assert ylabel, f"{path.name}: y axis without label"
            assert re.search(r"\((percent|bp|decimal|data's units)\)", ylabel.replace("\n", " ")), (path.name, ylabel)
        bottom = data_axes[-1]
        assert bottom.get_xlabel(), f"{path.name}: x axis without label"
        ticks = [t.get_text() for t in bottom.get_xticklabels() if t.get_text()]
        assert ticks and not any(":" in t for t in ticks), (path.name, ticks)     # no '1985-11-29 0:00:00'
        if "date" in bottom.get_xlabel():
            assert all(re.fullmatch(r"\d{4}(-\d{2})?", t) for t in ticks), ticks
        axes_boxes, legend_boxes = fig.xlatsm_boxes
        for box in legend_boxes:
            assert not any(_overlaps(box, other) for other in axes_boxes), f"{path.name}: a legend covers data"


def test_visible_bands_are_drawn_and_thin_ones_are_said_and_shown(fits, drawn, tmp_path):
    # kalman on 10 years: real filtering uncertainty
    fit = fits["kalman"]
    af = analyst_factors(fit)
    charts.plot_factors(af.values, tmp_path / "k.png", af.std_errors, af.labels, "kalman")
    # the same factors with bands wide enough to see, and with bands far too thin to see
    wide = af.std_errors * 0 + af.values.std() / 4
    charts.plot_factors(af.values, tmp_path / "wide.png", wide, af.labels, "wide")
    thin = af.std_errors * 0 + af.values.std() / 1e5
    charts.plot_factors(af.values, tmp_path / "thin.png", thin, af.labels, "thin")
    by_name = {path.name: fig for fig, path in drawn}
    for name, visible in (("wide.png", True), ("thin.png", False)):
        fig = by_name[name]
        factor_axes = fig.axes[:len(af.values.columns)]
        for ax, col in zip(factor_axes, af.values.columns):
            bands = [c for c in ax.collections if c.get_alpha() and c.get_alpha() > 0]
            assert bands, f"{name}: no band drawn for {col}"
            se = (wide if visible else thin)[col].to_numpy()
            pixels = charts.band_pixels(ax, 2 * se)
            assert (pixels >= charts.MIN_BAND_PIXELS) == visible, (name, col, pixels)
            assert ("thinner than the line" in ax.get_title(loc="left")) == (not visible), ax.get_title(loc="left")
        # the width panel shows 2 s.e. at a scale where it is visible
        width_ax = fig.axes[len(af.values.columns)]
        assert "2 standard errors" in width_ax.get_title(loc="left")
        assert "2 s.e." in width_ax.get_ylabel()
        top = max(line.get_ydata().max() for line in width_ax.get_lines())
        assert width_ax.get_ylim()[1] < top * 1.5


def test_jsz_factors_promise_no_bands(fits, drawn, tmp_path):
    atsm_charts(fits["jsz"], tmp_path)
    fig = next(fig for fig, path in drawn if path.name == "factors.png")
    assert "no bands" in fig._suptitle.get_text()
    assert not any(c for ax in fig.axes for c in ax.collections)
    assert len(fig.axes) == 3           # no panel of zero widths


def test_factor_axes_read_as_yields(fits, drawn, tmp_path):
    """The level's axis is an average yield in percent, inside the yields' range; not 'percent' reaching 25."""
    fit = fits["jsz"]
    atsm_charts(fit, tmp_path)
    fig = next(fig for fig, path in drawn if path.name == "factors.png")
    level_ax = fig.axes[0]
    assert "average yield" in level_ax.get_ylabel().replace("\n", " ")
    y = level_ax.get_lines()[0].get_ydata()
    panel = fit.panel.frame.to_numpy()
    assert np.all(y <= panel.max(axis=1) + 1e-9) and np.all(y >= panel.min(axis=1) - 1e-9)


def test_lines_chart_dashes_extrapolated_series(drawn, tmp_path):
    frame = pd.DataFrame({"a": np.arange(24.0), "b (extrapolated: fitted 1Y-9Y)": np.arange(24.0)[::-1]},
                         index=pd.date_range("2000-01-31", periods=24, freq="ME"))
    charts.plot_lines(frame, tmp_path / "l.png", "t", "yield (percent)", dashed={"b (extrapolated: fitted 1Y-9Y)"})
    ax = drawn[-1][0].axes[0]
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "--"]
    assert ax.get_xlabel() == "date (month-end)"
