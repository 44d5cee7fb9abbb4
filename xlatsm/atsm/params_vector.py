"""Packing the identified ATSM parameters into the unconstrained vectors the optimisers work on.

Q-eigenvalues: ``lambda_1 = 1 - exp(s)`` (below one); pair centres ``m`` and spreads ``d`` free (real, repeated and
complex roots alike); covariance factors by their Cholesky entries with log diagonals;
measurement error standard deviations by their logs.
"""
from __future__ import annotations

import numpy as np


def q_to_free(q_coefs: np.ndarray) -> np.ndarray:
    """lambda_1 -> log(1 - lambda_1) (kept below one); pair spreads d in units of 1e-3 for the optimiser's scale."""
    q = np.asarray(q_coefs, float).copy()
    q[0] = np.log(1.0 - q[0])
    q[2::2] = q[2::2] * 1e3
    return q


def free_to_q(free: np.ndarray) -> np.ndarray:
    q = np.asarray(free, float).copy()
    q[0] = 1.0 - np.exp(q[0])
    q[2::2] = q[2::2] * 1e-3
    return q


def chol_to_free(L: np.ndarray) -> np.ndarray:
    L = np.array(L, float)
    L[np.diag_indices_from(L)] = np.log(np.abs(np.diag(L)))
    return L[np.tril_indices_from(L)]


def free_to_chol(free: np.ndarray, N: int) -> np.ndarray:
    L = np.zeros((N, N))
    L[np.tril_indices(N)] = free
    L[np.diag_indices(N)] = np.exp(np.diag(L))
    return L


def n_chol(N: int) -> int:
    return N * (N + 1) // 2
