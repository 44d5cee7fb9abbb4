# xlatsm installer for Windows: no admin rights, nothing installed system-wide, safe to run again.
#
#   powershell -ExecutionPolicy Bypass -File install.ps1            # from the package index
#   powershell -ExecutionPolicy Bypass -File install.ps1 -Wheel .\xlatsm-0.1.0-py3-none-any.whl
#
# 1. a Python >= 3.10: the one on PATH / the py launcher, else a private one installed by uv into the user profile
# 2. a private virtual environment in %LOCALAPPDATA%\xlatsm\venv with xlatsm (the wheel beside this script if any)
# 3. "xlatsm install": the workbook into Documents\xlatsm, with xlwings.conf pointing Excel at that environment
param(
    [string]$Wheel = "",
    [string]$Base = "$env:LOCALAPPDATA\xlatsm"
)
$ErrorActionPreference = "Stop"

function Find-Python {
    foreach ($candidate in @(@("py", "-3"), @("python"))) {
        $exe = $candidate[0]
        if (Get-Command $exe -ErrorAction SilentlyContinue) {
            $args = @($candidate | Select-Object -Skip 1) + @("-c", "import sys; print(sys.version_info >= (3, 10))")
            $ok = & $exe @args 2>$null
            if ($ok -eq "True") { return $candidate }
        }
    }
    return $null
}

New-Item -ItemType Directory -Force -Path $Base | Out-Null
$python = Find-Python
if (-not $python) {
    Write-Host "No Python 3.10+ found: installing a private Python with uv (per user, no admin rights)..."
    $env:UV_INSTALL_DIR = "$Base\uv"
    powershell -ExecutionPolicy Bypass -c "irm https://astral.sh/uv/install.ps1 | iex"
    & "$Base\uv\uv.exe" python install 3.11
    $python = @("$Base\uv\uv.exe", "run", "--python", "3.11", "python")
}

$venv = "$Base\venv"
if (-not (Test-Path "$venv\Scripts\python.exe")) {
    Write-Host "Creating the environment in $venv ..."
    $exe = $python[0]; $rest = @($python | Select-Object -Skip 1)
    & $exe @rest -m venv $venv
}
$pip = "$venv\Scripts\python.exe"
& $pip -m pip install --upgrade pip | Out-Null
if ($Wheel -eq "") {
    $local = Get-ChildItem -Path $PSScriptRoot -Filter "xlatsm-*.whl" -ErrorAction SilentlyContinue | Select-Object -Last 1
    if ($local) { $Wheel = $local.FullName }
}
if ($Wheel -ne "") { & $pip -m pip install --upgrade $Wheel } else { & $pip -m pip install --upgrade xlatsm }
& "$venv\Scripts\xlatsm.exe" install
Write-Host ""
Write-Host "Done. Open Documents\xlatsm\xlatsm.xlsm, enable macros, and press Refit on the xlatsm tab."
Write-Host "To remove everything: powershell -ExecutionPolicy Bypass -File uninstall.ps1"
