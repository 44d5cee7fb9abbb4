"""Fits cached by a hash of their inputs and options, and short handles that name them in cells.

A sheet asks many blocks of one fit (``=ATSM_FIT(A1:K300,,,"K1_P")``, ``...,"factors")`` ...): the first call fits,
the others find the fit here. Two levels, so that a recalculation costs almost nothing:

* the *raw* key hashes the cell values exactly as xlwings handed them over, plus the options. It is looked up
  before any parsing (the data layer's range parsing is a per-cell pass with many rules), and the laid-out
  blocks of each output are kept with it, so a recalculated block is a hash and a dictionary look-up;
* the *fit* key hashes the parsed panel (numbers, labels, dates) and the options. Two ranges that read the same
  (say, one with blank rows selected below the data) share one fit and one handle.

A handle such as ``ATSM#3f9a1c`` is the first hex digits of the fit key, so the same inputs always give the same
handle, and a handle from an earlier Excel session is recognised as stale.

Thread safety: xlwings may call UDFs from several threads (``async_mode``), so every change to the store happens
under one lock, and a fit in progress holds a per-key lock that other callers of the same key wait on (one fit,
never two).
"""
from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from typing import Any, Callable

from ..errors import StaleHandleError

MAX_FITS = 32
MAX_RAW = 256


def raw_key(kind: str, cells: Any, options: dict) -> str:
    """Hash of the raw cell values and options, computed without parsing a cell."""
    digest = hashlib.sha1(kind.encode())
    try:
        digest.update(pickle.dumps(cells, protocol=5))
    except Exception:  # noqa: BLE001 - an odd cell type: fall back to its text
        digest.update(repr(cells).encode())
    digest.update(repr(sorted(options.items())).encode())
    return digest.hexdigest()


def frame_key(kind: str, frame, options: dict) -> str:
    """Hash of a parsed panel (values as bytes, labels, dates as int64 nanoseconds) and options."""
    import numpy as np
    import pandas as pd

    digest = hashlib.sha1(kind.encode())
    digest.update(np.ascontiguousarray(frame.to_numpy(dtype=float)).tobytes())
    digest.update(repr([str(c) for c in frame.columns]).encode())
    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        digest.update(index.asi8.tobytes())
    else:
        digest.update(repr([str(i) for i in index]).encode())
    digest.update(repr(sorted(options.items())).encode())
    return digest.hexdigest()


class FitCache:
    """An LRU store of fitted results keyed by input hash, with a counter of the fits actually run."""

    def __init__(self, max_fits: int = MAX_FITS):
        self.max_fits = max_fits
        self._store: OrderedDict[str, Any] = OrderedDict()       # fit key -> result
        self._raw: OrderedDict[str, tuple[str, dict]] = OrderedDict()   # raw key -> (fit key, {output: block})
        self._lock = threading.RLock()
        self._fitting: dict[str, threading.Lock] = {}
        self._outputs: dict[str, Any] = {}   # fit key -> its block makers (built once: matrix logs and all)
        self._kinds: dict[str, str] = {}     # fit key -> the kind it was made as (ATSM, LGSSM)
        self.fits_run = 0

    key = staticmethod(frame_key)

    @staticmethod
    def handle(kind: str, key: str) -> str:
        return f"{kind}#{key[:6]}"

    # -- raw level ------------------------------------------------------------------------------------------
    def block(self, raw: str, output: str) -> Any:
        """The laid-out block ``output`` of the fit found under raw key ``raw``, or None."""
        with self._lock:
            entry = self._raw.get(raw)
            if entry is None or entry[0] not in self._store:
                return None
            self._raw.move_to_end(raw)
            self._store.move_to_end(entry[0])
            return entry[1].get(output)

    def result_for_raw(self, raw: str) -> tuple[Any, str] | None:
        with self._lock:
            entry = self._raw.get(raw)
            if entry is None or entry[0] not in self._store:
                return None
            return self._store[entry[0]], entry[0]

    def remember(self, raw: str, key: str, output: str | None = None, block: Any = None) -> None:
        with self._lock:
            entry = self._raw.get(raw)
            if entry is None or entry[0] != key:
                entry = (key, {})
                self._raw[raw] = entry
            if output is not None:
                entry[1][output] = block
            self._raw.move_to_end(raw)
            while len(self._raw) > MAX_RAW:
                self._raw.popitem(last=False)

    def outputs(self, key: str, make: Callable[[], Any]) -> Any:
        """The block makers of the fit under ``key``, made once per fit (``make`` builds them)."""
        with self._lock:
            found = self._outputs.get(key)
        if found is None:
            found = make()
            with self._lock:
                if key in self._store:
                    found = self._outputs.setdefault(key, found)
        return found

    # -- fit level ------------------------------------------------------------------------------------------
    def get_or_fit(self, kind: str, frame, options: dict, fit: Callable[[], Any]) -> tuple[Any, str]:
        result, key = self.get_or_fit_key(kind, frame, options, fit)
        return result, self.handle(kind, key)

    def get_or_fit_key(self, kind: str, frame, options: dict, fit: Callable[[], Any]) -> tuple[Any, str]:
        key = self.key(kind, frame, options)
        with self._lock:
            if key in self._store:
                self._store.move_to_end(key)
                return self._store[key], key
            pending = self._fitting.setdefault(key, threading.Lock())
        with pending:   # one fit per key: other threads asking for it wait here, then find it stored
            with self._lock:
                if key in self._store:
                    self._store.move_to_end(key)
                    return self._store[key], key
            result = fit()
            with self._lock:
                self.fits_run += 1
                self._store[key] = result
                self._kinds[key] = kind
                self._fitting.pop(key, None)
                while len(self._store) > self.max_fits:
                    dropped = self._store.popitem(last=False)[0]
                    self._outputs.pop(dropped, None)
                    self._kinds.pop(dropped, None)
        return result, key

    def lookup(self, handle: str) -> Any:
        return self.lookup_key(handle)[0]

    def lookup_key(self, handle: str) -> tuple[Any, str]:
        """The fit a handle names and its fit key."""
        text = str(handle).strip()
        if "#" not in text:
            raise StaleHandleError(f"{text!r} is not a model handle: pass the cell holding ATSM_FIT(..., \"handle\") "
                                   "or LGSSM_EM(..., \"handle\"), e.g. ATSM#3f9a1c")
        kind, prefix = text.split("#", 1)
        with self._lock:
            for key in reversed(self._store):
                if key.startswith(prefix.lower()) and self.handle(kind, key) == text:
                    made_as = self._kinds.get(key, kind)
                    # the kind is part of the key's hash, so a handle whose kind was edited names no fit
                    if made_as.upper() != kind.upper():
                        raise StaleHandleError(f"{text} is not a handle xlatsm made: the fit {made_as}#{prefix} is "
                                               f"{'an' if made_as[0] in 'AEIOU' else 'a'} {made_as} model; point "
                                               "the argument at the cell holding the handle instead of typing it")
                    return self._store[key], key
        raise StaleHandleError(f"model {text} is no longer in memory (Excel or Python restarted, or too many fits "
                               "since): recalculate the cell that made it (Ctrl+Alt+F9)")

    def clear(self) -> None:
        with self._lock:
            self._store.clear()
            self._raw.clear()
            self._fitting.clear()
            self._outputs.clear()
            self._kinds.clear()
            self.fits_run = 0


CACHE = FitCache()
