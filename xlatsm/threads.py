"""How many threads the linear algebra (BLAS/LAPACK) may use while xlatsm fits.

xlatsm's matrices are small (N <= 10 factors, rarely more than 30 maturities; the LGSSM works in the k-dimensional
factor space), so a multi-threaded BLAS gains nothing and loses much: its threads spin-wait for work, and on a
machine with other work running (Excel, a second fit, a CI job) they compete for the same cores. Measured on a
2-core machine under load (``benchmarks/run.py`` prints the same comparison): the Liu-Wu LGSSM (739 x 360, k = 3)
took 10.6 s with OpenBLAS's default threads and 4.5 s with one; a jsz fit of the embedded sample 0.56 s against
0.19 s, a kalman fit 0.52 s against 0.25 s.

So the public fitting functions run with one BLAS thread (:func:`single_blas_thread`), through ``threadpoolctl``
(the scikit-learn project's library for this). ``XLATSM_BLAS_THREADS`` overrides it: a number of threads, or
``all`` to leave the library's own setting alone. Where threadpoolctl is missing or cannot inspect the process
(e.g. Pyodide), nothing changes; the numbers are the same either way.
"""
from __future__ import annotations

import functools
import os
from contextlib import contextmanager, nullcontext

ENV = "XLATSM_BLAS_THREADS"


def blas_thread_limit() -> int | None:
    """The BLAS thread limit to apply (``None``: leave it alone), from ``XLATSM_BLAS_THREADS`` (default 1)."""
    value = os.environ.get(ENV, "1").strip().lower()
    if value in ("", "all", "none", "0"):
        return None
    try:
        return min(max(1, int(value)), os.cpu_count() or 1)   # more threads than cores only spin
    except ValueError:
        return 1


@contextmanager
def blas_threads(limit: int | None = None):
    """Run the block with at most ``limit`` BLAS threads (default :func:`blas_thread_limit`)."""
    limit = blas_thread_limit() if limit is None else limit
    context = nullcontext()
    if limit is not None:
        try:
            import scipy.linalg  # noqa: F401 - scipy's own BLAS must be loaded to be limited
            from threadpoolctl import threadpool_limits

            context = threadpool_limits(limits=limit, user_api="blas")
        except Exception:  # noqa: BLE001 - no threadpoolctl, or a runtime it cannot inspect: change nothing
            context = nullcontext()
    with context:
        yield


def single_blas_thread(f):
    """Decorator: ``f`` runs inside :func:`blas_threads` (module docstring)."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return f(*args, **kwargs)
    return wrapper
