r"""Standard errors of the LGSSM (:func:`xlatsm.fit_lgssm`) at the EM answer, in the reported normalisation.

**Parameter vector** theta (internal units: the data standardised as in the fit, ``y* = (y - shift) / scale``,
:meth:`LGSSMParams.scaled`), only the blocks that are estimated:

* ``A`` (L k^2), ``C`` (p k), ``state_intercept`` d (k), ``obs_intercept`` c (p), as they are;
* ``Q`` by its Cholesky factor with log diagonal (k(k+1)/2), so every theta gives a positive definite Q;
* ``R``: log R_ii (diagonal), log sigma^2 (common) or the Cholesky factor with log diagonal (full);
* the first factors ``x_L..x_1`` (``initial_state="estimated"``: parameters of the likelihood, L k).

**Identification.** The likelihood is flat along the ``s`` directions of the affine factor map ``x* = M x + a``
that leave the fixed blocks unchanged (:meth:`LGSSMParams.stabiliser_dim`); their tangents ``G`` (n_theta x s) are
computed at the estimate. The information is taken on the slice ``theta = theta_hat + B u`` with ``B`` an
orthonormal basis of the complement of ``G``: ``u`` has exactly ``n_params`` = :meth:`LGSSMParams.n_free`
coordinates (fewer when measurement variances on their floor are held fixed), and there the observed information
is positive definite at a strict maximum. The reported blocks are the smooth map ``g(theta)``: smooth at theta,
rotate to the reported normalisation (:func:`xlatsm.ssm.em.identifying_rotation`: C'C = I, smoothed factors
uncorrelated over the sample, ordered by variance) and shift the factors so that their smoothed sample mean is the
estimate's (``x* = x + a`` moves d and c together; the fit centres it at zero, :func:`xlatsm.fit_lgssm`); ``g`` is the
same on every point of an orbit, so the delta method ``Cov g = J_F J_F'`` (:mod:`xlatsm.inference.numdiff`) does
not depend on the slice. Because the normalisation uses the sample's smoothed factors, the standard errors measure
the distance of the estimate from the *true parameters put in the same normalisation on the same data*.

**Score** (Fisher's identity): the gradient of the EM's expected complete-data log-likelihood at the smoothed
moments of theta itself (the moments of :func:`xlatsm.ssm.em.m_step`, missing cells completed as latent data),

.. math::

    \ell_x = -\tfrac{n + L[\text{diffuse}]}{2}\log\det Q - \tfrac12\operatorname{tr}Q^{-1}(S_{xx} - G S_{zx}
              - S_{xz}G' + G S_{zz}G'),\qquad
    \ell_y = -\tfrac{T}{2}\log\det R - \tfrac12\operatorname{tr}R^{-1}(S_{yy} - H S_{zy} - S_{yz}H' + H S_{zz}H'),

with ``G = [d, A_1..A_L]``, ``H = [c, C]``: ``dl/dG = Q^-1 (S_xz - G S_zz)``, ``dl/dQ = -n/2 Q^-1 + 1/2 Q^-1 E
Q^-1`` (E the bracket), the same for H and R, and for the estimated first factors the weighted residuals of their
observations and of the transitions out of them. The observed information is then central differences of this
exact score along the whitening of a first curvature (:func:`information_from_score`).

**Held fixed**: blocks in ``fixed`` (s.e. 0), the zero intercepts of ``intercepts=False`` (s.e. 0), measurement
variances on their floor (a Heywood case: the likelihood's maximum is on the boundary; s.e. 0, said in the notes),
the normalisation (above). Refused (:class:`~xlatsm.errors.EstimationError` saying what to do): fits that did not
converge, a factor shock variance on its floor, a full R with a floored direction.

The robust (sandwich) covariance ``H^-1 (sum_t s_t s_t') H^-1`` takes the per-date scores ``s_t`` of the
prediction-error decomposition (central differences of each date's log-likelihood term).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..errors import EstimationError, ModelError
from .numdiff import CovarianceFactor, Information, information_from_score, whitened_jacobian

_FAILURES = (ModelError, EstimationError, np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError)
#: the step of the whitened differences, in standard errors (the score and g are smooth and exact to rounding)
STEP = 0.01
_BLOCKS = ("A", "C", "Q", "R", "state_intercept", "obs_intercept", "initial_mean")


def _chol_pack(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of S with its diagonal logged, row by row."""
    L = np.linalg.cholesky(0.5 * (S + S.T))
    L[np.diag_indices(len(S))] = np.log(np.diag(L))
    return L[np.tril_indices(len(S))]


def _chol_unpack(v: np.ndarray, n: int) -> np.ndarray:
    L = np.zeros((n, n))
    L[np.tril_indices(n)] = v
    L[np.diag_indices(n)] = np.exp(np.diag(L))
    return L


def _chol_gradient(S_grad: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """d loglik / d v for ``X = L L'`` (L = :func:`_chol_unpack` of v) from the symmetric gradient ``S_grad``
    (``d loglik = tr(S_grad dX)``): ``dl/dL = 2 S_grad L`` (lower part), times ``L_ii`` on the logged diagonal."""
    L = _chol_unpack(v, n)
    grad = 2.0 * (0.5 * (S_grad + S_grad.T)) @ L
    grad[np.diag_indices(n)] *= np.diag(L)
    return grad[np.tril_indices(n)]


class LGSSMLikelihood:
    """The exact log-likelihood of an LGSSM fit's data in theta (module docstring), its Fisher-identity score,
    its per-date terms, and the map ``reported(theta)`` to the fit's reported parameters (data's units)."""

    def __init__(self, result):
        from ..ssm.em import ObservedData, _missing_groups, _standardisation

        self.result = result
        raw = np.asarray(result.data, float)
        self.shift, self.scale = _standardisation(raw, result.intercepts)
        self.values = (raw - self.shift) / self.scale
        self.missing = np.isnan(self.values)
        self.groups = _missing_groups(self.missing)
        self.obs_data = ObservedData(self.values, self.missing, self.groups)
        self.n_cells = int((~self.missing).sum())
        self.estimate = result.params.scaled(self.shift, self.scale)
        self.k, self.L, self.p = self.estimate.k_states, self.estimate.lags, self.estimate.k_endog
        self.measurement_error = result.measurement_error
        self.intercepts = bool(result.intercepts)
        self.fixed = frozenset(result.fixed)
        self.diffuse = result.initial_state == "diffuse"
        self.runner, self.extra_lag = self._runner()
        self.free_blocks = [name for name in _BLOCKS if name not in self.fixed
                            and (name != "initial_mean" or not self.diffuse)]
        sizes = {"A": self.L * self.k * self.k, "C": self.p * self.k, "Q": self.k * (self.k + 1) // 2,
                 "R": {"diagonal": self.p, "common": 1, "full": self.p * (self.p + 1) // 2}[self.measurement_error],
                 "state_intercept": self.k, "obs_intercept": self.p, "initial_mean": self.k * self.L}
        counts = [sizes[name] for name in self.free_blocks]
        self.blocks = dict(zip(self.free_blocks, np.split(np.arange(sum(counts)), np.cumsum(counts)[:-1])))
        self.n_params = sum(counts)
        # the reported normalisation: the identifying rotation when the fit applied it, and the factors' mean
        self.rotate = "factors uncorrelated" in result.normalisation
        self.centre = self.intercepts and not {"state_intercept", "obs_intercept"} & self.fixed
        self.mean_target = np.asarray(result.smoothed_states, float).mean(0) / self.scale

    # -- the filter -------------------------------------------------------------------------------------------
    def _runner(self):
        """The E-step smoother :func:`xlatsm.ssm.em.fit_lgssm` used for these data (the same numbers)."""
        from ..ssm import kernel
        from ..ssm.em import CollapsedSmoother
        from ..ssm.kalman import KalmanSmootherRunner
        from ..ssm.kernel import KernelSmoother

        k, L = self.k, self.L
        if kernel.ENABLED and KernelSmoother.usable(self.missing, k, L, diffuse=self.diffuse):
            return KernelSmoother(self.values, k, L, diffuse=self.diffuse), False
        if self.diffuse and CollapsedSmoother.usable(self.missing, k):
            return CollapsedSmoother(self.values, self.groups, k, L, True), True
        return KalmanSmootherRunner(self.values, k * (L + self.diffuse), k, lag_cov=not self.diffuse), self.diffuse

    def e_step(self, p):
        """(smoothed states, log-likelihood of the internal data) at internal parameters p."""
        from ..ssm.em import CollapsedSmoother
        from ..ssm.kernel import KernelSmoother

        if isinstance(self.runner, (KernelSmoother, CollapsedSmoother)):
            es = self.runner.smooth(p)
        else:
            es = self.runner.smooth(p.to_state_space(len(self.values), extra_lag=self.extra_lag))
        return es, es.loglik + p.diffuse_loglik_correction()

    # -- theta <-> parameters ---------------------------------------------------------------------------------
    def pack(self, p) -> np.ndarray:
        parts = []
        for name in self.free_blocks:
            if name == "Q":
                parts.append(_chol_pack(p.Q))
            elif name == "R":
                parts.append({"diagonal": lambda: np.log(np.diag(p.R)), "common": lambda: np.log(p.R[:1, 0]),
                              "full": lambda: _chol_pack(p.R)}[self.measurement_error]())
            else:
                parts.append(np.asarray(getattr(p, name), float).ravel())
        return np.concatenate(parts)

    def unpack(self, theta):
        theta = np.asarray(theta, float)
        b, k, L, p = self.blocks, self.k, self.L, self.p
        new = {}
        for name, idx in b.items():
            v = theta[idx]
            if name == "A":
                new["A"] = v.reshape(L, k, k)
            elif name == "C":
                new["C"] = v.reshape(p, k)
            elif name == "Q":
                Lq = _chol_unpack(v, k)
                new["Q"] = Lq @ Lq.T
            elif name == "R":
                if self.measurement_error == "diagonal":
                    new["R"] = np.diag(np.exp(v))
                elif self.measurement_error == "common":
                    new["R"] = np.eye(p) * np.exp(v[0])
                else:
                    Lr = _chol_unpack(v, p)
                    new["R"] = Lr @ Lr.T
            else:
                new[name] = v.copy()
        return replace(self.estimate, **new)

    # -- likelihood and score ---------------------------------------------------------------------------------
    def loglik(self, theta) -> float:
        """Exact log-likelihood of the data in their own units at theta (-inf where the filter fails)."""
        try:
            _, value = self.e_step(self.unpack(theta))
        except _FAILURES:
            return -np.inf
        value -= self.n_cells * np.log(self.scale)
        return float(value) if np.isfinite(value) else -np.inf

    def contributions(self, theta) -> np.ndarray:
        """(T,) log-likelihood terms of the prediction-error decomposition (the diffuse start's Q term on the
        first date)."""
        p = self.unpack(theta)
        es, _ = self.e_step(p)
        out = np.array(es.loglik_obs, float).copy()
        out[0] += p.diffuse_loglik_correction()
        return out

    def score(self, theta) -> np.ndarray:
        """d loglik / d theta by Fisher's identity (module docstring), from one smoother pass."""
        from ..ssm.em import _obs_moments, _state_moments

        p = self.unpack(theta)
        es, _ = self.e_step(p)
        k, L = self.k, self.L
        b = self.blocks
        out = np.zeros(self.n_params)
        # state equation
        Sxx, Sxz, Szz, n = _state_moments(es, k, L, self.intercepts)
        slopes = np.hstack(list(p.A))
        G = np.column_stack([p.state_intercept, slopes]) if self.intercepts else slopes
        Q_inv = np.linalg.inv(p.Q)
        dG = Q_inv @ (Sxz - G @ Szz)
        first = 1 if self.intercepts else 0
        if "A" in b:
            out[b["A"]] = np.stack([dG[:, first + j * k:first + (j + 1) * k] for j in range(L)]).ravel()
        if "state_intercept" in b:
            out[b["state_intercept"]] = dG[:, 0]
        if "Q" in b:
            E = Sxx - G @ Sxz.T - Sxz @ G.T + G @ Szz @ G.T
            n_eff = n + (L if self.diffuse else 0)
            S_Q = -0.5 * n_eff * Q_inv + 0.5 * Q_inv @ E @ Q_inv
            out[b["Q"]] = _chol_gradient(S_Q, theta[b["Q"]], k)
        # observation equation (missing cells completed as latent data)
        M, P = p.factor_moments(es.states, es.cov)
        full = self.measurement_error == "full" and "R" in b
        Syy, Syz, Szz_o, n_o = _obs_moments(self.values, self.missing, self.groups, M, P, p, self.intercepts,
                                            self.obs_data, diag_only=not full)
        H = np.column_stack([p.obs_intercept, p.C]) if self.intercepts else p.C
        resid_z = Syz - H @ Szz_o
        R = p.R
        diagonal = self.measurement_error != "full"
        dH = resid_z / np.diag(R)[:, None] if diagonal else np.linalg.solve(R, resid_z)
        if "C" in b:
            out[b["C"]] = dH[:, first:].ravel()
        if "obs_intercept" in b:
            out[b["obs_intercept"]] = dH[:, 0]
        if "R" in b:
            if diagonal:
                E_diag = Syy - 2.0 * np.einsum("ij,ij->i", H, Syz) + np.einsum("ij,ij->i", H @ Szz_o, H)
                r = np.diag(R)
                per_series = -0.5 * n_o + 0.5 * E_diag / r           # d/d log R_ii
                out[b["R"]] = per_series if self.measurement_error == "diagonal" else [per_series.sum()]
            else:
                E = Syy - H @ Syz.T - Syz @ H.T + H @ Szz_o @ H.T
                R_inv = np.linalg.inv(R)
                S_R = -0.5 * n_o * R_inv + 0.5 * R_inv @ E @ R_inv
                out[b["R"]] = _chol_gradient(S_R, theta[b["R"]], self.p)
        if "initial_mean" in b:
            out[b["initial_mean"]] = self._initial_score(p, M, Q_inv)
        return out

    def _initial_score(self, p, M, Q_inv) -> np.ndarray:
        """d loglik / d (x_L, ..., x_1): their observations' weighted residuals C_o' R_oo^-1 (y_o - c_o - C_o x_i)
        and the transitions into dates L+1..2L, A_j' Q^-1 E[w_t | Y] (the terms of em._update_initial_factors)."""
        k, L = self.k, self.L
        y, missing = self.values, self.missing
        grad = np.zeros((L, k))      # by date 1..L
        for i in range(min(L, len(y))):
            obs = ~missing[i]
            if obs.any():
                resid = y[i, obs] - p.obs_intercept[obs] - p.C[obs] @ M[i]
                grad[i] += p.C[obs].T @ np.linalg.solve(p.R[np.ix_(obs, obs)], resid)
        for t in range(L, min(2 * L, len(y))):
            w = M[t] - p.state_intercept - sum((p.A[j - 1] @ M[t - j] for j in range(1, L + 1)), np.zeros(k))
            for j in range(1, L + 1):
                if t - j < L:
                    grad[t - j] += p.A[j - 1].T @ Q_inv @ w
        return np.concatenate([grad[L - 1 - i] for i in range(L)])   # the order of initial_mean

    # -- identification ---------------------------------------------------------------------------------------
    def gauge(self, theta) -> np.ndarray:
        """(n_theta, s) tangents of the orbit ``x* = M x + a`` through theta that leave the fixed blocks unchanged
        (an orthonormal basis; s = :meth:`LGSSMParams.stabiliser_dim`)."""
        p = self.unpack(theta)
        k = self.k
        h = 1e-6
        moves_free, moves_fixed = [], []
        fixed_view = [name for name in ("A", "C", "Q", "state_intercept", "obs_intercept") if name in self.fixed]
        for i in range(k * k + k):
            v = np.zeros(k * k + k)
            v[i] = 1.0
            X, a = v[:k * k].reshape(k, k), v[k * k:]

            def moved(sign):
                return p.rotate(np.eye(k) + sign * h * X).shifted(sign * h * a)

            up, down = moved(1.0), moved(-1.0)
            moves_free.append((self.pack(up) - self.pack(down)) / (2 * h))
            moves_fixed.append(np.concatenate([((np.asarray(getattr(up, n)) - np.asarray(getattr(down, n)))
                                                / (2 * h)).ravel() for n in fixed_view] or [np.zeros(0)]))
        T_free, T_fixed = np.array(moves_free).T, np.array(moves_fixed).T
        if T_fixed.size:
            # the combinations of group directions that leave the fixed blocks where they are
            _, sv, Vt = np.linalg.svd(T_fixed)
            rank = int(np.sum(sv > 1e-7 * max(sv[0], 1e-300))) if len(sv) else 0
            T_free = T_free @ Vt[rank:].T
        if T_free.shape[1] == 0:
            return np.zeros((len(theta), 0))
        U, sv, _ = np.linalg.svd(T_free, full_matrices=False)
        rank = int(np.sum(sv > 1e-7 * max(sv[0], 1e-300)))
        return U[:, :rank]

    def reported(self, theta):
        """The parameters at theta put in the fit's reported normalisation, in the data's units (module doc)."""
        from ..ssm.em import identifying_rotation

        p = self.unpack(theta)
        if self.rotate or self.centre:
            es, _ = self.e_step(p)
            states, cov = p.factor_moments(es.states, es.cov)
            if self.rotate:
                mean_outer = (states.T @ states + cov.sum(0)) / len(states)
                M = identifying_rotation(p.C, mean_outer, states.mean(0))
                p = p.rotate(M)
                states = states @ M.T
            if self.centre:
                p = p.shifted(self.mean_target - states.mean(0))
        return p.unscaled(self.shift, self.scale)


def _carried(result) -> dict[str, np.ndarray]:
    """Which entries of each block of ``result.parameter_blocks()`` the delta method differentiates: all, except
    the structural zeros off the diagonal of a diagonal or common R (p^2 of them: their s.e. is 0)."""
    masks = {name: np.ones(frame.shape, bool) for name, frame in result.parameter_blocks().items()}
    if result.measurement_error != "full":
        masks["R"] = np.eye(result.params.k_endog, dtype=bool)
    return masks


def block_vector(result, blocks: dict) -> np.ndarray:
    """The carried entries (:func:`_carried`) of frames or arrays shaped like ``result.parameter_blocks()``."""
    return np.concatenate([np.asarray(blocks[name], float)[mask] for name, mask in _carried(result).items()])


def parameter_vector(result, p) -> np.ndarray:
    """The carried entries of ``result.parameter_blocks()`` at parameters p, block by block."""
    arrays = {f"A_{j + 1}": a for j, a in enumerate(p.A)}
    arrays.update(d=p.state_intercept[:, None], Q=p.Q, C=p.C, c=p.obs_intercept[:, None], R=p.R)
    return block_vector(result, arrays)


def blocks_like(result, flat: np.ndarray) -> dict[str, pd.DataFrame]:
    """The inverse of :func:`block_vector`: frames with the labels of ``result.parameter_blocks()``, zero where
    an entry is not carried."""
    template = result.parameter_blocks()
    out, start = {}, 0
    for name, mask in _carried(result).items():
        values = np.zeros(mask.shape)
        size = int(mask.sum())
        values[mask] = flat[start:start + size]
        start += size
        out[name] = pd.DataFrame(values, index=template[name].index, columns=template[name].columns)
    return out


# ----------------------------------------------------------------------------------------------------------------
# the inference object
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class LGSSMInference(CovarianceFactor):
    """Covariance of an LGSSM fit's parameters in the reported normalisation (module docstring).

    ``F`` (n_theta, n_u): ``F F'`` is the covariance of theta (inverse observed information on the identified
    slice, or the sandwich with ``robust``; rows of parameters held fixed are zero). ``notes`` say what is held
    fixed and how the information was computed; ``ok`` is False (standard errors NaN) when the information is
    not positive definite."""

    result: object
    likelihood: LGSSMLikelihood
    theta: np.ndarray
    F: np.ndarray
    information: Information
    robust: bool
    basis: np.ndarray
    notes: list = field(default_factory=list)
    held: np.ndarray | None = None
    max_score: float = np.nan
    _se: dict | None = field(default=None, repr=False)

    def params_at(self, theta):
        """The parameters at theta in the data's units (the slice's rotation, not the reported one: fine for any
        quantity the rotation does not change, e.g. forecasts of the series; :meth:`LGSSMLikelihood.reported`
        gives the reported normalisation)."""
        lik = self.likelihood
        return lik.unpack(theta).unscaled(lik.shift, lik.scale)

    def delta_std_errors(self, func) -> np.ndarray:
        """Delta-method standard errors of ``func(theta)`` (values (m,); use :meth:`params_at`): the square roots
        of the diagonal of ``J J'``, J the derivatives along the columns of F (one standard error each). NaN when
        the information is not positive definite."""
        if not self.ok:
            return np.full(np.shape(func(self.theta)), np.nan)
        Jac = whitened_jacobian(func, self.theta, self.F, step=STEP)
        return np.sqrt(np.sum(Jac ** 2, axis=1))

    def _reported_vector(self, theta) -> np.ndarray:
        try:
            return parameter_vector(self.result, self.likelihood.reported(theta))
        except _FAILURES:
            return np.full(len(parameter_vector(self.result, self.result.params)), np.nan)

    def standard_errors(self) -> dict[str, pd.DataFrame]:
        """Standard errors of every entry of ``result.parameter_blocks()`` (same keys, labels and units)."""
        if self._se is not None:
            return self._se
        size = len(parameter_vector(self.result, self.result.params))
        if not self.ok:
            se = np.full(size, np.nan)
        else:
            Jac = whitened_jacobian(self._reported_vector, self.theta, self.F, step=STEP)
            se = np.sqrt(np.sum(Jac ** 2, axis=1))
            unidentified = self._unidentified(Jac)
            if unidentified.any():
                se[unidentified] = np.nan
                self.notes.append(f"{int(unidentified.sum())} entries move along the directions the fixed "
                                  "matrices leave free (x* = M x + a): not identified, s.e. NaN")
        self._se = blocks_like(self.result, se)
        return self._se

    def _unidentified(self, Jac: np.ndarray) -> np.ndarray:
        """Entries of the reported blocks that change along the likelihood's flat directions (g is not constant
        on the orbit): their value is wherever EM stopped, so no standard error exists."""
        lik = self.likelihood
        G = lik.gauge(self.theta)
        if G.shape[1] == 0:
            return np.zeros(Jac.shape[0], bool)
        # gauge steps as long (in theta) as a typical standard-error step
        length = float(np.median(np.linalg.norm(self.F, axis=0)))
        moved = whitened_jacobian(self._reported_vector, self.theta, G * length)
        size = np.sqrt(np.sum(Jac ** 2, axis=1))
        scale = np.maximum(size, 1e-12 * np.maximum(np.abs(self._reported_vector(self.theta)), 1e-300))
        return np.max(np.abs(moved), axis=1) > 1e-3 * scale


def _refusal(result) -> str | None:
    """Why no standard errors can be computed for this fit (None: they can)."""
    flags = {f.code: f.message for f in getattr(result, "flags", [])}
    codes = set(flags)
    if not result.converged or "not_converged" in codes:
        why = flags.get("not_converged", "raise max_iter")
        return (f"standard errors need a converged EM (the score is not zero where it stopped), and this one "
                f"stopped early: {why}")
    if "at_bound" in codes:
        return ("a factor shock variance sits on its floor, so the information is singular there: refit with fewer "
                "factors, then ask for standard errors")
    if "heywood" in codes and result.measurement_error == "full":
        return ("a direction of the full measurement covariance R sits on its floor (a Heywood case), which cannot "
                'be held fixed coordinate by coordinate: refit with measurement_error="diagonal" or "common" for '
                "standard errors")
    return None


def _held_fixed(lik: LGSSMLikelihood, theta: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Measurement variances on their floor (1e-6 of each internal series' variance, as in the EM)."""
    held = np.zeros(len(theta), bool)
    if "R" not in lik.blocks or lik.measurement_error == "full":
        return held, []
    floor = 1e-6 * np.nanvar(lik.values, axis=0)
    r = np.exp(theta[lik.blocks["R"]])
    if lik.measurement_error == "diagonal":
        on_floor = r <= floor * (1.0 + 1e-6)
    else:
        on_floor = np.array([r[0] <= np.mean(floor) * (1.0 + 1e-6)])
    held[lik.blocks["R"][on_floor]] = True
    names = ([str(c) for c, hit in zip(lik.result.columns, on_floor) if hit] if lik.measurement_error == "diagonal"
             else ["all series (common R)"] if on_floor[0] else [])
    return held, names


def lgssm_inference(result, robust: bool = False) -> LGSSMInference:
    """The observed information (and, with ``robust``, the sandwich) of an LGSSM fit at its estimate."""
    why = _refusal(result)
    if why is not None:
        raise EstimationError(why)
    lik = LGSSMLikelihood(result)
    theta = lik.pack(lik.estimate)
    held, floored = _held_fixed(lik, theta)
    free = ~held
    G = lik.gauge(theta)[free]
    # the slice: an orthonormal basis of the complement of the orbit's tangents within the free coordinates
    n_free = int(free.sum())
    if G.shape[1]:
        U, _, _ = np.linalg.svd(G, full_matrices=True)
        B_free = U[:, G.shape[1]:]
    else:
        B_free = np.eye(n_free)
    B = np.zeros((len(theta), B_free.shape[1]))
    B[free] = B_free
    expected = result.params.n_free(result.measurement_error, result.intercepts, frozenset(result.fixed),
                                     result.initial_state) - int(held.sum())
    notes = ["observed information of the exact Kalman log-likelihood (central differences of its exact score, "
             "Fisher's identity) at the EM answer, on the identified parameters "
             f"({B.shape[1]} = the model's {B.shape[1] + int(held.sum())} less those held fixed); standard errors of "
             "the reported blocks by the delta method through the reported normalisation, in the data's units"]
    if B.shape[1] != expected:
        notes.append(f"the identified directions number {B.shape[1]}, not the {expected} counted by n_free: the "
                     "fixed matrices leave an unusual set of rotations free")
    if lik.rotate:
        notes.append("held fixed: the normalisation (C'C = I, smoothed factors uncorrelated over the sample, ordered "
                     "by variance) and the factors' sample mean, zero (x* = x + a moves d and c together); s.e. are "
                     "of the estimate against the true parameters in the same normalisation on these data")
    elif lik.centre:
        notes.append("held fixed: the factors' sample mean, zero (x* = x + a moves d and c together)")
    fixed_names = [n for n in result.fixed]
    if fixed_names:
        notes.append(f"held at their given values (s.e. 0): {', '.join(fixed_names)}")
    if floored:
        notes.append(f"held fixed at their floor (a Heywood case, s.e. 0): the measurement variances of "
                     f"{', '.join(floored)}; refit with measurement_error=\"common\" to estimate one for all")
    if result.initial_state == "estimated":
        notes.append("the first factors x_1..x_L are parameters too (their uncertainty is counted in the others)")
    if any(f.code == "explosive_p" for f in getattr(result, "flags", [])):
        notes.append("the factor VAR is explosive (a root >= 1): the normal approximation behind these standard "
                     "errors is doubtful")

    def score_u(u):
        return B.T @ lik.score(theta + B @ u)

    n_u = B.shape[1]
    h = 1e-4
    H0 = np.empty((n_u, n_u))
    for i in range(n_u):
        e = np.zeros(n_u)
        e[i] = h
        H0[:, i] = -(score_u(e) - score_u(-e)) / (2 * h)
    # the score is exact, so the refining differences can be short (0.01 s.e.: the local curvature, not a chord over
    # 0.2 s.e. of a likelihood that is far from quadratic in some directions, e.g. a full R's Cholesky factor)
    info = information_from_score(score_u, np.zeros(n_u), 0.5 * (H0 + H0.T), step=STEP)
    max_score = float(np.max(np.abs(info.T.T @ score_u(np.zeros(n_u))))) if n_u else 0.0
    if max_score > 0.05:
        notes.append(f"the score at the estimate is {max_score:.2g} standard errors' worth in some direction (not "
                     "quite at the maximum): tighten tol")
    F_u = info.factor()
    if info.positive_definite and robust:
        scores = whitened_jacobian(lambda u: lik.contributions(theta + B @ u), np.zeros(n_u), F_u, step=STEP)
        F_u = info.sandwich_factor(scores)
        notes.append("robust (sandwich) covariance H^-1 (sum_t s_t s_t') H^-1 with per-date scores s_t of the "
                     "prediction-error decomposition")
    if not info.positive_definite:
        notes.append(f"the observed information is not positive definite (smallest whitened eigenvalue "
                     f"{info.min_eigenvalue:.3g}): the estimate is not a strict maximum, standard errors are NaN")
    return LGSSMInference(result=result, likelihood=lik, theta=theta, F=B @ F_u, information=info, robust=robust,
                          basis=B, notes=notes, held=held, max_score=max_score)


# ----------------------------------------------------------------------------------------------------------------
# the simulation check (tests, benchmarks/lgssm_inference.py)
# ----------------------------------------------------------------------------------------------------------------
def simulate_lgssm(params, n_dates: int, rng: np.random.Generator, burn: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(y (n_dates, p), factors (n_dates, k)) drawn from ``params`` (module docstring of
    :mod:`xlatsm.ssm.params`), the VAR started ``burn`` dates before the first so that its start is forgotten."""
    L, k = params.lags, params.k_states
    chol_q = np.linalg.cholesky(params.Q)
    x = np.zeros((n_dates + burn, k))
    for t in range(L, n_dates + burn):
        x[t] = (params.state_intercept + sum(params.A[j] @ x[t - 1 - j] for j in range(L))
                + chol_q @ rng.standard_normal(k))
    x = x[burn:]
    errors = rng.standard_normal((n_dates, params.k_endog)) @ np.linalg.cholesky(params.R).T
    return params.obs_intercept + x @ params.C.T + errors, x


def monte_carlo(truth, n_dates: int, n_reps: int, seed: int = 0, robust: bool = False, progress=None,
                missing: float = 0.0, **fit_options) -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``n_reps`` panels from ``truth`` (a share ``missing`` of the cells blanked at random), fit each
    (``fit_options`` to :func:`xlatsm.fit_lgssm`) and return ``(errors, standard_errors)``, both (n_reps, entries
    of :func:`block_vector`): the error is the estimate minus the true parameters put in the same normalisation on
    the same panel (:meth:`LGSSMLikelihood.reported` at the truth, the truth's first factors as the estimated
    initial state). ``progress(done, total)`` is called after each replication."""
    from ..ssm.em import fit_lgssm

    rng = np.random.default_rng(seed)
    errors, ses = [], []
    k, L = truth.k_states, truth.lags
    for rep in range(n_reps):
        y, x = simulate_lgssm(truth, n_dates, rng)
        if missing:
            y[rng.random(y.shape) < missing] = np.nan
        fit = fit_lgssm(y, k, lags=L, **fit_options)
        se = fit.parameter_standard_errors(robust=robust)
        lik = LGSSMLikelihood(fit)
        first = np.concatenate([x[L - 1 - i] for i in range(L)])
        true_p = replace(truth, initial_mean=first, initial_cov=np.zeros((k * L, k * L)))
        target = lik.reported(lik.pack(true_p.scaled(lik.shift, lik.scale)))
        errors.append(parameter_vector(fit, fit.params) - parameter_vector(fit, target))
        ses.append(block_vector(fit, se))
        if progress is not None:
            progress(rep + 1, n_reps)
    return np.array(errors), np.array(ses)


__all__ = ["LGSSMLikelihood", "LGSSMInference", "lgssm_inference", "shifted", "simulate_lgssm", "monte_carlo",
           "parameter_vector", "block_vector", "blocks_like"]
