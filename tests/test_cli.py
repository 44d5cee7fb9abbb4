import pandas as pd

from xlatsm.cli import main


def test_demo_writes_results_and_chart(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--max-iter", "30"]) == 0
    out = capsys.readouterr().out
    assert "Linear Gaussian state-space model" in out and "Gurkaynak" in out
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
