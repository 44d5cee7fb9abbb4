"""xlatsm install / uninstall against a temporary home folder, and the installer scripts themselves."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xlatsm.cli import main
from xlatsm.install import install, uninstall

ROOT = Path(__file__).resolve().parents[1]


def test_install_is_idempotent_and_uninstall_removes_it(tmp_path):
    first = install(home=tmp_path)
    workbook = Path(first["workbook"])
    assert workbook == tmp_path / "Documents" / "xlatsm" / "xlatsm.xlsm" and workbook.stat().st_size > 50_000
    conf = (workbook.parent / "xlwings.conf").read_text()
    key = "INTERPRETER_WIN" if sys.platform.startswith("win") else "INTERPRETER_MAC"
    assert f'"{key}","{first["interpreter"]}"' in conf
    second = install(home=tmp_path)
    assert second["notes"] == [] and (workbook.parent / "xlwings.conf").read_text() == conf
    assert sorted(p.name for p in workbook.parent.iterdir()) == ["xlatsm.xlsm", "xlwings.conf"]
    manifest = json.loads((tmp_path / ".xlatsm" / "install.json").read_text())
    assert manifest["workbook"] == str(workbook)
    said = uninstall(home=tmp_path)
    assert any("removed" in s for s in said)
    assert not (tmp_path / "Documents" / "xlatsm").exists() and not (tmp_path / ".xlatsm").exists()


def test_user_changes_and_other_settings_are_kept(tmp_path):
    target = tmp_path / "models"
    install(home=tmp_path, target=target)
    (target / "xlwings.conf").write_text((target / "xlwings.conf").read_text() + '"SHOW CONSOLE","True"\n')
    (target / "xlatsm.xlsm").write_bytes(b"my edited workbook")
    done = install(home=tmp_path, target=target)
    assert done["notes"] and "backup" in done["notes"][0]
    backups = list(target.glob("xlatsm.backup-*.xlsm"))
    assert len(backups) == 1 and backups[0].read_bytes() == b"my edited workbook"
    assert '"SHOW CONSOLE","True"' in (target / "xlwings.conf").read_text()
    (target / "xlatsm.xlsm").write_bytes(b"changed again")
    said = uninstall(home=tmp_path)
    assert any("kept" in s for s in said)
    assert (target / "xlatsm.xlsm").exists()
    assert (target / "xlwings.conf").read_text() == '"SHOW CONSOLE","True"\n'


def test_cli_install(tmp_path, capsys):
    assert main(["install", "--home", str(tmp_path)]) == 0
    assert "press Refit" in capsys.readouterr().out
    assert main(["uninstall", "--home", str(tmp_path)]) == 0
    assert main(["uninstall", "--home", str(tmp_path)]) == 0
    assert "nothing to uninstall" in capsys.readouterr().out


def test_shell_installers_parse():
    for script in ("install.sh", "uninstall.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "installer" / script)], check=True)


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="PowerShell is not installed")
def test_powershell_installers_parse():
    for script in ("install.ps1", "uninstall.ps1"):
        command = f"$null = [System.Management.Automation.Language.Parser]::ParseFile('{ROOT / 'installer' / script}', " \
                  "[ref]$null, [ref]$errors); if ($errors) { exit 1 }"
        subprocess.run(["pwsh", "-NoProfile", "-Command", command], check=True)


def _expand_like_vba(value, environ):
    """What xlwings' ExpandEnvironmentStrings does with a config value (Windows: %VAR%; macOS: a leading $HOME)."""
    import re

    if value.startswith("$HOME"):
        return environ["HOME"] + value[len("$HOME"):]
    return re.sub(r"%(\w+)%", lambda m: environ[m.group(1)], value)


def test_xlwings_reads_the_sheet_first_and_expands_environment_variables():
    """The claims install.py relies on, checked in the VBA of the pinned xlwings: GetConfig looks at the
    workbook's xlwings.conf sheet before any file, expands environment variables in every value, and reads conf
    files with Open ... For Input (the ANSI code page, not UTF-8)."""
    import re

    import xlwings

    bas = (Path(xlwings.__file__).parent / "xlwings.bas").read_text(encoding="cp1252")
    get_config = bas[bas.index("Function GetConfig(configKey"):]
    get_config = get_config[:get_config.index("End Function")]
    assert get_config.index("GetConfigFromSheet(ThisWorkbook)") < get_config.index("GetDirectoryConfigFilePath()") \
        < get_config.index("GetConfigFilePath()")
    assert get_config.count("ExpandEnvironmentStrings(GetConfig)") >= 3
    from_file = bas[bas.index("Function GetConfigFromFile"):]
    assert re.search(r"Open sFile For Input As iFileNum", from_file[:from_file.index("End Function")])


WINDOWS_ENV = {"USERPROFILE": "C:\\Users\\Jürgen", "LOCALAPPDATA": "C:\\Users\\Jürgen\\AppData\\Local",
               "APPDATA": "C:\\Users\\Jürgen\\AppData\\Roaming"}


class FakeRegistry:
    HKEY_CURRENT_USER, KEY_WRITE, REG_SZ, REG_DWORD = "HKCU", 1, 1, 4

    def __init__(self):
        self.keys = {}

    def CreateKeyEx(self, root, key, reserved, access):
        self.keys.setdefault((root, key), {})
        return (root, key)

    def SetValueEx(self, key, name, reserved, kind, value):
        self.keys[key][name] = value

    def CloseKey(self, key):
        pass

    def DeleteKey(self, root, key):
        del self.keys[(root, key)]


@pytest.mark.parametrize("venv", ["C:\\Users\\Jürgen\\AppData\\Local\\xlatsm\\venv",
                                  "C:\\Users\\Jürgen\\AppData\\Local\\Programs\\xl\\venv"])
def test_windows_settings_survive_a_non_ascii_home_and_a_moved_workbook(tmp_path, monkeypatch, venv):
    """A Windows install for C:\\Users\\Jürgen, simulated: the xlwings.conf file bytes, read in the ANSI code page
    as VBA reads them and expanded as xlwings expands them, give the interpreter path; the workbook's own
    xlwings.conf sheet (read first, and travelling with the workbook) says the same; nothing else in the workbook
    changed; the folder is a Trusted Location until uninstall."""
    import openpyxl

    import xlatsm.install as inst

    exe = venv + "\\Scripts\\pythonw.exe"
    monkeypatch.setattr(inst, "interpreter", lambda platform=None: exe)
    registry = FakeRegistry()
    done = install(home=tmp_path, platform="win32", environ=WINDOWS_ENV, registry=registry)
    conf_bytes = (tmp_path / "Documents" / "xlatsm" / "xlwings.conf").read_bytes()
    assert conf_bytes.isascii()   # no user name in it: nothing for the code page to garble
    key, value = conf_bytes.decode("cp1252").strip().split(",")
    assert key == '"INTERPRETER_WIN"' and _expand_like_vba(value.strip('"'), WINDOWS_ENV) == exe
    assert conf_bytes.endswith(b"\r\n")
    # what UTF-8 would have done to the old absolute path: VBA would look for C:\Users\JÃ¼rgen\...
    assert "Jürgen".encode("utf-8").decode("cp1252") == "JÃ¼rgen"
    # the sheet: read first by xlwings, moves with the workbook (copy it anywhere, e-mail it)
    moved = tmp_path / "OneDrive" / "elsewhere.xlsm"
    moved.parent.mkdir()
    shutil.copy(done["workbook"], moved)
    conf_sheet = openpyxl.load_workbook(moved)["xlwings.conf"]
    sheet = {conf_sheet.cell(row=r, column=1).value.upper(): conf_sheet.cell(row=r, column=2).value
             for r in range(1, conf_sheet.max_row + 1)}
    assert _expand_like_vba(sheet["INTERPRETER_WIN"], WINDOWS_ENV) == exe
    assert sheet["UDF MODULES"] == "xlatsm.excel.udfs"
    import zipfile
    from importlib import resources

    with zipfile.ZipFile(done["workbook"]) as ours, \
            zipfile.ZipFile(resources.files("xlatsm.excel").joinpath("xlatsm.xlsm")) as packaged:
        assert ours.namelist() == packaged.namelist()
        assert ours.read("xl/vbaProject.bin") == packaged.read("xl/vbaProject.bin")
    trusted = registry.keys[("HKCU", inst.TRUSTED_KEY)]
    assert trusted["Path"] == str(tmp_path / "Documents" / "xlatsm") + "\\"
    assert install(home=tmp_path, platform="win32", environ=WINDOWS_ENV, registry=registry)["notes"] == []
    uninstall(home=tmp_path, registry=registry)
    assert not registry.keys and not (tmp_path / "Documents" / "xlatsm").exists()


def test_trusted_location_is_opt_out(tmp_path, monkeypatch):
    import xlatsm.install as inst

    monkeypatch.setattr(inst, "interpreter", lambda platform=None: "D:\\Tools\\Jürgen\\pythonw.exe")
    registry = FakeRegistry()
    monkeypatch.setenv("XLATSM_TRUSTED_LOCATION", "0")
    install(home=tmp_path, platform="win32", environ=WINDOWS_ENV, registry=registry)
    assert not registry.keys
    # a path under no environment variable is written in the ANSI code page, so VBA reads it back right
    data = (tmp_path / "Documents" / "xlatsm" / "xlwings.conf").read_bytes()
    assert data.decode("cp1252") == '"INTERPRETER_WIN","D:\\Tools\\Jürgen\\pythonw.exe"\r\n'


def _clean_clone(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=300)
    return clone


def test_shell_installer_from_a_clean_clone(tmp_path):
    """README's route, for real: a fresh clone, a temporary HOME, `bash installer/install.sh` builds and installs
    the checkout into a private venv and the workbook into ~/Documents/xlatsm; the interpreter it names imports
    the UDF module; a second run changes nothing; uninstall.sh removes it all."""
    clone = _clean_clone(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLATSM_", "VIRTUAL_ENV", "PYTHON"))}
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))   # the real user's cache: no re-downloads
    env["HOME"] = str(home)
    run = subprocess.run(["bash", str(clone / "installer" / "install.sh")], env=env, capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    folder = home / "Documents" / "xlatsm"
    workbook = folder / "xlatsm.xlsm"
    assert workbook.exists()
    key, value = (folder / "xlwings.conf").read_bytes().decode("utf-8").strip().split(",")
    python = _expand_like_vba(value.strip('"'), {"HOME": str(home)})
    assert python.startswith(str(home / ".local" / "share" / "xlatsm" / "venv"))
    check = subprocess.run([python, "-c", "import xlatsm.excel.udfs, xlatsm, sys; print(xlatsm.__file__)"],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert check.returncode == 0 and "site-packages" in check.stdout, check.stderr
    first = workbook.read_bytes()
    run = subprocess.run(["bash", str(clone / "installer" / "install.sh")], env=env, capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stderr[-2000:]
    assert workbook.read_bytes() == first and sorted(p.name for p in folder.iterdir()) == ["xlatsm.xlsm",
                                                                                          "xlwings.conf"]
    run = subprocess.run(["bash", str(clone / "installer" / "uninstall.sh")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert not folder.exists() and not (home / ".local" / "share" / "xlatsm").exists()
    assert not (home / ".xlatsm").exists()


def test_shell_installer_rolls_back_a_failed_install(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), XLATSM_BASE=str(tmp_path / "base"))
    run = subprocess.run(["bash", str(ROOT / "installer" / "install.sh"), str(tmp_path / "no-such-xlatsm.whl")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode != 0 and "removing what this run created" in run.stderr
    assert not (tmp_path / "base").exists() and not (home / "Documents").exists()


def test_install_without_xlwings_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    """xlwings is the classic route's extra, not a base dependency: installing the workbook into a Python without
    it would leave a workbook whose Python cannot answer, so `xlatsm install` refuses in one line."""
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "xlwings" else real(name, *a))
    assert _run_install(tmp_path) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xlatsm:") and 'pip install "xlatsm[excel]"' in err
    assert not (tmp_path / "Documents").exists()


def _run_install(home: Path) -> int:
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        return main(["install", "--no-trusted-location"])
    finally:
        if old is not None:
            os.environ["HOME"] = old
