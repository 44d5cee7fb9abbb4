"""Excel layer: conversion and layout only. The spreadsheet functions live once in ``core`` (cell conventions of
both runtimes read by ``convert``, blocks laid out by ``layout``, fits kept by ``cache``); ``udfs`` declares them
to classic xlwings (replayable declarations in ``declare``, the workbook's VBA is generated from them) and
``lite`` to xlwings Lite; ``refit`` is the Refit button's and the Lite Refit script's logic."""
