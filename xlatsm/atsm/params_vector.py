"""Packing the identified ATSM parameters into the unconstrained vectors the optimisers work on.

Q-eigenvalues: ``lambda_1``, the pair centres ``m`` and spreads ``d`` free (real, repeated and complex roots alike;
no root is bounded, so the search never creeps towards a bound: a unit or explosive root is reported by the
``explosive_q`` flag instead); covariance factors by their Cholesky entries with log diagonals.
"""
from __future__ import annotations

import numpy as np


def q_to_free(q_coefs: np.ndarray) -> np.ndarray:
    """Pair spreads d in units of 1e-3 (typical spreads are 1e-4..1e-2); lambda_1 and the centres as they are."""
    q = np.asarray(q_coefs, float).copy()
    q[2::2] = q[2::2] * 1e3
    return q


def free_to_q(free: np.ndarray) -> np.ndarray:
    q = np.asarray(free, float).copy()
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
