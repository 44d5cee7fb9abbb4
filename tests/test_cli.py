"""The command line as an analyst meets it: the demo's files, the report of every model, help text without markup
and with a line for every option, flags that agree across subcommands (old spellings kept), messages in the
command line's language, a progress log of one line per update, and extrapolated outputs marked."""
from __future__ import annotations

import fnmatch
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm.cli import Progress, as_command_line, build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    capture = pytest.MonkeyPatch()
    stdout, stderr = io.StringIO(), io.StringIO()
    capture.setattr("sys.stdout", stdout)
    capture.setattr("sys.stderr", stderr)
    try:
        code = main(["demo", "--out", str(out)])
    finally:
        capture.undo()
    return code, out, stdout.getvalue(), stderr.getvalue()


def test_demo_writes_results_charts_and_reports(demo):
    code, out, stdout, stderr = demo
    assert code == 0, stderr
    assert "Linear Gaussian state-space model" in stdout and "Gurkaynak" in stdout
    assert "affine term structure model" in stdout
    # the headline maturity lies inside what the demo fits, so it carries no mark
    assert re.search(r"Term premium 10Y: mean \d+\.\d\d, last -?\d+\.\d\d \(percent\)", stdout), stdout
    assert "extrapolated" not in stdout.split("Term premium 10Y")[1].splitlines()[0]
    atsm = out / "atsm"
    for name in ("factors.png", "fitted_curve.png", "term_premium_10y.png", "pricing_errors.png"):
        assert (atsm / name).read_bytes()[:4] == b"\x89PNG", name
    tp = pd.read_csv(atsm / "term_premium.csv", index_col=0)
    assert "term_premium_10Y" in tp.columns and tp.shape[0] == 318
    assert pd.read_csv(atsm / "param_K1_P.csv", index_col=0).shape == (3, 3)
    fitted = pd.read_csv(atsm / "fitted_yields.csv", index_col=0)
    assert list(fitted.columns) == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y", "12Y"]   # 10Y inside the fit
    folder = out / "lgssm"
    assert pd.read_csv(folder / "smoothed_factors.csv", index_col=0).shape == (318, 6)
    assert pd.read_csv(folder / "C.csv", index_col=0).shape == (14, 3)
    for sub in (atsm, folder):
        assert (sub / "report.pdf").read_bytes()[:5] == b"%PDF-"
        assert "data:image/png;base64," in (sub / "report.html").read_text(encoding="utf-8")
    for sub in (atsm, folder):     # the command line's reports give advice in its own spelling
        page = (sub / "report.html").read_text(encoding="utf-8")
        assert not re.search(r"\b(max_iter|measurement_error|k_states|n_factors|yield_units)\b", page)
    names = [p.name for p in folder.glob("*.csv")]
    assert len({n.lower() for n in names}) == len(names)     # no C.csv / c.csv collision on Windows and macOS
    assert {"C.csv", "c_obs_intercept.csv", "d_state_intercept.csv"} <= set(names)


def test_demo_factors_read_as_yields_and_spreads(demo):
    """factors_as_yields.csv: the level is an average yield (inside each date's range of yields), not sqrt(J) times
    one; the slope is a long-minus-short spread (moves with 12Y - 1Y)."""
    _, out, _, _ = demo
    sample = xlatsm.load_sample().iloc[:, :8].to_numpy()
    factors = pd.read_csv(out / "atsm" / "factors_as_yields.csv", index_col=0)
    level = factors.filter(like="level:").iloc[:, 0].to_numpy()
    assert ((level >= sample.min(axis=1) - 1e-9) & (level <= sample.max(axis=1) + 1e-9)).all()
    slope = factors.filter(like="long minus short").iloc[:, 0].to_numpy()
    assert np.corrcoef(slope, sample[:, -1] - sample[:, 0])[0, 1] > 0.8
    raw = pd.read_csv(out / "atsm" / "factors.csv", index_col=0)["level"].to_numpy()
    assert raw.max() > 15 and level.max() < 10       # the model's own units are the odd ones


def test_readme_quick_start_lists_what_the_demo_writes(demo):
    """README's quick start lists the demo's files in a block whose lines start with the folder
    (``xlatsm-demo/atsm/  param_*.csv  ...``); every listed pattern exists and every file written is listed."""
    _, out, _, _ = demo
    text = README.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S) if b.lstrip().startswith("xlatsm-demo/")]
    if not blocks:
        pytest.skip("README's quick start does not list the demo's files yet (block starting 'xlatsm-demo/')")
    listed: dict[str, list[str]] = {}
    folder = None
    for line in blocks[0].splitlines():
        m = re.match(r"\s*xlatsm-demo/(\w+)/", line)
        if m:
            folder = m.group(1)
        listed.setdefault(folder, []).extend(
            re.findall(r"(?<![\w/])([\w*.-]+\.(?:csv|png|html|pdf|txt))\b", line.split("/", 2)[-1] if m else line))
    assert set(listed) == {p.name for p in out.iterdir() if p.is_dir()}
    for sub, patterns in listed.items():
        files = sorted(p.name for p in (out / sub).iterdir() if p.is_file())
        for pattern in patterns:
            assert fnmatch.filter(files, pattern), f"README lists {sub}/{pattern}, the demo does not write it"
        for name in files:
            assert any(fnmatch.fnmatch(name, p) for p in patterns), f"the demo writes {sub}/{name}, README omits it"


def test_progress_log_is_one_line_per_update_and_ends_where_the_fit_ends(demo):
    _, _, stdout, stderr = demo
    assert "\r" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith(("ATSM", "EM"))]
    assert len(lines) == len(set(lines)), "a progress line written twice"
    done = [line for line in lines if ": done after " in line]
    assert [line.split(":")[0].split()[0] for line in done] == ["ATSM", "EM"]
    summary_counts = [re.search(r"\bIterations:\s+(\d+)", stdout).group(1),
                      re.search(r"EM iterations:\s+(\d+)", stdout).group(1)]
    assert [re.search(r"done after (\d+) iterations", line).group(1) for line in done] == summary_counts


def test_progress_writes_one_line_per_update_to_a_log():
    stream = io.StringIO()
    clock = iter(np.arange(0.0, 100.0, 0.4))
    progress = Progress(500, "EM test", stream, interval=1.0)
    progress._time = lambda: next(clock)
    for i in range(1, 11):
        progress(i, -100.0 + i)
    progress.finish(10, -90.0)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and stream.getvalue().endswith("\n")
    assert lines[0] == "EM test: iteration 1, loglik -99.000"
    assert len(lines) == 1 + 3 + 1        # updates at most once a second (0.4 s apart), then where it ended
    assert lines[-1] == "EM test: done after 10 iterations, loglik -90.000"


def test_progress_bar_on_a_terminal_redraws_once_per_update_and_ends_at_100_percent():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = Progress(500, "ATSM jsz", stream)
    for i in range(1, 4):
        progress(i, -10.0 + i)
    progress.finish(52, -5.0)
    progress.close()
    frames = stream.getvalue().split("\r")
    for i in range(1, 4):
        assert sum(f"loglik {-10.0 + i:.3f}" in frame for frame in frames) == 1      # one redraw per update
    assert "100%" in frames[-1] and "52/52" in frames[-1] and "done" in frames[-1]
    assert "/500" not in frames[-1]


def test_lgssm_on_a_user_file_old_and_new_flag_names_agree(tmp_path, capsys):
    path = tmp_path / "y.csv"
    rng = np.random.default_rng(0)
    f = np.cumsum(rng.normal(size=(40, 1)), axis=0)
    frame = pd.DataFrame(f @ [[1.0, 0.8, 0.5]] + 0.1 * rng.normal(size=(40, 3)), columns=["a", "b", "c"],
                         index=pd.date_range("2000-01-31", periods=40, freq="ME"))
    frame.iloc[3, 1] = None
    frame.to_csv(path)
    assert main(["lgssm", str(path), "--k", "1", "--out", str(tmp_path / "old"), "--max-iter", "20", "--full-R",
                 "--no-report"]) == 0
    assert main(["lgssm", str(path), "--n-factors", "1", "--out", str(tmp_path / "new"), "--max-iter", "20",
                 "--measurement-error", "full", "--no-report"]) == 0
    old = pd.read_csv(tmp_path / "old" / "C.csv", index_col=0)
    pd.testing.assert_frame_equal(old, pd.read_csv(tmp_path / "new" / "C.csv", index_col=0))
    assert (tmp_path / "new" / "summary.txt").exists() and not (tmp_path / "new" / "report.html").exists()
    capsys.readouterr()
    assert main(["lgssm", str(path), "--n-factors", "3", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--n-factors 3 must be smaller" in err and "k_states" not in err


def test_warnings_speak_the_command_line(tmp_path, capsys):
    path = tmp_path / "curve.csv"
    xlatsm.load_sample().iloc[:60, :5].to_csv(path)
    assert main(["lgssm", str(path), "--n-factors", "2", "--max-iter", "2", "--out", str(tmp_path / "o"),
                 "--no-report"]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warning and "--max-iter" in warning[0] and "max_iter" not in warning[0], err


def test_as_command_line_restates_python_arguments():
    assert as_command_line("use measurement_error='common' or raise max_iter") == \
        "use --measurement-error common or raise --max-iter"
    assert as_command_line("k_states=3 must be smaller; tol=1e-09; yield_units=\"bp\"") == \
        "--n-factors 3 must be smaller; --tol 1e-09; --yield-units bp"
    assert as_command_line("diagonal_R=False, see result.rmse") == "--measurement-error full, see rmse.csv"
    assert as_command_line("K1_P and lambda_0 stay") == "K1_P and lambda_0 stay"


def _help_texts():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    yield "xlatsm", parser
    yield from subparsers.choices.items()


@pytest.mark.parametrize("name", ["xlatsm", "demo", "atsm", "lgssm", "report", "compare", "rolling", "install",
                                  "uninstall"])
def test_help_has_no_markup_and_a_line_for_every_option(name, capsys):
    argv = ["--help"] if name == "xlatsm" else [name, "--help"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "`" not in text and "::" not in text and ":func:" not in text, text
    parser = dict(_help_texts())[name]
    options = [a for a in parser._actions if a.option_strings and a.help != "==SUPPRESS=="]
    assert options
    section = text.split("options:", 1)[1]
    for action in options:
        # the option's line, then its help on the same line or the next, indented
        m = re.search(rf"^  {re.escape(action.option_strings[0])}\b[^\n]*?(?:  +(\S[^\n]*)|\n {{6,}}(\S[^\n]*))",
                      section, flags=re.M)
        assert m and len((m.group(1) or m.group(2)).split()) >= 2, f"{name} {action.option_strings[0]} has no help"
    if name == "xlatsm":
        for command in ("demo", "atsm", "lgssm", "report", "compare", "rolling", "install", "uninstall"):
            assert re.search(rf"^\s+{command}\s+\w+|^\s+{command}\n\s+\w+", text, flags=re.M), command


def test_atsm_command_with_blanks(tmp_path):
    sample = xlatsm.load_sample().iloc[:120, :7].copy()
    sample.iloc[5, 3] = None
    path = tmp_path / "curve.csv"
    sample.to_csv(path)
    assert main(["atsm", str(path), "--method", "kalman", "--out", str(tmp_path / "o"), "--no-report"]) == 0
    errors = pd.read_csv(tmp_path / "o" / "pricing_errors_bp.csv", index_col=0)
    assert list(errors.index) == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]
    assert main(["atsm", str(path), "--method", "jsz", "--out", str(tmp_path / "o")]) == 2  # jsz needs every cell


def test_atsm_outputs_beyond_the_fitted_maturities_are_marked(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("xlatsm.report.document.find_browser", lambda: None)     # the quicker PDF route
    path = tmp_path / "short.csv"
    xlatsm.load_sample().iloc[:120, :6].to_csv(path)             # 1Y-6Y
    assert main(["atsm", str(path), "--out", str(tmp_path / "o"), "--pdf"]) == 0
    captured = capsys.readouterr()
    assert (tmp_path / "o" / "report.pdf").read_bytes()[:5] == b"%PDF-"
    mark = "10Y (extrapolated: fitted 1Y-6Y)"
    assert f"Term premium {mark}:" in captured.out
    assert "warning: the 10Y term premium is extrapolated" in captured.err
    tp = pd.read_csv(tmp_path / "o" / "term_premium.csv", index_col=0)
    assert "term_premium_10Y (extrapolated: fitted 1Y-6Y)" in tp.columns and "6Y" in tp.columns
    loadings = pd.read_csv(tmp_path / "o" / "loadings.csv", index_col=0)
    assert list(loadings.index) == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", mark]
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert mark in page and "<b>extrapolated</b>" in page
    # inside the range: no mark anywhere
    assert main(["atsm", str(path), "--headline", "5Y", "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "report.html").exists() and not (tmp_path / "p" / "report.pdf").exists()
    out = capsys.readouterr().out
    assert "Term premium 5Y:" in out and "5Y (extrapolated" not in out     # the headline is inside the range
    assert "extrapolated" not in "".join(pd.read_csv(tmp_path / "p" / "loadings.csv", index_col=0).index)


def test_a_bad_headline_is_one_line_before_fitting(tmp_path, capsys, monkeypatch):
    xlatsm.load_sample().iloc[:40, :7].to_csv(tmp_path / "in.csv")
    import xlatsm.atsm as atsm_package

    monkeypatch.setattr(atsm_package, "fit_atsm", lambda *a, **k: pytest.fail("fitted before checking --headline"))
    assert main(["atsm", str(tmp_path / "in.csv"), "--headline", "soon", "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xlatsm: --headline soon")


@pytest.mark.parametrize("model", ["atsm", "lgssm"])
def test_report_command_for_every_model(model, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("xlatsm.report.document.find_browser", lambda: None)     # the demo uses the browser's
    out = tmp_path / "r.html"
    assert main(["report", "--model", model, "--out", str(out), "--pdf", "--max-iter", "100"]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 3
    assert "Flags of the fit" in text and "Parameters" in text
    assert ("K1_P" in text and "Pricing errors" in text) if model == "atsm" else ("RMSE" in text and "C (loadings)"
                                                                                 in text)
    assert out.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    assert main(["report", "--model", model, "--out", str(tmp_path / "r.txt")]) == 2


def test_atsm_command_fits_dns_and_says_it_has_no_term_premium(tmp_path, capsys):
    """dns on the command line: its factors, fitted yields, errors and loadings; no term_premium.csv and no term
    premium chart; the summary, the printed line and the report say why, in the command line's spelling."""
    from xlatsm.atsm.nelson_siegel import fit_dns

    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "dns", "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "ATSM dns c.csv: done (least-squares regressions, no iterations)" in captured.err     # not "0 iterations"
    assert "Term premium: not defined; the dynamic Nelson-Siegel model is not arbitrage-free" in out
    assert "--method afns" in out and "fit_afns" not in out
    written = {p.name for p in (tmp_path / "o").iterdir()}
    assert {"factors.csv", "fitted_yields.csv", "pricing_errors_bp.csv", "loadings.csv", "param_lambda.csv",
            "summary.txt", "report.html", "factors.png"} <= written
    assert not any(name.startswith("term_premium") for name in written)
    direct = fit_dns(frame)
    errors = pd.read_csv(tmp_path / "o" / "pricing_errors_bp.csv", index_col=0).iloc[:, 0].to_numpy()
    np.testing.assert_allclose(errors, direct.pricing_errors.to_numpy(), rtol=1e-9)
    loadings = pd.read_csv(tmp_path / "o" / "loadings.csv", index_col=0)
    assert list(loadings.index) == list(frame.columns.str.replace("SVENY0", "").str.replace("SVENY", "") + "Y")
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "dynamic Nelson-Siegel model (Diebold-Li two-step" in page and "Term premia: not defined" in page
    assert page.count("data:image/png;base64,") == 3          # factors, fitted curve, errors; no term premium
    # the one-step estimator and a profiled lambda are options
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "dns", "--dns-method", "one-step", "--no-report",
                 "--out", str(tmp_path / "one")]) == 0
    one = pd.read_csv(tmp_path / "one" / "param_lambda.csv", index_col=0)["per_month"].iloc[0]
    assert one == pytest.approx(fit_dns(frame, method="one_step").lam, rel=1e-6)
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "dns", "--dns-lambda", "profile", "--no-report",
                 "--out", str(tmp_path / "prof")]) == 0
    prof = pd.read_csv(tmp_path / "prof" / "param_lambda.csv", index_col=0)["per_month"].iloc[0]
    assert prof == pytest.approx(fit_dns(frame, lam="profile").lam, rel=1e-9)
    capsys.readouterr()
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "dns", "--dns-lambda", "-1"]) == 2
    assert capsys.readouterr().err.startswith("xlatsm: argument --dns-lambda")


def test_compare_command_writes_the_table_and_its_numbers_are_the_fits(tmp_path, capsys, monkeypatch):
    """xlatsm compare: the table printed and written; pricing_errors_bp.csv rows are each model's own errors (fitted
    here one by one); the correlations are pandas' on the written term premia; DNS is said to have none."""
    monkeypatch.setattr("xlatsm.report.document.find_browser", lambda: None)
    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["compare", str(tmp_path / "c.csv"), "--out", str(tmp_path / "o"), "--pdf"]) == 0
    captured = capsys.readouterr()
    assert "Pricing errors, RMSE by maturity (bp)" in captured.out and "DNS: no term premium" in captured.out
    assert "compare: fitting AFNS (2/4)" in captured.err
    o = tmp_path / "o"
    errors = pd.read_csv(o / "pricing_errors_bp.csv", index_col=0)
    assert list(errors.index) == ["JSZ", "AFNS", "ACM", "DNS"] and errors.columns[-1] == "mean"
    for label, method in [("JSZ", "jsz"), ("AFNS", "afns"), ("ACM", "acm"), ("DNS", "dns")]:
        np.testing.assert_allclose(errors.loc[label].iloc[:-1].to_numpy(),
                                   xlatsm.fit_atsm(frame, method=method).pricing_errors.to_numpy(), rtol=1e-9)
    premia = pd.read_csv(o / "term_premium_10Y.csv", index_col=0)
    assert list(premia.columns) == ["JSZ (percent)", "AFNS (percent)", "ACM (percent)"]
    corr = pd.read_csv(o / "term_premium_10Y_correlations.csv", index_col=0)
    np.testing.assert_allclose(corr.to_numpy(), premia.corr().to_numpy(), atol=1e-9)
    for name in ("errors_by_maturity.png", "term_premia_10y.png"):
        assert (o / name).read_bytes()[:4] == b"\x89PNG"
    assert (o / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert "Model comparison: JSZ, AFNS, ACM, DNS" in (o / "report.html").read_text(encoding="utf-8")
    assert "DNS: no term premium" in (o / "comparison.txt").read_text()
    # a chosen subset; an unknown model is one line
    assert main(["compare", str(tmp_path / "c.csv"), "--methods", "jsz,dns", "--no-report",
                 "--out", str(tmp_path / "two")]) == 0
    assert list(pd.read_csv(tmp_path / "two" / "pricing_errors_bp.csv", index_col=0).index) == ["JSZ", "DNS"]
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "c.csv"), "--methods", "jsz,nss"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["xlatsm: --methods: unknown nss; choose from auto, jsz, "
                                                             "kalman, em, acm, afns, dns"]


def test_report_command_with_the_comparison_section(tmp_path, capsys):
    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "c.csv"), "--method", "afns", "--compare", "--methods", "afns,dns",
                 "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "arbitrage-free Nelson-Siegel model (Christensen-Diebold-Rudebusch 2011)" in page
    assert "Model comparison: AFNS, DNS on the same panel" in page and "DNS: no term premium" in page
    assert main(["report", "--model", "lgssm", "--compare", "--out", str(out)]) == 2


def test_forecast_option_writes_the_forecasts_and_a_report_section(tmp_path, capsys, monkeypatch):
    """--forecast H on atsm and lgssm: the forecast files hold xlatsm.forecast's numbers for the same fit; the
    report gets a Forecasts section; dns forecasts yields and says it has no term premia to forecast."""
    from xlatsm.forecast import forecast

    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["atsm", str(tmp_path / "c.csv"), "--forecast", "6", "--forecast-level", "0.8",
                 "--out", str(tmp_path / "o")]) == 0
    assert "Forecasts" in capsys.readouterr().out
    direct = forecast(xlatsm.fit_atsm(frame), 6, level=0.8)
    written = pd.read_csv(tmp_path / "o" / "forecast_yields.csv", index_col=0)
    expected = direct.table("yields")
    np.testing.assert_allclose(written[list(expected.columns[1:])].to_numpy(float),
                               expected.iloc[:, 1:].to_numpy(float), rtol=1e-8)
    assert "10Y lower 80%" not in written.columns and "12Y lower 80%" in written.columns
    assert (tmp_path / "o" / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Forecasts</h2>" in page and "Term premia: forecast means and 80% bands" in page
    assert page.index("<h2>Forecasts</h2>") < page.index("<h2>Parameters</h2>")
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "dns", "--forecast", "3", "--out",
                 str(tmp_path / "d")]) == 0
    assert not (tmp_path / "d" / "forecast_term_premium.csv").exists()
    assert (tmp_path / "d" / "forecast_yields.csv").exists()
    page = (tmp_path / "d" / "report.html").read_text(encoding="utf-8")
    assert "Term premia: not forecast" in page and "fit_afns" not in page
    assert main(["lgssm", str(tmp_path / "c.csv"), "--n-factors", "2", "--max-iter", "30", "--forecast", "4",
                 "--no-report", "--out", str(tmp_path / "l")]) == 0
    assert len(pd.read_csv(tmp_path / "l" / "forecast_yields.csv", index_col=0)) == 4
    capsys.readouterr()
    assert main(["atsm", str(tmp_path / "c.csv"), "--forecast", "0"]) == 2
    assert main(["atsm", str(tmp_path / "c.csv"), "--forecast", "3", "--forecast-level", "90"]) == 2
    assert all(line.startswith("xlatsm: argument --forecast") for line in capsys.readouterr().err.splitlines())


def test_forecast_parameters_option_widens_the_bands_as_the_library_does(tmp_path, capsys):
    from xlatsm.forecast import forecast

    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["atsm", str(tmp_path / "c.csv"), "--forecast", "3", "--forecast-parameters", "--no-report",
                 "--out", str(tmp_path / "o")]) == 0
    direct = forecast(xlatsm.fit_atsm(frame), 3, parameter_uncertainty=True).table("yields")
    plain = forecast(xlatsm.fit_atsm(frame), 3).table("yields")
    written = pd.read_csv(tmp_path / "o" / "forecast_yields.csv", index_col=0)
    np.testing.assert_allclose(written[list(direct.columns[1:])].to_numpy(float),
                               direct.iloc[:, 1:].to_numpy(float), rtol=1e-6)
    upper = [c for c in direct.columns if "upper" in str(c)]
    assert (direct[upper].to_numpy(float) > plain[upper].to_numpy(float)).all()
    assert "estimation error" in (tmp_path / "o" / "forecast_summary.txt").read_text()
    capsys.readouterr()
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "dns", "--forecast", "3", "--forecast-parameters",
                 "--no-report", "--out", str(tmp_path / "d")]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("xlatsm")]
    assert len(err) == 1 and err[0].startswith("xlatsm: parameter_uncertainty is available for"), err


def test_time_option_fits_the_continuous_time_model(tmp_path, capsys):
    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["atsm", str(tmp_path / "c.csv"), "--time", "continuous", "--out", str(tmp_path / "o")]) == 0
    assert "continuous time" in capsys.readouterr().out
    direct = xlatsm.fit_atsm(frame, time="continuous")
    errors = pd.read_csv(tmp_path / "o" / "pricing_errors_bp.csv", index_col=0).iloc[:, 0].to_numpy()
    np.testing.assert_allclose(errors, direct.pricing_errors.to_numpy(), rtol=1e-6)
    assert "JSZ canonical form, continuous time" in (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert main(["atsm", str(tmp_path / "c.csv"), "--time", "continuous", "--method", "acm"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xlatsm: --time continuous fits the JSZ model")


def test_rolling_command(tmp_path, capsys):
    """xlatsm rolling (xlatsm/rolling_cli.py) through main: its files, the first window's forecast equals a fit of
    that window's data, and what it prints speaks the command line's spelling."""
    from xlatsm.atsm.nelson_siegel import fit_dns

    frame = xlatsm.load_sample().iloc[:72, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["rolling", str(tmp_path / "c.csv"), "--method", "dns", "--serial", "--horizons", "1,3",
                 "--step", "12", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "not arbitrage-free" in out and "fit_afns" not in out and "--method afns" in out
    for name in ("forecast_rmse.csv", "forecasts.csv", "errors.csv", "windows.csv", "summary.txt"):
        assert (tmp_path / "o" / name).exists(), name
    forecasts = pd.read_csv(tmp_path / "o" / "forecasts.csv", parse_dates=["origin"])
    first = forecasts[forecasts["horizon"] == 1].iloc[0]
    window = frame.loc[:first["origin"]]
    expected = fit_dns(window).forecast(1).yields.iloc[0]
    np.testing.assert_allclose(first[list(expected.index)].to_numpy(float), expected.to_numpy(), rtol=1e-8)
    assert main(["rolling", str(tmp_path / "c.csv"), "--horizons", "0"]) == 2


def test_bands_on_the_term_premium_and_the_short_rate(tmp_path, capsys):
    """--bands (default delta): the band files hold the result's own term_premium_bands and
    expected_short_rate_bands; the report gets the Uncertainty section; the bootstrap shows its progress; a model
    without bands (afns) says why, in option spelling, and writes none."""
    frame = xlatsm.load_sample().iloc[:120, :8]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["atsm", str(tmp_path / "c.csv"), "--band-level", "0.8", "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    fit = xlatsm.fit_atsm(frame)
    written = pd.read_csv(tmp_path / "o" / "term_premium_bands_10Y.csv", index_col=0)
    direct = fit.term_premium_bands(0.8, "10Y")
    np.testing.assert_allclose(written[["estimate", "lower", "upper", "std_error"]].to_numpy(),
                               direct[["estimate", "lower", "upper", "std_error"]].to_numpy(), rtol=1e-6)
    short = pd.read_csv(tmp_path / "o" / "expected_short_rate_bands.csv", index_col=0)
    np.testing.assert_allclose(short["upper"].to_numpy(), fit.expected_short_rate_bands(120, 0.8)["upper"].to_numpy(),
                               rtol=1e-6)
    assert (tmp_path / "o" / "term_premium_10y_bands.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "Uncertainty: bands on the term premium" in page and "80% bands by the delta method" in page
    assert page.index("Uncertainty: bands") < page.index("<h2>Parameters</h2>")     # with the results
    assert main(["atsm", str(tmp_path / "c.csv"), "--bands", "bootstrap", "--n-boot", "5", "--no-report",
                 "--out", str(tmp_path / "b")]) == 0
    assert "bootstrap refits: 5/5" in capsys.readouterr().err
    boot = pd.read_csv(tmp_path / "b" / "term_premium_bands_10Y.csv", index_col=0)
    np.testing.assert_allclose(boot["std_error"].to_numpy(),
                               fit.term_premium_bands(0.9, "10Y", "bootstrap", n_boot=5, progress=False)["std_error"]
                               .to_numpy(), rtol=1e-6)
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "afns", "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "note: no bands: term-premium bands are not available" in err and "--method jsz" in err
    assert not list((tmp_path / "a").glob("*bands*"))
    assert "Bands: not available" in (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert main(["atsm", str(tmp_path / "c.csv"), "--bands", "none", "--no-report", "--out", str(tmp_path / "n")]) == 0
    assert not list((tmp_path / "n").glob("*bands*"))


def test_standard_errors_are_written_next_to_their_blocks(tmp_path):
    """<block>_se.csv holds the fit's own standard_errors (same labels as the block); models without standard
    errors (afns) write none."""
    frame = xlatsm.load_sample().iloc[:120, [0, 1, 3, 5, 8, 11]]
    frame.to_csv(tmp_path / "c.csv")
    assert main(["atsm", str(tmp_path / "c.csv"), "--no-report", "--out", str(tmp_path / "a")]) == 0
    fit = xlatsm.fit_atsm(frame)
    for name in ("K1_P", "lambda_1", "sigma_e"):
        written = pd.read_csv(tmp_path / "a" / f"param_{name}_se.csv", index_col=0)
        expected = fit.standard_errors[name]
        assert list(written.columns) == [str(c) for c in expected.columns]
        np.testing.assert_allclose(written.to_numpy(float), expected.to_numpy(float), rtol=1e-6)
    assert main(["lgssm", str(tmp_path / "c.csv"), "--n-factors", "2", "--no-report", "--out",
                 str(tmp_path / "l")]) == 0
    lg = xlatsm.fit_lgssm(frame, 2)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "l" / "C_se.csv", index_col=0).to_numpy(float),
                               lg.standard_errors["C"].to_numpy(float), rtol=1e-6)
    assert (tmp_path / "l" / "c_obs_intercept_se.csv").exists()
    assert main(["atsm", str(tmp_path / "c.csv"), "--method", "afns", "--no-report", "--out",
                 str(tmp_path / "f")]) == 0
    assert not list((tmp_path / "f").glob("*_se.csv"))
