r"""The Kalman (all yields observed with error) likelihood of the JSZ-canonical ATSM, its score and information.

Model (decimals, periods): ``y_tj = A_j + B_j' P_t + e_tj``, ``e_tj ~ N(0, sigma_j^2)`` on observed cells,
``P_t = K0P + K1P P_{t-1} + Sigma_P eps_t``, diffuse start flat in units of ``Omega_P``; ``A, B`` are the JSZ
loadings of ``(lambda^Q, k_inf^Q, Omega_P)`` (:mod:`xlatsm.atsm.model`).

Parameter vector (what the optimisers see)::

    theta = [q_free (N), k_inf (1), chol_rel (N(N+1)/2), K0P (N), K1P (N*N, row-major), s (1 or J)]

* ``Sigma_P = L_ref L(chol_rel)``: a Cholesky factor *relative* to a reference factor ``L_ref`` (the start's),
  with log diagonal; unit-free, so the same numbers describe the same model whatever the yields' units, and a
  zero vector is the reference itself (the raw decimal Cholesky entries of Sigma_P are ~1e-4 and were
  ~5e7 times more curved than the log-diagonal ones);
* ``sigma_j^2 = floor_j + exp(2 s_j)``: measurement variances above a floor (1e-6 of each maturity's variance
  with ``per_maturity`` errors, where a maturity fitted "exactly" would otherwise send its variance, and the
  likelihood, to infinity: a Heywood case).

The E-step is one pass of the collapsed smoother (:mod:`xlatsm.atsm.collapsed`) over the state (P_t, P_{t-1}).
With its moments, the expected complete-data log-likelihood (ECDLL, complete data = factors and *observed* cells)
is, with ``n = T - 1`` transitions, ``G = [K0P, K1P]``, ``g_j = (A_j, B_j)``:

.. math::

    Q(\theta) = -\tfrac{n+1}{2}\log|\Omega_P| - \tfrac12 \mathrm{tr}\,\Omega_P^{-1}(S_{xx} - G S_{xz}' - S_{xz}G'
      + G S_{zz} G') - \tfrac12 \sum_j \big[n_j \log \sigma_j^2 + (S_{yy,j} - 2 g_j'S_{yz,j} + g_j'S_{zz,j}g_j)
      / \sigma_j^2\big] + \text{const}

By Fisher's identity its gradient at the E-step's own theta is the score of the observed-data likelihood; it is
computed analytically, except for the loadings' derivatives with respect to ``q`` and the Cholesky entries
(central differences of the loadings; exact for ``k_inf`` and ``Sigma_P``, on which the loadings are affine and
quadratic). The complete-data Fisher information (Gauss-Newton in the loadings) is the optimisers' metric.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .collapsed import CollapsedYields
from .model import ATSMParams, ATSMStructure, jsz_convexity_map, jsz_loadings_affine, latent_price_b
from .params_vector import free_to_chol, free_to_q, n_chol, q_to_free

_LOG2PI = np.log(2 * np.pi)


def q_only_loadings(q_free, structure: ATSMStructure):
    """(dA_P/dk_inf, B_P, A_P at k_inf = 0 and Omega_P = 0, the convexity map G with
    A_P = A_P(0) + sum_kl Omega_kl G_kl + k_inf dA_P/dk_inf): all of the JSZ loadings that depends on the
    Q-eigenvalues alone (free coordinates ``q_free``)."""
    q = free_to_q(q_free)
    N = structure.n_factors
    b = latent_price_b(q, int(np.round(np.max(structure.periods))), structure.dt)
    dA, _, _, ld0 = jsz_loadings_affine(q, np.zeros((N, N)), structure, b=b)
    return dA, ld0.B_P, ld0.A_P, jsz_convexity_map(q, structure, b=b)


def bounded_memo(cache: dict, q_free, make, size: int = 256):
    """``cache[q_free]``, made by ``make()`` on a miss; the cache is emptied when it reaches ``size`` entries (a
    search moves on, so old points are not revisited)."""
    key = np.asarray(q_free, float).tobytes()
    hit = cache.get(key)
    if hit is None:
        if len(cache) >= size:
            cache.clear()
        cache[key] = hit = make()
    return hit


@dataclass
class Moments:
    """Expected sufficient statistics of one E-step (see the module docstring)."""

    Sxx: np.ndarray
    Sxz: np.ndarray
    Szz: np.ndarray
    n: int
    n_j: np.ndarray        # (J,) observed cells per maturity
    Syy_j: np.ndarray      # (J,)
    Syz_j: np.ndarray      # (J, N+1)
    Szz_j: np.ndarray      # (J, N+1, N+1)


class FisherScore:
    """score, information and Hessian of a Kalman likelihood from its E-step (``e_step(theta) -> (loglik, m)``)
    and the expected complete-data log-likelihood's gradient and information (``ecdll_grad_info``), by Fisher's
    identity; shared by the discrete (:class:`YieldModel`) and continuous-time yield models."""

    def score(self, theta):
        """(loglik, score) at theta: one smoother pass and Fisher's identity."""
        ll, m = self.e_step(theta)
        return ll, self.ecdll_grad_info(theta, m)

    def hessian(self, theta) -> np.ndarray:
        """-d score / d theta by forward differences of the analytic score (n + 1 smoother passes), symmetrised."""
        n = len(theta)
        H = np.zeros((n, n))
        _, m = self.e_step(theta)
        g0, info = self.ecdll_grad_info(theta, m, info=True)
        for i in range(n):
            # ~1e-4 of a standard error (forward differences are then accurate to ~1e-4, plenty for a metric),
            # but never more than 1e-3 of the parameter's size: a weakly identified direction would otherwise
            # get a step so long that the differences measure the function's shape far away
            h = min(1e-4 / np.sqrt(max(info[i, i], 1e-300)), 1e-3 * max(abs(theta[i]), 1e-2))
            up = theta.copy()
            up[i] += h
            H[i] = -(self.score(up)[1] - g0) / h
        return 0.5 * (H + H.T)

    def information(self, theta) -> np.ndarray:
        _, m = self.e_step(theta)
        return self.ecdll_grad_info(theta, m, info=True)[1]


class YieldModel(FisherScore):
    """The Kalman likelihood on a panel Y (T, J; NaN = missing) for ``theta`` (module docstring)."""

    def __init__(self, Y: np.ndarray, structure: ATSMStructure, measurement_error: str, L_ref: np.ndarray):
        self.Y = np.asarray(Y, float)
        self.data = CollapsedYields(self.Y)
        self.structure = structure
        self.N = N = structure.n_factors
        self.J = self.Y.shape[1]
        self.common = measurement_error == "common"
        self.L_ref = np.asarray(L_ref, float)
        var = np.nanvar(self.Y, axis=0)
        # per-maturity variances may collapse (Heywood): keep them above 1e-6 of the maturity's variance, i.e.
        # sigma_j >= 1e-3 sd_j (0.3 bp for a 3% sd); the common variance cannot collapse, its floor is nominal
        self.var_floor = (1e-6 * var + 1e-20) if not self.common else np.full(self.J, 1e-14 * np.mean(var) + 1e-30)
        sizes = [N, 1, n_chol(N), N, N * N, 1 if self.common else self.J]
        names = ["q", "kinf", "chol", "K0P", "K1P", "s"]
        self.blocks = dict(zip(names, np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])))
        self.n_params = sum(sizes)
        self.loading_idx = np.concatenate([self.blocks["q"], self.blocks["kinf"], self.blocks["chol"]])

    # -- packing ---------------------------------------------------------------------------------------------
    def chol(self, theta) -> np.ndarray:
        return self.L_ref @ free_to_chol(theta[self.blocks["chol"]], self.N)

    def sigma2(self, theta) -> np.ndarray:
        s = theta[self.blocks["s"]]
        return self.var_floor + np.exp(2 * (np.full(self.J, s[0]) if self.common else s))

    def pack(self, p: ATSMParams) -> np.ndarray:
        rel = np.linalg.solve(self.L_ref, p.Sigma_P)
        rel[np.abs(rel) < 1e-300] = 0.0
        rel = np.tril(rel)
        d = np.diag(rel).copy()
        if np.any(d <= 0):
            raise ValueError("Sigma_P must have a positive diagonal")
        free = rel.copy()
        free[np.diag_indices(self.N)] = np.log(d)
        var = p.sigma_e ** 2
        excess = np.maximum(var - self.var_floor, 1e-6 * var + 1e-300)
        s = 0.5 * np.log(excess[:1] if self.common else excess)
        return np.concatenate([q_to_free(p.q_coefs), [p.kinfQ], free[np.tril_indices(self.N)], p.K0P,
                               p.K1P.ravel(), s])

    def unpack(self, theta) -> ATSMParams:
        b, N = self.blocks, self.N
        return ATSMParams(q_coefs=free_to_q(theta[b["q"]]), kinfQ=float(theta[b["kinf"]][0]),
                          Sigma_P=self.chol(theta), K0P=theta[b["K0P"]].copy(),
                          K1P=theta[b["K1P"]].reshape(N, N).copy(), sigma_e=np.sqrt(self.sigma2(theta)),
                          structure=self.structure)

    def at_floor(self, theta) -> np.ndarray:
        """Maturities whose measurement variance is within 1% of its floor (all of them for a common sigma)."""
        return self.sigma2(theta) < 1.01 * self.var_floor

    # -- loadings and their derivatives -----------------------------------------------------------------------
    def _q_part(self, q_free):
        """:func:`q_only_loadings` at ``q_free``, cached between calls (the loadings are affine in k_inf and in
        Omega_P, so a score's or Hessian's moves of the other parameters never recompute them)."""
        cache = self.__dict__.setdefault("_q_cache", {})
        return bounded_memo(cache, q_free, lambda: q_only_loadings(q_free, self.structure))

    def _loadings(self, q_free, kinf, chol_free):
        L = self.L_ref @ free_to_chol(chol_free, self.N)
        dA, B, A0, G = self._q_part(q_free)
        return A0 + np.einsum("jkl,kl->j", G, L @ L.T) + kinf * dA, B, dA

    def loadings(self, theta):
        b = self.blocks
        A, B, _ = self._loadings(theta[b["q"]], theta[b["kinf"]][0], theta[b["chol"]])
        return A, B

    def loadings_jacobian(self, theta):
        """(A (J,), B (J, N), dA (k, J), dB (k, J, N)) for the k loading parameters [q, k_inf, chol]."""
        b = self.blocks
        q, kinf, ch = theta[b["q"]].copy(), theta[b["kinf"]][0], theta[b["chol"]].copy()
        A, B, dA_kinf = self._loadings(q, kinf, ch)
        k = len(self.loading_idx)
        dA = np.zeros((k, self.J))
        dB = np.zeros((k, self.J, self.N))
        for i in range(self.N):
            h = 1e-6 * max(1.0, abs(q[i]))
            up, down = q.copy(), q.copy()
            up[i] += h
            down[i] -= h
            Au, Bu, _ = self._loadings(up, kinf, ch)
            Ad, Bd, _ = self._loadings(down, kinf, ch)
            dA[i], dB[i] = (Au - Ad) / (2 * h), (Bu - Bd) / (2 * h)
        dA[self.N] = dA_kinf                      # A is affine in k_inf, B does not depend on it
        # A is affine in Omega_P (convexity), B does not depend on it: chain rule through dOmega/dchol
        G = self._q_part(q)[3]
        dA[self.N + 1:] = np.einsum("akl,jkl->aj", self._dOmega(theta), G)
        return A, B, dA, dB

    def _dOmega(self, theta):
        """d Omega_P / d chol_free, (n_chol, N, N)."""
        N = self.N
        free = theta[self.blocks["chol"]]
        Lrel = free_to_chol(free, N)
        L = self.L_ref @ Lrel
        rows, cols = np.tril_indices(N)
        out = np.zeros((len(free), N, N))
        for a, (i, j) in enumerate(zip(rows, cols)):
            dLrel = np.zeros((N, N))
            dLrel[i, j] = Lrel[i, j] if i == j else 1.0
            dL = self.L_ref @ dLrel
            out[a] = dL @ L.T + L @ dL.T
        return out

    # -- E-step ---------------------------------------------------------------------------------------------
    def run(self, theta, smooth=True, lagged=True):
        p = self.unpack(theta)
        A, B = self.loadings(theta)
        return self.data.run(A, B, p.sigma_e ** 2, p.K0P, p.K1P, p.Omega_P, lagged=lagged, smooth=smooth)

    def loglik(self, theta) -> float:
        return self.run(theta, smooth=False, lagged=False).loglik

    def e_step(self, theta) -> tuple[float, Moments]:
        sm = self.run(theta)
        return sm.loglik, self.moments(sm.states, sm.cov)

    def moments(self, states, cov) -> Moments:
        N = self.N
        S, P = states[1:], cov[1:]
        X, Zl = S[:, :N], S[:, N:2 * N]
        n = len(X)
        Psum = P.sum(0)
        Sxx = X.T @ X + Psum[:N, :N]
        Sxw = X.T @ Zl + Psum[:N, N:2 * N]
        Sww = Zl.T @ Zl + Psum[N:2 * N, N:2 * N]
        Sxz = np.column_stack([X.sum(0), Sxw])
        Szz = np.block([[np.array([[n]]), Zl.sum(0)[None, :]], [Zl.sum(0)[:, None], Sww]])
        # observation moments per maturity over its observed dates only
        M = states[:, :N]
        V = cov[:, :N, :N]
        T = len(M)
        z = np.column_stack([np.ones(T), M])
        outer = z[:, :, None] * z[:, None, :]
        outer[:, 1:, 1:] += V
        mask = self.data.mask_float
        Szz_j = (mask.T @ outer.reshape(T, -1)).reshape(self.J, N + 1, N + 1)
        Syz_j = self.data.Y0.T @ z                              # Y0 is zero on missing cells
        Syy_j = np.sum(self.data.Y0 ** 2 * mask, axis=0)
        return Moments(Sxx=Sxx, Sxz=Sxz, Szz=Szz, n=n, n_j=mask.sum(0), Syy_j=Syy_j, Syz_j=Syz_j, Szz_j=Szz_j)

    # -- expected complete-data log-likelihood ----------------------------------------------------------------
    def _resid(self, A, B, m: Moments):
        g = np.column_stack([A, B])                         # (J, N+1)
        return m.Syy_j - 2 * np.sum(g * m.Syz_j, axis=1) + np.einsum("ja,jab,jb->j", g, m.Szz_j, g), g

    def ecdll(self, theta, m: Moments) -> float:
        b, N = self.blocks, self.N
        L = self.chol(theta)
        Omega = L @ L.T
        G = np.column_stack([theta[b["K0P"]], theta[b["K1P"]].reshape(N, N)])
        res_x = m.Sxx - G @ m.Sxz.T - m.Sxz @ G.T + G @ m.Szz @ G.T
        logdet = 2 * np.sum(np.log(np.abs(np.diag(L))))
        ll_x = -0.5 * m.n * N * _LOG2PI - 0.5 * (m.n + 1) * logdet - 0.5 * np.trace(np.linalg.solve(Omega, res_x))
        A, B = self.loadings(theta)
        r, _ = self._resid(A, B, m)
        var = self.sigma2(theta)
        ll_y = -0.5 * np.sum(m.n_j * (_LOG2PI + np.log(var)) + r / var)
        return float(ll_x + ll_y)

    def ecdll_grad_info(self, theta, m: Moments, info: bool = False):
        """Gradient of the ECDLL at theta (the score when m comes from theta's own E-step) and, with ``info``,
        the complete-data Fisher information (positive definite)."""
        b, N = self.blocks, self.N
        L = self.chol(theta)
        Omega = L @ L.T
        Oinv = np.linalg.inv(Omega)
        G = np.column_stack([theta[b["K0P"]], theta[b["K1P"]].reshape(N, N)])
        res_x = m.Sxx - G @ m.Sxz.T - m.Sxz @ G.T + G @ m.Szz @ G.T
        grad = np.zeros(self.n_params)
        dG = Oinv @ (m.Sxz - G @ m.Szz)
        grad[b["K0P"]] = dG[:, 0]
        grad[b["K1P"]] = dG[:, 1:].ravel()
        Mx = -0.5 * (m.n + 1) * Oinv + 0.5 * Oinv @ res_x @ Oinv
        dOm = self._dOmega(theta)
        grad[b["chol"]] += np.einsum("ij,aij->a", Mx, dOm)
        A, B, dA, dB = self.loadings_jacobian(theta)
        r, g = self._resid(A, B, m)
        var = self.sigma2(theta)
        dg = np.concatenate([dA[:, :, None], dB], axis=2)           # (k, J, N+1)
        u = (m.Syz_j - np.einsum("jab,jb->ja", m.Szz_j, g)) / var[:, None]
        grad[self.loading_idx] += np.einsum("ja,kja->k", u, dg)
        dvar = 2 * (var - self.var_floor)                           # d sigma^2 / d s
        dll_dvar = -0.5 * m.n_j / var + 0.5 * r / var ** 2
        if self.common:
            grad[b["s"]] = np.sum(dll_dvar * dvar)
        else:
            grad[b["s"]] = dll_dvar * dvar
        if not info:
            return grad
        H = np.zeros((self.n_params, self.n_params))
        li = self.loading_idx
        H[np.ix_(li, li)] += np.einsum("kja,jab,ljb->kl", dg, m.Szz_j / var[:, None, None], dg)
        ci = b["chol"]
        H[np.ix_(ci, ci)] += 0.5 * (m.n + 1) * np.einsum("ij,ajk,kl,bli->ab", Oinv, dOm, Oinv, dOm)
        gi = np.concatenate([b["K0P"], b["K1P"]])
        # G entries in theta order: K0P_i -> G[i, 0]; K1P_ik -> G[i, k + 1]
        rows = np.concatenate([np.arange(N), np.repeat(np.arange(N), N)])
        cols = np.concatenate([np.zeros(N, int), np.tile(np.arange(N), N) + 1])
        H[np.ix_(gi, gi)] = Oinv[np.ix_(rows, rows)] * m.Szz[np.ix_(cols, cols)]
        w = 0.5 * m.n_j * (dvar / var) ** 2
        si = b["s"]
        if self.common:
            H[si[0], si[0]] = np.sum(w)
        else:
            H[si, si] = w
        return grad, H

