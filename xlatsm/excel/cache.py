"""Fits cached by a hash of their inputs and options, and short handles that name them in cells.

A sheet asks many blocks of one fit (``=ATSM_FIT(A1:K300,,,"K1_P")``, ``...,"factors")`` ...): the first call fits,
the others find the fit here. A handle such as ``ATSM#3f9a1c`` is the first hex digits of the same hash, so the
same inputs always give the same handle, and a handle from an earlier Excel session is recognised as stale.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import StaleHandleError

MAX_FITS = 32


class FitCache:
    """An LRU store of fitted results keyed by input hash, with a counter of the fits actually run."""

    def __init__(self, max_fits: int = MAX_FITS):
        self.max_fits = max_fits
        self._store: OrderedDict[str, Any] = OrderedDict()
        self.fits_run = 0

    @staticmethod
    def key(kind: str, frame: pd.DataFrame, options: dict) -> str:
        digest = hashlib.sha1()
        digest.update(kind.encode())
        digest.update(np.ascontiguousarray(frame.to_numpy(dtype=float)).tobytes())
        digest.update(repr([str(c) for c in frame.columns]).encode())
        digest.update(repr([str(i) for i in frame.index]).encode())
        digest.update(repr(sorted(options.items())).encode())
        return digest.hexdigest()

    @staticmethod
    def handle(kind: str, key: str) -> str:
        return f"{kind}#{key[:6]}"

    def get_or_fit(self, kind: str, frame: pd.DataFrame, options: dict, fit: Callable[[], Any]) -> tuple[Any, str]:
        key = self.key(kind, frame, options)
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key], self.handle(kind, key)
        result = fit()
        self.fits_run += 1
        self._store[key] = result
        while len(self._store) > self.max_fits:
            self._store.popitem(last=False)
        return result, self.handle(kind, key)

    def lookup(self, handle: str) -> Any:
        text = str(handle).strip()
        if "#" not in text:
            raise StaleHandleError(f"{text!r} is not a model handle: pass the cell holding ATSM_FIT(..., \"handle\") "
                                   "or LGSSM_EM(..., \"handle\"), e.g. ATSM#3f9a1c")
        kind, prefix = text.split("#", 1)
        for key in reversed(self._store):
            if key.startswith(prefix.lower()) and self.handle(kind, key) == text:
                return self._store[key]
        raise StaleHandleError(f"model {text} is no longer in memory (Excel or Python restarted, or too many fits "
                               "since): recalculate the cell that made it (Ctrl+Alt+F9)")

    def clear(self) -> None:
        self._store.clear()
        self.fits_run = 0


CACHE = FitCache()
