"""Excel layer: conversion and layout only. UDFs (xlwings) in ``udfs``, blocks in ``layout``, the fit cache in
``cache``, the replayable xlwings declarations in ``declare``."""
