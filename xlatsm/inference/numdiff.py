r"""Observed information, its inverse and delta-method Jacobians, all in *whitened* coordinates.

The parameters of a yield-curve likelihood differ in curvature by many orders of magnitude (a Q-eigenvalue is pinned
to ~1e-6, a Cholesky entry to ~1e-2), so a Hessian taken with one step size for every coordinate is either noise
or truncation error somewhere, and its inverse is as ill-conditioned as the parameters are correlated. Here every
derivative is taken along the columns of a matrix ``T`` with ``T' H0 T = I`` for a first, rougher curvature
``H0``: a unit step is then about one standard error in every direction, whatever the units, and the refined
information in those coordinates, ``H_u = T' H T``, is close to the identity, so inverting it loses nothing.

``Information`` keeps ``(T, H_u)``; the covariance of the estimates is ``T H_u^-1 T'``, and
:meth:`Information.factor` is a matrix ``F`` with ``F F' = H^-1``, along whose columns the delta method
differentiates any function of the parameters (``Cov g = J_F J_F'``, ``J_F = dg/du`` with ``theta = theta_hat +
F u``): no Jacobian in the original, badly scaled coordinates is ever formed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..atsm.optim import curvature_steps, fd_hessian

__all__ = ["Information", "information_from_values", "information_from_score", "whitened_jacobian",
           "positive_factor"]

#: the step of the refining differences, in standard errors (central differences: truncation error O(step^2))
WHITENED_STEP = 0.2


def positive_factor(H: np.ndarray, rel_floor: float = 1e-12) -> tuple[np.ndarray, float]:
    """(T, smallest eigenvalue / largest) with ``T' |H| T = I`` (eigenvalues made positive and floored relative
    to the largest, so T exists even where H is not positive definite; the ratio says whether it was)."""
    H = 0.5 * (H + H.T)
    if not np.all(np.isfinite(H)):
        raise FloatingPointError("the information matrix is not finite")
    lam, V = np.linalg.eigh(H)
    top = max(float(np.max(np.abs(lam))), 1e-300)
    ratio = float(lam[0] / top)
    lam = np.maximum(np.abs(lam), rel_floor * top)
    return V / np.sqrt(lam), ratio


@dataclass
class Information:
    """The observed information ``H = -d^2 loglik / dtheta^2`` held as ``T`` and ``H_u = T' H T`` (module doc)."""

    theta: np.ndarray
    T: np.ndarray
    H_u: np.ndarray

    @property
    def positive_definite(self) -> bool:
        """True when the information is positive definite (the estimate is a strict local maximum) and its
        condition in whitened coordinates is below 1e10."""
        lam = np.linalg.eigvalsh(0.5 * (self.H_u + self.H_u.T))
        return bool(lam[0] > 1e-10 * max(lam[-1], 1e-300))

    @property
    def min_eigenvalue(self) -> float:
        """Smallest eigenvalue of the information in whitened coordinates (about 1 at a well-determined
        maximum; <= 0: not a maximum, or a flat direction)."""
        return float(np.linalg.eigvalsh(0.5 * (self.H_u + self.H_u.T))[0])

    def factor(self) -> np.ndarray:
        """F with F F' = H^-1 (F = T V diag(l)^-1/2 for H_u = V diag(l) V'); NaN unless positive definite."""
        lam, V = np.linalg.eigh(0.5 * (self.H_u + self.H_u.T))
        if not self.positive_definite:
            return np.full(self.T.shape, np.nan)
        return self.T @ (V / np.sqrt(lam))

    @property
    def covariance(self) -> np.ndarray:
        F = self.factor()
        return F @ F.T

    def sandwich_factor(self, scores_u: np.ndarray) -> np.ndarray:
        """G with G G' = H^-1 S H^-1, the robust (sandwich) covariance, from the per-observation scores taken
        along the columns of :meth:`factor` (``scores_u`` (n_obs, k): d loglik_t / du)."""
        F = self.factor()
        S = scores_u.T @ scores_u                     # B in the F coordinates (where H is the identity)
        lam, V = np.linalg.eigh(0.5 * (S + S.T))
        return F @ (V * np.sqrt(np.maximum(lam, 0.0)))


def information_from_values(loglik: Callable[[np.ndarray], float], theta: np.ndarray,
                            typical: np.ndarray | None = None, step: float = WHITENED_STEP,
                            contributions: Callable[[np.ndarray], np.ndarray] | None = None) -> Information:
    """Observed information from log-likelihood *values* alone: a first, rough curvature, then the Hessian by
    central differences of ``step`` standard errors along that curvature's whitening.

    The rough curvature is the outer product of the per-observation scores (BHHH) when ``contributions`` (the
    per-observation log-likelihood terms) is given and the refined information confirms it (whitened eigenvalues
    within 0.1..10), else a Hessian by central differences; both use
    per-coordinate steps that move the log-likelihood by ~0.01 (:func:`xlatsm.atsm.optim.curvature_steps`)."""
    theta = np.asarray(theta, float)
    f = lambda x: -loglik(x)  # noqa: E731
    if typical is None:
        typical = np.maximum(np.abs(theta), 1e-2)
    steps = curvature_steps(f, theta, typical)

    def refine(H0):
        T, _ = positive_factor(H0)
        g = lambda u: f(theta + T @ u)  # noqa: E731
        H_u = fd_hessian(g, np.zeros(len(theta)), np.full(len(theta), step))
        return Information(theta=theta, T=T, H_u=0.5 * (H_u + H_u.T))

    if contributions is not None:
        G = whitened_jacobian(contributions, theta, np.diag(steps), step=1.0) / steps
        info = refine(G.T @ G)
        # BHHH is only a guess of the curvature: where it is far off (whitened eigenvalues far from 1) its unit
        # steps are not one standard error, and the differences measure the function far from the estimate
        lam = np.linalg.eigvalsh(info.H_u)
        if lam[0] > 0.1 and lam[-1] < 10.0:
            return info
    return refine(fd_hessian(f, theta, steps))


def information_from_score(score: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, H0: np.ndarray,
                           step: float = WHITENED_STEP) -> Information:
    """Observed information from an exact score: ``H_u[:, i] = -(s(theta + h t_i) - s(theta - h t_i)) / 2h``
    projected on T (t_i the columns of T, the whitening of the rough curvature ``H0``); 2k score evaluations."""
    theta = np.asarray(theta, float)
    T, _ = positive_factor(H0)
    k = len(theta)
    H_u = np.empty((k, k))
    for i in range(k):
        up = T.T @ score(theta + step * T[:, i])
        down = T.T @ score(theta - step * T[:, i])
        H_u[:, i] = -(up - down) / (2 * step)
    return Information(theta=theta, T=T, H_u=0.5 * (H_u + H_u.T))


class CovarianceFactor:
    """For inference results holding ``F`` (n_theta, n_u) with ``Cov(theta) = F F'``: NaN in F means the
    information was not positive definite."""

    F: np.ndarray

    @property
    def ok(self) -> bool:
        return bool(np.all(np.isfinite(self.F)))

    @property
    def covariance(self) -> np.ndarray:
        """Covariance of theta (the likelihood's own coordinates)."""
        return self.F @ self.F.T


def whitened_jacobian(func: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, F: np.ndarray,
                      step: float = WHITENED_STEP) -> np.ndarray:
    """(m, k) derivatives of ``func`` (values (m,)) along the columns of F by central differences of ``step``
    (F's columns are one standard error each, so the step is ``step`` standard errors). A value that cannot be
    computed on either side (NaN) stays NaN."""
    theta = np.asarray(theta, float)
    columns = []
    for i in range(F.shape[1]):
        up = np.asarray(func(theta + step * F[:, i]), float)
        down = np.asarray(func(theta - step * F[:, i]), float)
        columns.append((up - down) / (2 * step))
    return np.column_stack(columns)
