#!/usr/bin/env bash
# xlatsm installer for macOS (and Linux): no admin rights, nothing installed system-wide, safe to run again.
#
#   bash installer/install.sh                      # from a clone: builds and installs this checkout
#   bash install.sh xlatsm-0.1.0-py3-none-any.whl  # a wheel (also picked up when it lies beside this script)
#   bash install.sh --no-trusted-location          # (Windows only feature; accepted here for symmetry)
#
# 1. a Python >= 3.10: python3 on PATH, else a private one installed by uv into the install folder
# 2. a private virtual environment in ~/Library/Application Support/xlatsm/venv (Linux: ~/.local/share/xlatsm)
#    with xlatsm: the wheel given or beside this script, else the checkout this script belongs to, else the
#    package index
# 3. "xlatsm install": the workbook into ~/Documents/xlatsm, pointed at that environment
# If any step fails, what this run created is removed again (an environment that was there before is kept).
# Note: on macOS xlwings runs the Refit button (RunPython); worksheet UDF formulas need Excel for Windows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(uname)" = "Darwin" ]; then base="${XLATSM_BASE:-$HOME/Library/Application Support/xlatsm}"; else
  base="${XLATSM_BASE:-$HOME/.local/share/xlatsm}"; fi
wheel=""
for arg in "$@"; do
  case "$arg" in
    --no-trusted-location) export XLATSM_TRUSTED_LOCATION=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) wheel="$arg" ;;
  esac
done
if [ -z "$wheel" ]; then wheel="$(ls "$here"/xlatsm-*.whl 2>/dev/null | tail -n 1 || true)"; fi
source_dir=""
if [ -z "$wheel" ] && [ -f "$here/../pyproject.toml" ] && grep -q '^name = "xlatsm"' "$here/../pyproject.toml"; then
  source_dir="$(cd "$here/.." && pwd)"
fi

# roll back on failure: remove what this run created, keep what was there before
created_base=0; created_venv=0; installed=0
[ -d "$base" ] || created_base=1
venv="$base/venv"
[ -x "$venv/bin/python" ] || created_venv=1
rollback() {
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "xlatsm: installation failed (exit $status); removing what this run created..." >&2
    if [ "$installed" = 1 ] && [ -x "$venv/bin/xlatsm" ]; then "$venv/bin/xlatsm" uninstall >&2 || true; fi
    if [ "$created_base" = 1 ]; then rm -rf "$base"
    elif [ "$created_venv" = 1 ]; then rm -rf "$venv"; fi
  fi
  exit "$status"
}
trap rollback EXIT

python=""
if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  python="python3"
fi
mkdir -p "$base"
if [ -z "$python" ]; then
  echo "No Python 3.10+ found: installing a private Python with uv (per user, no admin rights)..."
  export UV_INSTALL_DIR="$base/uv"
  curl -LsSf https://astral.sh/uv/install.sh | sh
  "$base/uv/uv" python install 3.11
  python="$("$base/uv/uv" python find 3.11)"
fi

if [ "$created_venv" = 1 ]; then
  echo "Creating the environment in $venv ..."
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
if [ -n "$wheel" ]; then
  echo "Installing $wheel ..."
  "$venv/bin/python" -m pip install --quiet --upgrade "$wheel[excel]"
elif [ -n "$source_dir" ]; then
  echo "Installing xlatsm from $source_dir ..."
  "$venv/bin/python" -m pip install --quiet --upgrade "$source_dir[excel]"
else
  "$venv/bin/python" -m pip install --quiet --upgrade "xlatsm[excel]"
fi
installed=1
"$venv/bin/xlatsm" install
echo
echo "Done. Open ~/Documents/xlatsm/xlatsm.xlsm, enable macros, and press Refit on the xlatsm tab."
echo "To remove everything: bash \"$here/uninstall.sh\""
