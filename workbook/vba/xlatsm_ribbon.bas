Attribute VB_Name = "xlatsm_ribbon"
' xlatsm ribbon callbacks. Excel calls an onAction callback with the pressed control, so the signature must be
' (control As IRibbonControl); the work itself is Python, run through xlwings' RunPython.
Option Explicit

Sub XlatsmRefit(control As IRibbonControl)
    RunPython "import xlatsm.excel.refit as refit; refit.refit()"
End Sub

' The same, for a button on a sheet or Alt+F8.
Sub XlatsmRefitMacro()
    RunPython "import xlatsm.excel.refit as refit; refit.refit()"
End Sub
