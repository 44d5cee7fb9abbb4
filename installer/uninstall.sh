#!/usr/bin/env bash
# Remove what install.sh set up. A workbook you changed is kept.
set -euo pipefail
if [ "$(uname)" = "Darwin" ]; then base="${XLATSM_BASE:-$HOME/Library/Application Support/xlatsm}"; else
  base="${XLATSM_BASE:-$HOME/.local/share/xlatsm}"; fi
if [ -x "$base/venv/bin/xlatsm" ]; then "$base/venv/bin/xlatsm" uninstall; fi
rm -rf "$base"
echo "xlatsm removed."
