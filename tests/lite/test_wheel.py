"""The wheel that xlwings Lite installs: pure Python, and its base dependencies ones that Lite's Pyodide can satisfy.

Built here, offline, from a copy of the sources (so the shared work tree gets no build/ or egg-info), with the
build backend pyproject.toml names, already installed (``--no-build-isolation``).
"""
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")    # Python >= 3.11; pyproject.toml is read as the build reads it
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402
from packaging.version import Version  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Packages built for Pyodide 0.28.3 and their versions, from its pyodide-lock.json (npm package pyodide@0.28.3;
# xlwings Lite runs Pyodide >= 0.28: xlwings 0.37.8 handles 0.28's JsNull for Lite). Only the names our base
# dependencies and theirs need are kept here.
PYODIDE_0_28_3 = {"numpy": "2.2.5", "scipy": "1.14.1", "pandas": "2.3.1", "statsmodels": "0.14.4",
                  "matplotlib": "3.8.4", "tqdm": "4.67.1", "python-dateutil": "2.9.0.post0", "pytz": "2025.2",
                  "patsy": "1.0.1", "packaging": "24.2", "six": "1.17.0"}
# Provided by the xlwings Lite add-in itself, at the version the workbook's requirements.txt names: a dependency
# may name it, but not pin it to another version.
LITE_RUNTIME = {"xlwings"}


def _base_requirements(metadata: str) -> list[Requirement]:
    requirements = [Requirement(line.split(":", 1)[1].strip()) for line in metadata.splitlines()
                    if line.startswith("Requires-Dist:")]
    return [r for r in requirements if r.marker is None or not re.search(r"\bextra\b", str(r.marker))]


def _pure_python(name: str, seen: set) -> bool:
    """Installed here as a pure-Python wheel (micropip can install it from PyPI), and so are its own base
    dependencies (outside Pyodide's list)."""
    if name in seen or name in PYODIDE_0_28_3:
        return True
    seen.add(name)
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return False
    wheel = dist.read_text("WHEEL") or ""
    tags = re.findall(r"^Tag: (\S+)$", wheel, re.M)
    if "Root-Is-Purelib: true" not in wheel or not tags or not all(t.endswith("-none-any") for t in tags):
        return False
    return all(_pure_python(canonicalize_name(r.name), seen) for r in map(Requirement, dist.requires or [])
               if r.marker is None or r.marker.evaluate({"extra": "", "sys_platform": "emscripten",
                                                         "platform_system": "Emscripten"}))


def lite_problem(requirement: Requirement) -> str | None:
    """Why Lite could not install this base dependency, or None."""
    name = canonicalize_name(requirement.name)
    if name in PYODIDE_0_28_3:
        provided = Version(PYODIDE_0_28_3[name])
        return None if requirement.specifier.contains(provided, prereleases=True) else \
            f"{requirement} excludes Pyodide's {name} {provided}"
    if name in LITE_RUNTIME:
        pinned = [s for s in requirement.specifier if s.operator in ("==", "===")]
        return f"{requirement} pins the version the Lite add-in provides" if pinned else None
    return None if _pure_python(name, set()) else f"{requirement} is neither in Pyodide nor pure Python"


def _backend_available() -> str | None:
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            if not requirement.specifier.contains(version(requirement.name)):
                return f"{requirement.name} {version(requirement.name)} installed"
        except PackageNotFoundError:
            return f"{requirement.name} not installed"
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    missing = _backend_available()
    if missing:
        pytest.skip(f"building offline needs the build backend pyproject names "
                    f"({', '.join(PYPROJECT['build-system']['requires'])}); {missing}")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "xlatsm", src / "xlatsm", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "-w", str(dist), str(src)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_is_pure_python(wheel):
    assert wheel.name == f"xlatsm-{PYPROJECT['project']['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert "Root-Is-Purelib: true" in info and re.findall(r"^Tag: (\S+)$", info, re.M) == ["py3-none-any"]
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll", ".dylib"))]
    assert "xlatsm/excel/lite.py" in names and "xlatsm/excel/core.py" in names   # the plugin is in it


def test_the_wheels_base_dependencies_are_ones_lite_can_install(wheel):
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    base = _base_requirements(metadata)
    assert {canonicalize_name(r.name) for r in base} >= {"numpy", "scipy", "pandas", "statsmodels"}
    assert not any(canonicalize_name(r.name) in ("numba", "dask", "distributed") for r in base)   # extras only
    problems = [p for p in map(lite_problem, base) if p]
    assert problems == []


def test_the_rule_itself():
    """lite_problem tells the cases apart (the rule above is not vacuous)."""
    assert lite_problem(Requirement("numpy>=1.24")) is None
    assert "excludes" in lite_problem(Requirement("numpy>=3"))
    assert lite_problem(Requirement("xlwings>=0.33")) is None
    assert "pins" in lite_problem(Requirement("xlwings==0.37.8"))
    assert lite_problem(Requirement("openpyxl==3.1.5")) is None          # pure Python: micropip installs it
    assert "neither" in lite_problem(Requirement("numba>=0.59"))          # compiled, not in Pyodide
