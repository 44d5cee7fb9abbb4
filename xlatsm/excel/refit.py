"""What the ribbon's Refit button runs: read the Yields sheet, fit, write the result blocks and a status line.

The Excel I/O sits behind a small interface (:class:`BookIO`) so the logic is testable without Excel:
:class:`XlwingsBook` talks to the running workbook (and its status bar), :class:`LiteBook` to the workbook an
xlwings Lite script gets (the Refit script in :mod:`xlatsm.excel.lite`), :class:`OpenpyxlBook` to a file.

The data is the Excel Table ``YieldTable`` on the ``Yields`` sheet. Its current region (the block around A1, up to
the first blank row and the first blank header cell) is what Refit fits, and the table is resized to it first: a
panel pasted over the table, longer or wider than it, is taken whole, and the formulas (which read the table) see
it too. Sheets written: ``Results`` (status line in A1, summary from A3, parameters from D3, pricing errors from
L3), ``RefitFactors``, ``RefitFitted`` and ``RefitTermPremium`` (each a block from A2; the workbook's chart names
read them when the live formulas are not available, e.g. on macOS). Settings are read from the names
``Settings_N`` / ``Settings_Method`` when the workbook defines them (defaults: 3 factors, "auto").
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Protocol

from ..atsm import fit_atsm
from ..data import read_observations
from ..errors import InputError, XlatsmError
from . import layout

TABLE = "YieldTable"
DATA_SHEET = "Yields"
RESULT_SHEETS = {"summary": ("Results", "A3"), "params": ("Results", "D3"), "errors": ("Results", "L3"),
                 "factors": ("RefitFactors", "A2"), "fitted": ("RefitFitted", "A2"),
                 "term_premium": ("RefitTermPremium", "A2")}


class BookIO(Protocol):
    def read(self, sheet: str) -> list[list[Any]]: ...
    def read_data(self) -> list[list[Any]]: ...
    def read_name(self, name: str, default: Any) -> Any: ...
    def write(self, sheet: str, anchor: str, block: list[list[Any]]) -> None: ...
    def clear(self, sheet: str) -> None: ...
    def status(self, text: str | None) -> None: ...


def refit_book(book: BookIO) -> str:
    """Fit the model to the book's Yields sheet and write every result block; returns the status line."""
    started = time.perf_counter()
    try:
        book.status("xlatsm: reading the Yields sheet...")
        frame = read_observations(book.read_data()).frame
        n_factors = int(float(book.read_name("Settings_N", 3) or 3))
        method = str(book.read_name("Settings_Method", "auto") or "auto").strip().lower()
        book.status(f"xlatsm: fitting a {n_factors}-factor model ({method}) to {frame.shape[0]} dates...")

        def progress(iteration: int, loglik: float) -> None:
            book.status(f"xlatsm: fitting ({method}), iteration {iteration}, log-likelihood {loglik:,.2f}")

        result = fit_atsm(frame, n_factors=n_factors, method=method, progress=progress)
        book.status("xlatsm: writing results...")
        outputs = layout.atsm_outputs(result, "refit")
        for sheet in sorted({s for s, _ in RESULT_SHEETS.values()}):
            book.clear(sheet)
        for name, (sheet, anchor) in RESULT_SHEETS.items():
            book.write(sheet, anchor, outputs[name]())
        line = (f"Refit {dt.datetime.now():%Y-%m-%d %H:%M}: {result.method}, {result.n_iter} iterations, "
                f"log-likelihood {result.loglik:,.3f}, converged {'yes' if result.converged else 'NO'}, "
                f"mean RMSE {result.pricing_errors.mean():.2f} bp, {time.perf_counter() - started:.2f} s")
    except XlatsmError as exc:
        line = f"#xlatsm: refit failed: {exc}"
    book.write("Results", "A1", [[line]])
    book.status(None)
    return line


class XlwingsBook:
    """BookIO over a live workbook via xlwings (status bar included)."""

    def __init__(self, book):
        self.book = book

    def read(self, sheet):
        return self.book.sheets[sheet].range("A1").expand("table").options(ndim=2).value

    def read_data(self):
        """The current region around Yields!A1; the table is resized to it so the formulas read the same."""
        sheet = self.book.sheets[DATA_SHEET]
        region = sheet.range("A1").current_region
        try:
            table = sheet.tables[TABLE]
            if table.range.address != region.address:
                table.resize(region)
        except Exception:  # noqa: BLE001 - no table (an older workbook) or tables unsupported: read the region
            pass
        return region.options(ndim=2).value

    def read_name(self, name, default):
        try:
            return self.book.names[name].refers_to_range.value
        except Exception:  # noqa: BLE001 - a workbook without the setting uses the default
            return default

    def write(self, sheet, anchor, block):
        self.book.sheets[sheet].range(anchor).value = block

    def clear(self, sheet):
        ws = self.book.sheets[sheet]
        last = ws.used_range.last_cell
        if last.row >= 2:   # keep the caption in A1
            ws.range((2, 1), (last.row, last.column)).clear_contents()

    def status(self, text):
        self.book.app.status_bar = text if text else False


def data_block(rows: list[list[Any]]) -> list[list[Any]]:
    """The block at A1 of a sheet's cells, as Excel's current region sees it: the header row's columns up to its
    first blank cell, the rows down to the first fully blank one."""
    if not rows:
        return []
    header_width = next((i for i, v in enumerate(rows[0]) if v is None), len(rows[0]))
    block = []
    for r in rows:
        if all(v is None for v in r[:header_width]):
            break
        block.append(list(r[:header_width]))
    return block


def _address(block: list[list[Any]]) -> str:
    """The A1-style address of a block written at A1 (no openpyxl: Lite may not have it)."""
    column, letters = len(block[0]), ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"A1:{letters}{len(block)}"


class LiteBook(XlwingsBook):
    """BookIO over the workbook an xlwings Lite script receives (``book: xw.Book``). What differs from a COM
    workbook: Lite reads a range's current region only asynchronously and has no status bar, and its writes are
    applied when the script returns, so progress goes to the output pane (``print``) at most once a second. A
    workbook made for Lite has no result sheets yet: they are added."""

    def __init__(self, book, clock=time.monotonic):
        super().__init__(book)
        self._clock = clock
        self._last_print = None

    def _sheet(self, name):
        for sheet in self.book.sheets:
            if sheet.name == name:
                return sheet
        return None

    def read(self, sheet):
        found = self._sheet(sheet)
        if found is None:
            raise InputError(f"the workbook has no sheet named {sheet}")
        return data_block(found.used_range.options(ndim=2).value)

    def read_data(self):
        sheet = self._sheet(DATA_SHEET)
        if sheet is None:
            raise InputError(f"put the yields on a sheet named {DATA_SHEET}: dates down column A from A2, "
                             "maturities across row 1 from B1 (e.g. 1Y, 2Y, 5Y, 10Y)")
        block = data_block(sheet.used_range.options(ndim=2).value)
        if not block:
            raise InputError(f"the {DATA_SHEET} sheet is empty: paste the yields at A1 (header row of maturities)")
        try:
            table = sheet.tables[TABLE]
        except Exception:  # noqa: BLE001 - a workbook made for Lite usually has no table: nothing to resize
            table = None
        if table is not None and table.range.address.replace("$", "") != _address(block):
            table.resize(sheet.range(_address(block)))
        return block

    def write(self, sheet, anchor, block):
        if self._sheet(sheet) is None:
            self.book.sheets.add(name=sheet, after=self.book.sheets[len(self.book.sheets) - 1])
        super().write(sheet, anchor, block)

    def clear(self, sheet):
        if self._sheet(sheet) is not None:
            super().clear(sheet)

    def status(self, text):
        now = self._clock()
        if text and (self._last_print is None or now - self._last_print >= 1.0):
            print(text)
            self._last_print = now


class OpenpyxlBook:
    """BookIO over a workbook file (tests, or refitting a saved copy without Excel)."""

    def __init__(self, path):
        import openpyxl

        self.path = path
        self.wb = openpyxl.load_workbook(path, keep_vba=str(path).endswith(".xlsm"))
        self.messages: list[str | None] = []

    def read_data(self):
        """The current region around Yields!A1, as Excel sees it; the table is resized to it (as Excel does when
        a longer or wider panel is pasted over a table)."""
        block = self.read(DATA_SHEET)
        ws = self.wb[DATA_SHEET]
        if TABLE in ws.tables and block:
            table = ws.tables[TABLE]
            ref = _address(block)
            if table.ref != ref:
                table.ref = ref
                if table.autoFilter is not None:
                    table.autoFilter.ref = ref
                table.tableColumns = []   # rebuilt from the header row when saved
        return block

    def read(self, sheet):
        return data_block([list(r) for r in self.wb[sheet].iter_rows(values_only=True)])

    def read_name(self, name, default):
        defined = self.wb.defined_names.get(name)
        if defined is None:
            return default
        for sheet, ref in defined.destinations:
            return self.wb[sheet][ref.replace("$", "")].value
        return default

    def write(self, sheet, anchor, block):
        from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

        ws = self.wb[sheet] if sheet in self.wb.sheetnames else self.wb.create_sheet(sheet)
        col_letter, row = coordinate_from_string(anchor)
        col = column_index_from_string(col_letter)
        for i, values in enumerate(block):
            for j, value in enumerate(values):
                cell = ws.cell(row=row + i, column=col + j, value=value)
                if isinstance(value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd"   # as Excel shows a date written by xlwings

    def clear(self, sheet):
        if sheet in self.wb.sheetnames:
            ws = self.wb[sheet]
            for row in ws.iter_rows(min_row=2):   # keep the caption in A1
                for cell in row:
                    cell.value = None

    def status(self, text):
        self.messages.append(text)

    def save(self, path=None):
        self.wb.save(path or self.path)


def refit():
    """Entry point of the ribbon button (via xlwings' RunPython): refit the calling workbook."""
    import xlwings as xw

    book = xw.Book.caller()
    line = refit_book(XlwingsBook(book))
    return line
