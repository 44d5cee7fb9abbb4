r"""Exact Gaussian maximum likelihood of small yield-curve state-space models (dynamic Nelson-Siegel one-step,
arbitrage-free Nelson-Siegel) through xlatsm's Kalman core (:mod:`xlatsm.ssm.kalman`, statsmodels' filter).

The models are

.. math::

    y_t = a + Z f_t + e_t,\ e_t \sim N(0, \mathrm{diag}(h)),\qquad
    f_t = d + T f_{t-1} + \eta_t,\ \eta_t \sim N(0, Q),\qquad f_1 \sim N(a_1, P_1)

with NaN cells of ``y`` missing. ``log p(y)`` comes from the Kalman filter. Its gradient is exact and cheap by
Fisher's identity: ``d log p(y)/d theta = d/d theta E[log p(y, f; theta) | y, theta_0]`` at ``theta = theta_0``;
one smoother pass gives the moments ``E[f_t|y]``, ``Var(f_t|y)``, ``Cov(f_t, f_{t-1}|y)``, after which the
expected complete-data log-likelihood is a closed-form function of theta costing microseconds, differentiated
by central differences. L-BFGS-B then maximises ``log p(y)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize

from ..errors import EstimationError
from ..ssm.kalman import KalmanSmootherRunner, StateSpace

_LOG2PI = np.log(2 * np.pi)


@dataclass
class Matrices:
    """One parameter point of the model in the module docstring (decimals, per period)."""

    Z: np.ndarray        # (J, m)
    a: np.ndarray        # (J,)
    h: np.ndarray        # (J,) measurement variances
    T: np.ndarray        # (m, m)
    d: np.ndarray        # (m,)
    Q: np.ndarray        # (m, m)
    a1: np.ndarray       # (m,)
    P1: np.ndarray       # (m, m)

    def state_space(self) -> StateSpace:
        m = len(self.d)
        return StateSpace(design=self.Z, obs_intercept=self.a, obs_cov=np.diag(self.h), transition=self.T,
                          state_intercept=self.d, selection=np.eye(m), state_cov=self.Q,
                          initial_mean=self.a1, initial_cov=self.P1)


class GaussianSSM:
    """``build(theta) -> Matrices`` (or None where theta is not a valid model) on data ``Y`` (T, J)."""

    def __init__(self, Y: np.ndarray, build: Callable[[np.ndarray], Matrices | None], log_h_tail: bool = False):
        """``log_h_tail``: the last J entries of theta are ``log(h - floor)`` and enter nothing but ``h`` (then their
        score is taken in closed form)."""
        self.Y = np.asarray(Y, float)
        self.build = build
        self.log_h_tail = log_h_tail
        self.obs = ~np.isnan(self.Y)
        self.Y0 = np.where(self.obs, self.Y, 0.0)
        self._runner = None
        self.n_eval = 0

    def _run(self, mats: Matrices):
        if self._runner is None:
            m = len(mats.d)
            self._runner = KalmanSmootherRunner(self.Y, m, m, lag_cov=True, collapse=False)
            # no steady-state shortcut: statsmodels' default (tolerance 1e-19 on the covariance's change) switches
            # to a constant gain that moved log p(y) by ~1e-4 on Diebold-Li's data (checked against a dense
            # joint-Gaussian computation); 0 keeps every recursion exact
            self._runner._ks.tolerance = 0.0
        return self._runner

    def loglik(self, theta) -> float:
        mats = self.build(np.asarray(theta, float))
        if mats is None:
            return -np.inf
        try:
            return self._run(mats).loglik(mats.state_space())
        except (EstimationError, np.linalg.LinAlgError, ValueError):
            return -np.inf

    def smooth(self, theta):
        mats = self.build(np.asarray(theta, float))
        if mats is None:
            raise EstimationError("the parameters do not define a valid model (non-stationary factors)")
        return self._run(mats).smooth(mats.state_space())

    # -- Fisher's identity ---------------------------------------------------------------------------------------
    def _stats(self, sm):
        m_, P, C = sm.states, sm.cov, sm.lag_cov
        obs, Y0 = self.obs.astype(float), self.Y0
        MM = P + np.einsum("ti,tj->tij", m_, m_)
        st = {
            "n": obs.sum(0), "syy": (Y0 ** 2).sum(0), "sy": Y0.sum(0),
            "sym": Y0.T @ m_, "sm": obs.T @ m_, "Smm": np.einsum("tj,tik->jik", obs, MM),
            "S11": MM[1:].sum(0), "S00": MM[:-1].sum(0),
            "S10": (C[1:] + np.einsum("ti,tj->tij", m_[1:], m_[:-1])).sum(0),
            "s1": m_[1:].sum(0), "s0": m_[:-1].sum(0), "n1": len(m_) - 1, "m1": m_[0], "P1": P[0],
        }
        return st

    @staticmethod
    def _measurement_quad(mats: Matrices, st) -> np.ndarray:
        Z, a = mats.Z, mats.a
        return (st["syy"] - 2 * a * st["sy"] - 2 * np.einsum("ji,ji->j", Z, st["sym"]) + st["n"] * a ** 2
                + 2 * a * np.einsum("ji,ji->j", Z, st["sm"]) + np.einsum("ji,jik,jk->j", Z, st["Smm"], Z))

    @staticmethod
    def expected_loglik(mats: Matrices, st) -> float:
        """E[log p(y, f; mats) | y] from the smoother's sufficient statistics ``st`` (see the module docstring)."""
        h = mats.h
        quad = GaussianSSM._measurement_quad(mats, st)
        ll = -0.5 * np.sum(st["n"] * (_LOG2PI + np.log(h)) + quad / h)
        A, d = mats.T, mats.d
        S10A = st["S10"] @ A.T
        M = (st["S11"] - S10A - S10A.T + A @ st["S00"] @ A.T - np.outer(d, st["s1"]) - np.outer(st["s1"], d)
             + np.outer(A @ st["s0"], d) + np.outer(d, A @ st["s0"]) + st["n1"] * np.outer(d, d))
        k = len(d)
        sign, logdet = np.linalg.slogdet(mats.Q)
        if sign <= 0:
            return -np.inf
        ll -= 0.5 * (st["n1"] * (k * _LOG2PI + logdet) + np.trace(np.linalg.solve(mats.Q, M)))
        e = st["m1"] - mats.a1
        sign, logdet1 = np.linalg.slogdet(mats.P1)
        if sign <= 0:
            return -np.inf
        ll -= 0.5 * (k * _LOG2PI + logdet1 + np.trace(np.linalg.solve(mats.P1, st["P1"] + np.outer(e, e))))
        return float(ll)

    def loglik_and_score(self, theta, step: float = 1e-6):
        theta = np.asarray(theta, float)
        mats = self.build(theta)
        if mats is None:
            return -np.inf, np.zeros_like(theta)
        try:
            sm = self._run(mats).smooth(mats.state_space())
        except (EstimationError, np.linalg.LinAlgError, ValueError):
            return -np.inf, np.zeros_like(theta)
        self.n_eval += 1
        st = self._stats(sm)
        g = np.empty_like(theta)
        n_fd = len(theta)
        if self.log_h_tail:
            # d/d theta_j of -1/2 (n_j log h_j + quad_j / h_j), h_j = floor_j + exp(theta_j)
            J = len(mats.h)
            n_fd = len(theta) - J
            quad = self._measurement_quad(mats, st)
            g[n_fd:] = -0.5 * (st["n"] / mats.h - quad / mats.h ** 2) * np.exp(theta[n_fd:])
        for i in range(n_fd):
            hstep = step * (1.0 + abs(theta[i]))
            up, down = theta.copy(), theta.copy()
            up[i] += hstep
            down[i] -= hstep
            mu, md = self.build(up), self.build(down)
            if mu is None or md is None:
                g[i] = 0.0
                continue
            g[i] = (self.expected_loglik(mu, st) - self.expected_loglik(md, st)) / (2 * hstep)
        return sm.loglik, g

    def complete_information(self, theta, step: float = 1e-4) -> np.ndarray:
        """-Hessian of the expected complete-data log-likelihood at theta (central second differences): a
        positive definite metric that is at least the observed information, used to whiten the search."""
        theta = np.asarray(theta, float)
        st = self._stats(self.smooth(theta))
        n = len(theta)
        h = step * (1.0 + np.abs(theta))

        def q(x):
            mats = self.build(x)
            return -np.inf if mats is None else self.expected_loglik(mats, st)

        f0 = q(theta)
        E = np.diag(h)
        fp = np.array([q(theta + E[i]) for i in range(n)])
        fm = np.array([q(theta - E[i]) for i in range(n)])
        H = np.zeros((n, n))
        for i in range(n):
            H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h[i] ** 2
            for j in range(i):
                v = q(theta + E[i] + E[j]) - q(theta + E[i] - E[j]) - q(theta - E[i] + E[j]) + q(theta - E[i] - E[j])
                H[i, j] = H[j, i] = v / (4 * h[i] * h[j])
        return -H

    def maximise(self, theta0, max_iter: int = 2000, tol: float = 1e-9, restarts: int = 5):
        """L-BFGS-B on -log p(y) with the exact score, in coordinates whitened by the complete-data information
        (a unit step means the same in every direction and any units of the data), restarted from its answer
        with a fresh metric until the Newton decrement ``g' H^-1 g`` is below ``tol max(1, |loglik|)``.

        Returns (theta, loglik, converged, n_iter, message, start_loglik); never a point worse than the start."""
        theta = np.asarray(theta0, float).copy()
        start = self.loglik(theta)
        if not np.isfinite(start):
            raise EstimationError("the starting values give a non-finite log-likelihood; check the data's units "
                                  "(yield_units) and that the panel is a zero-coupon curve")
        best, best_ll, n_iter, converged, message = theta, start, 0, False, ""
        for _ in range(restarts + 1):
            H = self.complete_information(best)
            lam, V = np.linalg.eigh(0.5 * (H + H.T))
            lam = np.maximum(np.abs(lam), 1e-10 * np.abs(lam).max())
            Tm = V / np.sqrt(lam)
            ll, g = self.loglik_and_score(best)
            gu = Tm.T @ g
            decrement = float(gu @ gu)
            if decrement <= tol * max(1.0, abs(ll)):
                converged, message = True, f"Newton decrement {decrement:.2g} below tol"
                break
            base = best.copy()

            def f(u, base=base, Tm=Tm):
                ll_u, g_u = self.loglik_and_score(base + Tm @ u)
                if not np.isfinite(ll_u) or not np.all(np.isfinite(g_u)):
                    return 1e300, np.zeros_like(u)
                return -ll_u, -(Tm.T @ g_u)

            res = minimize(f, np.zeros(len(theta)), jac=True, method="L-BFGS-B",
                           options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 30})
            n_iter += int(res.nit)
            cand = base + Tm @ res.x
            cand_ll = self.loglik(cand)
            message = str(res.message)
            if cand_ll > best_ll:
                gained = cand_ll - best_ll
                best, best_ll = cand, cand_ll
                if gained < tol * max(1.0, abs(best_ll)) * 1e-3:
                    converged, message = True, "no further gain"
                    break
            else:
                message = f"no further gain (Newton decrement {decrement:.2g})"
                break
        if not converged:
            # judged at the answer, whatever stopped the runs: the Newton decrement g' H^-1 g is twice the gain a
            # Newton step still promises (log-likelihood units)
            H = self.complete_information(best)
            lam, V = np.linalg.eigh(0.5 * (H + H.T))
            lam = np.maximum(np.abs(lam), 1e-10 * np.abs(lam).max())
            g = self.loglik_and_score(best)[1]
            decrement = float(np.sum((V.T @ g) ** 2 / lam))
            converged = decrement <= 1e-7 * max(1.0, abs(best_ll))
            message = f"{message}; Newton decrement at the answer {decrement:.2g}"
        return best, best_ll, converged, n_iter, message, start


def stationary_cov(T: np.ndarray, Q: np.ndarray) -> np.ndarray | None:
    """P solving P = T P T' + Q (vec form, exact for the small state dimensions here), or None when T has a root
    on or outside the unit circle."""
    if not np.all(np.isfinite(T)) or np.max(np.abs(np.linalg.eigvals(T))) >= 0.99999:
        return None
    m = len(T)
    P = np.linalg.solve(np.eye(m * m) - np.kron(T, T), Q.reshape(-1)).reshape(m, m)
    return 0.5 * (P + P.T)


def chol_from_free(c: np.ndarray, k: int) -> np.ndarray:
    """Lower-triangular L with log-diagonal: c holds k(k+1)/2 numbers, row by row."""
    L = np.zeros((k, k))
    L[np.tril_indices(k)] = c
    L[np.diag_indices(k)] = np.exp(np.diag(L))
    return L


def free_from_chol(L: np.ndarray) -> np.ndarray:
    L = np.array(L, float)
    L[np.diag_indices(len(L))] = np.log(np.abs(np.diag(L)))
    return L[np.tril_indices(len(L))]


def variance_floor(Y: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    """Lower bound of each maturity's measurement variance: ``rel`` times its variance over time (as the LGSSM's
    floor). Measurement variances are parameterised as ``floor + exp(theta)``, so a variance that wants to
    collapse to zero (a maturity priced "exactly", a Heywood case) stays on the floor and is flagged."""
    v = np.nanvar(Y, axis=0)
    v = np.where(np.isfinite(v) & (v > 0), v, np.nanmax(v[np.isfinite(v)]) if np.isfinite(v).any() else 1e-4)
    return rel * v


def heywood_flag(h: np.ndarray, floor: np.ndarray, labels):
    from ..diagnostics import Flag

    hit = [label for label, hj, fj in zip(labels, h, floor) if hj < 1.01 * fj]
    if not hit:
        return []
    return [Flag("heywood", f"measurement error variance on its floor (1e-6 of the maturity's variance) for "
                            f"{', '.join(hit)}: the model prices these yields exactly; the other maturities' "
                            "errors and the factors are still valid, but do not read those sigma_e as estimates")]
