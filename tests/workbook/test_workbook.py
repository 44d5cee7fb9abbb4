"""The built workbook, part by part: sheets, dynamic-array formulas, names, ribbon, VBA project, charts."""
import importlib.util
import inspect
import io
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import olefile
import pytest
from oletools.olevba import VBA_Parser, decompress_stream

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workbook"))
import build  # noqa: E402
import ovba  # noqa: E402

from xlatsm.excel import udfs  # noqa: E402
from xlatsm.excel.declare import vba_wrappers  # noqa: E402
from xlatsm.excel.refit import OpenpyxlBook, refit_book  # noqa: E402

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/package/2006/relationships",
      "c": "http://schemas.openxmlformats.org/drawingml/2006/chart"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build.build(tmp_path_factory.mktemp("wb") / "xlatsm.xlsm")


@pytest.fixture(scope="module")
def parts(built):
    with zipfile.ZipFile(built) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_committed_workbook_is_a_fresh_build(built):
    """Reproducible: the checked-in workbook equals a build from the current sources (rebuild after changing a
    UDF signature: python workbook/build.py)."""
    assert (ROOT / "xlatsm" / "excel" / "xlatsm.xlsm").read_bytes() == built.read_bytes()


def test_package_parts_and_relationships(parts):
    types = parts["[Content_Types].xml"].decode()
    assert 'PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"' in types
    assert 'Extension="bin" ContentType="application/vnd.ms-office.vbaProject"' in types
    assert "/xl/metadata.xml" in types
    rels = ET.fromstring(parts["xl/_rels/workbook.xml.rels"])
    targets = {r.get("Type").rsplit("/", 1)[-1]: r.get("Target") for r in rels}
    assert targets["vbaProject"] == "vbaProject.bin" and targets["sheetMetadata"] == "metadata.xml"
    root_rels = ET.fromstring(parts["_rels/.rels"])
    ui = [r for r in root_rels if r.get("Type") == build.REL_CUSTOMUI14]
    assert len(ui) == 1 and ui[0].get("Target") in parts


def test_sheets_names_and_sample(parts):
    workbook = ET.fromstring(parts["xl/workbook.xml"])
    names = [s.get("name") for s in workbook.find("m:sheets", NS)]
    assert names[:3] == ["Yields", "Model", "Charts"] and "xlwings.conf" in names
    defined = {d.get("name"): d.text for d in workbook.find("m:definedNames", NS)}
    assert defined["xlatsm_yields"] == "YieldTable[#All]" and defined["Settings_N"] == "Model!$B$2"
    assert workbook.find("m:calcPr", NS).get("fullCalcOnLoad") == "1"   # recalculated when opened
    assert workbook.find("m:workbookPr", NS).get("codeName") == "ThisWorkbook"
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(parts_to_xlsx(parts)))
    ys = wb["Yields"]
    assert [c.value for c in ys[1][:8]] == ["date", "1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y"]
    assert ys.max_row == 319 and abs(ys["B2"].value - 7.7914) < 1e-12
    assert ys.tables["YieldTable"].ref == "A1:H319" and ys["A2"].number_format == "yyyy-mm-dd"
    assert "Gurkaynak" in wb["About"]["A5"].value
    assert wb["Model"]["B2"].value == 3 and wb["Model"]["D2"].value == "auto"   # the default method everywhere
    assert wb["xlwings.conf"]["B1"].value == "xlatsm.excel.udfs"
    for sheet in ("Factors", "TermPremium", "Fitted", "Smoothed", "RefitFactors"):
        assert wb[sheet].column_dimensions["A"].number_format == "yyyy-mm-dd"   # spilled dates show as dates


def parts_to_xlsx(parts):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_formulas_are_dynamic_arrays_reading_names(parts):
    for sheet_name, formulas in build.FORMULAS.items():
        root = ET.fromstring(parts[build.sheet_path(parts, sheet_name)])
        cells = {c.get("r"): c for c in root.iter("{%s}c" % NS["m"])}
        for ref, formula in formulas.items():
            cell = cells[ref]
            assert cell.get("cm") == "1", ref
            f = cell.find("m:f", NS)
            assert f.get("t") == "array" and f.text == formula.lstrip("=")
            assert "xlatsm_yields" in f.text and not re.search(r"\$[A-Z]+\$\d+:\$[A-Z]+\$\d+", f.text), f.text
            if "ATSM_FIT" in f.text:
                assert "Settings_N" in f.text and "Settings_Method" in f.text
    metadata = parts["xl/metadata.xml"].decode()
    assert 'name="XLDAPR"' in metadata and 'fDynamic="1"' in metadata


def test_ribbon_points_at_a_vba_callback_with_the_right_signature(built, parts):
    ui = ET.fromstring(parts["customUI/customUI14.xml"])
    assert ui.tag == "{http://schemas.microsoft.com/office/2009/07/customui}customUI"
    buttons = list(ui.iter("{http://schemas.microsoft.com/office/2009/07/customui}button"))
    assert [b.get("label") for b in buttons] == ["Refit"]
    callback = buttons[0].get("onAction")
    code = {vf: text for _, _, vf, text in VBA_Parser(str(built)).extract_macros()}
    ribbon = code["xlatsm_ribbon.bas"]
    assert re.search(rf"(?m)^Sub {callback}\(control As IRibbonControl\)$", ribbon)
    assert 'RunPython "import xlatsm.excel.refit as refit; refit.refit()"' in ribbon
    assert importlib.util.find_spec("xlatsm.excel.refit") is not None


def test_vba_project_structure(parts):
    ole = olefile.OleFileIO(io.BytesIO(parts["xl/vbaProject.bin"]))
    streams = {"/".join(s) for s in ole.listdir()}
    for name in ("PROJECT", "PROJECTwm", "VBA/dir", "VBA/_VBA_PROJECT", "VBA/ThisWorkbook", "VBA/xlwings",
                 "VBA/Dictionary", "VBA/xlwings_udfs", "VBA/xlatsm_ribbon"):
        assert name in streams, name
    for code in build.SHEET_CODENAMES.values():
        assert f"VBA/{code}" in streams
    project = ole.openstream("PROJECT").read().decode("cp1252")
    assert "Module=xlwings_udfs" in project and "Class=Dictionary" in project
    assert "Document=ThisWorkbook/&H00000000" in project
    assert ole.openstream("VBA/_VBA_PROJECT").read() == ovba.VBA_PROJECT_STREAM
    directory = decompress_stream(bytearray(ole.openstream("VBA/dir").read()))
    assert b"Microsoft Office 16.0 Object Library" in directory   # IRibbonControl lives there


def test_class_module_is_stored_like_the_vbe_stores_it(built):
    """The Dictionary class comes from an exported .cls: its VERSION/BEGIN/END export header must not be stored,
    and its stored attributes match what Excel itself wrote into xlwings' template workbook."""
    import xlwings

    ours = {vf: text for _, _, vf, text in VBA_Parser(str(built)).extract_macros()}["Dictionary.cls"]
    template = Path(xlwings.__file__).parent / "quickstart_standalone.xlsm"
    theirs = {vf: text for _, _, vf, text in VBA_Parser(str(template)).extract_macros()}["Dictionary.cls"]
    assert not ours.startswith("VERSION")
    head = lambda text: [l for l in text.splitlines() if l.startswith("Attribute VB_")][:8]  # noqa: E731
    assert head(ours) == head(theirs)


def test_udf_module_is_xlwings_generated_module(built):
    """The module stored in the workbook is, line for line, the one xlwings' "Import Functions" writes (its
    header with #Const App = "Microsoft Excel" included: without it VBA compiles the #Else branch, which has no
    error handler)."""
    from xlatsm.excel.declare import udf_module

    code = {vf: text for _, _, vf, text in VBA_Parser(str(built)).extract_macros()}
    wrappers = code["xlwings_udfs.bas"]
    stored = wrappers.replace("\r\n", "\n").strip().splitlines()
    generated = udf_module(udfs.UDFS).replace("\r\n", "\n").strip().splitlines()
    assert [l for l in stored if not l.startswith("Attribute VB_")] == \
        [l for l in generated if not l.startswith("Attribute VB_")]
    assert '#Const App = "Microsoft Excel" \'Adjust when using outside of Excel' in stored
    assert wrappers.replace("\r\n", "\n").strip().endswith(vba_wrappers(udfs.UDFS).replace("\r\n", "\n").strip())
    for f in udfs.UDFS:
        params = inspect.signature(f).parameters.values()
        declared = ", ".join(("Optional " if p.default is not inspect.Parameter.empty else "") + p.name
                             for p in params)
        assert f"Function {f.__name__}({declared})" in wrappers
    import xlwings

    assert f"'Version: {xlwings.__version__}" in code["xlwings.bas"]   # VBA and Python xlwings agree


def test_ovba_compression_round_trips_through_oletools():
    for data in (b"", b"x", b"Sub A()\r\nEnd Sub\r\n" * 700, bytes(range(256)) * 33):
        assert bytes(decompress_stream(bytearray(ovba.compress(data)))) == data


def test_charts_reference_names_not_fixed_rows(parts):
    """Every chart series reads a workbook name (written [0]!name, as Excel writes it); each name is a dynamic
    reference (OFFSET over COUNT of the dates) into the live spill, or into the Refit output when the formulas
    show no numbers."""
    charts = [parts[n].decode() for n in sorted(parts) if n.startswith("xl/charts/chart")]
    assert len(charts) == 3
    workbook = ET.fromstring(parts["xl/workbook.xml"])
    names = {d.get("name"): d.text for d in workbook.find("m:definedNames", NS) if d.get("localSheetId") is None}
    for chart in charts:
        refs = re.findall(r"<(?:c:)?f>([^<]+)</(?:c:)?f>", chart)
        assert refs
        for ref in refs:
            scope, name = ref.split("!")
            assert scope == "[0]" and name in names, ref
            assert "OFFSET(" in names[name] and "COUNT" in names[name], names[name]
            for first, last in re.findall(r"\$[A-Z]+\$(\d+):\$[A-Z]+\$(\d+)", names[name]):
                assert first == last or last == "1048576", names[name]   # a header row, or to the sheet's end
    for name in ("chart_dates", "chart_factor1", "chart_tp10", "chart_fitted"):
        live, refit = re.findall(r"OFFSET\('(\w+)'", names[name])[:2]
        assert refit == build.LIVE_TO_REFIT[live]   # the Refit output feeds the charts too


def test_openpyxl_round_trip_loses_the_ribbon(built, tmp_path):
    """Why the build adds the macro parts itself: openpyxl's keep_vba round trip drops the customUI part."""
    import openpyxl

    wb = openpyxl.load_workbook(built, keep_vba=True)
    wb.save(tmp_path / "roundtrip.xlsm")
    with zipfile.ZipFile(tmp_path / "roundtrip.xlsm") as z:
        names = z.namelist()
        rels = z.read("_rels/.rels").decode()
    assert "customUI/customUI14.xml" not in names or "ui/extensibility" not in rels
    assert "xl/metadata.xml" not in names


def test_refit_logic_writes_results_into_the_book(built, tmp_path):
    copy = tmp_path / "refit.xlsm"
    shutil.copy(built, copy)
    book = OpenpyxlBook(copy)
    line = refit_book(book)
    assert line.startswith("Refit ") and "converged yes" in line
    assert book.messages[0].startswith("xlatsm: reading") and book.messages[-1] is None
    assert any(m and "iteration" in m for m in book.messages)
    book.save()
    import openpyxl

    wb = openpyxl.load_workbook(copy)
    assert wb["Results"]["A1"].value == line
    assert wb["Results"]["A3"].value == "item" and wb["Results"]["D3"].value == "lambda_Q"
    assert wb["RefitFactors"]["A2"].value == "date" and wb["RefitFactors"].max_row == 320
    assert wb["RefitTermPremium"]["I2"].value.startswith("term_premium_10Y (")
    assert "(auto)" in " ".join(m for m in book.messages if m)   # the workbook's default method


def test_refit_reports_bad_data_in_the_status_line(built, tmp_path):
    copy = tmp_path / "bad.xlsm"
    shutil.copy(built, copy)
    book = OpenpyxlBook(copy)
    book.wb["Yields"]["C5"] = "7.6 bid"
    line = refit_book(book)
    assert line.startswith("#xlatsm: refit failed:") and "7.6 bid" in line


def simulated_panel(n_dates=500, n_maturities=12):
    """A realistic 500 x 12 panel (percent): simulated from a model fitted to the GSW 1-12 year curve."""
    import numpy as np

    import xlatsm
    from xlatsm.atsm.simulate import simulate_yields

    fit = xlatsm.fit_atsm(xlatsm.load_sample().iloc[:, :n_maturities], method="jsz")
    yields, _ = simulate_yields(fit.params, n_dates, np.random.default_rng(11))
    yields = yields * 100.0
    # a simulated path may wander to zero, where a cell 100 times smaller than its neighbours reads as another
    # unit (the data layer's rule): keep the curve at 1% or more
    return yields + max(0.0, 1.0 - float(yields.to_numpy().min()))


def paste(ws, frame):
    """What pasting a block at Yields!A1 does to the cells."""
    ws.cell(row=1, column=1, value="date")
    for j, label in enumerate(frame.columns, start=2):
        ws.cell(row=1, column=j, value=str(label))
    for i, (date, values) in enumerate(zip(frame.index, frame.to_numpy()), start=2):
        ws.cell(row=i, column=1, value=date.to_pydatetime()).number_format = "yyyy-mm-dd"
        for j, v in enumerate(values, start=2):
            ws.cell(row=i, column=j, value=float(v))


def name_to_cells(wb, name):
    """Resolve a workbook name the way Excel does for these formulas: xlatsm_yields -> YieldTable[#All] -> cells."""
    text = wb.defined_names[name].attr_text
    table_name = text.split("[", 1)[0]
    for ws in wb.worksheets:
        if table_name in ws.tables:
            return [[c.value for c in row] for row in ws[ws.tables[table_name].ref]]
    raise KeyError(text)


def test_a_longer_wider_panel_pasted_over_the_table_is_fitted_whole(built, tmp_path):
    """500 dates x 12 maturities pasted over the 318 x 7 sample: Refit fits all of it and grows the table; the
    formulas, which read the table through its name, get all of it too (read back with openpyxl)."""
    import openpyxl

    panel = simulated_panel()
    copy = tmp_path / "long.xlsm"
    shutil.copy(built, copy)
    book = OpenpyxlBook(copy)
    paste(book.wb["Yields"], panel)
    line = refit_book(book)
    assert line.startswith("Refit ") and "converged yes" in line, line
    book.save()
    wb = openpyxl.load_workbook(copy, keep_vba=True)
    assert wb["Yields"].tables["YieldTable"].ref == "A1:M501"
    results = wb["Results"]
    summary = {results.cell(row=r, column=1).value: results.cell(row=r, column=2).value for r in range(4, 60)}
    assert summary["dates"] == 500 and len(summary["maturities"].split(", ")) == 12
    assert wb["RefitFactors"].max_row == 502 and wb["RefitFitted"].max_column == 13
    cells = name_to_cells(wb, "xlatsm_yields")
    assert len(cells) == 501 and len(cells[0]) == 13
    settings = [wb["Model"]["B2"].value, wb["Model"]["D2"].value]
    block = udfs.ATSM_FIT(cells, None, settings[0], "summary", settings[1])
    formula_summary = dict((r[0], r[1]) for r in block[1:])
    assert formula_summary["dates"] == 500
    assert formula_summary["log-likelihood"] == pytest.approx(summary["log-likelihood"], rel=1e-10)


def test_blank_trailing_rows_and_columns_of_the_table_are_dropped():
    """A table grown by a few blank rows and a blank column (a stray paste) still fits the data only."""
    import xlatsm

    sample = xlatsm.load_sample().iloc[:, :7]
    rows = [["date", "1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "9Y", None]]
    rows += [[d.to_pydatetime()] + [float(v) for v in r] + [None] for d, r in zip(sample.index, sample.to_numpy())]
    rows += [[None] * 9 for _ in range(5)]
    summary = dict((r[0], r[1]) for r in udfs.ATSM_FIT(rows, None, 3.0, "summary", "auto")[1:])
    assert summary["dates"] == 318 and summary["maturities"] == "1Y, 2Y, 3Y, 4Y, 5Y, 6Y, 9Y"


def _one_page_per_sheet(path):
    """Print settings for the render: every sheet on one page (its first rows), so page i is sheet i."""
    import openpyxl

    wb = openpyxl.load_workbook(path, keep_vba=True)
    for ws in wb.worksheets:
        ws.print_area = "A1:N60"
        ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 1
    wb.save(path)
    return wb.sheetnames


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_and_renders(built, tmp_path):
    """LibreOffice headless opens the macro workbook after a Refit and renders it to PDF, one page per sheet; each
    page is kept as a PNG picture in tests/artifacts/ (workbook_<sheet>.png) and checked: it holds the sheet's
    text and is not blank."""
    copy = tmp_path / "render.xlsm"
    shutil.copy(built, copy)
    book = OpenpyxlBook(copy)
    refit_book(book)
    book.save()
    sheets = _one_page_per_sheet(copy)
    run = subprocess.run(["soffice", "--headless", "--norestore", "--convert-to", "pdf", "--outdir", str(tmp_path),
                          str(copy)], capture_output=True, text=True, timeout=240)
    pdf = tmp_path / "render.pdf"
    assert run.returncode == 0 and pdf.exists() and pdf.stat().st_size > 10_000, run.stderr
    if not shutil.which("pdftoppm"):
        return
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                             text=True).stdout).group(1))
    assert pages == len(sheets), (pages, sheets)
    expect = {"Yields": "1Y", "Model": "factors", "Charts": "Smoothed factors", "Results": "Refit ",
              "RefitFactors": "level", "RefitTermPremium": "term_premium_10Y", "About": "term_premium",
              "xlwings.conf": "xlatsm.excel.udfs"}
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    import matplotlib.image

    for page, sheet in enumerate(sheets, start=1):
        text = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                              capture_output=True, text=True).stdout
        if sheet in expect:
            assert expect[sheet] in text, (sheet, text[:500])
        png = artifacts / f"workbook_{sheet.replace('.', '_')}"
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", "-f", str(page), "-l", str(page), str(pdf),
                        str(png)], check=True, timeout=120)
        image = matplotlib.image.imread(str(png) + ".png")
        assert (image[..., :3].mean(axis=2) < 0.9).mean() > 0.001, f"{sheet} renders blank"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_evaluates_the_chart_names_over_a_pasted_500_by_12_panel(built, tmp_path):
    """A 500 x 12 panel pasted over the table and refitted; LibreOffice (which has no xlwings, so the formulas
    show no numbers and the names take the Refit branch) evaluates every chart name: they cover all 500 dates and
    12 maturities and end on the last row's values."""
    import openpyxl

    panel = simulated_panel()
    copy = tmp_path / "names.xlsm"
    shutil.copy(built, copy)
    book = OpenpyxlBook(copy)
    paste(book.wb["Yields"], panel)
    refit_book(book)
    check = book.wb.create_sheet("Check")
    probes = {"A1": "=ROWS(chart_dates)", "A2": "=ROWS(chart_factor1)", "A3": "=SUM(chart_factor1)",
              "A4": "=ROWS(chart_tp10)", "A5": "=INDEX(chart_tp10,ROWS(chart_tp10))", "A6": "=COLUMNS(chart_fitted)",
              "A7": "=INDEX(chart_fitted,1,12)", "A8": "=COLUMNS(chart_observed)", "A9": "=INDEX(chart_observed,1,12)",
              "A10": "=COLUMNS(chart_maturities)", "A11": "=INDEX(chart_maturities,1,12)", "A12": "=MIN(chart_dates)"}
    for cell, formula in probes.items():
        check[cell] = formula
    book.save()
    run = subprocess.run(["soffice", "--headless", "--norestore", "--convert-to", "xlsx", "--outdir",
                          str(tmp_path / "out"), str(copy)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    values = openpyxl.load_workbook(tmp_path / "out" / "names.xlsx", data_only=True)["Check"]
    refit = openpyxl.load_workbook(copy)
    factors = [r for r in refit["RefitFactors"].iter_rows(min_row=3, values_only=True)]
    tp = [r for r in refit["RefitTermPremium"].iter_rows(min_row=2, values_only=True)]
    fitted_last = [r for r in refit["RefitFitted"].iter_rows(min_row=3, values_only=True)][-1]
    assert values["A1"].value == 500 and values["A2"].value == 500 and values["A4"].value == 500
    assert values["A3"].value == pytest.approx(sum(r[1] for r in factors), rel=1e-9)
    assert tp[0][-1].startswith("term_premium_10Y (") and values["A5"].value == pytest.approx(tp[-1][-1], rel=1e-9)
    assert values["A6"].value == 12 and values["A7"].value == pytest.approx(fitted_last[12], rel=1e-9)
    assert values["A8"].value == 12 and values["A9"].value == pytest.approx(float(panel.iloc[-1, -1]), rel=1e-9)
    assert values["A10"].value == 12 and values["A11"].value == str(panel.columns[-1])
    assert values["A12"].value is not None


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_every_vba_module(built, tmp_path):
    """A second, independent reader of MS-OVBA: LibreOffice imports the VBA project into Basic libraries."""
    copy = tmp_path / "vba.xlsm"
    shutil.copy(built, copy)
    run = subprocess.run(["soffice", "--headless", "--norestore", "--convert-to", "ods", "--outdir", str(tmp_path),
                          str(copy)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "vba.ods") as z:
        modules = {Path(n).stem: z.read(n).decode() for n in z.namelist() if n.startswith("Basic/VBAProject/")
                   and not n.endswith("script-lb.xml")}
    assert set(modules) == {m.name for m in build.vba_modules()}
    assert "Sub XlatsmRefit(control As IRibbonControl)" in modules["xlatsm_ribbon"]
    assert "Function ATSM_FIT(yields, Optional maturities" in modules["xlwings_udfs"]


def _dir_record_ids(xlsm_path):
    import struct

    with zipfile.ZipFile(xlsm_path) as z:
        ole = olefile.OleFileIO(io.BytesIO(z.read("xl/vbaProject.bin")))
    data = bytes(decompress_stream(bytearray(ole.openstream("VBA/dir").read())))
    ids, i = [], 0
    while i < len(data):
        rid, size = struct.unpack("<HI", data[i:i + 6])
        ids.append(rid)
        i += 6 + (6 if rid == 0x0009 else size)
    return ids


def test_dir_stream_records_follow_an_excel_written_project(built):
    """Same record order as the dir stream Excel saved in xlwings' template: the project information records,
    then for every module the same sequence of module records."""
    import xlwings

    theirs = _dir_record_ids(Path(xlwings.__file__).parent / "quickstart_standalone.xlsm")
    ours = _dir_record_ids(built)
    info = lambda ids: ids[:ids.index(0x0016)]  # noqa: E731 - up to the first reference
    assert info(ours) == info(theirs)

    def module_records(ids):
        start = ids.index(0x000F) + 2   # PROJECTMODULES, PROJECTCOOKIE
        blocks, current = [], []
        for rid in ids[start:]:
            current.append(rid)
            if rid == 0x002B:
                blocks.append(tuple(current))
                current = []
        return blocks

    assert {b for b in module_records(ours)} <= {b for b in module_records(theirs)}


def test_refit_in_excel_resizes_the_table_to_the_pasted_block():
    """XlwingsBook (the Refit button's Excel side) against stand-ins for xlwings' Sheet/Range/Table: it reads
    the block around Yields!A1 and resizes the table to it, so the formulas see the same data."""
    import types

    from xlatsm.excel.refit import XlwingsBook

    values = [["date", "1Y"], [1.0, 2.0], [3.0, 4.0]]
    region = types.SimpleNamespace(address="$A$1:$M$501", options=lambda **k: types.SimpleNamespace(value=values))
    resized = []
    table = types.SimpleNamespace(range=types.SimpleNamespace(address="$A$1:$H$319"), resize=resized.append)
    sheet = types.SimpleNamespace(range=lambda a: types.SimpleNamespace(current_region=region),
                                  tables={"YieldTable": table})
    book = XlwingsBook(types.SimpleNamespace(sheets={"Yields": sheet}))
    assert book.read_data() == values and resized == [region]
    table.range.address = region.address
    book.read_data()
    assert resized == [region]   # already the right size: left alone
