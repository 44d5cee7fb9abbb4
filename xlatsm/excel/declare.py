"""Classic xlwings UDF declarations, recorded as data so they can be replayed through xlwings' own machinery.

On Windows ``xw.func`` / ``xw.arg`` / ``xw.ret`` attach ``__xlfunc__`` metadata, from which xlwings' "Import
Functions" writes the VBA wrappers; elsewhere they are no-ops. Each decorator here applies the real xlwings one
*and* records its arguments on ``f.__xlatsm_udf__``, so that :func:`xlwings_metadata` and
:func:`vba_wrappers` can replay the same declarations through ``xlwings.udfs`` on any platform: the tests check
the metadata and the VBA text, and the workbook build writes that VBA into the .xlsm.

Inside xlwings Lite (or xlwings Server) ``xw.func`` is that runtime's decorator, which would register the classic
copies as custom functions next to the Lite ones (:mod:`xlatsm.excel.lite`): there the declarations here are only
recorded.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
import sys
import types
from typing import Any, Callable

import xlwings as xw

UDF_MODULE = "xlatsm.excel.udfs"
CATEGORY = "xlatsm"
# Classic-only options. call_in_wizard=False: the function wizard (Shift+F3) must not refit at every keystroke;
# async_mode="threading": a long fit runs in xlwings' worker thread and the cell shows "#N/A waiting..." meanwhile,
# instead of freezing Excel (xlwings re-enters the formula with Formula2 when done, so the result spills as a
# dynamic array).
SLOW = dict(category=CATEGORY, call_in_wizard=False, async_mode="threading")
FAST = dict(category=CATEGORY, call_in_wizard=False)
# xlwings Lite and xlwings Server set this before importing xlwings; their xw.func is not the classic decorator
IN_OFFICE_JS_RUNTIME = os.environ.get("XLWINGS_ON_SERVER") == "true" or sys.platform == "emscripten"


def _record(f: Callable, kind: str, args: tuple, kwargs: dict) -> Callable:
    spec = getattr(f, "__xlatsm_udf__", [])
    spec.append((kind, args, dict(kwargs)))
    f.__xlatsm_udf__ = spec
    return f


def xl_function(**kwargs: Any):
    def inner(f):
        f = _record(f, "func", (), kwargs)
        return f if IN_OFFICE_JS_RUNTIME else xw.func(**kwargs)(f)
    return inner


def xl_arg(name: str, **kwargs: Any):
    def inner(f):
        f = _record(f, "arg", (name,), kwargs)
        return f if IN_OFFICE_JS_RUNTIME else xw.arg(name, **kwargs)(f)
    return inner


def xl_ret(**kwargs: Any):
    def inner(f):
        f = _record(f, "ret", (), kwargs)
        return f if IN_OFFICE_JS_RUNTIME else xw.ret(**kwargs)(f)
    return inner


def classic(f: Callable) -> Callable:
    """``f`` (a function of :mod:`xlatsm.excel.core`) declared to classic xlwings from its declaration, as a copy
    belonging to the UDF module: long fits asynchronous, arguments with their help and converter options, the
    result returned as it is (it spills as a dynamic array)."""
    from .core import declaration_copy

    declaration = f.declaration
    declared = xl_ret(expand=None)(declaration_copy(f, UDF_MODULE))
    for argument in reversed(declaration.args):
        declared = xl_arg(argument.name, **(argument.options or {}), doc=argument.doc)(declared)
    return xl_function(**(SLOW if declaration.slow else FAST))(declared)


def _xlwings_udfs_module():
    """xlwings.udfs (the Windows implementation), importable anywhere by standing in for pywin32's modules,
    which its decorators and VBA writer never touch."""
    if "xlwings.udfs" in sys.modules:
        return sys.modules["xlwings.udfs"]
    stubs = {}
    for name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
        if name not in sys.modules:
            stubs[name] = sys.modules[name] = types.ModuleType(name)
    if stubs:
        sys.modules["pythoncom"].CoInitialize = lambda *a: None
        sys.modules["win32com.client"].Dispatch = lambda *a, **k: None
        sys.modules["win32com"].client = sys.modules["win32com.client"]
    try:
        return importlib.import_module("xlwings.udfs")
    finally:
        for name in stubs:  # leave no fake pywin32 behind for other code
            sys.modules.pop(name, None)


def xlwings_metadata(f: Callable) -> dict:
    """The ``__xlfunc__`` dict xlwings builds for ``f`` from its recorded declarations."""
    if hasattr(f, "__xlfunc__"):
        return f.__xlfunc__
    udfs = _xlwings_udfs_module()

    @functools.wraps(f)
    def replay(*args, **kwargs):
        return f(*args, **kwargs)

    del replay.__xlatsm_udf__
    for kind, args, kwargs in f.__xlatsm_udf__:
        if kind == "func":
            replay = udfs.xlfunc(**kwargs)(replay)
        elif kind == "arg":
            replay = udfs.xlarg(*args, **kwargs)(replay)
        else:
            replay = udfs.xlret(**kwargs)(replay)
    return replay.__xlfunc__


class _ImportingWorkbook:
    """Stands in for the Excel workbook that xlwings' "Import Functions" (``xlwings.udfs.import_udfs``) talks
    to over COM: it keeps the module text xlwings imports into the VBA project and the MacroOptions calls."""

    def __init__(self, name: str, excel_version: str = "16.0"):
        outer = self
        self.Name = name
        self.module_text: str | None = None
        self.macro_options: list[tuple[tuple, dict]] = []

        class Components:
            def __call__(self, name):
                return name

            def Remove(self, component):
                pass

            def Import(self, path):
                with open(path) as handle:
                    outer.module_text = handle.read()

        class Application:
            Version = excel_version

            def MacroOptions(self, *args, **kwargs):
                outer.macro_options.append((args, kwargs))

        self.VBProject = types.SimpleNamespace(VBComponents=Components())
        self.Application = Application()


def _replay_module(functions: list[Callable]) -> types.ModuleType:
    module = types.ModuleType("xlatsm_udfs_replay")
    for f in functions:
        setattr(module, f.__name__, types.SimpleNamespace(__xlfunc__=xlwings_metadata(f)))
    return module


def import_functions(functions: list[Callable], module_name: str = UDF_MODULE,
                     workbook_name: str = "xlatsm.xlsm") -> _ImportingWorkbook:
    """Run xlwings' own "Import Functions" (``import_udfs``) for these UDFs against a stand-in workbook: the
    result holds the exact VBA module text xlwings would import (module ``xlwings_udfs``, its header with
    ``#Const App = "Microsoft Excel"``, the wrappers) and the MacroOptions (descriptions, category) it would set."""
    udfs = _xlwings_udfs_module()
    workbook = _ImportingWorkbook(workbook_name)
    saved = udfs.udf_modules.get(module_name)
    udfs.udf_modules[module_name] = {"filename": "", "filetime": None, "module": _replay_module(functions)}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            udfs.import_udfs(module_name, workbook)
    finally:
        if saved is None:
            udfs.udf_modules.pop(module_name, None)
        else:
            udfs.udf_modules[module_name] = saved
    return workbook


def udf_module(functions: list[Callable], module_name: str = UDF_MODULE, workbook_name: str = "xlatsm.xlsm") -> str:
    """The text of the ``xlwings_udfs`` VBA module exactly as xlwings' "Import Functions" writes it."""
    return import_functions(functions, module_name, workbook_name).module_text


def vba_wrappers(functions: list[Callable], module_name: str = UDF_MODULE, workbook_name: str = "xlatsm.xlsm") -> str:
    """The VBA that xlwings' "Import Functions" writes for these UDFs (its own ``generate_vba_wrapper``)."""
    udfs = _xlwings_udfs_module()
    module = _replay_module(functions)
    buffer = io.StringIO()
    workbook = types.SimpleNamespace(Name=workbook_name)
    udfs.generate_vba_wrapper(module_name, module, buffer, workbook)
    return buffer.getvalue()
