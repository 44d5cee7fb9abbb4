#!/usr/bin/env bash
# xlatsm installer for macOS (and Linux): no admin rights, nothing installed system-wide, safe to run again.
#
#   bash install.sh                       # from the package index
#   bash install.sh xlatsm-0.1.0-py3-none-any.whl
#
# 1. a Python >= 3.10: python3 on PATH, else a private one installed by uv into ~/.local
# 2. a private virtual environment in ~/Library/Application Support/xlatsm/venv (Linux: ~/.local/share/xlatsm)
# 3. "xlatsm install": the workbook into ~/Documents/xlatsm, with xlwings.conf pointing Excel at that environment
# Note: on macOS xlwings runs the Refit button (RunPython); worksheet UDF formulas need Excel for Windows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(uname)" = "Darwin" ]; then base="${XLATSM_BASE:-$HOME/Library/Application Support/xlatsm}"; else
  base="${XLATSM_BASE:-$HOME/.local/share/xlatsm}"; fi
wheel="${1:-}"
if [ -z "$wheel" ]; then wheel="$(ls "$here"/xlatsm-*.whl 2>/dev/null | tail -n 1 || true)"; fi

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

venv="$base/venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "Creating the environment in $venv ..."
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
if [ -n "$wheel" ]; then "$venv/bin/python" -m pip install --quiet --upgrade "$wheel"
else "$venv/bin/python" -m pip install --quiet --upgrade xlatsm; fi
"$venv/bin/xlatsm" install
echo
echo "Done. Open ~/Documents/xlatsm/xlatsm.xlsm, enable macros, and press Refit on the xlatsm tab."
echo "To remove everything: bash \"$here/uninstall.sh\""
