r"""Estimators of the continuous-time JSZ model (:mod:`xlatsm.atsm.continuous`): ``fit_atsm(..., time="continuous")``.

The data are sampled every ``dt`` years (monthly: 1/12), so every likelihood is that of the *exact*
discretisation ``P_t = c + Phi P_{t-1} + eta_t``, ``Var eta = Q_dt`` (:func:`~xlatsm.atsm.continuous.ou_discretisation`),
with the continuous-time loadings ``y_t = A_P + B_P P_t (+ e_t)``.

* ``"jsz"``: the N portfolios priced exactly, the other J - N directions with iid N(0, sigma^2) errors. What
  carries over from the discrete JSZ concentration: ``k_inf^Q`` and ``sigma`` in closed form (the loadings are
  affine in k_inf, exactly as in discrete time), and the P intercept ``c`` (for fixed ``Phi`` and ``Q_dt`` the
  GLS intercept of a VAR is the mean of ``P_t - Phi P_{t-1}``, whatever ``Q_dt`` is). What does not: ``K_1^P``
  by OLS, because ``Q_dt`` depends on ``K_P`` and the convexity term on ``Omega``, which ties ``Phi`` to the
  covariance; so ``K_P`` is searched numerically with ``lambda^Q`` and ``Sigma`` (18 parameters for N = 3),
  starting from the discrete JSZ estimate mapped to continuous time (``K_P = -logm(K1P)/dt``, the ``Omega`` whose
  exact discretisation is the OLS covariance). The answer is the exact conditional MLE of the continuous model.
* ``"kalman"``: exact MLE, every yield with error, through the collapsed Kalman filter of
  :mod:`xlatsm.atsm.collapsed` (missing cells, diffuse start flat in units of ``Q_dt``). Score by Fisher's
  identity (the discrete model's smoother moments, :meth:`xlatsm.atsm.likelihood.YieldModel.moments`): analytic in
  the transition and measurement, with the exact derivatives of ``(c, Phi, Q_dt)`` by complex steps through the
  matrix exponential, and central differences of the loadings in ``q`` only (they are affine in k_inf and Omega).
* ``"em"``: a generalised EM on the same likelihood: E-step the collapsed smoother, M-step a guarded quasi-Newton
  ascent of the expected complete-data log-likelihood in *all* parameters (no OLS step: ``Q_dt`` depends on
  ``K_P``, so the discrete model's closed-form step is not a conditional maximum here); each M-step raises it, so
  the log-likelihood never decreases; SQUAREM extrapolation, accepted only when it does not lower it.

Parameters (what the optimisers see), all unit-free or in years:
``theta = [q (N, per year), k_inf (1), chol_rel (N(N+1)/2), a_P (N), K_P (N*N, row-major), s (1 or J)]`` with
``Sigma = L_ref L(chol_rel)`` (log diagonal, relative to the start's factor) and ``sigma_j^2 = floor_j + exp(2 s_j)``
as in :mod:`xlatsm.atsm.likelihood`.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import ConvergenceWarning, EstimationError, InputError, ModelError
from .collapsed import CollapsedYields
from .continuous import ContinuousParams, ct_loadings_affine, ou_discretisation, params_from_discrete
from .likelihood import FisherScore, YieldModel
from .model import ATSMStructure
from .optim import curvature_steps, fd_hessian, maximise, whitening
from .params_vector import free_to_chol, n_chol

_LOG2PI = np.log(2 * np.pi)
_FAILURES = (ModelError, EstimationError, np.linalg.LinAlgError, ValueError, FloatingPointError, ZeroDivisionError)


def _chol_free(L_rel: np.ndarray) -> np.ndarray:
    L = np.tril(np.array(L_rel, float))
    d = np.diag(L).copy()
    if np.any(d <= 0):
        raise ValueError("Sigma must have a positive diagonal")
    L[np.diag_indices_from(L)] = np.log(d)
    return L[np.tril_indices_from(L)]


# ----------------------------------------------------------------------------------------------------------------
# jsz: portfolios priced exactly
# ----------------------------------------------------------------------------------------------------------------
class ContinuousJSZObjective:
    """Conditional log-likelihood (dates 2..T given the first) in ``theta = [q (N), chol_rel, K_P (N*N)]`` with
    ``k_inf``, ``sigma`` and the intercept ``c`` concentrated out (module docstring)."""

    def __init__(self, structure: ATSMStructure, Y: np.ndarray, L_ref: np.ndarray):
        self.structure, self.Y = structure, Y
        self.N = N = structure.n_factors
        self.nc = n_chol(N)
        self.L_ref = L_ref
        P = Y @ structure.W.T
        P1, P0 = P[1:], P[:-1]
        self.T1, self.J = len(P1), Y.shape[1]
        self.m1, self.m0 = P1.mean(0), P0.mean(0)
        C1, C0 = P1 - self.m1, P0 - self.m0
        self.C11, self.C10, self.C00 = C1.T @ C1, C1.T @ C0, C0.T @ C0
        # pricing-error statistics in deviations from means (see estimate._JSZObjective: nothing cancels)
        Y1 = Y[1:]
        self.y_mean, self.p_mean = Y1.mean(0), P1.mean(0)
        Yc = Y1 - self.y_mean
        E = Yc - C1 @ structure.W
        self.See, self.Sep, self.Spp = float(np.sum(E ** 2)), E.T @ C1, C1.T @ C1

    def pack(self, p: ContinuousParams) -> np.ndarray:
        return np.concatenate([p.q_coefs, _chol_free(np.linalg.solve(self.L_ref, p.Sigma)), p.KP.ravel()])

    def split(self, theta):
        N, nc = self.N, self.nc
        L = self.L_ref @ free_to_chol(theta[N:N + nc], N)
        return np.asarray(theta[:N], float), L, np.asarray(theta[N + nc:], float).reshape(N, N)

    def evaluate(self, theta):
        N, T1, J = self.N, self.T1, self.J
        q, L, KP = self.split(theta)
        Omega = L @ L.T
        Phi, S, Qd = ou_discretisation(KP, Omega, self.structure.dt)
        UU = self.C11 - self.C10 @ Phi.T - Phi @ self.C10.T + Phi @ self.C00 @ Phi.T
        c = self.m1 - Phi @ self.m0
        sign, logdet = np.linalg.slogdet(Qd)
        if sign <= 0:
            raise FloatingPointError("Q_dt is not positive definite")
        ll_p = -0.5 * T1 * (N * _LOG2PI + logdet) - 0.5 * np.trace(np.linalg.solve(Qd, UU))
        alpha, _, _, ld0, _ = ct_loadings_affine(q, Omega, self.structure)
        B = ld0.B_P
        D = self.structure.W.T - B
        centred = self.See + 2 * np.sum(self.Sep * D) + np.sum((D @ self.Spp) * D)
        m0 = self.y_mean - ld0.A_P - B @ self.p_mean
        kinf = float(m0 @ alpha / (alpha @ alpha))
        m = m0 - kinf * alpha
        sigma2 = float((centred + T1 * (m @ m)) / (T1 * (J - N)))
        if not sigma2 > 0:
            raise FloatingPointError("non-positive residual variance")
        ll_q = -0.5 * T1 * (J - N) * (_LOG2PI + np.log(sigma2) + 1.0)
        return ll_p + ll_q, kinf, np.sqrt(sigma2), np.linalg.solve(S, c)

    def loglik(self, theta) -> float:
        with np.errstate(all="ignore"):
            try:
                value = self.evaluate(theta)[0]
            except _FAILURES:
                return -np.inf
        return float(value) if np.isfinite(value) else -np.inf

    def params(self, theta) -> ContinuousParams:
        _, kinf, sigma, aP = self.evaluate(theta)
        q, L, KP = self.split(theta)
        return ContinuousParams(q_coefs=q, kinfQ=kinf, Sigma=L, aP=aP, KP=KP, sigma_e=np.full(self.J, sigma),
                                structure=self.structure)

    def curvature(self, theta):
        f = lambda x: -self.loglik(x)  # noqa: E731
        return fd_hessian(f, theta, curvature_steps(f, theta, np.ones(len(theta))))


def _discrete_jsz(Y: np.ndarray, structure: ATSMStructure):
    """The discrete JSZ fit (the continuous searches start from its answer mapped to continuous time)."""
    from .estimate import _fit_jsz

    return _fit_jsz(Y, structure, tol=1e-6, search_tol=1e-7)[0]


def fit_continuous_jsz(Y: np.ndarray, structure: ATSMStructure, progress=None, max_iter: int = 2000,
                       tol: float = 1e-9, search_tol: float | None = None, start: ContinuousParams | None = None):
    """(params, loglik, converged, n_iter, message, start_loglik, path)."""
    if start is None:
        start = params_from_discrete(_discrete_jsz(Y, structure))
    obj = ContinuousJSZObjective(structure, Y, start.Sigma)
    theta0 = obj.pack(start)
    if not np.isfinite(obj.loglik(theta0)):
        raise EstimationError("the continuous-time JSZ likelihood is not finite at the discrete model's estimate: "
                              "check the yields' units, or use time='discrete'")
    accept_tol, search = tol, (min(tol, 1e-11) if search_tol is None else search_tol)
    res = maximise(lambda th: (obj.loglik(th), None), theta0, obj.curvature, max_iter=max_iter, tol=search,
                   accept_tol=accept_tol, progress=progress)
    return obj.params(res.x), res.loglik, res.converged, res.n_iter, res.message, res.start_loglik, res.path


# ----------------------------------------------------------------------------------------------------------------
# kalman and em: every yield with error
# ----------------------------------------------------------------------------------------------------------------
class ContinuousYieldModel(FisherScore):
    """The Kalman likelihood of the continuous model on a panel Y (T, J; NaN = missing), its score and
    information (module docstring)."""

    def __init__(self, Y: np.ndarray, structure: ATSMStructure, measurement_error: str, L_ref: np.ndarray):
        # the discrete model supplies the smoother moments and the measurement-variance floors
        self.base = YieldModel(Y, structure, measurement_error, L_ref)
        self.data: CollapsedYields = self.base.data
        self.structure, self.N, self.J = structure, structure.n_factors, self.base.J
        self.common, self.var_floor = self.base.common, self.base.var_floor
        self.L_ref = np.asarray(L_ref, float)
        N = self.N
        sizes = [N, 1, n_chol(N), N, N * N, 1 if self.common else self.J]
        names = ["q", "kinf", "chol", "aP", "KP", "s"]
        self.blocks = dict(zip(names, np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])))
        self.n_params = sum(sizes)
        self.loading_idx = np.concatenate([self.blocks["q"], self.blocks["kinf"], self.blocks["chol"]])
        self.transition_idx = np.concatenate([self.blocks["chol"], self.blocks["aP"], self.blocks["KP"]])
        # the discrete model's vector has the same layout with (K0P, K1P) where this one has (a_P, K_P): its maps
        # of the shared blocks (Sigma's Cholesky factor, measurement variances) serve both
        same = all(np.array_equal(self.blocks[a], self.base.blocks.get(b, ())) for a, b in
                   (("q", "q"), ("kinf", "kinf"), ("chol", "chol"), ("aP", "K0P"), ("KP", "K1P"), ("s", "s")))
        if not same:
            raise RuntimeError("xlatsm.atsm.likelihood.YieldModel changed its parameter layout: update "
                               "ContinuousYieldModel")
        self.chol, self.sigma2, self.at_floor = self.base.chol, self.base.sigma2, self.base.at_floor
        self._dOmega, self._resid = self.base._dOmega, self.base._resid

    def pack(self, p: ContinuousParams) -> np.ndarray:
        var = p.sigma_e ** 2
        excess = np.maximum(var - self.var_floor, 1e-6 * var + 1e-300)
        s = 0.5 * np.log(excess[:1] if self.common else excess)
        return np.concatenate([p.q_coefs, [p.kinfQ], _chol_free(np.linalg.solve(self.L_ref, p.Sigma)), p.aP,
                               p.KP.ravel(), s])

    def unpack(self, theta) -> ContinuousParams:
        b, N = self.blocks, self.N
        return ContinuousParams(q_coefs=theta[b["q"]].copy(), kinfQ=float(theta[b["kinf"]][0]), Sigma=self.chol(theta),
                                aP=theta[b["aP"]].copy(), KP=theta[b["KP"]].reshape(N, N).copy(),
                                sigma_e=np.sqrt(self.sigma2(theta)), structure=self.structure)

    # -- measurement: loadings and their derivatives -----------------------------------------------------------
    def _loadings(self, q, kinf, chol_free):
        L = self.L_ref @ free_to_chol(chol_free, self.N)
        dA, _, _, ld0, G = ct_loadings_affine(q, L @ L.T, self.structure)
        return ld0.A_P + kinf * dA, ld0.B_P, dA, G

    def loadings(self, theta):
        b = self.blocks
        A, B, _, _ = self._loadings(theta[b["q"]], theta[b["kinf"]][0], theta[b["chol"]])
        return A, B

    def loadings_jacobian(self, theta):
        """(A, B, dA (k, J), dB (k, J, N)) for the loading parameters [q, k_inf, chol]: central differences in q,
        exact in k_inf (affine) and chol (A is affine in Omega through the convexity map)."""
        b = self.blocks
        q, kinf, ch = theta[b["q"]].copy(), theta[b["kinf"]][0], theta[b["chol"]].copy()
        A, B, dA_kinf, G = self._loadings(q, kinf, ch)
        k = len(self.loading_idx)
        dA = np.zeros((k, self.J))
        dB = np.zeros((k, self.J, self.N))
        for i in range(self.N):
            h = 1e-6 * max(1.0, abs(q[i]))
            up, down = q.copy(), q.copy()
            up[i] += h
            down[i] -= h
            Au, Bu, _, _ = self._loadings(up, kinf, ch)
            Ad, Bd, _, _ = self._loadings(down, kinf, ch)
            dA[i], dB[i] = (Au - Ad) / (2 * h), (Bu - Bd) / (2 * h)
        dA[self.N] = dA_kinf
        dA[self.N + 1:] = np.einsum("akl,jkl->aj", self._dOmega(theta), G)
        return A, B, dA, dB

    # -- transition: exact discretisation and its derivatives --------------------------------------------------
    def transition(self, theta):
        """(c, Phi, Q_dt)."""
        b, N = self.blocks, self.N
        L = self.chol(theta)
        Phi, S, Q = ou_discretisation(theta[b["KP"]].reshape(N, N), L @ L.T, self.structure.dt)
        return S @ theta[b["aP"]], Phi, Q

    def transition_jacobian(self, theta):
        """(dG (k, N, N+1), dQ (k, N, N)) with G = [c, Phi], for the transition parameters [chol, a_P, K_P]:
        Q_dt is linear in Omega and c in a_P (exact), and K_P enters through the matrix exponential (complex
        steps: exact to rounding)."""
        b, N, dt = self.blocks, self.N, self.structure.dt
        KP, aP = theta[b["KP"]].reshape(N, N), theta[b["aP"]]
        L = self.chol(theta)
        Omega = L @ L.T
        nc = n_chol(N)
        k = nc + N + N * N
        dG = np.zeros((k, N, N + 1))
        dQ = np.zeros((k, N, N))
        _, S, _ = ou_discretisation(KP, Omega, dt)
        for a, dOm in enumerate(self._dOmega(theta)):
            dQ[a] = ou_discretisation(KP, dOm, dt)[2]
        for i in range(N):
            dG[nc + i, :, 0] = S[:, i]
        h = 1e-30
        for i in range(N):
            for j in range(N):
                step = KP.astype(complex)
                step[i, j] += 1j * h
                Phi_c, S_c, Q_c = ou_discretisation(step, Omega.astype(complex), dt)
                a = nc + N + i * N + j
                dG[a, :, 0] = (S_c.imag / h) @ aP
                dG[a, :, 1:] = Phi_c.imag / h
                dQ[a] = Q_c.imag / h
        return dG, dQ

    # -- filtering and the expected complete-data log-likelihood ----------------------------------------------
    def run(self, theta, smooth=True, lagged=True):
        A, B = self.loadings(theta)
        c, Phi, Q = self.transition(theta)
        return self.data.run(A, B, self.sigma2(theta), c, Phi, Q, lagged=lagged, smooth=smooth)

    def loglik(self, theta) -> float:
        return self.run(theta, smooth=False, lagged=False).loglik

    def e_step(self, theta):
        sm = self.run(theta)
        return sm.loglik, self.base.moments(sm.states, sm.cov)

    def _parts(self, theta, m):
        c, Phi, Q = self.transition(theta)
        G = np.column_stack([c, Phi])
        res_x = m.Sxx - G @ m.Sxz.T - m.Sxz @ G.T + G @ m.Szz @ G.T
        return G, Q, res_x

    def ecdll(self, theta, m) -> float:
        N = self.N
        G, Q, res_x = self._parts(theta, m)
        sign, logdet = np.linalg.slogdet(Q)
        if sign <= 0:
            raise FloatingPointError("Q_dt is not positive definite")
        ll_x = -0.5 * m.n * N * _LOG2PI - 0.5 * (m.n + 1) * logdet - 0.5 * np.trace(np.linalg.solve(Q, res_x))
        A, B = self.loadings(theta)
        r, _ = self._resid(A, B, m)
        var = self.sigma2(theta)
        return float(ll_x - 0.5 * np.sum(m.n_j * (_LOG2PI + np.log(var)) + r / var))

    def ecdll_grad_info(self, theta, m, info: bool = False):
        """Gradient of the ECDLL (the score when m is theta's own E-step) and, with ``info``, the complete-data
        Fisher information (Gauss-Newton in the loadings and in (c, Phi, Q_dt))."""
        b = self.blocks
        G, Q, res_x = self._parts(theta, m)
        Qinv = np.linalg.inv(Q)
        grad = np.zeros(self.n_params)
        dl_dG = Qinv @ (m.Sxz - G @ m.Szz)
        Mx = -0.5 * (m.n + 1) * Qinv + 0.5 * Qinv @ res_x @ Qinv
        dG, dQ = self.transition_jacobian(theta)
        ti = self.transition_idx
        grad[ti] += np.einsum("ij,kij->k", dl_dG, dG) + np.einsum("ij,kij->k", Mx, dQ)
        A, B, dA, dB = self.loadings_jacobian(theta)
        r, g = self._resid(A, B, m)
        var = self.sigma2(theta)
        dg = np.concatenate([dA[:, :, None], dB], axis=2)
        u = (m.Syz_j - np.einsum("jab,jb->ja", m.Szz_j, g)) / var[:, None]
        grad[self.loading_idx] += np.einsum("ja,kja->k", u, dg)
        dvar = 2 * (var - self.var_floor)
        dll_dvar = -0.5 * m.n_j / var + 0.5 * r / var ** 2
        grad[b["s"]] = np.sum(dll_dvar * dvar) if self.common else dll_dvar * dvar
        if not info:
            return grad
        H = np.zeros((self.n_params, self.n_params))
        li = self.loading_idx
        H[np.ix_(li, li)] += np.einsum("kja,jab,ljb->kl", dg, m.Szz_j / var[:, None, None], dg)
        QdG = np.einsum("ij,kjl->kil", Qinv, dG)
        QdQ = np.einsum("ij,kjl->kil", Qinv, dQ)
        H[np.ix_(ti, ti)] += (np.einsum("kil,lm,hil->kh", QdG, m.Szz, dG)
                              + 0.5 * (m.n + 1) * np.einsum("kij,hji->kh", QdQ, QdQ))
        w = 0.5 * m.n_j * (dvar / var) ** 2
        si = b["s"]
        if self.common:
            H[si[0], si[0]] = np.sum(w)
        else:
            H[si, si] = w
        return grad, 0.5 * (H + H.T)


def fit_continuous_kalman(model: ContinuousYieldModel, start: ContinuousParams, max_iter: int, tol: float,
                          progress=None):
    res = maximise(model.score, model.pack(start), model.information, max_iter=max_iter, tol=tol,
                   progress=progress, exact_curvature=model.hessian)
    return res.x, res.loglik, res.converged, res.n_iter, np.array(res.path), res.message, res.start_loglik


def _m_step(model: ContinuousYieldModel, theta: np.ndarray, m) -> np.ndarray:
    """Raise the ECDLL from theta in every parameter (guarded: never lower)."""
    fg = lambda x: (model.ecdll(x, m), model.ecdll_grad_info(x, m))  # noqa: E731
    info = lambda x: model.ecdll_grad_info(x, m, info=True)[1]  # noqa: E731
    try:
        return maximise(fg, theta, info, max_iter=50, tol=1e-15, max_restarts=1).x
    except EstimationError:
        return theta


def fit_continuous_em(model: ContinuousYieldModel, start: ContinuousParams, max_iter: int, tol: float,
                      progress=None):
    """Generalised EM with SQUAREM (Varadhan and Roland 2008): from theta0 two EM steps theta1, theta2, the
    extrapolation ``x = theta0 - 2 a r + a^2 v`` (``r = theta1 - theta0``, ``v = theta2 - 2 theta1 + theta0``,
    ``a = min(-|r|/|v|, -1)``) and one EM step from x, accepted only if its log-likelihood is at least theta2's.
    ``loglik_path`` holds accepted iterates (never decreasing). Convergence: a cycle gains less than
    ``tol |loglik|`` and the Newton decrement in the exact curvature is below ``2 tol |loglik|``."""
    theta = model.pack(start)
    ll, m = model.e_step(theta)
    path = [ll]
    converged, message, checks = False, "max_iter reached", 0

    def accept(value):
        path.append(value)
        if progress is not None:
            progress(len(path) - 1, value)

    while len(path) - 1 < max_iter:
        before = ll
        try:
            th1 = _m_step(model, theta, m)
            ll1, m1 = model.e_step(th1)
        except _FAILURES:
            message = "an EM step failed (the filter broke down at the M-step's parameters)"
            break
        if not ll1 >= ll:           # a GEM step cannot fall: rounding at the optimum
            th1, ll1, m1 = theta, ll, m
        th0 = theta
        best = (th1, ll1, m1)
        try:
            th2 = _m_step(model, th1, m1)
            ll2, m2 = model.e_step(th2)
            if ll2 >= ll1:
                best = (th2, ll2, m2)
                r, v = th1 - th0, th2 - 2 * th1 + th0
                nv = np.linalg.norm(v)
                alpha = min(-np.linalg.norm(r) / nv, -1.0) if nv > 0 else -1.0
                if alpha < -1.0:
                    x = th0 - 2 * alpha * r + alpha ** 2 * v
                    _, mx = model.e_step(x)
                    th3 = _m_step(model, x, mx)
                    ll3, m3 = model.e_step(th3)
                    if np.isfinite(ll3) and ll3 >= ll2:
                        best = (th3, ll3, m3)
        except _FAILURES:
            pass
        theta, ll, m = best
        accept(ll)
        if ll - before <= tol * abs(ll):
            try:
                _, g = model.score(theta)
                gu = whitening(model.hessian(theta)).T @ g
                decrement = float(gu @ gu)
            except _FAILURES:
                decrement = np.inf
            if decrement <= 2 * tol * max(1.0, abs(ll)):
                converged, message = True, "Newton decrement below tol"
                break
            checks += 1
            if ll - before <= 0 or checks >= 3:
                message = (f"the EM gains less than tol per cycle but the Newton decrement is {decrement:.3g}: "
                           "it is creeping; method='kalman' may get further")
                break
    return theta, path[-1], converged, len(path) - 1, np.array(path), message, path[0]


# ----------------------------------------------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------------------------------------------
def _filled(Y: np.ndarray) -> np.ndarray:
    return pd.DataFrame(Y).interpolate(axis=1, limit_direction="both").ffill().bfill().to_numpy()


def _start(Y, structure, measurement_error):
    """The continuous JSZ fit on the panel with blanks filled (the discrete fit mapped to continuous time if that
    fails), sigma per maturity from its residuals when asked."""
    from .estimate import _per_maturity_start

    filled = _filled(Y)
    mapped = params_from_discrete(_discrete_jsz(filled, structure))
    try:
        start = fit_continuous_jsz(filled, structure, tol=1e-6, search_tol=1e-7, start=mapped)[0]
    except _FAILURES:
        start = mapped
    return _per_maturity_start(start, Y) if measurement_error == "per_maturity" else start


def fit_continuous(yields, maturities: Sequence | None = None, n_factors: int = 3, method: str = "auto", *,
                   yield_units: str = "auto", maturity_units: str = "auto", periods_per_year: int | None = None,
                   measurement_error: str = "common", portfolios=None, start: ContinuousParams | None = None,
                   max_iter: int = 500, tol: float = 1e-9, progress: Callable[[int, float], None] | None = None):
    """Fit the continuous-time JSZ model (:mod:`xlatsm.atsm.continuous`); the arguments mean what they mean for
    :func:`xlatsm.atsm.estimate.fit_atsm`. Returns a
    :class:`~xlatsm.atsm.continuous_result.ContinuousATSMResult`."""
    from .continuous_result import ContinuousATSMResult, diagnose_continuous
    from .estimate import _set_up

    t0 = time.perf_counter()
    requested = method
    panel, structure, notes, method = _set_up(yields, maturities, n_factors, method, measurement_error, yield_units,
                                              maturity_units, periods_per_year, portfolios)
    Y = panel.yields
    at_floor = np.zeros(Y.shape[1], bool)
    if start is not None:
        if not isinstance(start, ContinuousParams):
            raise InputError("start for time='continuous' must be ContinuousParams (e.g. a continuous fit's params)")
        if start.structure.W.shape != structure.W.shape:
            raise ModelError("the start values were fitted to a different set of maturities or factors")
        start = replace(start, structure=structure)
    if method == "jsz":
        params, loglik, converged, n_iter, message, start_ll, path = fit_continuous_jsz(
            Y, structure, progress, max_iter, tol, start=start)
        path = np.asarray(path)
        if measurement_error != "common":
            notes.append("jsz uses one measurement error sigma for all maturities")
        notes.append("jsz prices the N portfolios exactly: the factors are observed (W y_t), so their standard "
                     "errors are zero by construction; method='kalman' gives filtering uncertainty")
    else:
        if start is None:
            start = _start(Y, structure, measurement_error)
        elif measurement_error == "per_maturity" and np.allclose(start.sigma_e, start.sigma_e[0]):
            from .estimate import _per_maturity_start

            start = _per_maturity_start(start, Y)
        model = ContinuousYieldModel(Y, structure, measurement_error, start.Sigma)
        fitter = fit_continuous_kalman if method == "kalman" else fit_continuous_em
        theta, loglik, converged, n_iter, path, message, start_ll = fitter(model, start, max_iter, tol, progress)
        params = model.unpack(theta)
        at_floor = model.at_floor(theta)
    if not converged:
        warnings.warn(f"ATSM fit ({method}, continuous time) did not converge: {message}; raise max_iter or try "
                      "another method", ConvergenceWarning, stacklevel=3)
    notes.append("continuous time: K, theta, Sigma per year; the P dynamics enter the likelihood through their "
                 "exact discretisation at the data's period")
    result = ContinuousATSMResult(params=params, panel=panel, method=method, loglik=float(loglik),
                                  converged=converged, n_iter=int(n_iter), loglik_path=np.asarray(path, float),
                                  message=str(message), notes=notes,
                                  measurement_error="common" if method == "jsz" else measurement_error,
                                  seconds=time.perf_counter() - t0, method_requested=requested,
                                  start_loglik=float(start_ll))
    result.flags = diagnose_continuous(result, at_floor)
    return result
