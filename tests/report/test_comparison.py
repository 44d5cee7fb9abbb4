"""The comparison of models on one panel: its pricing errors are each model's own (and the RMSE of fitted minus
observed yields computed here), its correlations are pandas' on the models' own term premia, a model without term
premia (DNS) is said to have none, and the report gets the section."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm.errors import InputError
from xlatsm.report.comparison import add_comparison_section, compare_models, comparison_document
from xlatsm.report.document import Document


@pytest.fixture(scope="module")
def curve():
    return xlatsm.load_sample().iloc[:120, :8]          # GSW 1Y-12Y, percent


@pytest.fixture(scope="module")
def comparison(curve):
    return compare_models(curve)


@pytest.fixture(scope="module")
def direct(curve):
    """The same models fitted one by one, outside the comparison."""
    return {label: xlatsm.fit_atsm(curve, method=m) for label, m in
            [("JSZ", "jsz"), ("AFNS", "afns"), ("ACM", "acm"), ("DNS", "dns")]}


def test_pricing_errors_are_each_models_own(comparison, direct, curve):
    assert list(comparison.pricing_errors.index) == ["JSZ", "AFNS", "ACM", "DNS"]
    assert list(comparison.pricing_errors.columns) == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y", "12Y"]
    for label, fit in direct.items():
        np.testing.assert_allclose(comparison.pricing_errors.loc[label].to_numpy(), fit.pricing_errors.to_numpy(),
                                   rtol=1e-9)
        # and what they mean: RMSE of fitted minus observed yields, percent -> bp
        resid = fit.fitted_yields.to_numpy() - curve.to_numpy()
        np.testing.assert_allclose(comparison.pricing_errors.loc[label].to_numpy(),
                                   np.sqrt(np.mean(resid ** 2, axis=0)) * 100, rtol=1e-9)
    np.testing.assert_allclose(comparison.errors_table["mean"], comparison.pricing_errors.mean(axis=1), rtol=1e-12)


def test_term_premium_correlations_are_pandas_on_the_models_own_premia(comparison, direct):
    premia = pd.DataFrame({label: fit.term_premium_at("10Y") for label, fit in direct.items() if label != "DNS"})
    assert list(comparison.term_premia.columns) == ["JSZ", "AFNS", "ACM"]
    np.testing.assert_allclose(comparison.term_premia.to_numpy(), premia.to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(comparison.correlations.to_numpy(), premia.corr().to_numpy(), atol=1e-12)
    np.testing.assert_allclose(comparison.change_correlations.to_numpy(), premia.diff().corr().to_numpy(), atol=1e-12)
    x, y = premia["JSZ"].to_numpy(), premia["ACM"].to_numpy()          # one entry by the textbook formula
    r = np.sum((x - x.mean()) * (y - y.mean())) / np.sqrt(np.sum((x - x.mean()) ** 2) * np.sum((y - y.mean()) ** 2))
    assert comparison.correlations.loc["JSZ", "ACM"] == pytest.approx(r, abs=1e-12)
    stats = comparison.term_premium_stats
    np.testing.assert_allclose(stats["mean"], premia.mean(), rtol=1e-9)
    np.testing.assert_allclose(stats.iloc[:, -1], premia.iloc[-1], rtol=1e-9)


def test_dns_has_no_term_premium_and_says_why(comparison, direct):
    assert "DNS" in comparison.pricing_errors.index and "DNS" not in comparison.term_premia.columns
    assert "not arbitrage-free" in comparison.no_term_premium["DNS"]
    text = comparison.table()
    assert "DNS: no term premium" in text and "correlations of levels" in text
    assert any("shortest fitted maturity is 1Y" in n for n in comparison.notes)        # no short end in the sample
    assert [(label, f.code) for label, f in comparison.flags] == \
        [(label, f.code) for label, fit in direct.items() for f in fit.flags]            # none hidden
    markdown = comparison.markdown()
    assert markdown.splitlines()[0].startswith("| RMSE (bp) | 1Y |") and "| ACM |" in markdown


def test_named_variants_and_refusals(curve):
    profiled = compare_models(curve, {"DNS Diebold-Li": {"method": "dns"},
                                      "DNS profiled": {"method": "dns", "dns_lambda": "profile"}})
    from xlatsm.atsm.nelson_siegel import fit_dns

    direct = fit_dns(curve, lam="profile")
    np.testing.assert_allclose(profiled.pricing_errors.loc["DNS profiled"], direct.pricing_errors, rtol=1e-9)
    assert profiled.term_premia.shape[1] == 0 and "no term premium" in profiled.table()
    with pytest.raises(InputError, match="unknown method 'nss'"):
        compare_models(curve, ["jsz", "nss"])
    holed = curve.copy()
    holed.iloc[3, 2] = np.nan
    with pytest.raises(InputError, match="ACM .*needs every cell.*handles blanks"):
        compare_models(holed, ["acm"])
    dropped = compare_models(holed)            # the default: JSZ by the Kalman filter, ACM left out and said so
    assert list(dropped.fits) == ["JSZ", "AFNS", "DNS"] and dropped.fits["JSZ"].method == "kalman"
    assert any("ACM" in n and "left out" in n for n in dropped.notes), dropped.notes
    assert any(n.startswith("JSZ estimated by kalman: 1 cell is blank") for n in dropped.notes), dropped.notes
    assert "left out" in dropped.table()
    kalman = compare_models(holed, ["kalman", "dns"])          # the Kalman filter and DNS take the blank
    assert kalman.pricing_errors.notna().all().all()
    with pytest.raises(InputError, match="headline"):
        compare_models(curve, ["dns"], headline="soon")


def test_report_section(comparison, tmp_path):
    doc = Document("t")
    add_comparison_section(doc, comparison)
    page = doc.to_html()
    assert "Model comparison: JSZ, AFNS, ACM, DNS on the same panel" in page
    assert page.count("data:image/png;base64,") == 2                   # errors by maturity, term premia
    assert "10Y term premium: correlations of levels" in page and "DNS: no term premium" in page
    assert f"{comparison.pricing_errors.loc['ACM', '5Y']:.3g}" in page
    full = comparison_document(comparison, "Model comparison")
    assert full.write_pdf(tmp_path / "c.pdf", "matplotlib").read_bytes()[:5] == b"%PDF-"
