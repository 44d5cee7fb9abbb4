"""One entry point for every model: ``fit_atsm(method=...)`` in Python and ``ATSM_FIT(..., method)`` in cells reach
the ACM, AFNS and DNS estimators with the same numbers as calling them directly."""
import numpy as np
import pytest

import xlatsm
from xlatsm.atsm.acm import fit_acm
from xlatsm.atsm.nelson_siegel import fit_dns
from xlatsm.errors import InputError, XlatsmError
from xlatsm.excel import udfs


@pytest.fixture(scope="module")
def curve():
    return xlatsm.load_sample().iloc[:120, :8]


def rows_of(frame):
    return [["date"] + list(frame.columns)] + [[d.to_pydatetime()] + list(r) for d, r in
                                               zip(frame.index, frame.to_numpy())]


def test_python_dispatch_equals_the_estimators(curve):
    acm = xlatsm.fit_atsm(curve, method="acm")
    direct = fit_acm(curve, n_factors=5)
    np.testing.assert_allclose(acm.term_premium.to_numpy(), direct.term_premium.to_numpy(), rtol=1e-12)
    assert len(acm.factors.columns) == 5                     # ACM's own default, not JSZ's 3
    dns = xlatsm.fit_atsm(curve, method="dns")
    np.testing.assert_allclose(dns.fitted_yields.to_numpy(), fit_dns(curve).fitted_yields.to_numpy(), rtol=1e-12)
    with pytest.raises(XlatsmError, match="no term premium"):
        dns.term_premium
    with pytest.raises(InputError, match="exactly 3 factors"):
        xlatsm.fit_atsm(curve, n_factors=4, method="afns")
    with pytest.raises(InputError, match="does not take"):
        xlatsm.fit_atsm(curve, method="acm", portfolios="pca")


def test_cells_reach_every_method(curve):
    rows = rows_of(curve)
    acm_errors = udfs.ATSM_FIT(rows, None, None, "errors", "acm")
    np.testing.assert_allclose(acm_errors[1][1:], fit_acm(curve).pricing_errors.to_numpy(), rtol=1e-9)
    assert udfs.ATSM_FIT(rows, None, None, "factors", "acm")[0][1] == "PC1 (standardised)"
    summary = udfs.ATSM_FIT(rows, None, None, "summary", "dns")
    assert summary[0] == ["item", "value"] and any(r[0] == "handle" for r in summary)
    message = udfs.ATSM_FIT(rows, None, None, "term_premium", "dns")[0][0]
    assert message.startswith("#xlatsm:") and "not arbitrage-free" in message
    handle = udfs.ATSM_FIT(rows, None, None, "handle", "dns")[0][0]
    # a dns handle is evaluated by the model's own rule (least squares per date): its factors, not a refusal
    assert udfs.SMOOTH_STATES(rows, handle) == udfs.XLATSM_GET(handle, "factors")


def test_lgssm_measurement_error_in_cells():
    """The Heywood flag's advice can be followed from the cell: measurement_error "common" and the rmse block."""
    frame = xlatsm.load_sample()
    rows = rows_of(frame)
    default = udfs.LGSSM_EM(rows, 3, 1, "summary", 500)
    assert any(str(r[0]) == "FLAG heywood" for r in default)
    common = udfs.LGSSM_EM(rows, 3, 1, "summary", 500, "common")
    assert not any(str(r[0]).startswith("FLAG") for r in common)
    rmse = udfs.LGSSM_EM(rows, 3, 1, "rmse", 500, "common")
    direct = xlatsm.fit_lgssm(frame, 3, measurement_error="common", max_iter=500).rmse
    np.testing.assert_allclose(rmse[1][1:], direct.to_numpy(), rtol=1e-9)
    assert udfs.LGSSM_EM(rows, 3, 1, "summary", 500, "weird")[0][0].startswith("#xlatsm: measurement_error")


def test_command_line_fits_acm(tmp_path, capsys):
    """The command line writes ACM's outputs and report like the JSZ fits', with its own (standardised) factors."""
    import pandas as pd

    from xlatsm.cli import main

    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "acm", "--out", str(tmp_path / "o")]) == 0
    errors = pd.read_csv(tmp_path / "o" / "pricing_errors_bp.csv", index_col=0).iloc[:, 0].to_numpy()
    np.testing.assert_allclose(errors, fit_acm(frame).pricing_errors.to_numpy(), rtol=1e-9)
    assert "Adrian-Crump-Moench" in (tmp_path / "o" / "summary.txt").read_text()
    assert (tmp_path / "o" / "report.html").exists()


@pytest.mark.parametrize("method", ["acm", "afns", "dns"])
def test_evaluate_frames_on_the_fits_own_curves_give_the_fits_outputs(curve, method):
    """What SMOOTH_STATES shows for acm/afns/dns handles: the fit's own curves (columns reversed, in decimals)
    give back the fit's factors, fitted yields and term premia (DNS: none, it says why)."""
    fit = xlatsm.fit_atsm(curve, method=method)
    frames = fit.evaluate_frames(curve.iloc[:, ::-1] / 100, yield_units="decimal")
    np.testing.assert_allclose(frames["factors"].to_numpy(), fit.factors.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(frames["fitted_yields"].to_numpy(), fit.fitted_yields.to_numpy(), atol=1e-9)
    assert list(frames["fitted_yields"].columns) == list(fit.panel.labels)
    if method == "dns":
        assert "term_premium" not in frames
        with pytest.raises(XlatsmError, match="not arbitrage-free"):
            fit.term_premium_at("10Y")
    else:
        np.testing.assert_allclose(frames["term_premium"].to_numpy(), fit.term_premium.to_numpy(), atol=1e-9)
    if method == "afns":     # smoothed on the same data with the same parameters: the same uncertainty
        np.testing.assert_allclose(frames["factor_std_errors"].to_numpy(), fit.factor_std_errors.to_numpy(),
                                   atol=1e-9)
    else:                    # per-date computations: any subset of dates gives those dates' rows
        part = fit.evaluate_frames(curve.iloc[40:50])
        np.testing.assert_allclose(part["fitted_yields"].to_numpy(), fit.fitted_yields.iloc[40:50].to_numpy(),
                                   atol=1e-9)
