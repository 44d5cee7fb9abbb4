"""The fitting functions run with one BLAS thread (xlatsm/threads.py); the override works and the numbers do not
depend on it."""
import numpy as np
import pytest

import xlatsm
from xlatsm.threads import ENV, blas_thread_limit, blas_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads_now() -> list[int]:
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]


def test_the_limit_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert blas_thread_limit() == 1
    for value in ("all", "0", ""):
        monkeypatch.setenv(ENV, value)
        assert blas_thread_limit() is None
    monkeypatch.setenv(ENV, "100000")                     # never more threads than cores
    assert 1 <= blas_thread_limit() <= __import__("os").cpu_count()
    monkeypatch.setenv(ENV, "two")
    assert blas_thread_limit() == 1


def test_fits_run_with_one_blas_thread_and_give_the_same_numbers(monkeypatch):
    import scipy.linalg  # noqa: F401 - load scipy's BLAS as well, so both libraries are seen

    seen = []
    from xlatsm.atsm import estimate

    original = estimate.fit_atsm

    def spy(*args, **kwargs):
        seen.append(_blas_threads_now())
        return original(*args, **kwargs)

    monkeypatch.setattr(estimate, "fit_atsm", spy)
    panel = xlatsm.load_sample().iloc[:120]
    monkeypatch.delenv(ENV, raising=False)
    one = xlatsm.fit_atsm(panel, method="jsz")
    assert seen and seen[-1] and all(n == 1 for n in seen[-1]), seen
    monkeypatch.setenv(ENV, "all")
    default = xlatsm.fit_atsm(panel, method="jsz")
    before = _blas_threads_now()
    assert seen[-1] == before                           # "all": the library's own setting, untouched
    np.testing.assert_allclose(one.loglik, default.loglik, rtol=1e-12)
    np.testing.assert_allclose(one.term_premium.to_numpy(), default.term_premium.to_numpy(), atol=1e-10)
    with blas_threads(1):
        assert all(n == 1 for n in _blas_threads_now())
    assert _blas_threads_now() == before                # restored on the way out
