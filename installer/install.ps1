# xlatsm installer for Windows: no admin rights, nothing installed system-wide, safe to run again.
#
#   powershell -ExecutionPolicy Bypass -File installer\install.ps1           # from a clone: this checkout
#   powershell -ExecutionPolicy Bypass -File install.ps1 -Wheel .\xlatsm-0.1.0-py3-none-any.whl
#   powershell -ExecutionPolicy Bypass -File installer\install.ps1 -NoTrustedLocation
#
# 1. a Python >= 3.10: the py launcher / python on PATH, else a private one installed by uv into the install folder
# 2. a private virtual environment in %LOCALAPPDATA%\xlatsm\venv with xlatsm: the wheel given or beside this
#    script, else the checkout this script belongs to, else the package index
# 3. "xlatsm install": the workbook into Documents\xlatsm, pointed at that environment (the workbook's
#    xlwings.conf sheet says %LOCALAPPDATA%\xlatsm\venv\Scripts\pythonw.exe), and the folder added as a per-user
#    Excel Trusted Location (skip with -NoTrustedLocation)
# If any step fails, what this run created is removed again (an environment that was there before is kept).
param(
    [string]$Wheel = "",
    [string]$Base = "$env:LOCALAPPDATA\xlatsm",
    [switch]$NoTrustedLocation
)
$ErrorActionPreference = "Stop"

function Find-Python {
    foreach ($candidate in @(@("py", "-3"), @("python"))) {
        $exe = $candidate[0]
        if (Get-Command $exe -ErrorAction SilentlyContinue) {
            $pyArgs = @($candidate | Select-Object -Skip 1) + @("-c", "import sys; print(sys.version_info >= (3, 10))")
            $ok = & $exe @pyArgs 2>$null
            if ($ok -eq "True") { return ,$candidate }   # the comma keeps a one-element array an array
        }
    }
    return $null
}

function Invoke-Checked {
    param([string]$Exe, [string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($NoTrustedLocation) { $env:XLATSM_TRUSTED_LOCATION = "0" }
$venv = "$Base\venv"
$createdBase = -not (Test-Path $Base)
$createdVenv = -not (Test-Path "$venv\Scripts\python.exe")
$installed = $false
try {
    New-Item -ItemType Directory -Force -Path $Base | Out-Null
    $python = Find-Python
    if (-not $python) {
        Write-Host "No Python 3.10+ found: installing a private Python with uv (per user, no admin rights)..."
        $env:UV_INSTALL_DIR = "$Base\uv"
        powershell -ExecutionPolicy Bypass -c "irm https://astral.sh/uv/install.ps1 | iex"
        Invoke-Checked "$Base\uv\uv.exe" @("python", "install", "3.11")
        $python = @("$Base\uv\uv.exe", "run", "--python", "3.11", "python")
    }
    if ($createdVenv) {
        Write-Host "Creating the environment in $venv ..."
        Invoke-Checked $python[0] (@($python | Select-Object -Skip 1) + @("-m", "venv", $venv))
    }
    $py = "$venv\Scripts\python.exe"
    Invoke-Checked $py @("-m", "pip", "install", "--quiet", "--upgrade", "pip")
    if ($Wheel -eq "") {
        $local = Get-ChildItem -Path $PSScriptRoot -Filter "xlatsm-*.whl" -ErrorAction SilentlyContinue |
            Select-Object -Last 1
        if ($local) { $Wheel = $local.FullName }
    }
    $sourceDir = Split-Path -Parent $PSScriptRoot
    if ($Wheel -ne "") {
        Invoke-Checked $py @("-m", "pip", "install", "--quiet", "--upgrade", ($Wheel + "[excel]"))
    } elseif ((Test-Path "$sourceDir\pyproject.toml") -and
              (Select-String -Path "$sourceDir\pyproject.toml" -Pattern '^name = "xlatsm"' -Quiet)) {
        Write-Host "Installing xlatsm from $sourceDir ..."
        Invoke-Checked $py @("-m", "pip", "install", "--quiet", "--upgrade", ($sourceDir + "[excel]"))
    } else {
        Invoke-Checked $py @("-m", "pip", "install", "--quiet", "--upgrade", "xlatsm[excel]")
    }
    $installed = $true
    Invoke-Checked "$venv\Scripts\xlatsm.exe" @("install")
} catch {
    Write-Host "xlatsm: installation failed ($_); removing what this run created..." -ForegroundColor Red
    if ($installed -and (Test-Path "$venv\Scripts\xlatsm.exe")) { & "$venv\Scripts\xlatsm.exe" uninstall }
    if ($createdBase) { Remove-Item -Recurse -Force $Base -ErrorAction SilentlyContinue }
    elseif ($createdVenv) { Remove-Item -Recurse -Force $venv -ErrorAction SilentlyContinue }
    exit 1
}
Write-Host ""
Write-Host "Done. Open Documents\xlatsm\xlatsm.xlsm and press Refit on the xlatsm tab."
Write-Host "To remove everything: powershell -ExecutionPolicy Bypass -File uninstall.ps1"
