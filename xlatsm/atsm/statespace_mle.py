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
by central differences (steps a fixed fraction of each parameter's own scale, so the same in any units of the
data). :meth:`GaussianSSM.maximise` is Newton's method on the observed information (differences of the exact
score) with line search, steps along negative curvature at saddles and whitened L-BFGS-B where Newton stalls; it
reports convergence only where the observed information is positive definite and the Newton decrement (twice
the gain still available, in log-likelihood units) is below its tolerance.

The likelihood of these models can have several local maxima, typically differing in which maturities sit on
their measurement-variance floor (are priced exactly); from each maximum the maximiser restarts with every
floored variance released and keeps a higher maximum (a local search over these, not a global one).
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
        self._score_curv = None       # complete-data curvature per parameter, found by the last score's differences
        self.report: dict = {}

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
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # a trial step out of range: -inf
            mats = self.build(np.asarray(theta, float))
        if mats is None or not all(np.all(np.isfinite(x)) for x in (mats.h, mats.Q, mats.T, mats.Z, mats.a)):
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
    def _stats(self, sm, base: Matrices):
        """The smoother's sufficient statistics, centred on the residuals at ``base`` (the matrices the smoother
        ran with): ``E[log p(y, f; theta) | y]`` is then a sum of terms of its own size instead of differences of
        sums of squared yields (which lost ~1e-6 of it to rounding where a measurement variance is ~1e-10)."""
        m_, P, C = sm.states, sm.cov, sm.lag_cov
        obs = self.obs.astype(float)
        e0 = np.where(self.obs, self.Y0 - base.a - m_ @ base.Z.T, 0.0)      # measurement residuals at base
        r0 = m_[1:] - base.d - m_[:-1] @ base.T.T                             # transition residuals at base
        return {
            "base": base, "n": obs.sum(0), "see": (e0 ** 2).sum(0), "se": e0.sum(0), "sem": e0.T @ m_,
            "sm": obs.T @ m_, "Smm": np.einsum("tj,ti,tk->jik", obs, m_, m_), "SP": np.einsum("tj,tik->jik", obs, P),
            "R00": r0.T @ r0, "r0": r0.sum(0), "R0m": r0.T @ m_[:-1], "s0": m_[:-1].sum(0), "M00": m_[:-1].T @ m_[:-1],
            "SP1": P[1:].sum(0), "SP0": P[:-1].sum(0), "SC": C[1:].sum(0), "n1": len(m_) - 1, "m1": m_[0],
            "P1": P[0],
        }

    @staticmethod
    def _measurement_quad(mats: Matrices, st) -> np.ndarray:
        """``sum_t E[(y_tj - a_j - Z_j f_t)^2 | y]`` over observed cells, per maturity j, from the residuals at the
        base: ``y - a - Z m = e0 - da - dZ m`` with ``da = a - a0``, ``dZ = Z - Z0``, plus ``Z P_t Z'``."""
        base = st["base"]
        da, dZ, Z = mats.a - base.a, mats.Z - base.Z, mats.Z
        return (st["see"] - 2 * da * st["se"] - 2 * np.einsum("ji,ji->j", dZ, st["sem"]) + st["n"] * da ** 2
                + 2 * da * np.einsum("ji,ji->j", dZ, st["sm"]) + np.einsum("ji,jik,jk->j", dZ, st["Smm"], dZ)
                + np.einsum("ji,jik,jk->j", Z, st["SP"], Z))

    @staticmethod
    def expected_loglik(mats: Matrices, st) -> float:
        """E[log p(y, f; mats) | y] from the smoother's sufficient statistics ``st`` (see the module docstring)."""
        h = mats.h
        quad = GaussianSSM._measurement_quad(mats, st)
        ll = -0.5 * np.sum(st["n"] * (_LOG2PI + np.log(h)) + quad / h)
        base = st["base"]
        A, dd, dA = mats.T, mats.d - base.d, mats.T - base.T
        # sum_t E[(f_t - d - A f_{t-1})(...)'] with f_t - d - A f_{t-1} = r0_t - dd - dA m_{t-1} + (smoother noise)
        X = np.outer(st["r0"], dd) + st["R0m"] @ dA.T
        w = dA @ st["s0"]
        SCA = st["SC"] @ A.T
        M = (st["R00"] - X - X.T + st["n1"] * np.outer(dd, dd) + np.outer(dd, w) + np.outer(w, dd)
             + dA @ st["M00"] @ dA.T + st["SP1"] - SCA - SCA.T + A @ st["SP0"] @ A.T)
        k = len(mats.d)
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

    def _q(self, st):
        def q(x):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                mats = self.build(x)
                return -np.inf if mats is None else self.expected_loglik(mats, st)
        return q

    @staticmethod
    def _steps(theta, rel, curvature=None, natural=None):
        """Difference steps: ``natural / sqrt(curvature)`` (a fixed fraction of each parameter's own scale, so the
        same in every unit of the data) where the curvature is known and positive, else ``rel (1 + |theta|)``;
        kept within [1e-10, 1e-2] (1 + |theta|) and rounded to representable differences."""
        theta = np.asarray(theta, float)
        h = rel * (1.0 + np.abs(theta))
        if curvature is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                nat = natural / np.sqrt(curvature)
            h = np.where(np.isfinite(nat) & (curvature > 0), nat, h)
        h = np.clip(h, 1e-10 * (1.0 + np.abs(theta)), 1e-2 * (1.0 + np.abs(theta)))
        return (theta + h) - theta

    def loglik_and_score(self, theta, step: float | None = None):
        """``(log p(y), d log p(y) / d theta)``: the score by Fisher's identity, central differences of the
        expected complete-data log-likelihood (closed form in the measurement variances with ``log_h_tail``).
        Steps are 1e-3 of each parameter's scale (1/sqrt of its complete-data curvature, found by the previous
        call's differences; 1e-6 (1 + |theta|) on the first call), or ``step (1 + |theta|)`` when given."""
        theta = np.asarray(theta, float)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            mats = self.build(theta)
        if mats is None or not all(np.all(np.isfinite(x)) for x in (mats.h, mats.Q, mats.T, mats.Z, mats.a)):
            return -np.inf, np.zeros_like(theta)
        try:
            sm = self._run(mats).smooth(mats.state_space())
        except (EstimationError, np.linalg.LinAlgError, ValueError):
            return -np.inf, np.zeros_like(theta)
        self.n_eval += 1
        st = self._stats(sm, mats)
        g = np.empty_like(theta)
        n_fd = len(theta)
        if self.log_h_tail:
            # d/d theta_j of -1/2 (n_j log h_j + quad_j / h_j), h_j = floor_j + exp(theta_j)
            J = len(mats.h)
            n_fd = len(theta) - J
            quad = self._measurement_quad(mats, st)
            g[n_fd:] = -0.5 * (st["n"] / mats.h - quad / mats.h ** 2) * np.exp(theta[n_fd:])
        adaptive = step is None
        q = self._q(st)
        q0 = self.expected_loglik(mats, st)
        if adaptive:
            if self._score_curv is None or len(self._score_curv) != n_fd:
                # first call: a pilot pass finds each parameter's curvature (later calls reuse the last one's)
                h0 = self._steps(theta[:n_fd], 1e-5)
                self._score_curv = np.empty(n_fd)
                for i in range(n_fd):
                    e = np.zeros_like(theta)
                    e[i] = h0[i]
                    self._score_curv[i] = -(q(theta + e) - 2 * q0 + q(theta - e)) / h0[i] ** 2
            hs = self._steps(theta[:n_fd], 1e-6, self._score_curv, _NAT_SCORE)
        else:
            hs = self._steps(theta[:n_fd], step)
        for i in range(n_fd):
            up, down = theta.copy(), theta.copy()
            up[i] += hs[i]
            down[i] -= hs[i]
            fu, fd = q(up), q(down)
            if not (np.isfinite(fu) and np.isfinite(fd)):
                g[i] = 0.0
                continue
            g[i] = (fu - fd) / (2 * hs[i])
            if adaptive:
                self._score_curv[i] = -(fu - 2 * q0 + fd) / hs[i] ** 2
        return sm.loglik, g

    def complete_information(self, theta, step: float | None = None) -> np.ndarray:
        """-Hessian of the expected complete-data log-likelihood ``Q(theta | theta)``, the complete-data
        information: at least the observed information (missing information is positive semi-definite), used to
        whiten the search. Central second differences with steps 1e-2 of each parameter's own scale (found by two
        pilot passes on the diagonal), or ``step (1 + |theta|)`` when given; with ``log_h_tail`` the measurement
        variances' rows are in closed form (``d/d theta_j`` of ``-1/2 (n_j log h_j + quad_j / h_j)``, ``quad_j``
        differenced in the other parameters)."""
        theta = np.asarray(theta, float)
        mats = self.build(theta)
        if mats is None:
            raise EstimationError("the parameters do not define a valid model (non-stationary factors)")
        st = self._stats(self._run(mats).smooth(mats.state_space()), mats)
        n = len(theta)
        J = len(mats.h) if self.log_h_tail else 0
        nf = n - J

        def q(x, quad=False):
            m = self.build(x)
            value = -np.inf if m is None else self.expected_loglik(m, st)
            if not quad:
                return value
            return value, (np.full(len(mats.h), np.nan) if m is None else self._measurement_quad(m, st))

        f0 = q(theta)

        def shifts(h):              # rows: theta's change along each differenced parameter
            E = np.zeros((nf, n))
            E[:, :nf] = np.diag(h)
            return E

        def diagonal(h, keep=False):
            E = shifts(h)
            plus = [q(theta + E[i], keep) for i in range(nf)]
            minus = [q(theta - E[i], keep) for i in range(nf)]
            if keep:
                return plus, minus
            return -(np.array(plus) - 2 * f0 + np.array(minus)) / h ** 2

        h = self._steps(theta[:nf], 1e-4 if step is None else step)
        if step is None:
            for _ in range(2):
                h = self._steps(theta[:nf], 1e-4, diagonal(h), _NAT_HESSIAN)
        plus, minus = diagonal(h, keep=True)
        H = np.zeros((n, n))
        E = shifts(h)
        for i in range(nf):
            H[i, i] = (plus[i][0] - 2 * f0 + minus[i][0]) / h[i] ** 2
            for j in range(i):
                v = q(theta + E[i] + E[j]) - q(theta + E[i] - E[j]) - q(theta - E[i] + E[j]) + q(theta - E[i] - E[j])
                H[i, j] = H[j, i] = v / (4 * h[i] * h[j])
        if J:
            u, hv, nobs = np.exp(theta[nf:]), mats.h, st["n"]
            quad = self._measurement_quad(mats, st)
            tail = np.arange(nf, n)
            H[tail, tail] = -0.5 * ((2 * quad / hv ** 3 - nobs / hv ** 2) * u ** 2 + (nobs / hv - quad / hv ** 2) * u)
            for i in range(nf):
                dquad = (plus[i][1] - minus[i][1]) / (2 * h[i])
                H[tail, i] = H[i, tail] = 0.5 * u * dquad / hv ** 2
        return -H

    def observed_information(self, theta, free=None, scale=None) -> np.ndarray:
        """-Hessian of ``log p(y)`` on the coordinates ``free`` (all by default): central differences of the exact
        score, steps 1e-2 of each parameter's ``scale`` (given for every parameter; default 1/sqrt of the
        complete-data information's diagonal), symmetrised."""
        theta = np.asarray(theta, float)
        free = np.arange(len(theta)) if free is None else np.asarray(free)
        if scale is None:
            scale = _natural_scale(self.complete_information(theta))
        h = self._steps(theta, 1e-4, 1.0 / np.asarray(scale, float) ** 2, _NAT_OBSERVED)
        H = np.empty((len(free), len(free)))
        for c, i in enumerate(free):
            up, down = theta.copy(), theta.copy()
            up[i] += h[i]
            down[i] -= h[i]
            H[:, c] = -(self.loglik_and_score(up)[1][free] - self.loglik_and_score(down)[1][free]) / (2 * h[i])
        return 0.5 * (H + H.T)

    # -- the maximiser -------------------------------------------------------------------------------------------
    def _hold_floors(self, theta):
        """Measurement variances near their floor, ``exp(theta_j) < 1e-2 floor_j``, where the score and curvature
        in ``theta_j = log(h_j - floor_j)`` vanish like ``exp(theta_j)``, so no gradient method moves them. Each
        is set to the maximiser of the expected complete-data log-likelihood in ``h_j`` alone,
        ``max(quad_j / n_j, floor_j)`` (an ECM step: ``log p(y)`` cannot fall). Where that is the floor, or
        gains under 1e-9, the maximum is on the floor (a Heywood case) and ``h_j`` is held there, at ``1e-17
        floor_j`` above it (the same point whatever path led there; ~1e-15 of log-likelihood from the floor).
        Returns (indices held, theta with them set)."""
        if not self.log_h_tail:
            return np.array([], int), theta
        mats = self.build(theta)
        J = len(mats.h)
        u = np.exp(theta[-J:])
        floor = mats.h - u
        st = self._stats(self._run(mats).smooth(mats.state_space()), mats)
        quad, nobs = self._measurement_quad(mats, st), st["n"]

        def ell(h):
            return -0.5 * (nobs * np.log(h) + quad / h)

        with np.errstate(divide="ignore", invalid="ignore"):
            gain = ell(np.maximum(quad / np.maximum(nobs, 1), floor)) - ell(mats.h)
        near = (u < 1e-2 * floor) & (floor > 0)
        lift = near & (gain >= 1e-9) & (quad > nobs * floor)
        on = near & ~lift
        theta = theta.copy()
        tail = len(theta) - J
        theta[tail + np.flatnonzero(lift)] = np.log(quad[lift] / nobs[lift] - floor[lift])
        idx = tail + np.flatnonzero(on)
        theta[idx] = np.log(floor[on]) - 40.0
        return idx, theta

    def _lbfgs_round(self, base, metric, free, max_iter):
        """One L-BFGS-B run on -log p(y) from ``base`` over the coordinates ``free``, in coordinates ``u`` with
        ``theta[free] = base[free] + metric @ u`` (a unit step of u means the same in every direction and any units
        of the data): (theta, loglik, iterations, message)."""
        def at(u):
            x = base.copy()
            x[free] += metric @ u
            return x

        def f(u):
            ll_u, g_u = self.loglik_and_score(at(u))
            if not np.isfinite(ll_u) or not np.all(np.isfinite(g_u)):
                return 1e300, np.zeros_like(u)
            return -ll_u, -(metric.T @ g_u[free])

        res = minimize(f, np.zeros(metric.shape[1]), jac=True, method="L-BFGS-B",
                       options={"maxiter": max_iter, "ftol": 1e-14, "gtol": 1e-8, "maxcor": 30})
        cand = at(res.x)
        return cand, self.loglik(cand), int(res.nit), str(res.message)

    def maximise(self, theta0, max_iter: int = 2000, tol: float = 1e-10, restarts: int = 5, progress=None,
                 release_floors: bool = True):
        """Maximise ``log p(y)`` from ``theta0`` (:meth:`climb`), then, with ``release_floors`` and ``log_h_tail``,
        explore the neighbouring local maxima: the likelihood has one local maximum per choice of maturities
        priced exactly (measurement variance on its floor), so from a maximum with variance ``j`` on its floor the
        climb is restarted with ``h_j`` released to the median of the others; a higher maximum replaces the
        answer and is explored in turn (at most ``2 J`` releases).

        Returns (theta, loglik, converged, n_iter, message, start_loglik) as :meth:`climb`; ``self.report`` is
        the answer's, with ``releases`` (the variances released that led to it) and ``explored`` (the
        log-likelihoods of the maxima tried)."""
        best, best_ll, ok, n_iter, message, start = self.climb(theta0, max_iter, tol, restarts, progress)
        report = dict(self.report, releases=[], explored=[])
        if not (release_floors and self.log_h_tail):
            self.report = report
            return best, best_ll, ok, n_iter, message, start
        J = len(self.build(best).h)
        tried = set()
        for _ in range(2 * J):
            mats = self.build(best)
            floor = mats.h - np.exp(best[-J:])
            todo = [int(j) for j in report["on_floor"] if int(j) not in tried]
            if not todo:
                break
            j = todo[0]
            tried.add(j)
            cand0 = best.copy()
            other = np.delete(mats.h, j - (len(best) - J))
            cand0[j] = np.log(max(np.median(other) - floor[j - (len(best) - J)], 1e-300))
            if not np.isfinite(self.loglik(cand0)):
                continue
            cand, cand_ll, cand_ok, nit, cand_msg, _ = self.climb(cand0, max_iter, tol, restarts, progress)
            n_iter += nit
            report["explored"].append(float(cand_ll))
            if cand_ok and cand_ll > best_ll + 1e-6:
                releases = report["releases"] + [j]
                explored = report["explored"]
                best, best_ll, ok, message = cand, cand_ll, cand_ok, cand_msg
                report = dict(self.report, releases=releases, explored=explored)
                tried = {j}                  # the new maximum's own floors are explored afresh
        self.report = report
        return best, best_ll, ok, n_iter, message, start

    def climb(self, theta0, max_iter: int = 2000, tol: float = 1e-10, restarts: int = 5, progress=None):
        """Maximise ``log p(y)`` by Newton's method on the observed information ``I`` (central differences of the
        exact score), safeguarded:

        * each iteration scales the parameters by the complete-data information's diagonal, computes ``I`` and
          its eigenvalues; where ``I`` is positive definite it takes the Newton step ``I^-1 g`` (halved until the
          log-likelihood rises);
        * where ``I`` is not positive definite (a saddle or upward curvature) it tries steps along the most
          negative eigenvector (both signs, several lengths) and the saddle-free Newton step ``|I|^-1 g``;
        * when neither gains it runs L-BFGS-B with the exact score, whitened by ``|I|`` (absolute eigenvalues).

        Converged only when ``I`` is positive definite at the answer and the Newton decrement ``g' I^-1 g`` (twice
        the gain a Newton step still promises, in log-likelihood units: scale-free) is below ``tol``. Measurement
        variances whose maximum is on their floor (Heywood cases) are held there (:meth:`_hold_floors`).
        ``restarts`` bounds the L-BFGS-B runs (times 4).

        Returns (theta, loglik, converged, n_iter, message, start_loglik); never a point worse than the start.
        Parameters in which ``log p(y)`` is flat (their diagonal of scaled ``I`` below 1e-7, score below 1e-5: a
        boundary of the parameter space, such as a factor shock's log standard deviation gone to -inf) are left
        out of the test and reported.

        ``self.report`` holds the checks at the answer: ``decrement``, ``min_eig`` (smallest eigenvalue of ``I``
        in the scaled coordinates), ``on_floor`` (indices held on the floor), ``flat`` (indices of flat
        parameters), ``saddle_steps``, ``lbfgs_runs``."""
        theta = np.asarray(theta0, float).copy()
        start = self.loglik(theta)
        if not np.isfinite(start):
            raise EstimationError("the starting values give a non-finite log-likelihood; check the data's units "
                                  "(yield_units) and that the panel is a zero-coupon curve")
        best, best_ll, n_iter = theta, start, 0
        converged, message, decrement, min_eig = False, "", np.inf, np.nan
        saddle_steps, lbfgs_runs, max_lbfgs = 0, 0, 4 * (restarts + 1)
        on_floor = flat = np.array([], int)
        stale = True
        for _ in range(200):
            on_floor, held = self._hold_floors(best)
            if np.any(held != best):
                held_ll = self.loglik(held)
                if held_ll >= best_ll - 1e-9:        # within ~1e-15 of the floor, where the maximum is
                    best, best_ll = held, held_ll
            ll, g = self.loglik_and_score(best)
            free = np.setdiff1d(np.arange(len(best)), on_floor)
            if stale:                       # each parameter's scale: refreshed after L-BFGS-B runs and saddle steps
                scale, stale = _natural_scale(self.complete_information(best)), False
            I = self.observed_information(best, free, scale) * np.outer(scale[free], scale[free])
            gw = g[free] * scale[free]
            # a parameter in which log p(y) is flat (its row of I and its score ~0: e.g. a log-Cholesky diagonal
            # of the factor noise gone to -inf, a factor without its own shock) is at the boundary of the
            # parameter space; the maximum is judged on the others and the flat ones are reported
            keep = (np.diag(I) > 1e-7) | (np.abs(gw) > 1e-5)
            flat = free[~keep]
            free, I, gw = free[keep], I[np.ix_(keep, keep)], gw[keep]
            lam, V = np.linalg.eigh(I)
            min_eig = float(lam.min())
            top = max(1.0, float(np.abs(lam).max()))
            n_iter += 1
            if progress is not None:
                progress(n_iter, best_ll)
            absl = np.maximum(np.abs(lam), 1e-8 * top)
            decrement = float(np.sum((V.T @ gw) ** 2 / absl))
            pd = min_eig > 1e-7 * top      # above the differences' noise (~1e-8 here)
            if pd and decrement < tol:
                converged, message = True, f"Newton decrement {decrement:.2g} below {tol:g}"
                break
            trials = []
            if pd:
                trials = [a * (V @ ((V.T @ gw) / lam)) for a in 0.5 ** np.arange(8)]
            else:
                v = V[:, 0] * (1.0 if V[:, 0] @ gw >= 0 else -1.0)
                trials = [s * a * v for a in (0.1, 0.3, 1.0, 3.0) for s in (1.0, -1.0)]
                trials += [a * (V @ ((V.T @ gw) / absl)) for a in 0.5 ** np.arange(4)]
            cand_best, cand_best_ll = None, best_ll
            for t in trials:
                cand = best.copy()
                cand[free] += scale[free] * t
                cand_ll = self.loglik(cand)
                if cand_ll > cand_best_ll:
                    cand_best, cand_best_ll = cand, cand_ll
                    if pd:
                        break               # the longest Newton step that gains
            gained = cand_best_ll - best_ll
            if cand_best is not None:
                saddle_steps += not pd
                best, best_ll = cand_best, cand_best_ll
                stale = stale or not pd
            if pd and gained > 0 and (gained > 1e-6 or decrement < 1e-3):
                continue                    # Newton is converging: no need for anything else
            if lbfgs_runs >= max_lbfgs:
                message = f"stopped after {lbfgs_runs} L-BFGS-B runs (Newton decrement {decrement:.2g})"
                break
            # L-BFGS-B whitened by |I| at the current point
            lbfgs_runs += 1
            metric = scale[free][:, None] * (V / np.sqrt(absl))
            cand, cand_ll, nit, lb_message = self._lbfgs_round(best, metric, free, max_iter)
            n_iter += nit
            if cand_ll > best_ll:
                gained += cand_ll - best_ll
                best, best_ll, stale = cand, cand_ll, True
            if not gained > 1e-9:
                message = ("not a maximum: the observed information has a negative eigenvalue "
                           f"({min_eig:.3g} in scaled units) and no step gains" if not pd else
                           f"no step gains at a Newton decrement of {decrement:.2g} (above {tol:g}): the "
                           f"log-likelihood is too flat or rough here to resolve ({lb_message})")
                break
        else:
            message = f"stopped after 200 Newton iterations (Newton decrement {decrement:.2g})"
        self.report = {"decrement": decrement, "min_eig": min_eig, "on_floor": on_floor, "flat": flat,
                       "saddle_steps": saddle_steps, "lbfgs_runs": lbfgs_runs}
        return best, best_ll, converged, n_iter, message, start


_NAT_SCORE = 1e-3       # the score's difference step, in units of each parameter's own scale
_NAT_HESSIAN = 1e-2     # second differences of Q
_NAT_OBSERVED = 1e-2    # differences of the exact score (observed information)


def _natural_scale(H: np.ndarray) -> np.ndarray:
    """Each parameter's own scale, ``1/sqrt(H_ii)`` of an information matrix (1 where not positive)."""
    d = np.diag(H)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 1.0 / np.sqrt(d)
    return np.where(np.isfinite(s) & (d > 0), s, 1.0)


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


def flat_flag(report: dict, names) -> list:
    """An ``at_bound`` flag naming the parameters in which the log-likelihood is flat at the answer
    (``GaussianSSM.maximise``'s ``report["flat"]``), or none."""
    from ..diagnostics import Flag

    flat = list(report.get("flat", []))
    if not flat:
        return []
    return [Flag("at_bound", f"the log-likelihood is flat in {', '.join(names[i] for i in flat)} at the answer (a "
                             "boundary of the parameter space, e.g. a factor shock's standard deviation going to "
                             "zero): the maximum is over the other parameters; do not read these as estimates")]
