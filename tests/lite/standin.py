"""A stand-in for the part of ``xlwings`` that xlwings Lite provides to a plugin, reproducing its documented
decorator API and the way it hands cell values to a custom function; every registration is recorded.

Sources (the conventions reproduced here, and where they are stated):

* decorators ``func``, ``arg``, ``ret``, ``script`` imported from ``xlwings``; ``func`` bare or with keywords,
  ``arg(name, convert=None, doc=..., **options)`` where the name must be a parameter, ``ret(convert=None,
  **options)``; the docstring is the function's description; a parameter with a default is optional; ``script``
  needs exactly one parameter annotated ``xw.Book``; ``category``, ``call_in_wizard``, ``async_mode`` (func),
  ``expand`` (ret) and ``vba`` (arg) are "Classic xlwings only": https://lite.xlwings.org/custom-functions,
  https://lite.xlwings.org/custom-scripts and the docstrings of xlwings.func/arg/ret/script in xlwings 0.37.8;
* every parameter is registered with Excel as ``dimensionality: matrix, type: any`` and the result as a matrix
  (custom_functions_meta in xlwings 0.37.8, xlwings/pro/udfs_officejs.py); functions are found by scanning a
  module's members for that metadata (inspect.getmembers; xlwings-server, xlwings_server/wasm/wasm_runtime.py);
* values: "single cells arrive as a simple float, integer, boolean, or string; one-dimensional ranges as a list,
  two-dimensional ranges as a list of lists" and ``ndim`` forces the dimension (lite.xlwings.org/custom-functions);
  a date cell arrives as its serial number ("xlwings will detect numbers, strings, and booleans but not cells with a
  date/time format", xlwings Server/Lite docs, "Date and time"); error cells are read as None, or as their text
  with ``err_to_str``; empty cells arrive as JavaScript ``null`` (``JsNull`` in Pyodide >= 0.28) or ``""`` and
  are read as the ``empty`` option (None by default); an omitted or blank argument takes the parameter's default
  (xlwings 0.37.8: udfs_officejs.custom_functions_call / to_scalar, and _xlofficejs._clean_value_data_element).

This is written from those statements, not copied: xlwings.pro is under a non-commercial licence.
"""
from __future__ import annotations

import datetime as dt
import inspect
import types
import typing

LITE_FUNC_OPTIONS = {"name", "namespace", "volatile", "cache", "help_url", "required_roles"}
CLASSIC_ONLY_FUNC_OPTIONS = {"category", "call_in_wizard", "async_mode"}
CLASSIC_ONLY_ARG_OPTIONS = {"vba"}
CLASSIC_ONLY_RET_OPTIONS = {"expand"}
SCRIPT_OPTIONS = {"name", "include", "exclude", "button", "show_taskpane", "required_roles"}
EXCEL_EPOCH = dt.datetime(1899, 12, 30)


class JsNull:
    """Pyodide's JavaScript ``null`` (an empty cell in a range argument, or an omitted argument)."""

    def __repr__(self):
        return "JsNull"


JsNull.__name__ = "JsNull"
NULL = JsNull()


def officejs_error(text: str) -> dict:
    """An error cell as Office.js hands it to a custom function (a rich value)."""
    kinds = {"#N/A": "NotAvailable", "#VALUE!": "Value", "#DIV/0!": "Div0", "#REF!": "Ref", "#NUM!": "Num",
             "#NAME?": "Name", "#NULL!": "Null"}
    return {"type": "Error", "errorType": kinds[text], "basicValue": text}


def officejs_value(value, blank=NULL):
    """A cell value as Lite's Python receives it from Office.js: dates as serial numbers, whole numbers as int
    (Pyodide converts an integral JavaScript number to int), blanks as ``blank``, error text as an error value."""
    if value is None:
        return blank
    if isinstance(value, dt.datetime):
        days = (value - EXCEL_EPOCH) / dt.timedelta(days=1)
        return int(days) if days == int(days) else days
    if isinstance(value, float) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.startswith("#") and value in {"#N/A", "#VALUE!", "#DIV/0!", "#REF!", "#NUM!",
                                                                      "#NAME?", "#NULL!"}:
        return officejs_error(value)
    return value


def officejs_matrix(value, blank=NULL):
    """An argument as Office.js passes it for a matrix parameter: a 2-D array (a single cell is 1 x 1)."""
    if isinstance(value, (list, tuple)):
        rows = value if value and isinstance(value[0], (list, tuple)) else [value]
        return [[officejs_value(v, blank) for v in row] for row in rows]
    return [[officejs_value(value, blank)]]


class Book:
    """The workbook a script receives."""


class BookAsync(Book):
    """The workbook of a script that loads values on demand."""


REGISTRATIONS: list[tuple[str, str, dict]] = []


def _metadata(f):
    if not hasattr(f, "__xlfunc__"):
        params = list(inspect.signature(f).parameters.values())
        if any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params):
            raise TypeError("custom functions take no keyword-only arguments")
        args = []
        for pos, p in enumerate(params):
            info = {"name": p.name, "pos": pos, "doc": f"Positional argument {pos + 1}", "options": {}}
            if p.default is not p.empty:
                info["optional"] = p.default
            args.append(info)
        f.__xlfunc__ = {"name": f.__name__, "args": args, "options": {},
                        "ret": {"doc": f.__doc__ if f.__doc__ is not None else f"Python function '{f.__name__}'",
                                "options": {}}}
    return f.__xlfunc__


def func(f=None, **options):
    unknown = set(options) - LITE_FUNC_OPTIONS - CLASSIC_ONLY_FUNC_OPTIONS
    if unknown:
        raise TypeError(f"func() got unknown options {sorted(unknown)}")

    def inner(f):
        _metadata(f)["options"].update(options)
        REGISTRATIONS.append(("func", f.__name__, dict(options)))
        return f
    return inner if f is None else inner(f)


def arg(name, convert=None, **options):
    def inner(f):
        meta = _metadata(f)
        found = [a for a in meta["args"] if a["name"] == name.lstrip("*")]
        if not found:
            raise ValueError(f"Invalid argument name '{name}'.")
        if "doc" in options:
            found[0]["doc"] = options.pop("doc")
        if convert is not None:
            options["convert"] = convert
        found[0]["options"].update(options)
        REGISTRATIONS.append(("arg", f"{f.__name__}.{name}", dict(options)))
        return f
    return inner


def ret(convert=None, **options):
    def inner(f):
        if convert is not None:
            options["convert"] = convert
        _metadata(f)["ret"]["options"].update(options)
        REGISTRATIONS.append(("ret", f.__name__, dict(options)))
        return f
    return inner


def script(f=None, **options):
    unknown = set(options) - SCRIPT_OPTIONS
    if unknown:
        raise TypeError(f"script() got unknown options {sorted(unknown)}")

    def inner(f):
        hints = typing.get_type_hints(f)
        books = [name for name, hint in hints.items() if isinstance(hint, type) and issubclass(hint, Book)]
        if len(books) != 1:
            raise TypeError(f"script {f.__name__}: exactly one parameter must be annotated xw.Book")
        f.__xlscript__ = {"name": options.get("name", f.__name__), "book": books[0], "options": dict(options)}
        REGISTRATIONS.append(("script", f.__name__, dict(options)))
        return f
    return inner if f is None else inner(f)


def module() -> types.ModuleType:
    """This stand-in as a module named ``xlwings``, with a fresh registry."""
    REGISTRATIONS.clear()
    standin = types.ModuleType("xlwings")
    standin.__doc__ = "stand-in for the xlwings that xlwings Lite provides"
    for name in ("func", "arg", "ret", "script", "Book", "BookAsync", "REGISTRATIONS"):
        setattr(standin, name, globals()[name])
    return standin


# ----------------------------------------------------------------------------------------------------------------
# discovery and calls, as Lite does them
# ----------------------------------------------------------------------------------------------------------------
def custom_functions(mod) -> dict:
    """The custom functions Lite registers from a module: its members carrying the metadata."""
    return {obj.__xlfunc__["name"].upper(): obj for _, obj in inspect.getmembers(mod) if hasattr(obj, "__xlfunc__")}


def scripts(mod) -> dict:
    return {obj.__xlscript__["name"]: obj for _, obj in inspect.getmembers(mod) if hasattr(obj, "__xlscript__")}


def excel_parameters(f) -> list[dict]:
    """The parameters as registered with Excel: every one a matrix of any values; optional if it has a default."""
    return [{"name": a["name"], "description": a["doc"], "dimensionality": "matrix", "type": "any",
             **({"optional": True} if "optional" in a else {})} for a in f.__xlfunc__["args"]]


def _is_blank(value) -> bool:
    return value is None or isinstance(value, JsNull)


def _read_cell(value, options):
    if _is_blank(value) or value == "":
        return options.get("empty")
    if isinstance(value, dict) and value.get("type") == "Error":
        return value["basicValue"] if options.get("err_to_str") else None
    return value


def _read(value, options):
    """An argument's value through its converter options (the default converter: lists)."""
    rows = value if isinstance(value, list) and value and isinstance(value[0], list) else \
        [value] if isinstance(value, list) else [[value]]
    rows = [[_read_cell(v, options) for v in row] for row in rows]
    ndim = options.get("ndim")
    if ndim == 2:
        return rows
    if len(rows) == 1 and len(rows[0]) == 1 and ndim is None:
        return rows[0][0]
    if len(rows) == 1 or all(len(r) == 1 for r in rows):
        return [v for row in rows for v in row]
    return rows


def call(f, *officejs_args):
    """Call a registered custom function as Lite does: each argument an Office.js matrix (a missing trailing
    argument is ``null``); a 1 x 1 matrix becomes its value and a one-row matrix a list; a blank argument takes
    the parameter's default; the rest goes through the argument's converter options."""
    meta = f.__xlfunc__
    values = []
    for i, info in enumerate(meta["args"]):
        raw = officejs_args[i] if i < len(officejs_args) else NULL
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[0][0] if isinstance(raw[0], list) and len(raw[0]) == 1 else raw[0]
        if _is_blank(raw):
            values.append(info.get("optional"))
        else:
            values.append(_read(raw, info["options"]))
    return f(*values)
