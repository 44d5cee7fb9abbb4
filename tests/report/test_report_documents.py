"""The report renders for every method: HTML with its sections, charts and flags; PDF by the matplotlib route (no
browser needed) and, when a Chromium/Chrome is installed, printed from the same HTML; a screenshot of the page as
a browser draws it goes to tests/artifacts/report/ for a human to look at."""
from __future__ import annotations

import base64
import re
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

import xlatsm
from xlatsm.diagnostics import Flag
from xlatsm.errors import ConvergenceWarning
from xlatsm.report import find_browser, report, screenshot
from xlatsm.report.html import build_document

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "report"


@pytest.fixture(scope="module")
def fits():
    sample = xlatsm.load_sample()
    curve = sample.iloc[:96, :7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)    # a capped fit is reported with its flag
        return {
            "atsm-jsz": xlatsm.fit_atsm(curve, method="jsz"),
            "atsm-kalman": xlatsm.fit_atsm(curve, method="kalman", max_iter=100),
            "atsm-em": xlatsm.fit_atsm(curve, method="em", max_iter=30),
            "lgssm": xlatsm.fit_lgssm(sample.iloc[:96], 3, max_iter=60),
        }


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


@pytest.mark.parametrize("which", ["atsm-jsz", "atsm-kalman", "atsm-em", "lgssm"])
def test_html_report_for_every_method(which, fits, tmp_path):
    from PIL import Image

    fit = fits[which]
    page = report(fit, tmp_path / "r.html").read_text(encoding="utf-8")
    images = _images(page)
    assert len(images) >= (4 if which.startswith("atsm") else 3)
    for data in images:
        with Image.open(BytesIO(data)) as im:
            assert im.format == "PNG" and im.size[0] > 500 and np.asarray(im.convert("L")).std() > 5
    for part in ("Flags of the fit", "Factors", "Parameters", "Summary"):
        assert f"<h2>{part}</h2>" in page, part
    flags = getattr(fit, "flags", [])
    if flags:
        assert all(f"<b>{f.code}</b>" in page for f in flags)
    else:
        assert "No flags" in page or "<b>extrapolated</b>" in page
    if which == "lgssm":
        assert "RMSE of the smoothed fit by series" in page and "C (loadings)" in page
        for col in fit.columns:
            assert f"<th>{col}</th>" in page
    else:
        method = which.split("-")[1]
        assert f"method {method}" in page or f"method {method} (requested" in page
        assert "Pricing errors (RMSE, bp)" in page and "K1_P" in page
    assert "`" not in re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)


def test_a_later_method_gets_the_same_report(fits, tmp_path):
    """A result type with no layout of its own still gets flags, factors with bands, RMSE, parameters, summary."""
    lgssm = fits["lgssm"]

    class LaterResult:
        converged = True
        flags = [Flag("at_bound", "a parameter sits on its bound")]
        factors = lgssm.factors
        factor_std_errors = lgssm.factor_std_errors * 1000        # wide enough to see
        rmse = lgssm.rmse

        def parameter_blocks(self):
            return {"Q": lgssm.parameter_blocks()["Q"]}

        def summary(self):
            return "Later method summary"

    page = report(LaterResult(), tmp_path / "later.html").read_text(encoding="utf-8")
    assert len(_images(page)) == 2 and "<b>at_bound</b>" in page and "Later method summary" in page
    assert "<h3>Q</h3>" in page and "RMSE by series" in page


def test_flags_of_the_fit_are_shown(fits, tmp_path):
    fit = fits["lgssm"]
    saved = list(fit.flags)
    try:
        fit.flags = saved + [Flag("not_converged", "EM stopped at its cap; raise max_iter")]
        page = report(fit, tmp_path / "f.html").read_text(encoding="utf-8")
    finally:
        fit.flags = saved
    assert '<div class="flag"><b>not_converged</b>: EM stopped at its cap' in page


def test_pdf_without_a_browser(fits, tmp_path, monkeypatch):
    """The matplotlib route: a PDF of the same sections, every chart embedded, no browser involved."""
    monkeypatch.setattr("xlatsm.report.document.find_browser", lambda: None)
    for which in ("atsm-jsz", "lgssm"):
        doc = build_document(fits[which], f"Report {which}")
        path = doc.write_pdf(tmp_path / f"{which}.pdf")     # "auto" falls back to matplotlib
        raw = path.read_bytes()
        assert raw[:5] == b"%PDF-" and raw.rstrip().endswith(b"%%EOF")
        assert f"(Report {which})".encode() in raw                       # the document's title
        assert len(re.findall(rb"/Subtype\s*/Image", raw)) >= doc.n_figures
        assert len(re.findall(rb"/Type\s*/Page\b", raw)) >= 3


browser = find_browser()
needs_browser = pytest.mark.skipif(browser is None, reason="no Chromium/Chrome installed (apt-get install chromium)")


@needs_browser
@pytest.mark.parametrize("which", ["atsm-jsz", "atsm-kalman", "atsm-em", "lgssm"])
def test_browser_draws_the_report_of_every_method(which, fits):
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = report(fits[which], ARTIFACTS / f"{which}.html")
    shot = screenshot(page, ARTIFACTS / f"{which}.png", width=1100, height=2400)
    with Image.open(shot) as im:
        gray = np.asarray(im.convert("L"), dtype=float)
    assert gray.shape == (2400, 1100)
    # a page drawn, not a blank or an error page: dark text and charts down the page, not only at the top
    rows_with_ink = np.mean((gray < 128).sum(axis=1) > 5)
    assert rows_with_ink > 0.3, rows_with_ink
    assert (gray[1200:] < 128).sum() > 5000


@needs_browser
def test_browser_prints_the_same_html_to_pdf(fits):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = build_document(fits["lgssm"], "Report lgssm").write_pdf(ARTIFACTS / "lgssm.pdf", route="browser")
    raw = pdf.read_bytes()
    assert raw[:5] == b"%PDF-" and len(raw) > 50_000        # the charts are in it
