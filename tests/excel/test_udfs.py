"""The spreadsheet functions, called exactly as xlwings calls them (nested lists of float/None/str/datetime)."""
import datetime as dt
import inspect

import numpy as np
import pytest

import xlatsm
from xlatsm.excel import core, udfs
from xlatsm.excel.cache import CACHE
from xlatsm.excel.declare import vba_wrappers, xlwings_metadata


def as_range(frame, header=True, dates=True):
    """What xlwings hands a UDF for a range with ndim=2: rows of float/None/str/datetime."""
    rows = []
    if header:
        rows.append((["date"] if dates else []) + [str(c) for c in frame.columns])
    for idx, values in zip(frame.index, frame.to_numpy()):
        row = [None if np.isnan(v) else float(v) for v in values]
        rows.append(([idx.to_pydatetime()] if dates else []) + row)
    return rows


@pytest.fixture
def curve():
    sample = xlatsm.load_sample().iloc[:, :7]
    sample.columns = ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]
    return sample


@pytest.fixture(autouse=True)
def fresh_cache():
    CACHE.clear()
    yield
    CACHE.clear()


def is_block(block):
    assert isinstance(block, list) and block and all(isinstance(r, list) for r in block)
    width = len(block[0])
    assert all(len(r) == width for r in block), "not rectangular"
    for row in block:
        for cell in row:
            assert isinstance(cell, (float, int, str, dt.datetime)), type(cell)
            assert not (isinstance(cell, float) and not np.isfinite(cell))
    return True


ATSM_OUTPUTS = {"summary": (None, 2), "params": (None, 4), "factors": (319, 7), "fitted": (319, 8),
                "errors": (2, 8), "term_premium": (319, 9), "loadings": (8, 5), "loglik": (2, 1), "handle": (1, 1),
                "K1_P": (4, 4), "Sigma_P": (4, 4), "K1_Q": (4, 4), "lambda_1": (4, 4), "lambda_0": (4, 2),
                "K_P": (4, 4), "sigma_e": (8, 2), "risk_neutral": (319, 8)}


@pytest.mark.parametrize("output", list(ATSM_OUTPUTS))
def test_atsm_blocks_shapes_and_labels(curve, output):
    block = udfs.ATSM_FIT(as_range(curve), None, 3, output)
    assert is_block(block)
    rows, cols = ATSM_OUTPUTS[output]
    if rows is not None:
        assert len(block) == rows
    assert len(block[0]) == cols
    if output in ("factors", "fitted", "term_premium"):
        assert block[0][0] == "date" and isinstance(block[1][0], dt.datetime)
    if output == "handle":
        assert block[0][0].startswith("ATSM#")


def test_spilled_parameters_equal_the_python_fit(curve):
    block = udfs.ATSM_FIT(as_range(curve), None, 3, "params")
    fit = xlatsm.fit_atsm(curve)
    blocks = fit.parameter_blocks()
    row = [r[0] for r in block].index("K1_P")
    np.testing.assert_array_equal(np.array([r[1:4] for r in block[row + 1:row + 4]], float), blocks["K1_P"].to_numpy())
    row = [r[0] for r in block].index("Sigma_P")
    np.testing.assert_array_equal(np.array([r[1:4] for r in block[row + 1:row + 4]], float),
                                  blocks["Sigma_P"].to_numpy())
    summary = dict((r[0], r[1]) for r in udfs.ATSM_FIT(as_range(curve))[1:])
    assert summary["log-likelihood"] == fit.loglik and summary["yield units"] == "percent"
    assert summary["converged"] == "yes"


def test_ten_outputs_one_fit_and_one_changed_cell_refits(curve):
    rows = as_range(curve)
    for output in ("summary", "params", "factors", "fitted", "errors", "term_premium", "loadings", "K1_P", "handle",
                   "loglik"):
        assert is_block(udfs.ATSM_FIT(rows, None, 3, output))
    assert CACHE.fits_run == 1
    handle = udfs.ATSM_FIT(rows, None, 3, "handle")[0][0]
    rows[50][3] = rows[50][3] + 0.01
    assert udfs.ATSM_FIT(rows, None, 3, "handle")[0][0] != handle
    assert CACHE.fits_run == 2
    assert udfs.ATSM_FIT(rows, None, 3, "handle", "jsz", "percent")[0][0] != handle  # options are part of the key


def test_handles_smoothing_and_accessor(curve):
    rows = as_range(curve)
    rows[20][2] = None   # a blank cell: kalman handles it
    handle = udfs.ATSM_FIT(rows, None, 3, "handle", "kalman")[0][0]
    smoothed = udfs.SMOOTH_STATES(rows, handle)
    assert is_block(smoothed) and len(smoothed) == 319
    assert smoothed[0][0] == "date" and smoothed[0][1].startswith("level: average yield (percent)")
    factors = udfs.XLATSM_GET(handle, "factors")
    np.testing.assert_allclose(np.array([r[1:4] for r in factors[1:]], float),
                               np.array([r[1:4] for r in smoothed[1:]], float), atol=1e-9)
    assert udfs.XLATSM_GET(handle, "K1_Q")[0][0] == "K1_Q"


def test_lgssm_and_smoothing(curve):
    rows = as_range(xlatsm.load_sample())
    block = udfs.LGSSM_EM(rows, 3, 1, "params", 50)
    assert is_block(block) and block[0][0] == "A_1"
    handle = udfs.LGSSM_EM(rows, 3, 1, "handle", 50)[0][0]
    assert handle.startswith("LGSSM#") and CACHE.fits_run == 1
    smoothed = udfs.SMOOTH_STATES(rows, handle, "factors_se")
    assert smoothed[0][0] == "date" and len(smoothed[0]) == 7 and smoothed[0][4].endswith("s.e.")
    summary = dict((r[0], r[1]) for r in udfs.LGSSM_EM(rows, 3, 1, "summary", 3)[1:])
    assert summary["converged"].startswith("NO")   # 3 iterations are not enough: said, not hidden


def test_blank_rows_selected_below_the_data_are_ignored(curve):
    rows = as_range(curve)
    handle = udfs.ATSM_FIT(rows, None, 3, "handle")[0][0]
    longer = rows + [[None] * len(rows[0]) for _ in range(25)]
    assert udfs.ATSM_FIT(longer, None, 3, "handle")[0][0] == handle
    assert CACHE.fits_run == 1


def test_numbers_from_excel_arrive_as_floats(curve):
    """Excel passes 3.0 for 3 and may pass a maturities row instead of a header."""
    rows = as_range(curve, header=False)
    block = udfs.ATSM_FIT(rows, [["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]], 3.0, "errors")
    assert block[0][1:] == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]


def bad_inputs(curve):
    good = as_range(curve)
    text = [list(r) for r in good]
    text[5][2] = "n/a yet"
    ragged = [list(r) for r in good]
    ragged[7] = ragged[7][:-1]
    dup = [list(r) for r in good]
    dup[0][3] = "2Y"
    unsorted = [list(r) for r in good]
    unsorted[0][2], unsorted[0][3] = unsorted[0][3], unsorted[0][2]
    unknown = [list(r) for r in good]
    unknown[0][4] = "4Z"
    blank_col = [list(r) for r in good]
    for r in blank_col[1:]:
        r[3] = None
    blanks = [list(r) for r in good]
    blanks[30][1] = None
    return [
        ((text, None, 3), "2Y holds 'n/a yet': this text is not a number"),
        ((ragged, None, 3), "ragged range"),
        ((dup, None, 3), "appears twice"),
        ((unknown, None, 3), "unknown tenor label '4Z'"),
        ((good, None, 0), "n_factors must be a whole number from 1 to 5"),
        ((good, None, 2.5), "n_factors must be a whole number"),
        ((good, None, "three"), "n_factors must be a whole number"),
        (([], None, 3), "empty"),
        ((good[:12], None, 3), "too few"),
        ((good, None, 3, "everything"), "unknown output 'everything'"),
        ((good, None, 3, "summary", "gmm"), "method must be"),
        ((good, None, 3, "summary", "jsz", "furlongs"), "yield_units must be one of"),
        (([r[:3] for r in good], None, 3), "cannot identify 3 factors"),
        ((blank_col, None, 3), "hold no numbers"),
        ((blanks, None, 3, "summary", "jsz"), "method='kalman'"),
        (([[None, None], [None, None]], None, 3), "blank"),
        (("10Y", None, 3), "single value"),
    ]


def test_bad_input_table(curve):
    cases = bad_inputs(curve)
    assert len(cases) >= 15
    for args, expected in cases:
        block = udfs.ATSM_FIT(*args)
        assert len(block) == 1 and len(block[0]) == 1, args[3:] if len(args) > 3 else expected
        message = block[0][0]
        assert message.startswith("#xlatsm: "), message
        assert expected in message, (expected, message)
        assert "Traceback" not in message


def test_other_functions_bad_input(curve):
    rows = as_range(curve)
    assert "k_states" in udfs.LGSSM_EM(rows)[0][0]
    assert "smaller than the number of series" in udfs.LGSSM_EM(rows, 9)[0][0]
    assert "no longer in memory" in udfs.SMOOTH_STATES(rows, "ATSM#abcdef")[0][0]
    assert "not a model handle" in udfs.XLATSM_GET("hello")[0][0]
    assert "give the model handle" in udfs.SMOOTH_STATES(rows)[0][0]
    handle = udfs.ATSM_FIT(rows, None, 3, "handle")[0][0]
    assert "the data lack 5Y, 6Y, 9Y" in udfs.SMOOTH_STATES([r[:5] for r in rows], handle)[0][0]


def test_internal_errors_become_text(monkeypatch, curve):
    def boom(*a, **k):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(core, "fit_atsm", boom)
    message = udfs.ATSM_FIT(as_range(curve))[0][0]
    assert message.startswith("#xlatsm: could not finish (ZeroDivisionError") and "internal" not in message


def test_xlwings_metadata_is_real():
    meta = xlwings_metadata(udfs.ATSM_FIT)
    assert meta["name"] == "ATSM_FIT" and meta["category"] == "xlatsm" and not meta["sub"]
    args = {a["name"]: a for a in meta["args"]}
    assert list(args) == list(inspect.signature(udfs.ATSM_FIT).parameters)
    assert args["yields"]["options"] == {"ndim": 2, "empty": None, "err_to_str": True}
    assert "optional" in args["n_factors"] and args["n_factors"]["optional"] is None and "optional" not in args["yields"]
    assert args["yields"]["doc"].startswith("zero-coupon yields")
    assert meta["ret"]["options"] == {"expand": None}


def test_vba_wrappers_match_python_signatures():
    vba = vba_wrappers(udfs.UDFS)
    for f in udfs.UDFS:
        params = list(inspect.signature(f).parameters.values())
        declared = ", ".join(("Optional " if p.default is not inspect.Parameter.empty else "") + p.name
                             for p in params)
        assert f"Function {f.__name__}({declared})" in vba
        call = f'{f.__name__} = XLPy.CallUDF("xlatsm.excel.udfs", "{f.__name__}", Array({", ".join(p.name for p in params)}), ThisWorkbook, Application.Caller)'
        assert call in vba
    assert vba.count("End Function") == len(udfs.UDFS)


# ---------------------------------------------------------------------------------------------------------------
# the VBA module, the cache under recalculation and threads
# ---------------------------------------------------------------------------------------------------------------
def test_udf_module_is_what_xlwings_import_functions_writes(tmp_path):
    """xlwings' own import_udfs, run against a stand-in workbook made here (independently of declare.py): the
    module it imports into the VBA project must be exactly declare.udf_module's text, header included."""
    import types

    from xlatsm.excel.declare import _xlwings_udfs_module, udf_module

    xw_udfs = _xlwings_udfs_module()
    imported = {}

    class Components:
        def __call__(self, name):
            return name

        def Remove(self, component):
            imported["removed"] = component

        def Import(self, path):
            imported["text"] = open(path).read()

    options = []
    workbook = types.SimpleNamespace(
        Name="xlatsm.xlsm", VBProject=types.SimpleNamespace(VBComponents=Components()),
        Application=types.SimpleNamespace(Version="16.0", MacroOptions=lambda *a, **k: options.append((a, k))))
    module = types.ModuleType("replayed")
    for f in udfs.UDFS:
        setattr(module, f.__name__, types.SimpleNamespace(__xlfunc__=xlwings_metadata(f)))
    xw_udfs.udf_modules["xlatsm.excel.udfs"] = {"filename": "", "filetime": None, "module": module}
    try:
        xw_udfs.import_udfs("xlatsm.excel.udfs", workbook)
    finally:
        xw_udfs.udf_modules.pop("xlatsm.excel.udfs", None)
    text = imported["text"]
    assert text == udf_module(udfs.UDFS)
    lines = text.splitlines()
    assert lines[0] == 'Attribute VB_Name = "xlwings_udfs"' and imported["removed"] == "xlwings_udfs"
    assert lines[2].startswith('#Const App = "Microsoft Excel"')   # without it VBA compiles the #Else branch
    assert text.count("On Error GoTo failed") == len(udfs.UDFS)
    # the function wizard does not call the UDFs (call_in_wizard=False)
    assert text.count('If (Not Application.CommandBars("Standard").Controls(1).Enabled) Then Exit Function') == \
        len(udfs.UDFS)
    assert [o[1]["Category"] for o in options] == ["xlatsm"] * len(udfs.UDFS)


def test_long_fits_run_asynchronously_in_xlwings():
    assert xlwings_metadata(udfs.ATSM_FIT)["async_mode"] == "threading"
    assert xlwings_metadata(udfs.LGSSM_EM)["async_mode"] == "threading"
    assert not xlwings_metadata(udfs.SMOOTH_STATES)["call_in_wizard"]


def test_recalculation_does_not_parse_the_range_again(curve, monkeypatch):
    rows = as_range(curve)
    outputs = ["summary", "params", "factors", "fitted", "errors", "term_premium", "loadings", "K1_P", "handle",
               "loglik"]
    first = [udfs.ATSM_FIT(rows, None, 3.0, o) for o in outputs]
    parsed = []
    real = core._range
    monkeypatch.setattr(core, "_range", lambda v: parsed.append(1) or real(v))
    import time

    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        again = [udfs.ATSM_FIT(rows, None, 3.0, o) for o in outputs]
        times.append((time.perf_counter() - t0) / len(outputs))
    assert again == first and not parsed and CACHE.fits_run == 1
    assert min(times) < 0.005, f"a cached block took {min(times) * 1e3:.2f} ms"   # benchmark target: < 1 ms


def test_eight_threads_asking_for_one_fit_share_it(curve):
    from concurrent.futures import ThreadPoolExecutor

    rows = as_range(curve)
    outputs = ["summary", "params", "factors", "fitted", "errors", "handle", "K1_P", "loglik"]
    with ThreadPoolExecutor(8) as pool:
        blocks = list(pool.map(lambda o: udfs.ATSM_FIT(rows, None, 3, o), outputs))
    for block in blocks:
        assert is_block(block) and not str(block[0][0]).startswith("#xlatsm")
    assert CACHE.fits_run == 1


def test_output_names_match_exactly_first():
    rows = as_range(xlatsm.load_sample())
    big = udfs.LGSSM_EM(rows, 3, 1, "C", 30)
    small = udfs.LGSSM_EM(rows, 3, 1, "c", 30)
    assert big[0][0] == "C" and small[0][0] == "c" and len(big) == len(small) and big != small
    assert udfs.ATSM_FIT(as_range(xlatsm.load_sample().iloc[:, :7]), None, 3, "k1_p")[0][0] == "K1_P"


def test_a_handle_cell_still_calculating_says_so(curve):
    message = udfs.SMOOTH_STATES(as_range(curve), "#N/A waiting...")[0][0]
    assert message.startswith("#xlatsm:") and "still calculating" in message


def test_a_handle_range_and_an_edited_handle(curve):
    """Audit B18/B19: a handle selected with the blank cell beside it is read as its one cell; two handles, or a
    handle whose kind was edited (ATSM -> LGSSM), are refused by name instead of failing inside the layout."""
    handle = udfs.ATSM_FIT(as_range(curve), None, 3, "handle")[0][0]
    own = udfs.XLATSM_GET(handle, "params")
    assert udfs.XLATSM_GET([[handle, None]], "params") == own
    assert udfs.XLATSM_GET([[None], [handle]], "params") == own
    assert udfs.XLATSM_GET(handle.lower(), "params") == own
    two = udfs.XLATSM_GET([[handle, handle]], "params")[0][0]
    assert two.startswith("#xlatsm:") and "range of 2 cells holding 2 values" in two
    for edited in (handle.replace("ATSM", "LGSSM"), handle.replace("ATSM", "FOO")):
        for message in (udfs.XLATSM_GET(edited, "params")[0][0], udfs.SMOOTH_STATES(as_range(curve), edited)[0][0]):
            assert message.startswith(f"#xlatsm: {edited} is not a handle xlatsm made") and "an ATSM model" in message


def test_spilled_series_say_their_unit(curve):
    assert udfs.ATSM_FIT(as_range(curve), None, 3, "fitted")[0][1] == "1Y (percent)"
    header = udfs.ATSM_FIT(as_range(curve), None, 3, "term_premium")[0]
    assert header[-1] == "term_premium_10Y (extrapolated: fitted 1Y-9Y) (percent)"   # the sample has no 10Y
    assert udfs.ATSM_FIT(as_range(curve), None, 3, "factors")[0][1] == "level: average yield (percent)"


def test_importing_the_udf_module_leaves_the_estimators_for_later():
    """xlwings imports the UDF module at every Excel start: the estimators are imported on first use."""
    import subprocess
    import sys

    code = ("import sys, xlatsm.excel.udfs, xlatsm.excel.core as c; "
            "print(int(c._core.cache_info().currsize == 0))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"


@pytest.mark.parametrize("method", ["acm", "afns", "dns"])
def test_smoothing_with_models_that_have_their_own_evaluation(curve, method):
    """SMOOTH_STATES on an acm/afns/dns handle: the model's own evaluation of the curves (result.evaluate_frames).
    On the fit's own curves it gives the fit's own factors and fitted yields; on the last 60 dates alone, acm and
    dns (one date at a time) give those dates' rows."""
    rows = as_range(curve)
    handle = udfs.ATSM_FIT(rows, None, None, "handle", method)[0][0]
    assert handle.startswith("ATSM#")
    factors = udfs.SMOOTH_STATES(rows, handle)
    assert is_block(factors) and factors == udfs.XLATSM_GET(handle, "factors")
    fitted = udfs.SMOOTH_STATES(rows, handle, "fitted")
    np.testing.assert_allclose(np.array([r[1:] for r in fitted[1:]], float),
                               np.array([r[1:8] for r in udfs.XLATSM_GET(handle, "fitted")[1:]], float),
                               rtol=1e-12, atol=1e-12)
    assert fitted[0][1] == "1Y (percent)"
    if method != "dns":
        premia = udfs.SMOOTH_STATES(rows, handle, "term_premium")
        assert premia[0][1] == "1Y (percent)"
        fit = xlatsm.fit_atsm(curve, method=method)
        np.testing.assert_allclose(np.array([r[1:] for r in premia[1:]], float), fit.term_premium.to_numpy(),
                                   rtol=1e-9, atol=1e-12)
    else:
        message = udfs.SMOOTH_STATES(rows, handle, "term_premium")[0][0]
        assert message.startswith("#xlatsm:") and "not arbitrage-free" in message
    if method == "afns":
        se = udfs.SMOOTH_STATES(rows, handle, "factors_se")
        assert len(se[0]) == 7 and se[0][4].endswith("_se (percent)")
    else:
        message = udfs.SMOOTH_STATES(rows, handle, "std_errors")[0][0]
        assert message.startswith(f"#xlatsm: {method}'s factors are") and "no standard errors" in message
    assert "no likelihood of new curves" in udfs.SMOOTH_STATES(rows, handle, "loglik")[0][0]
    if method != "afns":   # the Kalman smoother (afns) uses every date; the others read each date on its own
        tail = udfs.SMOOTH_STATES([rows[0]] + rows[-60:], handle)
        assert tail[1:] == factors[-60:] and tail[0] == factors[0]


def test_forecast_blocks(curve):
    """output "forecast" (and _factors, _short_rate, _term_premium): xlatsm.forecast's table, each header with its
    unit, the notes under it; a longer horizon is the same fit (no refit); LGSSM has no short rate."""
    from xlatsm.forecast import forecast

    rows = as_range(curve)
    block = udfs.ATSM_FIT(rows, None, 3, "forecast")
    fc = forecast(xlatsm.fit_atsm(curve), 12)
    table = fc.table("yields")
    assert block[0] == ["h", "date"] + [f"{c} (percent)" for c in table.columns[1:]]
    assert [r[0] for r in block[1:13]] == list(range(1, 13)) and block[1][1] == table["date"].iloc[0]
    np.testing.assert_allclose(np.array([r[2:] for r in block[1:13]], float), table.iloc[:, 1:].to_numpy(float),
                               rtol=1e-10, atol=1e-12)
    assert block[13] == [""] * len(block[0]) and block[-1][0].startswith("note: bands hold")
    longer = udfs.ATSM_FIT(rows, None, 3, "forecast", None, None, None, None, 24.0)
    assert len(longer) == 24 + 1 + 1 + len(fc.notes) and longer[1:13] == block[1:13]
    assert CACHE.fits_run == 1
    short_rate = udfs.ATSM_FIT(rows, None, 3, "forecast_short_rate", None, None, None, None, 3)
    assert short_rate[0][2:] == ["short_rate (percent)", "short_rate lower 90% (percent)",
                                 "short_rate upper 90% (percent)"]
    handle = udfs.ATSM_FIT(rows, None, 3, "handle")[0][0]
    assert udfs.XLATSM_GET(handle, "forecast_term_premium", 3)[:4] == \
        udfs.ATSM_FIT(rows, None, 3, "forecast_term_premium", None, None, None, None, 3)[:4]
    assert "horizon must be a whole number" in udfs.ATSM_FIT(rows, None, 3, "forecast", None, None, None, None,
                                                             0)[0][0]
    lgssm = as_range(xlatsm.load_sample())
    assert udfs.LGSSM_EM(lgssm, 3, 1, "forecast", 30)[0][2] == "SVENY01 (the data's units)"
    assert "no pricing model" in udfs.LGSSM_EM(lgssm, 3, 1, "forecast_short_rate", 30)[0][0]


def test_continuous_time_from_the_cell(curve):
    rows = as_range(curve)
    summary = dict((r[0], r[1]) for r in udfs.ATSM_FIT(rows, None, 3, "summary", "jsz", None, None,
                                                       "continuous")[1:])
    fit = xlatsm.fit_atsm(curve, method="jsz", time="continuous")
    assert summary["log-likelihood"] == fit.loglik and summary["time"].startswith("continuous")
    assert "continuous time" in summary["model"]
    discrete = udfs.ATSM_FIT(rows, None, 3, "handle", "jsz")[0][0]
    assert udfs.ATSM_FIT(rows, None, 3, "handle", "jsz", None, None, "continuous")[0][0] != discrete
    assert "discrete only" in udfs.ATSM_FIT(rows, None, 3, "summary", "acm", None, None, "continuous")[0][0]
    assert "time must be 'discrete' or 'continuous'" in udfs.ATSM_FIT(rows, None, 3, "summary", "jsz", None, None,
                                                                      "weekly")[0][0]


def test_standard_errors_and_bands_blocks(curve):
    """params_se is laid out as params (same labels) with the inference's numbers and notes; term_premium_bands and
    short_rate_bands carry xlatsm.inference's bands with their units; models without them say so."""
    rows = as_range(curve)
    handle = udfs.ATSM_FIT(rows, None, 3, "handle", "jsz")[0][0]
    result = CACHE.lookup(handle)
    se = udfs.ATSM_FIT(rows, None, 3, "params_se", "jsz")
    params = udfs.ATSM_FIT(rows, None, 3, "params", "jsz")
    assert se[0][0] == "standard errors (same units as params)"
    assert [r[0] for r in se[1:len(params) + 1]] == [r[0] for r in params]   # the same blocks, labels, order
    row = [r[0] for r in se].index("K1_P")
    np.testing.assert_array_equal(np.array([r[1:4] for r in se[row + 1:row + 4]], float),
                                  result.standard_errors["K1_P"].to_numpy())
    assert se[-1][0].startswith("note: jsz: information of the full JSZ likelihood")
    bands = udfs.ATSM_FIT(rows, None, 3, "term_premium_bands", "jsz")
    frame = result.term_premium_bands(level=0.9, maturity="10Y", method="delta")
    assert bands[0] == ["date", "term premium 10Y (percent)", "lower 90% (percent)", "upper 90% (percent)",
                        "s.e. (percent)"]
    np.testing.assert_array_equal(np.array([r[1:] for r in bands[1:len(frame) + 1]], float), frame.to_numpy())
    assert bands[1][0] == frame.index[0].to_pydatetime() and bands[-1][0].startswith("note: delta method, 90%")
    path = udfs.XLATSM_GET(handle, "short_rate_bands", 24)
    assert path[0][0] == "h (months ahead)" and [r[0] for r in path[1:26]] == list(range(25))
    assert len(udfs.XLATSM_GET(handle, "short_rate_bands")) > 120        # default: 120 months ahead
    # XLATSM_BANDS: the same blocks by default, and the options reach xlatsm.inference
    assert udfs.XLATSM_BANDS(handle) == bands and udfs.XLATSM_BANDS(handle, "params_se") == se
    five = udfs.XLATSM_BANDS(handle, "term_premium_bands", 0.95, "5Y")
    frame = result.term_premium_bands(level=0.95, maturity="5Y")
    assert five[0][1:3] == ["term premium 5Y (percent)", "lower 95% (percent)"]
    np.testing.assert_array_equal(np.array([r[1:] for r in five[1:len(frame) + 1]], float), frame.to_numpy())
    boot = udfs.XLATSM_BANDS(handle, "term_premium_bands", 0.9, "10Y", "bootstrap", 19, 1)
    assert any(str(r[0]).startswith("note: parametric bootstrap: 19 of 19") for r in boot)
    asked = []
    real = result.parameter_standard_errors
    result.parameter_standard_errors = lambda **kw: asked.append(kw) or real()
    try:
        assert udfs.XLATSM_BANDS(handle, "params_se", None, None, "robust")[0][0].startswith("standard errors")
    finally:
        del result.parameter_standard_errors
    assert asked == [dict(method="observed", robust=True, n_boot=199, seed=0, progress=False)]
    assert "method must be one of delta, robust, bootstrap" in udfs.XLATSM_BANDS(handle, "params_se", None, None,
                                                                                 "jackknife")[0][0]
    lgssm_handle = udfs.LGSSM_EM(as_range(xlatsm.load_sample()), 3, 1, "handle", 20)[0][0]
    # 20 EM iterations are not a maximum: no standard errors there (a converged handle's block is tested in
    # tests/inference/test_lgssm_inference.py)
    assert udfs.XLATSM_BANDS(lgssm_handle, "params_se")[0][0].startswith(
        "#xlatsm: standard errors need a converged EM")
    assert "LGSSM fits have no term premium bands" in udfs.XLATSM_BANDS(lgssm_handle)[0][0]
    acm = udfs.ATSM_FIT(rows, None, None, "term_premium_bands", "acm")
    assert acm[0][0] == "date" and acm[0][1].startswith("term premium 10Y")      # ACM: delta-method bands
    afns = udfs.ATSM_FIT(rows, None, None, "term_premium_bands", "afns")[0][0]
    assert afns.startswith("#xlatsm: term-premium bands are not available") and "method='jsz'" in afns
    lgssm = udfs.LGSSM_EM(as_range(xlatsm.load_sample()), 3, 1, "params_se", 20)[0][0]
    assert lgssm.startswith("#xlatsm: standard errors need a converged EM")


def test_smoothed_term_premia_of_a_kalman_handle(curve):
    """SMOOTH_STATES(..., "term_premium") with a kalman handle on the fit's own curves: the fit's term premia (its
    factors are the same Kalman-smoothed states); LGSSM handles have none."""
    rows = as_range(curve)
    handle = udfs.ATSM_FIT(rows, None, 3, "handle", "kalman")[0][0]
    smoothed = udfs.SMOOTH_STATES(rows, handle, "term_premium")
    own = udfs.XLATSM_GET(handle, "term_premium")
    assert smoothed[0] == own[0][:8]
    np.testing.assert_allclose(np.array([r[1:] for r in smoothed[1:]], float),
                               np.array([r[1:8] for r in own[1:]], float), rtol=1e-9, atol=1e-12)
    lgssm = as_range(xlatsm.load_sample())
    lgssm_handle = udfs.LGSSM_EM(lgssm, 3, 1, "handle", 20)[0][0]
    assert "unknown output 'term_premium'" in udfs.SMOOTH_STATES(lgssm, lgssm_handle, "term_premium")[0][0]
