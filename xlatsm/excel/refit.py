"""What the ribbon's Refit button runs: read the Yields sheet, fit, write the result blocks and a status line.

The Excel I/O sits behind a small interface (:class:`BookIO`) so the logic is testable without Excel:
:class:`XlwingsBook` talks to the running workbook (and its status bar), :class:`OpenpyxlBook` to a file.

Sheets written: ``Results`` (status line in A1, summary from A3, parameters from D3, pricing errors from I3),
``Factors``, ``Fitted`` and ``TermPremium`` (each a block from A1, the ranges the workbook's charts read).
Settings are read from the ``Model`` sheet cells ``Settings_N`` / ``Settings_Method`` when the workbook defines
them (defaults: 3 factors, "jsz").
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Protocol

from ..atsm import fit_atsm
from ..data import read_observations
from ..errors import XlatsmError
from . import layout

RESULT_SHEETS = {"summary": ("Results", "A3"), "params": ("Results", "D3"), "errors": ("Results", "I3"),
                 "factors": ("Factors", "A1"), "fitted": ("Fitted", "A1"), "term_premium": ("TermPremium", "A1")}


class BookIO(Protocol):
    def read(self, sheet: str) -> list[list[Any]]: ...
    def read_name(self, name: str, default: Any) -> Any: ...
    def write(self, sheet: str, anchor: str, block: list[list[Any]]) -> None: ...
    def clear(self, sheet: str) -> None: ...
    def status(self, text: str | None) -> None: ...


def refit_book(book: BookIO) -> str:
    """Fit the model to the book's Yields sheet and write every result block; returns the status line."""
    started = time.perf_counter()
    try:
        book.status("xlatsm: reading the Yields sheet...")
        frame = read_observations(book.read("Yields")).frame
        n_factors = int(float(book.read_name("Settings_N", 3) or 3))
        method = str(book.read_name("Settings_Method", "jsz") or "jsz").strip().lower()
        book.status(f"xlatsm: fitting a {n_factors}-factor model ({method}) to {frame.shape[0]} dates...")

        def progress(iteration: int, loglik: float) -> None:
            book.status(f"xlatsm: fitting ({method}), iteration {iteration}, log-likelihood {loglik:,.2f}")

        result = fit_atsm(frame, n_factors=n_factors, method=method, progress=progress)
        book.status("xlatsm: writing results...")
        outputs = layout.atsm_outputs(result, "refit")
        for sheet in {s for s, _ in RESULT_SHEETS.values()}:
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

    def read_name(self, name, default):
        try:
            return self.book.names[name].refers_to_range.value
        except Exception:  # noqa: BLE001 - a workbook without the setting uses the default
            return default

    def write(self, sheet, anchor, block):
        self.book.sheets[sheet].range(anchor).value = block

    def clear(self, sheet):
        self.book.sheets[sheet].clear_contents()

    def status(self, text):
        self.book.app.status_bar = text if text else False


class OpenpyxlBook:
    """BookIO over a workbook file (tests, or refitting a saved copy without Excel)."""

    def __init__(self, path):
        import openpyxl

        self.path = path
        self.wb = openpyxl.load_workbook(path, keep_vba=str(path).endswith(".xlsm"))
        self.messages: list[str | None] = []

    def read(self, sheet):
        ws = self.wb[sheet]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        width = max((max((i for i, v in enumerate(r) if v is not None), default=-1) for r in rows), default=-1) + 1
        # the data block: rows until the first fully blank one, columns of the header row
        header_width = next((i for i, v in enumerate(rows[0]) if v is None), width) if rows else 0
        block = []
        for r in rows:
            if all(v is None for v in r[:header_width]):
                break
            block.append(list(r[:header_width]))
        return block

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
                ws.cell(row=row + i, column=col + j, value=value)

    def clear(self, sheet):
        if sheet in self.wb.sheetnames:
            ws = self.wb[sheet]
            for row in ws.iter_rows():
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
