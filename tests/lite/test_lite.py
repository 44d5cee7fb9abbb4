"""xlatsm as an xlwings Lite plugin: the declarations Lite sees, the values it hands over, the blocks it gets back
(the same as the classic UDFs'), the Refit script, and a Pyodide-like interpreter (no numba, no processes, no
threads, no matplotlib)."""
import datetime as dt
import importlib
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import xlatsm
from xlatsm.excel import core, udfs
from xlatsm.excel.cache import CACHE

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "excel"))
import standin  # noqa: E402
from test_udfs import as_range as classic_range  # noqa: E402  - what classic xlwings hands a UDF for a range


@pytest.fixture
def lite(monkeypatch):
    """xlatsm.excel.lite imported afresh under the stand-in ``xlwings`` (as inside Lite, where the add-in
    provides xlwings and sets XLWINGS_ON_SERVER)."""
    monkeypatch.setitem(sys.modules, "xlwings", standin.module())
    monkeypatch.setenv("XLWINGS_ON_SERVER", "true")
    monkeypatch.delitem(sys.modules, "xlatsm.excel.lite", raising=False)
    module = importlib.import_module("xlatsm.excel.lite")
    yield module
    sys.modules.pop("xlatsm.excel.lite", None)


@pytest.fixture(autouse=True)
def fresh_cache():
    CACHE.clear()
    yield
    CACHE.clear()


@pytest.fixture
def curve():
    sample = xlatsm.load_sample().iloc[:, :7]
    sample.columns = ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]
    return sample


# ----------------------------------------------------------------------------------------------------------------
# registration
# ----------------------------------------------------------------------------------------------------------------
def test_importing_the_plugin_registers_every_function_with_lites_conventions(lite):
    registered = standin.custom_functions(lite)
    assert set(registered) == {f.__name__ for f in core.FUNCTIONS} == {"ATSM_FIT", "LGSSM_EM", "SMOOTH_STATES",
                                                                       "XLATSM_GET", "XLATSM_BANDS"}
    for name, f in registered.items():
        shared = getattr(core, name)
        meta = f.__xlfunc__
        # the same parameters, defaults and help as the shared function and the classic UDF
        assert inspect.signature(f) == inspect.signature(shared) == inspect.signature(getattr(udfs, name))
        assert [a["name"] for a in meta["args"]] == [a.name for a in shared.declaration.args]
        assert [a["doc"] for a in meta["args"]] == [a.doc for a in shared.declaration.args]
        assert meta["ret"]["doc"] == shared.__doc__ and meta["ret"]["doc"].strip()
        # an argument with a default is optional in Excel; every parameter is a matrix of any values
        for a, p in zip(meta["args"], inspect.signature(shared).parameters.values()):
            assert ("optional" in a) == (p.default is not p.empty)
        assert all(p["dimensionality"] == "matrix" for p in standin.excel_parameters(f))
        # range arguments: 2-D, blanks None, error cells as text; no classic-only option anywhere
        for a, declared in zip(meta["args"], shared.declaration.args):
            assert a["options"] == (declared.options or {})
            assert not set(a["options"]) & standin.CLASSIC_ONLY_ARG_OPTIONS
        assert not set(meta["options"]) & standin.CLASSIC_ONLY_FUNC_OPTIONS
        assert not set(meta["ret"]["options"]) & standin.CLASSIC_ONLY_RET_OPTIONS
        assert f.__module__ == "xlatsm.excel.lite" and not hasattr(shared, "__xlfunc__")
    ranges = {(name, a["name"]) for name, f in registered.items() for a in f.__xlfunc__["args"]
              if a["options"].get("ndim") == 2 and a["options"].get("err_to_str")}
    assert ranges == {("ATSM_FIT", "yields"), ("LGSSM_EM", "data"), ("SMOOTH_STATES", "data")}
    kinds = [kind for kind, _, _ in standin.REGISTRATIONS]
    assert kinds.count("func") == len(core.FUNCTIONS) and kinds.count("script") == 1


def test_the_refit_script_is_registered_with_a_book_parameter(lite):
    found = standin.scripts(lite)
    assert list(found) == ["xlatsm_refit"]
    assert found["xlatsm_refit"].__xlscript__["book"] == "book"
    assert "xlatsm_refit" in lite.__all__ and set(standin.custom_functions(lite)) <= set(lite.__all__)


def test_main_py_importing_the_plugin_registers_the_same_functions(lite):
    """Lite registers what it finds among main.py's members: `from xlatsm.excel.lite import *` brings all of it."""
    main = type(sys)("main")
    exec("from xlatsm.excel.lite import *", main.__dict__)
    assert standin.custom_functions(main) == standin.custom_functions(lite)
    assert standin.scripts(main) == standin.scripts(lite)


def test_classic_declarations_stay_out_of_lite(monkeypatch):
    """Inside Lite, xw.func is Lite's: the classic layer, if imported there, must not register a second ATSM_FIT."""
    import xlatsm.excel as package

    monkeypatch.setitem(sys.modules, "xlwings", standin.module())
    monkeypatch.setenv("XLWINGS_ON_SERVER", "true")
    for name in ("declare", "udfs"):      # the modules as they were, put back when the test ends
        monkeypatch.setitem(sys.modules, f"xlatsm.excel.{name}", sys.modules[f"xlatsm.excel.{name}"])
        monkeypatch.setattr(package, name, getattr(package, name))
        del sys.modules[f"xlatsm.excel.{name}"]
    fresh = importlib.import_module("xlatsm.excel.udfs")
    assert fresh is not udfs
    assert standin.custom_functions(fresh) == {} and standin.REGISTRATIONS == []
    assert fresh.ATSM_FIT.__xlatsm_udf__   # still recorded, so the workbook build sees the same declarations


# ----------------------------------------------------------------------------------------------------------------
# calls as Lite makes them: the same blocks as the classic UDFs
# ----------------------------------------------------------------------------------------------------------------
def untimed(block):
    """A block without its 'seconds' row (the fit's wall time, which two fits never share)."""
    return [r for r in block if r[0] != "seconds"]


def same_as_classic(lite_function, classic_function, classic_args, outputs=(None,), output_at=3,
                    blank=standin.NULL):
    """Call the classic UDF with classic values and the Lite function with what Office.js sends for the same
    cells, for each output (argument ``output_at``), each runtime from an empty cache (so each fits on its own,
    once); return the two lists of blocks, timing rows left out."""
    blocks = {}
    for runtime in ("classic", "lite"):
        CACHE.clear()
        blocks[runtime] = []
        for output in outputs:
            args = list(classic_args)
            if output is not None:
                args[output_at] = output
            if runtime == "classic":
                block = classic_function(*args)
            else:
                block = standin.call(lite_function, *[standin.officejs_matrix(a, blank) for a in args])
            blocks[runtime].append(untimed(block))
        assert CACHE.fits_run == 1, runtime
    return blocks["classic"], blocks["lite"]


ATSM_OUTPUTS = ["summary", "params", "factors", "fitted", "errors", "term_premium", "loadings", "K1_P", "loglik",
                "handle"]


def test_atsm_blocks_from_lite_equal_the_classic_ones(lite, curve):
    rows = classic_range(curve)
    rows[40][3] = None                      # a blank cell (kalman handles it)
    classic, from_lite = same_as_classic(lite.ATSM_FIT, udfs.ATSM_FIT, [rows, None, 3.0, None, "kalman"],
                                         ATSM_OUTPUTS)
    for output, a, b in zip(ATSM_OUTPUTS, classic, from_lite):
        assert not str(a[0][0]).startswith("#xlatsm"), a
        assert b == a, output
        if output in ("factors", "fitted", "term_premium"):
            assert isinstance(b[1][0], dt.datetime)   # dates came in as serial numbers, go back as dates


def test_lite_blanks_as_empty_text_and_error_cells(lite, curve):
    """Office.js may send a blank as "" rather than null, and an error cell (#N/A) as a rich error value: both are
    missing values, as a blank and the text "#N/A" are in classic xlwings."""
    rows = classic_range(curve)
    rows[10][2], rows[20][5] = None, "#N/A"
    (classic,), (from_lite,) = same_as_classic(lite.ATSM_FIT, udfs.ATSM_FIT,
                                               [rows, None, 3.0, "summary", "kalman"], blank="")
    assert from_lite == classic and dict((r[0], r[1]) for r in classic[1:])["method"] == "kalman"


def test_raw_office_js_values_read_as_classic_ones(curve):
    """The conversion layer itself, without xlwings' converter in between: a range as Office.js hands it over
    (JsNull and "" blanks, an error value, whole numbers as int, dates as serial numbers) gives the classic block."""
    from xlatsm.excel import convert

    rows = classic_range(curve)
    rows[10][2], rows[20][5] = None, "#N/A"
    raw = standin.officejs_matrix(rows)
    raw[30][4] = ""                                      # Office.js may send a blank as ""
    rows[30][4] = None
    assert any(isinstance(v, int) and not isinstance(v, bool) for r in raw for v in r)
    assert isinstance(raw[1][0], int) and raw[1][0] == 31380       # 1985-11-29 as Excel's serial number
    assert convert.cells(raw)[1:] == [[convert.cell(v) for v in r] for r in raw[1:]]
    assert convert.cell(standin.NULL) is None and convert.cell(standin.officejs_error("#N/A")) == "#N/A"
    assert convert.cell(3) == 3.0 and type(convert.cell(3)) is float and convert.cell(True) is True
    assert convert.scalar([[standin.NULL]]) is None and convert.scalar([["summary"]]) == "summary"
    CACHE.clear()
    classic = [untimed(core.ATSM_FIT(rows, None, 3.0, output, "kalman")) for output in ("summary", "factors")]
    CACHE.clear()
    lite = [untimed(core.ATSM_FIT(raw, standin.NULL, [[3]], [[output]], [["kalman"]])) for output in ("summary",
                                                                                                    "factors")]
    assert lite == classic and CACHE.fits_run == 1


def test_lite_maturities_row_and_whole_numbers(lite, curve):
    """No header: maturities given as a row; n_factors typed as 3 arrives as the int 3 (classic: 3.0)."""
    rows = classic_range(curve, header=False)
    (classic,), (from_lite,) = same_as_classic(lite.ATSM_FIT, udfs.ATSM_FIT,
                                               [rows, [["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]], 3.0, "errors"])
    assert from_lite == classic and classic[0][1:] == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]


def test_lgssm_smoothing_and_accessor_from_lite_equal_classic(lite):
    rows = classic_range(xlatsm.load_sample())
    outputs = ("summary", "params", "C", "factors", "rmse")
    classic, from_lite = same_as_classic(lite.LGSSM_EM, udfs.LGSSM_EM, [rows, 3.0, 1.0, None, 40.0], outputs)
    assert from_lite == classic
    CACHE.clear()
    handle = standin.call(lite.LGSSM_EM, *[standin.officejs_matrix(a) for a in [rows, 3.0, 1.0, "handle", 40.0]])
    handle = handle[0][0]
    assert handle.startswith("LGSSM#")
    from_lite = standin.call(lite.SMOOTH_STATES, standin.officejs_matrix(rows), [[handle]],
                             [["factors_se"]])
    assert from_lite == udfs.SMOOTH_STATES(rows, handle, "factors_se")
    assert standin.call(lite.XLATSM_GET, [[handle]], [["Q"]]) == udfs.XLATSM_GET(handle, "Q")
    assert standin.call(lite.XLATSM_GET, [[handle]]) == udfs.XLATSM_GET(handle)   # omitted output: summary


def test_lite_errors_are_cells_of_text(lite, curve):
    rows = classic_range(curve)
    assert standin.call(lite.ATSM_FIT, standin.officejs_matrix(rows), standin.NULL, [[0]])[0][0].startswith(
        "#xlatsm: n_factors must be a whole number from 1 to 5")
    assert "single value" in standin.call(lite.ATSM_FIT, [["10Y"]])[0][0]
    assert "give the model handle" in standin.call(lite.SMOOTH_STATES, standin.officejs_matrix(rows))[0][0]
    # a handle cell showing an error reaches the function as None (no err_to_str on that argument)
    assert "give the model handle" in standin.call(lite.XLATSM_GET, [[standin.officejs_error("#N/A")]])[0][0]


# ----------------------------------------------------------------------------------------------------------------
# the Refit script
# ----------------------------------------------------------------------------------------------------------------
class FakeRange:
    def __init__(self, sheet, address):
        self.sheet, self.address = sheet, address

    def options(self, **kwargs):
        return self

    @property
    def value(self):
        return self.sheet.cells

    @value.setter
    def value(self, block):
        self.sheet.writes.append((self.address, block))

    @property
    def last_cell(self):
        return type("Cell", (), {"row": len(self.sheet.cells), "column": max(map(len, self.sheet.cells), default=1)})

    def clear_contents(self):
        self.sheet.cleared.append(self.address)


class FakeSheet:
    """The parts of a Lite script's sheet that Refit uses: used_range (its values as loaded), range(...) to write."""

    def __init__(self, name, cells=()):
        self.name, self.cells, self.writes, self.cleared, self.tables = name, [list(r) for r in cells], [], [], {}

    @property
    def used_range(self):
        return FakeRange(self, "used")

    def range(self, *address):
        return FakeRange(self, address)


class FakeSheets(list):
    def __getitem__(self, key):
        if isinstance(key, str):
            return next(s for s in self if s.name == key)
        return list.__getitem__(self, key)

    def add(self, name=None, after=None):
        self.append(FakeSheet(name))
        return self[-1]


class FakeBook:
    def __init__(self, sheets):
        self.sheets = FakeSheets(sheets)
        self.names = {}

    @property
    def app(self):
        raise AssertionError("Lite has no status bar: Refit must not touch book.app")


def test_refit_script_fits_the_yields_sheet_and_adds_the_result_sheets(lite, curve, capsys):
    """A workbook made for Lite: only a Yields sheet (values as a Lite script reads them: dates as datetimes, a few
    blank rows below); Refit adds the result sheets and writes what the ribbon button writes."""
    cells = classic_range(curve) + [[None] * 8 for _ in range(3)]
    book = FakeBook([FakeSheet("Yields", cells)])
    lite.xlatsm_refit(book)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("Refit ") and "converged yes" in line
    names = [s.name for s in book.sheets]
    assert names[0] == "Yields" and {"Results", "RefitFactors", "RefitFitted", "RefitTermPremium"} <= set(names)
    results = book.sheets["Results"].writes
    assert results[-1] == (("A1",), [[line]])
    summary = dict((r[0], r[1]) for r in dict(results)[("A3",)][1:])
    fit = xlatsm.fit_atsm(curve)
    assert summary["dates"] == 318 and summary["log-likelihood"] == pytest.approx(fit.loglik, rel=1e-10)
    factors = dict(book.sheets["RefitFactors"].writes)[("A2",)]
    assert factors[0][0] == "date" and len(factors) == 319


def test_refit_script_without_a_yields_sheet_says_what_to_do(lite, capsys):
    book = FakeBook([FakeSheet("Sheet1", [["x"]])])
    lite.xlatsm_refit(book)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("#xlatsm: refit failed: put the yields on a sheet named Yields")
    assert dict(book.sheets["Results"].writes)[("A1",)] == [[line]]


def test_lite_progress_is_printed_at_most_once_a_second(capsys):
    from xlatsm.excel.refit import LiteBook

    now = [0.0]
    book = LiteBook(FakeBook([]), clock=lambda: now[0])
    for t, text in [(0.0, "a"), (0.5, "b"), (1.2, "c"), (1.3, None), (3.0, "d")]:
        now[0] = t
        book.status(text)
    assert capsys.readouterr().out.split() == ["a", "c", "d"]


# ----------------------------------------------------------------------------------------------------------------
# Pyodide-like interpreter: no numba, no dask, no processes, no threads, no matplotlib
# ----------------------------------------------------------------------------------------------------------------
PYODIDE_LIKE = textwrap.dedent("""
    import json, sys, threading, _thread
    for name in ("numba", "dask", "distributed", "multiprocessing", "_multiprocessing", "concurrent.futures.process",
                 "matplotlib", "matplotlib.pyplot"):
        sys.modules[name] = None          # import fails as in Pyodide, where these are missing or unusable
    def no_threads(*args, **kwargs):
        raise RuntimeError("can't start new thread")
    threading.Thread.start = no_threads   # Pyodide: threading imports, starting a thread fails
    _thread.start_new_thread = no_threads
    sys.path.insert(0, {here!r})
    import standin
    sys.modules["xlwings"] = standin.module()
    import xlatsm.excel.lite as lite
    import xlatsm
    sample = xlatsm.load_sample()
    rows = [["date"] + list(sample.columns)] + [[d.to_pydatetime()] + [float(v) for v in r]
                                                 for d, r in zip(sample.index, sample.to_numpy())]
    curve = [r[:8] for r in rows]
    summary = standin.call(lite.ATSM_FIT, standin.officejs_matrix(curve), None, [[3]], [["summary"]])
    params = standin.call(lite.ATSM_FIT, standin.officejs_matrix(curve), None, [[3]], [["K1_P"]])
    kalman = standin.call(lite.ATSM_FIT, standin.officejs_matrix(curve), None, [[3]], [["K1_P"]], [["kalman"]])
    kalman_summary = standin.call(lite.ATSM_FIT, standin.officejs_matrix(curve), None, [[3]], [["summary"]],
                                  [["kalman"]])
    kalman_loglik = dict((r[0], r[1]) for r in kalman_summary[1:])["log-likelihood"]
    em = standin.call(lite.LGSSM_EM, standin.officejs_matrix(rows), [[3]], [[1]], [["params"]], [[60]])
    em_summary = standin.call(lite.LGSSM_EM, standin.officejs_matrix(rows), [[3]], [[1]], [["summary"]], [[60]])
    em_loglik = dict((r[0], r[1]) for r in em_summary[1:])["log-likelihood"]
    print(json.dumps({{"summary": summary, "K1_P": params, "em": em, "em_loglik": em_loglik, "kalman": kalman,
                      "kalman_loglik": kalman_loglik,
                      "missing": sorted(m for m in ("numba", "multiprocessing", "matplotlib")
                                        if sys.modules.get(m) is not None)}}, default=str))
""")


def test_the_plugin_fits_without_numba_processes_threads_or_matplotlib(curve):
    """Import the plugin and fit in an interpreter where numba, dask, multiprocessing and matplotlib cannot be
    imported and no thread can start (as in Pyodide): the same numbers as here, where all of them are present."""
    run = subprocess.run([sys.executable, "-c", PYODIDE_LIKE.format(here=str(HERE))], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["missing"] == []
    sample = xlatsm.load_sample()
    rows = classic_range(sample)
    curve_rows = [r[:8] for r in rows]
    summary = dict((r[0], r[1]) for r in udfs.ATSM_FIT(curve_rows, None, 3.0, "summary")[1:])
    there = dict((r[0], r[1]) for r in out["summary"][1:])
    assert not str(out["summary"][0][0]).startswith("#xlatsm"), out["summary"]
    assert there["log-likelihood"] == pytest.approx(summary["log-likelihood"], rel=1e-10)
    assert there["converged"] == "yes" and there["dates"] == summary["dates"]
    here_k1 = np.array([r[1:] for r in udfs.ATSM_FIT(curve_rows, None, 3.0, "K1_P")[1:]], float)
    np.testing.assert_allclose(np.array([r[1:] for r in out["K1_P"][1:]], float), here_k1, rtol=1e-9, atol=1e-12)
    # kalman: the collapsed Kalman pass in numba's kernel here, in pure Python there (seen: 7e-13 relative)
    here_kalman = udfs.ATSM_FIT(curve_rows, None, 3.0, "summary", "kalman")
    assert out["kalman_loglik"] == pytest.approx(dict((r[0], r[1]) for r in here_kalman[1:])["log-likelihood"],
                                                 rel=1e-10)
    np.testing.assert_allclose(np.array([r[1:] for r in out["kalman"][1:]], float),
                               np.array([r[1:] for r in udfs.ATSM_FIT(curve_rows, None, 3.0, "K1_P", "kalman")[1:]],
                                        float), rtol=1e-7, atol=1e-9)
    here_em = udfs.LGSSM_EM(rows, 3.0, 1.0, "params", 60.0)
    numbers = lambda block: np.array([[c for c in r if isinstance(c, float)] for r in block if any(  # noqa: E731
        isinstance(c, float) for c in r)], dtype=object)
    assert len(out["em"]) == len(here_em)
    # numba's kernels and the pure-Python path sum in different orders; 60 EM steps (not converged) carry the
    # last-bit differences along EM's slow directions: seen here up to 1.2e-7 on an A_1 entry of 0.31, while the
    # log-likelihood agrees to 1e-11 relative
    for a, b in zip(numbers(out["em"]), numbers(here_em)):
        np.testing.assert_allclose(np.array(a, float), np.array(b, float), rtol=1e-5, atol=1e-7)
    here_loglik = dict((r[0], r[1]) for r in udfs.LGSSM_EM(rows, 3.0, 1.0, "summary", 60.0)[1:])["log-likelihood"]
    assert out["em_loglik"] == pytest.approx(here_loglik, rel=1e-10)


def test_import_xlatsm_in_pyodide_declares_the_plugin_and_elsewhere_nothing():
    """Where Lite imports the package itself (Pyodide: sys.platform "emscripten"), `import xlatsm` brings the
    declared functions and the Refit script, registered with Lite's decorators; elsewhere it does not even import
    the Excel layer."""
    names = ["ATSM_FIT", "LGSSM_EM", "SMOOTH_STATES", "XLATSM_GET", "XLATSM_BANDS", "xlatsm_refit"]
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(HERE)!r})
        import standin
        sys.modules["xlwings"] = standin.module()
        import numpy, pandas, scipy      # they read this interpreter's build configuration, which has no emscripten
        sys.platform = "emscripten"      # (Pyodide's has): loaded first, as they are there when xlatsm is imported
        import xlatsm
        print(json.dumps({{"attributes": [n for n in {names!r} if hasattr(xlatsm, n)],
                          "functions": sorted(standin.custom_functions(xlatsm)),
                          "scripts": sorted(standin.scripts(xlatsm)),
                          "registered": sorted(name for kind, name, _ in standin.REGISTRATIONS if kind != "arg")}}))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["attributes"] == names
    assert out["functions"] == sorted(names[:-1]) and out["scripts"] == ["xlatsm_refit"]
    assert out["registered"] == sorted(names)
    plain = subprocess.run([sys.executable, "-c", "import sys, xlatsm; print(sorted(m for m in sys.modules "
                            "if m.startswith('xlatsm.excel') or m == 'xlwings'))"], capture_output=True, text=True,
                           timeout=300)
    assert plain.returncode == 0 and plain.stdout.strip() == "[]", plain.stdout + plain.stderr
