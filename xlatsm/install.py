"""``xlatsm install`` / ``xlatsm uninstall``: the cross-platform part of the installers.

Install copies the packaged workbook to a folder of the user's (default ``~/Documents/xlatsm``) and writes
``xlwings.conf`` beside it, which xlwings' VBA reads first for that workbook: the Python interpreter of *this*
environment (``INTERPRETER_WIN`` / ``INTERPRETER_MAC``). Nothing global is changed, so other xlwings workbooks keep
their settings. A manifest (``~/.xlatsm/install.json``) records what was written so uninstall removes exactly that.

Both are idempotent, and neither loses work: a workbook copy the user has changed is kept (install saves it as a
dated backup before replacing it; uninstall leaves it in place and says so).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sys
from importlib import resources
from pathlib import Path

WORKBOOK = "xlatsm.xlsm"
CONF = "xlwings.conf"
OUR_KEYS = ("INTERPRETER_WIN", "INTERPRETER_MAC")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def interpreter() -> str:
    """The interpreter Excel should start: pythonw.exe on Windows (no console window), else this python."""
    exe = Path(sys.executable)
    if sys.platform.startswith("win") and (exe.parent / "pythonw.exe").exists():
        return str(exe.parent / "pythonw.exe")
    return str(exe)


def _read_conf(path: Path) -> dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "," in line:
                key, value = line.split(",", 1)
                values[key.strip().strip('"')] = value.strip().strip('"')
    return values


def _write_conf(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f'"{k}","{v}"\n' for k, v in values.items()), encoding="utf-8")


def default_target(home: Path) -> Path:
    return home / "Documents" / "xlatsm"


def install(home: Path | None = None, target: Path | None = None) -> dict:
    home = Path(home or Path.home())
    target = Path(target or default_target(home))
    target.mkdir(parents=True, exist_ok=True)
    notes = []
    workbook = target / WORKBOOK
    with resources.as_file(resources.files("xlatsm.excel").joinpath(WORKBOOK)) as packaged:
        manifest_path = home / ".xlatsm" / "install.json"
        previous = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        if workbook.exists() and _sha(workbook) != _sha(packaged):
            if _sha(workbook) != previous.get("workbook_sha256"):   # the user changed it: keep a copy
                backup = target / f"xlatsm.backup-{dt.datetime.now():%Y%m%d-%H%M%S}.xlsm"
                shutil.copy2(workbook, backup)
                notes.append(f"your changed workbook was kept as {backup.name}")
        shutil.copyfile(packaged, workbook)
    conf_path = target / CONF
    conf = _read_conf(conf_path)
    conf["INTERPRETER_WIN" if sys.platform.startswith("win") else "INTERPRETER_MAC"] = interpreter()
    _write_conf(conf_path, conf)
    manifest = {"workbook": str(workbook), "workbook_sha256": _sha(workbook), "conf": str(conf_path),
                "interpreter": interpreter(), "installed": dt.datetime.now().isoformat(timespec="seconds")}
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    manifest["notes"] = notes
    return manifest


def uninstall(home: Path | None = None) -> list[str]:
    home = Path(home or Path.home())
    manifest_path = home / ".xlatsm" / "install.json"
    if not manifest_path.exists():
        return ["nothing to uninstall (no ~/.xlatsm/install.json)"]
    manifest = json.loads(manifest_path.read_text())
    said = []
    workbook = Path(manifest["workbook"])
    if workbook.exists():
        if _sha(workbook) == manifest["workbook_sha256"]:
            workbook.unlink()
            said.append(f"removed {workbook}")
        else:
            said.append(f"kept {workbook}: it has your changes")
    conf_path = Path(manifest["conf"])
    conf = _read_conf(conf_path)
    for key in OUR_KEYS:
        if conf.get(key) == manifest["interpreter"]:
            conf.pop(key)
    if conf:
        _write_conf(conf_path, conf)
    elif conf_path.exists():
        conf_path.unlink()
        said.append(f"removed {conf_path}")
    folder = workbook.parent
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()
    manifest_path.unlink()
    if not any(manifest_path.parent.iterdir()):
        manifest_path.parent.rmdir()
    return said
