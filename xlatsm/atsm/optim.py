r"""A guarded, preconditioned maximiser for the ATSM log-likelihoods.

Why not plain BFGS on the raw parameters: the curvature of a yield-curve likelihood differs by many orders of
magnitude between directions (a Q-eigenvalue moves every fitted yield and is pinned to ~1e-6 by basis-point
errors; a Cholesky entry of Sigma_P in decimal units has curvature ~5e7 times that of its log-diagonal), so BFGS's
first steps are either useless in some directions or ruinous in others, and it can stop at its start. Here every
BFGS run works in *whitened* coordinates ``x = x_ref + T u`` with ``T' H T = I`` for a positive definite curvature
``H`` supplied by the caller (a finite-difference Hessian, or the complete-data Fisher information), so a unit step
means the same in every direction and in any units of the data. After BFGS stops (converged or with a stalled line
search) the curvature is recomputed at the answer and BFGS restarts from it; the run ends when the Newton decrement
``g' H^{-1} g`` (twice the gain a Newton step still promises, in log-likelihood units) is below
``2 tol max(1, |loglik|)``.

Guards: a trial point whose log-likelihood is not finite (or whose evaluation fails) is returned to BFGS as a
very poor value, so its line search backtracks; only accepted iterates are recorded (``path``, monotone); the
answer is never worse than the start.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import EstimationError, ModelError

_FAILURES = (ModelError, EstimationError, np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError)


@dataclass
class MaxResult:
    x: np.ndarray
    loglik: float
    start_loglik: float
    n_iter: int
    converged: bool
    decrement: float
    message: str
    path: list = field(default_factory=list)


def whitening(H: np.ndarray, rel_floor: float = 1e-12) -> np.ndarray:
    """T with T' H_+ T = I for H_+ = H with its eigenvalues made positive (|lambda|, floored relative to the
    largest): flat or indefinite directions get a large but finite unit step."""
    H = 0.5 * (H + H.T)
    if not np.all(np.isfinite(H)):
        raise EstimationError("the curvature of the log-likelihood is not finite at the start values")
    lam, V = np.linalg.eigh(H)
    lam = np.abs(lam)
    top = max(float(lam.max(initial=0.0)), 1e-300)
    lam = np.maximum(lam, rel_floor * top)
    return V / np.sqrt(lam)


def fd_hessian(f: Callable[[np.ndarray], float], x: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Central second differences of f at x (symmetric), steps ``step`` per coordinate."""
    n = len(x)
    f0 = f(x)
    H = np.zeros((n, n))
    E = np.diag(step)
    fp = np.array([f(x + E[i]) for i in range(n)])
    fm = np.array([f(x - E[i]) for i in range(n)])
    for i in range(n):
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / step[i] ** 2
        for j in range(i):
            value = (f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j]) + f(x - E[i] - E[j]))
            H[i, j] = H[j, i] = value / (4 * step[i] * step[j])
    return H


def curvature_steps(f: Callable[[np.ndarray], float], x: np.ndarray, typical: np.ndarray,
                    target: float = 1e-2) -> np.ndarray:
    """Per-coordinate steps that change f by about ``target`` (log-likelihood units) by second order: probe with
    1e-4 of the typical size, then h = sqrt(2 target / |f''|), capped at the typical size."""
    f0 = f(x)
    h = 1e-4 * typical
    out = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h[i]
        d2 = abs(f(x + e) - 2 * f0 + f(x - e)) / h[i] ** 2
        out[i] = min(np.sqrt(2 * target / d2), typical[i]) if d2 > 0 and np.isfinite(d2) else typical[i]
    return out


def _escape_saddle(evaluate, x, ll, H):
    """At a stationary point where -Hessian H has a clearly negative eigenvalue (a saddle, not a maximum), a step
    along that eigenvector, either way, raising the log-likelihood by more than its rounding: (x, loglik, g), or
    None when there is none."""
    H = 0.5 * (H + H.T)
    lam, V = np.linalg.eigh(H)
    if not lam[0] < -1e-8 * max(abs(lam[-1]), 1e-300):
        return None
    v = V[:, 0]
    t = np.sqrt(2.0 / abs(lam[0]))             # where the quadratic model gains one unit of log-likelihood
    for _ in range(30):
        for sign in (1.0, -1.0):
            value, g = evaluate(x + sign * t * v)
            if value > ll + 1e-9 * max(1.0, abs(ll)):
                return x + sign * t * v, value, g
        t *= 0.5
    return None


def maximise(fg: Callable[[np.ndarray], tuple[float, np.ndarray | None]], x0: np.ndarray,
             curvature: Callable[[np.ndarray], np.ndarray], *, max_iter: int = 500, tol: float = 1e-9,
             max_restarts: int = 6, progress: Callable[[int, float], None] | None = None,
             fd_step: float = 1e-4, accept_tol: float | None = None,
             exact_curvature: Callable[[np.ndarray], np.ndarray] | None = None,
             restart_every: int = 100, fd_coordinates: str = "whitened") -> MaxResult:
    """Maximise a log-likelihood. ``fg(x) -> (loglik, gradient or None)``; with ``None`` the gradient is taken by
    central differences of step ``fd_step`` in the whitened coordinates (only at accepted points: the line search
    uses values alone). ``curvature(x)`` returns a (roughly) positive definite matrix ~ -Hessian at x.

    Each run is BFGS in whitened coordinates with an Armijo backtracking line search on the log-likelihood (a
    trial that fails, is not finite or does not raise the log-likelihood enough is halved, never accepted).
    ``accept_tol`` (default ``tol``) is the tolerance the final Newton decrement is judged by: a search may aim
    tighter than what it calls converged. ``exact_curvature`` (e.g. differences of an analytic gradient) is
    consulted once a fresh metric cannot raise the log-likelihood: where ``curvature`` is only an approximation
    (Gauss-Newton), it can overstate the gain still available, and the decrement is then recomputed in the exact
    curvature. ``fd_coordinates="raw"`` takes those central differences along the original coordinates instead
    (step ``fd_step`` whitened units along each, i.e. ``fd_step sqrt((T T')_ii)``) and whitens the result: the
    same gradient to differencing error, for objectives that cache what some coordinates leave unchanged.
    Raises EstimationError only if the start itself is not finite."""
    x = np.asarray(x0, float).copy()
    n = len(x)

    def evaluate(z, need_grad=False):
        try:
            value, g = fg(z)
        except _FAILURES:
            return -np.inf, None
        if not np.isfinite(value) or (g is not None and not np.all(np.isfinite(g))):
            return -np.inf, None
        return float(value), g

    ll0, g0 = evaluate(x)
    if not np.isfinite(ll0):
        raise EstimationError("the log-likelihood is not finite at the start values")
    ll, g_raw, path, n_iter, decrement = ll0, g0, [ll0], 0, np.inf
    message = "maximum of iterations reached"

    def whitened_grad(z, T, g):
        if g is not None:
            return T.T @ g
        if fd_coordinates == "raw":
            steps = fd_step * np.sqrt(np.einsum("ij,ij->i", T, T))
            raw = np.empty(n)
            for i in range(n):
                e = np.zeros(n)
                e[i] = steps[i]
                raw[i] = (evaluate(z + e)[0] - evaluate(z - e)[0]) / (2 * steps[i])
            return T.T @ raw
        out = np.empty(n)
        for i in range(n):
            up = evaluate(z + fd_step * T[:, i])[0]
            down = evaluate(z - fd_step * T[:, i])[0]
            out[i] = (up - down) / (2 * fd_step)
        return out

    def small(gu, value):
        return float(gu @ gu) <= 2 * tol * max(1.0, abs(value))

    for restart in range(max_restarts + 1):
        try:
            # the first metric is the cheap one; a restart (after a stall or a long run) uses the exact curvature
            # when there is one: the Gauss-Newton metric can be poor along a curved ridge
            metric = exact_curvature if (restart > 0 and exact_curvature is not None) else curvature
            T = whitening(metric(x))
        except _FAILURES as exc:
            message = f"the curvature could not be computed ({exc})"
            break
        gu = whitened_grad(x, T, g_raw)
        if not np.all(np.isfinite(gu)):
            message = "the gradient is not finite"
            break
        decrement = float(gu @ gu)
        if small(gu, ll) and exact_curvature is not None:
            # confirm in the exact curvature: a complete-data (Fisher) metric is more curved than the observed
            # likelihood where the factors carry missing information, so it understates the gain still to come;
            # and a stationary point may be a saddle (two nearly equal Q-roots make ridges with such points)
            try:
                He = exact_curvature(x)
                T = whitening(He)
                gu = T.T @ g_raw
                decrement = float(gu @ gu)
                if small(gu, ll):
                    escaped = _escape_saddle(evaluate, x, ll, He)
                    if escaped is not None:
                        x, ll, g_raw = escaped
                        path.append(ll)
                        if progress is not None:
                            progress(len(path) - 1, ll)
                        n_iter += 1
                        continue
            except _FAILURES:
                pass
        if small(gu, ll):
            message = "Newton decrement below tol"
            break
        if restart == max_restarts or n_iter >= max_iter:
            message = (f"no convergence after {max_restarts} restarts" if restart == max_restarts
                       else "maximum of iterations reached") + f" (Newton decrement {decrement:.3g})"
            break
        Hinv = np.eye(n)
        stalled = False
        iter_before = n_iter
        while n_iter < max_iter and n_iter - iter_before < restart_every:
            d = Hinv @ gu                       # ascent direction
            slope = float(gu @ d)
            if slope <= 0:
                Hinv, d = np.eye(n), gu.copy()
                slope = float(gu @ d)
            norm = np.linalg.norm(d)
            t = min(1.0, 10.0 / norm) if norm > 0 else 1.0   # at most 10 whitened units per step
            for _ in range(40):
                trial = x + T @ (t * d)
                value, g_trial = evaluate(trial)
                if value >= ll + 1e-4 * t * slope:
                    break
                t *= 0.5 if not np.isfinite(value) else max(0.1, min(0.5, 0.5 * t * slope / (ll + t * slope - value)))
            else:
                stalled = True
                break
            if value <= ll:                    # no gain representable in floating point: stop this run
                stalled = True
                break
            n_iter += 1
            gu_new = whitened_grad(trial, T, g_trial)
            if not np.all(np.isfinite(gu_new)):
                stalled = True
                break
            s_u, y_u = t * d, gu - gu_new      # for the negative log-likelihood: y = grad(-f) change
            sy = float(s_u @ y_u)
            if sy > 1e-12 * np.linalg.norm(s_u) * np.linalg.norm(y_u):
                rho = 1.0 / sy
                V = np.eye(n) - rho * np.outer(s_u, y_u)
                Hinv = V @ Hinv @ V.T + rho * np.outer(s_u, s_u)
            x, ll, g_raw, gu = trial, value, g_trial, gu_new
            path.append(ll)
            if progress is not None:
                progress(len(path) - 1, ll)
            if small(gu, ll):
                break
        if stalled and n_iter == iter_before:
            # not one step of a fresh metric raised the log-likelihood: the rest is below its rounding noise, or
            # the metric overstates the gain (a Gauss-Newton metric far from a quadratic region)
            if exact_curvature is not None and g_raw is not None:
                try:
                    Te = whitening(exact_curvature(x))
                    ge = Te.T @ g_raw
                    decrement = min(decrement, float(ge @ ge))
                except _FAILURES:
                    pass
            message = f"no further gain representable in floating point (Newton decrement {decrement:.3g})"
            break
    converged = decrement <= 2 * max(tol, accept_tol or 0.0) * max(1.0, abs(ll))
    return MaxResult(x=x, loglik=ll, start_loglik=ll0, n_iter=n_iter, converged=converged, decrement=decrement,
                     message=message, path=path)
