"""The extrapolation rule and its mark, on its own and on a fitted ATSM: every output at a maturity outside the
fitted range says so (summary, spreadsheet block, chart, report), and nothing inside the range does."""
from __future__ import annotations

import numpy as np
import pytest

import xlatsm
from xlatsm import extrapolation
from xlatsm.diagnostics import FLAG_CODES


@pytest.mark.parametrize("fitted, maturity, side, text", [
    (["1Y", "9Y"], "10Y", "above", "10Y (extrapolated: fitted 1Y-9Y)"),
    (["1Y", "2Y", "9Y"], "5Y", None, "5Y"),                    # between fitted maturities: interpolated
    (["1Y", "9Y"], "9Y", None, "9Y"),                           # the edges are fitted
    (["1Y", "9Y"], 1.0, None, "1Y"),
    (["3M", "10Y"], "1M", "below", "1M (extrapolated: fitted 3M-10Y)"),
    ([0.25, 10.0], 30.0, "above", "30Y (extrapolated: fitted 3M-10Y)"),
    ([0.5, 10.0], "121M", "above", None),                       # a month beyond 10 years is beyond
    ([1.0, 9.0], 9.0 + 1e-9, None, "9Y"),                       # rounding is not extrapolation
])
def test_rule(fitted, maturity, side, text):
    where = extrapolation.check(fitted, maturity)
    assert where.side == side and where.extrapolated == (side is not None)
    if text is not None:
        assert where.text == text == extrapolation.mark(fitted, maturity)
    assert ("extrapolated" in where.name("x")) == where.extrapolated


def test_flag_names_only_the_maturities_outside():
    flag = extrapolation.flag(["1Y", "9Y"], ["5Y", "10Y", "30Y"])
    assert flag.code == "extrapolated" and flag.code in FLAG_CODES
    assert "10Y, 30Y" in flag.message and "5Y" not in flag.message and "1Y-9Y" in flag.message
    assert extrapolation.flag(["1Y", "9Y"], ["2Y", "9Y"]) is None


@pytest.fixture(scope="module")
def short_fit():
    """GSW 1Y-6Y: the 10-year term premium the tools headline lies beyond the data."""
    return xlatsm.fit_atsm(xlatsm.load_sample().iloc[:96, :6], method="jsz")


def test_result_outputs_are_marked(short_fit):
    tp, where = extrapolation.term_premium(short_fit, "10Y")
    assert where.extrapolated and tp.name == "term_premium_10Y (extrapolated: fitted 1Y-6Y)"
    assert np.allclose(tp.to_numpy(), short_fit.term_premium_at("10Y").to_numpy())
    inside, where = extrapolation.term_premium(short_fit, "5Y")
    assert not where.extrapolated and inside.name == "term_premium_5Y"
    np.testing.assert_allclose(inside.to_numpy(), short_fit.term_premium["5Y"].to_numpy(), rtol=1e-8, atol=1e-10)
    loadings = extrapolation.marked_loadings(short_fit, ["3M", "2Y", "10Y"])
    assert list(loadings.index) == ["3M (extrapolated: fitted 1Y-6Y)", "2Y", "10Y (extrapolated: fitted 1Y-6Y)"]
    assert "short rate" in extrapolation.short_rate_note(short_fit)
    lines = extrapolation.summary_lines(short_fit, [("Term premium", "10Y", "mean 1.00")])
    assert lines == ["Term premium 10Y (extrapolated: fitted 1Y-6Y): mean 1.00"]


def test_report_and_chart_mark_the_extrapolated_headline(short_fit, tmp_path):
    from xlatsm.report.html import atsm_charts, atsm_report

    page = atsm_report(short_fit, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "10Y (extrapolated: fitted 1Y-6Y)" in page and "<b>extrapolated</b>" in page
    inside = atsm_report(short_fit, tmp_path / "in.html", headline="5Y").read_text(encoding="utf-8")
    assert "(extrapolated" not in inside.split("<h2>Summary</h2>")[0]
    import matplotlib.pyplot as plt

    from xlatsm.report import charts

    captured = []
    original = charts.save
    charts.save = lambda fig, path: (captured.append(fig), original(fig, path))[1]
    try:
        atsm_charts(short_fit, tmp_path)
    finally:
        charts.save = original
    tp_fig = captured[-1]
    ax = tp_fig.axes[0]
    assert "extrapolated: fitted 1Y-6Y" in ax.get_title()
    assert ax.get_lines()[0].get_linestyle() == "--"
    assert "extrapolated" in ax.get_legend().get_texts()[0].get_text()
    plt.close("all")


# -- the summary and the spreadsheet blocks carry the mark --------------------------------------------------------
def test_summary_marks_the_extrapolated_10y_term_premium(short_fit):
    assert "Term premium 10Y (extrapolated: fitted 1Y-6Y)" in short_fit.summary()


def test_spreadsheet_blocks_mark_the_extrapolated_10y(short_fit):
    from xlatsm.excel.layout import atsm_outputs

    outputs = atsm_outputs(short_fit, "ATSM#test")
    header = outputs["term_premium"]()[0]
    assert any("10Y" in str(h) and "extrapolated: fitted 1Y-6Y" in str(h) for h in header), header
    summary = outputs["summary"]()
    assert any("extrapolated" in str(row[0]) for row in summary), summary
