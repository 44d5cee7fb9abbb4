# Remove what install.ps1 set up. A workbook you changed is kept.
param([string]$Base = "$env:LOCALAPPDATA\xlatsm")
$ErrorActionPreference = "Stop"
if (Test-Path "$Base\venv\Scripts\xlatsm.exe") { & "$Base\venv\Scripts\xlatsm.exe" uninstall }
if (Test-Path $Base) { Remove-Item -Recurse -Force $Base }
Write-Host "xlatsm removed."
