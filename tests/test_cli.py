import pandas as pd

from xlatsm.cli import main


def test_demo_writes_results_and_chart(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--max-iter", "30"]) == 0
    out = capsys.readouterr().out
    assert "Linear Gaussian state-space model" in out and "Gurkaynak" in out
    assert "affine term structure model" in out and "10-year term premium" in out
    atsm = tmp_path / "atsm"
    for name in ("factors.png", "fitted_curve.png", "term_premium_10y.png", "pricing_errors.png"):
        assert (atsm / name).read_bytes()[:4] == b"\x89PNG", name
    tp = pd.read_csv(atsm / "term_premium.csv", index_col=0)
    assert "term_premium_10Y" in tp.columns and tp.shape[0] == 318
    assert pd.read_csv(atsm / "param_K1_P.csv", index_col=0).shape == (3, 3)
    folder = tmp_path / "lgssm"
    factors = pd.read_csv(folder / "smoothed_factors.csv", index_col=0)
    assert factors.shape == (318, 6)
    assert (folder / "smoothed_factors.png").read_bytes()[:4] == b"\x89PNG"
    assert pd.read_csv(folder / "C.csv", index_col=0).shape == (14, 3)


def test_lgssm_on_a_user_file_and_errors(tmp_path, capsys):
    path = tmp_path / "y.csv"
    frame = pd.DataFrame({"a": range(40), "b": [x ** 0.5 for x in range(40)], "c": [1.0 + (x % 7) for x in range(40)]},
                         index=pd.date_range("2000-01-31", periods=40, freq="ME"))
    frame.iloc[3, 1] = None
    frame.to_csv(path)
    assert main(["lgssm", str(path), "--k", "1", "--out", str(tmp_path / "o"), "--max-iter", "20"]) == 0
    assert (tmp_path / "o" / "summary.txt").exists()
    assert main(["lgssm", str(path), "--k", "3", "--out", str(tmp_path / "o")]) == 2
    assert "k_states=3 must be smaller" in capsys.readouterr().err


def test_atsm_command_with_blanks(tmp_path):
    sample = __import__("xlatsm").load_sample().iloc[:120, :7].copy()
    sample.iloc[5, 3] = None
    path = tmp_path / "curve.csv"
    sample.to_csv(path)
    assert main(["atsm", str(path), "--method", "kalman", "--out", str(tmp_path / "o")]) == 0
    errors = pd.read_csv(tmp_path / "o" / "pricing_errors_bp.csv", index_col=0)
    assert list(errors.index) == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]
    assert main(["atsm", str(path), "--method", "jsz", "--out", str(tmp_path / "o")]) == 2  # jsz needs every cell


def test_report_html(tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("data:image/png;base64,") == 4
    assert "10-year term premium" in text and "K1_P" in text and "Pricing errors" in text


def test_lgssm_parameter_files_do_not_collide_on_case_insensitive_disks(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--max-iter", "5"]) == 0
    names = [p.name for p in (tmp_path / "lgssm").glob("*.csv")]
    assert len({n.lower() for n in names}) == len(names)
    assert {"C.csv", "c_obs_intercept.csv", "d_state_intercept.csv"} <= set(names)
