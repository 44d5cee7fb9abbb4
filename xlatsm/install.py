"""``xlatsm install`` / ``xlatsm uninstall``: the cross-platform part of the installers.

Install copies the packaged workbook to a folder of the user's (default ``~/Documents/xlatsm``) and tells xlwings'
VBA which Python to start, by two routes that xlwings' ``GetConfig`` reads in this order:

1. the workbook's own ``xlwings.conf`` *sheet* (``Interpreter_Win`` / ``Interpreter_Mac``). It travels with the
   workbook, so a workbook moved to another folder or opened from OneDrive/SharePoint (where xlwings cannot see a
   file beside it) still finds Python; and xlwings expands environment variables in it, so the value is written
   as ``%LOCALAPPDATA%\\xlatsm\\venv\\Scripts\\pythonw.exe`` (macOS: ``$HOME/Library/...``): the same workbook
   works for a colleague who ran the installer, and a user folder such as ``C:\\Users\\Jürgen`` never appears in
   it. The packaged workbook carries the default locations; install rewrites the cells only for another one.
2. ``xlwings.conf`` *beside* the workbook. VBA reads it with ``Open ... For Input``, i.e. in the ANSI code page,
   not UTF-8: it is written in that code page (cp1252 on Western Windows), with the same environment-variable
   form, so a non-ASCII user name cannot turn into mojibake.

On Windows the install folder is also added as a per-user Excel *Trusted Location* (HKCU, no admin rights;
opt out with ``trusted_location=False`` or ``XLATSM_TRUSTED_LOCATION=0``): macros of the installed workbook run
without the "enable content" bar. Nothing global is changed otherwise, so other xlwings workbooks keep their
settings. A manifest (``~/.xlatsm/install.json``) records what was written so uninstall removes exactly that.

Both are idempotent, and neither loses work: a workbook copy the user has changed is kept (install saves it as a
dated backup before replacing it; uninstall leaves it in place and says so).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sys
import zipfile
from importlib import resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Mapping
from xml.sax.saxutils import escape

WORKBOOK = "xlatsm.xlsm"
CONF = "xlwings.conf"
OUR_KEYS = ("INTERPRETER_WIN", "INTERPRETER_MAC")
WIN_DEFAULT = r"%LOCALAPPDATA%\xlatsm\venv\Scripts\pythonw.exe"
MAC_DEFAULT = "$HOME/Library/Application Support/xlatsm/venv/bin/python"
# the workbook's xlwings.conf sheet (workbook/build.py writes it; keys are matched case-insensitively by xlwings)
SHEET_CONF = {"UDF Modules": "xlatsm.excel.udfs", "Show Console": "False", "Interpreter_Win": WIN_DEFAULT,
              "Interpreter_Mac": MAC_DEFAULT}
TRUSTED_KEY = r"Software\Microsoft\Office\16.0\Excel\Security\Trusted Locations\xlatsm"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _windows(platform: str | None = None) -> bool:
    return (platform or sys.platform).startswith("win")


def interpreter(platform: str | None = None) -> str:
    """The interpreter Excel should start: pythonw.exe on Windows (no console window), else this python."""
    exe = Path(sys.executable)
    if _windows(platform) and (exe.parent / "pythonw.exe").exists():
        return str(exe.parent / "pythonw.exe")
    return str(exe)


def portable_path(path: str, windows: bool, environ: Mapping[str, str] | None = None) -> str:
    """``path`` with its user-specific start written as an environment variable that xlwings expands
    (``%LOCALAPPDATA%``, ``%APPDATA%``, ``%USERPROFILE%``; macOS ``$HOME``), when it lies under one."""
    environ = os.environ if environ is None else environ
    if windows:
        for var in ("LOCALAPPDATA", "APPDATA", "USERPROFILE"):
            base = environ.get(var, "").rstrip("\\/")
            if base and PureWindowsPath(path.lower()).is_relative_to(PureWindowsPath(base.lower())):
                return f"%{var}%" + path[len(base):]
        return path
    home = environ.get("HOME", "").rstrip("/")
    if home and PurePosixPath(path).is_relative_to(PurePosixPath(home)):
        return "$HOME" + path[len(home):]
    return path


def ansi_encoding(windows: bool) -> str:
    """The code page VBA's ``Open ... For Input`` reads text files in: the ANSI code page on Windows."""
    return "mbcs" if windows and sys.platform.startswith("win") else ("cp1252" if windows else "utf-8")


def _short_path(path: str) -> str:
    """The 8.3 short form of an existing Windows path (ASCII when short names are enabled), else the path."""
    try:
        import ctypes

        buffer = ctypes.create_unicode_buffer(1024)
        if ctypes.windll.kernel32.GetShortPathNameW(path, buffer, 1024):
            return buffer.value
    except Exception:  # noqa: BLE001 - not Windows, or no short names: keep the long path
        pass
    return path


def conf_bytes(values: Mapping[str, str], windows: bool, encoding: str | None = None) -> bytes:
    """``xlwings.conf`` as VBA will read it: ``"KEY","value"`` lines in the ANSI code page (CRLF on Windows)."""
    newline = "\r\n" if windows else "\n"
    text = "".join(f'"{k}","{v}"{newline}' for k, v in values.items())
    return text.encode(encoding or ansi_encoding(windows))


def _read_conf(path: Path, windows: bool) -> dict[str, str]:
    values = {}
    if path.exists():
        data = path.read_bytes()
        try:
            text = data.decode(ansi_encoding(windows))
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
        for line in text.splitlines():
            if "," in line:
                key, value = line.split(",", 1)
                values[key.strip().strip('"')] = value.strip().strip('"')
    return values


def _conf_value(windows: bool, environ: Mapping[str, str] | None) -> str:
    value = portable_path(interpreter("win32" if windows else "darwin"), windows, environ)
    if windows and not value.isascii():
        value = _short_path(value)
    return value


def _conf_sheet_part(parts: dict[str, bytes]) -> str:
    import re

    workbook = parts["xl/workbook.xml"].decode("utf-8")
    rels = parts["xl/_rels/workbook.xml.rels"].decode("utf-8")
    rid = re.search(r'<sheet[^>]*name="xlwings.conf"[^>]*r:id="(\w+)"', workbook).group(1)
    target = re.search(rf'<Relationship[^>]*Id="{rid}"[^>]*Target="([^"]+)"', rels) or \
        re.search(rf'<Relationship[^>]*Target="([^"]+)"[^>]*Id="{rid}"', rels)
    return "xl/" + target.group(1).lstrip("/").replace("xl/", "", 1)


def set_sheet_conf(workbook: Path, values: Mapping[str, str]) -> bool:
    """Rewrite value cells of the workbook's ``xlwings.conf`` sheet in place (the cell text in the sheet's XML, or
    its shared string), leaving every other part byte for byte (the VBA project, the ribbon). Returns whether
    anything changed."""
    with zipfile.ZipFile(workbook) as source:
        infos = source.infolist()
        parts = {info.filename: source.read(info.filename) for info in infos}
    changed = False
    for name in (_conf_sheet_part(parts), "xl/sharedStrings.xml"):
        if name not in parts:
            continue
        text = parts[name].decode("utf-8")
        for key, value in values.items():
            old, new = f"<t>{escape(SHEET_CONF[key])}</t>", f"<t>{escape(value)}</t>"
            if old != new and old in text:
                text = text.replace(old, new, 1)
                changed = True
        parts[name] = text.encode("utf-8")
    if not changed:
        return False
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in infos:
            target.writestr(info, parts[info.filename])
    workbook.write_bytes(buffer.getvalue())
    return True


def _registry(registry=None):
    if registry is not None:
        return registry
    import winreg  # noqa: PLC0415 - Windows only

    return winreg


def add_trusted_location(folder: Path, registry=None) -> str:
    """Per-user Excel Trusted Location for ``folder`` (HKCU, no admin rights); returns the registry key."""
    reg = _registry(registry)
    key = reg.CreateKeyEx(reg.HKEY_CURRENT_USER, TRUSTED_KEY, 0, reg.KEY_WRITE)
    try:
        reg.SetValueEx(key, "Path", 0, reg.REG_SZ, str(folder).rstrip("\\") + "\\")
        reg.SetValueEx(key, "AllowSubfolders", 0, reg.REG_DWORD, 0)
        reg.SetValueEx(key, "Description", 0, reg.REG_SZ, "xlatsm workbook (added by xlatsm install)")
        reg.SetValueEx(key, "Date", 0, reg.REG_SZ, dt.date.today().isoformat())
    finally:
        reg.CloseKey(key)
    return TRUSTED_KEY


def remove_trusted_location(key: str, registry=None) -> None:
    reg = _registry(registry)
    try:
        reg.DeleteKey(reg.HKEY_CURRENT_USER, key)
    except OSError:
        pass


def default_target(home: Path) -> Path:
    return home / "Documents" / "xlatsm"


def install(home: Path | None = None, target: Path | None = None, *, trusted_location: bool | None = None,
            platform: str | None = None, environ: Mapping[str, str] | None = None, registry=None) -> dict:
    import importlib.util
    if importlib.util.find_spec("xlwings") is None:     # the workbook would start a Python that cannot answer it
        from .errors import InputError
        raise InputError('the Excel workbook needs xlwings in this Python: pip install "xlatsm[excel]", then run '
                         "xlatsm install again")
    home = Path(home or Path.home())
    target = Path(target or default_target(home))
    windows = _windows(platform)
    if trusted_location is None:
        trusted_location = os.environ.get("XLATSM_TRUSTED_LOCATION", "1").strip() not in ("0", "no", "false")
    target.mkdir(parents=True, exist_ok=True)
    notes = []
    workbook = target / WORKBOOK
    conf_key = "INTERPRETER_WIN" if windows else "INTERPRETER_MAC"
    value = _conf_value(windows, environ)
    manifest_path = home / ".xlatsm" / "install.json"
    previous = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    with resources.as_file(resources.files("xlatsm.excel").joinpath(WORKBOOK)) as packaged:
        if workbook.exists() and _sha(workbook) != previous.get("workbook_sha256", _sha(packaged)):
            backup = target / f"xlatsm.backup-{dt.datetime.now():%Y%m%d-%H%M%S}.xlsm"   # the user changed it
            shutil.copy2(workbook, backup)
            notes.append(f"your changed workbook was kept as {backup.name}")
        shutil.copyfile(packaged, workbook)
    set_sheet_conf(workbook, {"Interpreter_Win" if windows else "Interpreter_Mac": value})
    conf_path = target / CONF
    conf = _read_conf(conf_path, windows)
    conf[conf_key] = value
    conf_path.write_bytes(conf_bytes(conf, windows))
    manifest = {"workbook": str(workbook), "workbook_sha256": _sha(workbook), "conf": str(conf_path),
                "interpreter": value, "platform": "windows" if windows else "posix",
                "installed": dt.datetime.now().isoformat(timespec="seconds")}
    if windows and trusted_location:
        try:
            manifest["trusted_location"] = add_trusted_location(target, registry)
        except Exception as exc:  # noqa: BLE001 - policy may forbid it: say so, the workbook still works
            notes.append(f"could not add {target} as an Excel Trusted Location ({exc}): enable macros when asked")
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    manifest["notes"] = notes
    return manifest


def uninstall(home: Path | None = None, *, registry=None) -> list[str]:
    home = Path(home or Path.home())
    manifest_path = home / ".xlatsm" / "install.json"
    if not manifest_path.exists():
        return ["nothing to uninstall (no ~/.xlatsm/install.json)"]
    manifest = json.loads(manifest_path.read_text())
    windows = manifest.get("platform") == "windows"
    said = []
    workbook = Path(manifest["workbook"])
    if workbook.exists():
        if _sha(workbook) == manifest["workbook_sha256"]:
            workbook.unlink()
            said.append(f"removed {workbook}")
        else:
            said.append(f"kept {workbook}: it has your changes")
    conf_path = Path(manifest["conf"])
    conf = _read_conf(conf_path, windows)
    for key in OUR_KEYS:
        if conf.get(key) == manifest["interpreter"]:
            conf.pop(key)
    if conf:
        conf_path.write_bytes(conf_bytes(conf, windows))
    elif conf_path.exists():
        conf_path.unlink()
        said.append(f"removed {conf_path}")
    if manifest.get("trusted_location"):
        remove_trusted_location(manifest["trusted_location"], registry)
        said.append("removed the Excel Trusted Location")
    folder = workbook.parent
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()
    manifest_path.unlink()
    if not any(manifest_path.parent.iterdir()):
        manifest_path.parent.rmdir()
    return said
