"""Typed errors and warnings raised by xlatsm.

Every message says what is wrong *and* how to fix it, because the Excel layer shows it verbatim in a cell
(prefixed with ``#xlatsm:``).
"""
from __future__ import annotations


class XlatsmError(Exception):
    """Base class of every error xlatsm raises on purpose."""


class InputError(XlatsmError, ValueError):
    """The data or an option handed to xlatsm cannot be used as given (bad cell, wrong shape, unknown name)."""


class ModelError(XlatsmError, ValueError):
    """Parameters that do not define a valid model (non-stationary, not positive definite, wrong shapes)."""


class EstimationError(XlatsmError, RuntimeError):
    """The estimation broke down numerically (e.g. a singular moment matrix); the message says what to try."""


class StaleHandleError(XlatsmError, KeyError):
    """A fit handle such as ``ATSM#3f9a1c`` is not (or no longer) in the cache, e.g. after Excel restarted."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at ``max_iter`` before meeting its tolerance; ``result.converged`` is False."""
