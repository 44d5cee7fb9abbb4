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


def test_shell_installer_end_to_end_with_a_local_wheel(tmp_path):
    """The macOS/Linux installer run for real into a temporary home: builds a wheel of this checkout, installs it
    into a private venv, runs xlatsm install, then the uninstaller."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)], check=True,
                   timeout=600)
    wheel = next(dist.glob("xlatsm-*.whl"))
    env = dict(os.environ, HOME=str(tmp_path / "home"), XLATSM_BASE=str(tmp_path / "base"))
    (tmp_path / "home").mkdir()
    run = subprocess.run(["bash", str(ROOT / "installer" / "install.sh"), str(wheel)], env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "home" / "Documents" / "xlatsm" / "xlatsm.xlsm").exists()
    conf = (tmp_path / "home" / "Documents" / "xlatsm" / "xlwings.conf").read_text()
    assert str(tmp_path / "base" / "venv") in conf
    run = subprocess.run(["bash", str(ROOT / "installer" / "install.sh"), str(wheel)], env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0   # again: harmless
    run = subprocess.run(["bash", str(ROOT / "installer" / "uninstall.sh")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and not (tmp_path / "base").exists()
    assert not (tmp_path / "home" / "Documents" / "xlatsm").exists()
