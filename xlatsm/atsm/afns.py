r"""Arbitrage-free Nelson-Siegel (AFNS): Christensen, Diebold and Rudebusch (2011).

Continuous time, factors ``X = (L, S, C)`` (level, slope, curvature; yield units), short rate ``r = L + S``.
Under Q

.. math::

    dX = K^Q(\theta^Q - X)\,dt + \Sigma\,dW^Q,\qquad
    K^Q = \begin{pmatrix}0&0&0\\0&\lambda&-\lambda\\0&0&\lambda\end{pmatrix},\ \theta^Q = 0,

so that zero-coupon yields carry exactly the Nelson-Siegel loadings plus a yield-adjustment term:

.. math::

    y(\tau) = L + \frac{1-e^{-\lambda\tau}}{\lambda\tau} S
            + \Big(\frac{1-e^{-\lambda\tau}}{\lambda\tau} - e^{-\lambda\tau}\Big) C - \frac{A(\tau)}{\tau},\qquad
    A(\tau) = \tfrac12\int_0^\tau b(s)'\Sigma\Sigma' b(s)\,ds,

``b(s) = (s, (1-e^{-\lambda s})/\lambda, (1-e^{-\lambda s})/\lambda - s e^{-\lambda s})`` (minus the log-price
loadings). ``A`` is in closed form for any ``Sigma`` (:func:`yield_adjustment`): every product ``b_i b_j`` is a
sum of ``s^k e^{-c\lambda s}`` (k, c in 0..2), integrated exactly. ``tau`` in years, ``lambda`` per year.

Under P, ``dX = K^P(\theta^P - X)dt + \Sigma dW``: ``version="independent"`` has diagonal ``K^P`` and ``Sigma``
(CDR's independent-factor AFNS), ``"correlated"`` a full ``K^P`` and lower-triangular ``Sigma``. Sampled every
``dt`` years: ``X_t = (I - Phi)\theta^P + Phi X_{t-1} + eta_t``, ``Phi = e^{-K^P dt}``,
``Var(eta) = \int_0^{dt} e^{-K^P s}\Sigma\Sigma' e^{-K^{P\prime} s} ds`` (Van Loan), observed as
``y_t = a + Z X_t + e_t``, ``e ~ N(0, diag(h))``, ``X_1`` from the stationary distribution; estimated by exact
Kalman maximum likelihood (:mod:`xlatsm.atsm.statespace_mle`), started from the two-step Nelson-Siegel fit
(the correlated version also from the independent-factor maximum, keeping the higher of the two maxima: the
likelihood has several local maxima, differing in which maturities are priced exactly).

Term premium (as the other ATSMs): fitted yield minus the yield priced with the physical dynamics
(``K^P, theta^P``, same ``Sigma``, convexity included), by the exact continuous-time loadings
(:func:`xlatsm.atsm.loadings.continuous_yield_loadings`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.linalg import logm

from ..data import YieldPanel, years_to_label
from ..data.align import align_yields
from ..data.panel import read_observations
from ..diagnostics import Flag, flag_lines
from ..errors import InputError
from ..textfmt import frame_table, header_block, pricing_error_table, term_premium_table
from .continuous import ou_discretisation
from .loadings import continuous_yield_loadings
from .nelson_siegel import FACTOR_NAMES, _var_ols, cross_section_ols, ns_loadings, profile_lambda
from .results_other import CurveResult, _date, explosive_flags, maturity_years, read_yields
from .statespace_mle import (GaussianSSM, Matrices, chol_from_free, flat_flag, free_from_chol, heywood_flag,
                             stationary_cov, variance_floor)

__all__ = ["fit_afns", "AFNSResult", "yield_adjustment", "afns_KQ", "VERSIONS"]

VERSIONS = ("independent", "correlated")
DELTA1 = np.array([1.0, 1.0, 0.0])


def afns_KQ(lam: float) -> np.ndarray:
    return np.array([[0.0, 0.0, 0.0], [0.0, lam, -lam], [0.0, 0.0, lam]])


def _int_sk_exp(k: int, a: float, tau: np.ndarray) -> np.ndarray:
    """int_0^tau s^k e^{-a s} ds, k = 0, 1, 2, exactly."""
    if a == 0.0:
        return tau ** (k + 1) / (k + 1)
    x = a * tau
    e = np.exp(-x)
    if k == 0:
        return -np.expm1(-x) / a
    if k == 1:
        return (-np.expm1(-x) - x * e) / a ** 2
    return (2 * -np.expm1(-x) - e * (2 * x + x * x)) / a ** 3


def yield_adjustment(lam: float, Omega: np.ndarray, taus) -> np.ndarray:
    """``-A(tau)/tau`` (decimal yields, <= 0) of the AFNS model for ``Omega = Sigma Sigma'`` (decimals^2 per
    year), maturities ``taus`` in years, ``lam`` per year: the closed form in the module docstring."""
    taus = np.atleast_1d(np.asarray(taus, float))
    # b_i(s) = sum_p coef[i, p] phi_p(s), phi = (1, s, e^{-lam s}, s e^{-lam s})
    coef = np.array([[0.0, 1.0, 0.0, 0.0],
                     [1 / lam, 0.0, -1 / lam, 0.0],
                     [1 / lam, 0.0, -1 / lam, -1.0]])
    kind = [(0, 0), (1, 0), (0, 1), (1, 1)]                 # phi_p = s^k e^{-c lam s}
    G = np.empty((4, 4, len(taus)))                          # int phi_p phi_q
    for p in range(4):
        for q in range(p, 4):
            k, c = kind[p][0] + kind[q][0], kind[p][1] + kind[q][1]
            G[p, q] = G[q, p] = _int_sk_exp(k, c * lam, taus)
    I = np.einsum("ip,pqt,jq->ijt", coef, G, coef)           # int b_i b_j
    A = 0.5 * np.einsum("ij,ijt->t", Omega, I)
    return -A / taus


def _discretise(KP: np.ndarray, Omega: np.ndarray, dt: float):
    """(Phi, Q) of the exact discretisation over dt: ``Phi = e^{-K dt}``, ``Q = int_0^dt e^{-Ks} Omega
    e^{-K's} ds`` (closed form for diagonal K, else Van Loan: :func:`xlatsm.atsm.continuous.ou_discretisation`)."""
    if np.count_nonzero(KP - np.diag(np.diag(KP))) == 0:
        k = np.diag(KP)
        ksum = k[:, None] + k[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(np.abs(ksum * dt) > 1e-10, -np.expm1(-ksum * dt) / ksum, dt)
        return np.diag(np.exp(-k * dt)), Omega * w
    Phi, _, Q = ou_discretisation(KP, Omega, dt)
    return Phi, Q


class _Build:
    """theta -> AFNS state-space matrices.

    independent: [log lam, log kappa (3), theta_P (3), log sigma (3), log h (J)];
    correlated:  [log lam, K_P (9, row-major), theta_P (3), chol(Sigma) free (6, log diagonal), log h (J)]."""

    def __init__(self, years: np.ndarray, dt: float, version: str, floor=0.0):
        self.years, self.dt, self.version, self.floor = years, dt, version, floor
        self.nk = 3 if version == "independent" else 9
        self.ns = 3 if version == "independent" else 6

    def unpack(self, theta):
        lam = float(np.exp(theta[0]))
        i = 1
        KP = np.diag(np.exp(theta[i:i + 3])) if self.version == "independent" else theta[i:i + 9].reshape(3, 3)
        i += self.nk
        thetaP = theta[i:i + 3]
        i += 3
        if self.version == "independent":
            Sigma = np.diag(np.exp(theta[i:i + 3]))
        else:
            Sigma = chol_from_free(theta[i:i + 6], 3)
        i += self.ns
        h = self.floor + np.exp(theta[i:])
        return lam, KP, thetaP, Sigma, h

    def pack(self, lam, KP, thetaP, Sigma, h):
        k = np.log(np.diag(KP)) if self.version == "independent" else KP.ravel()
        s = np.log(np.abs(np.diag(Sigma))) if self.version == "independent" else free_from_chol(Sigma)
        return np.concatenate([[np.log(lam)], k, thetaP, s, np.log(np.maximum(h - self.floor, 1e-300))])

    def names(self, labels) -> list[str]:
        """What each entry of theta is (as in the class docstring), for messages."""
        f = "LSC"
        if self.version == "independent":
            k = [f"log K_P[{c},{c}]" for c in f]
            s = [f"log Sigma[{c},{c}]" for c in f]
        else:
            k = [f"K_P[{r},{c}]" for r in f for c in f]
            s = [f"log Sigma[{r},{c}]" if r == c else f"Sigma[{r},{c}]" for i, r in enumerate(f) for c in f[:i + 1]]
        return ["log lambda"] + k + [f"theta_P[{c}]" for c in f] + s + [f"log(h - floor) {lab}" for lab in labels]

    def __call__(self, theta) -> Matrices | None:
        lam, KP, thetaP, Sigma, h = self.unpack(np.asarray(theta, float))
        if not (1e-3 < lam < 50) or not np.all(np.isfinite(KP)):
            return None
        Omega = Sigma @ Sigma.T
        try:
            Phi, Q = _discretise(KP, Omega, self.dt)
        except (ValueError, np.linalg.LinAlgError):
            return None
        P1 = stationary_cov(Phi, Q)
        if P1 is None:
            return None
        return Matrices(Z=ns_loadings(self.years, lam), a=yield_adjustment(lam, Omega, self.years), h=h, T=Phi,
                        d=thetaP - Phi @ thetaP, Q=Q, a1=thetaP, P1=P1)


@dataclass
class AFNSResult(CurveResult):
    """A fitted AFNS model (see :func:`fit_afns`). Factors, theta_P, Sigma, fitted/risk-neutral yields, term premia
    and the yield adjustment in yield units; K_P, K_Q, lambda per year; pricing errors in bp. ``loglik`` is the
    exact Kalman log-likelihood of the decimal yields."""

    panel: YieldPanel
    version: str
    dt: float
    theta: np.ndarray
    lam: float
    KP: np.ndarray
    thetaP: np.ndarray
    Sigma: np.ndarray
    h: np.ndarray
    X: np.ndarray
    X_cov: np.ndarray
    loglik: float
    converged: bool
    n_iter: int
    message: str
    start_loglik: float
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    seconds: float = 0.0
    h_floor: np.ndarray | float = 0.0
    method = "afns"
    factor_names = FACTOR_NAMES
    n_factors = 3
    model_name = "arbitrage-free Nelson-Siegel"

    def _extra_pairs(self):
        return [("version", self.version), ("lambda (per year)", self.lam)]

    def matrices(self) -> Matrices:
        """The state-space matrices at the estimate (decimals, per period)."""
        return _Build(self.panel.maturities, self.dt, self.version, self.h_floor)(self.theta)

    @property
    def Omega(self) -> np.ndarray:
        return self.Sigma @ self.Sigma.T

    @property
    def KQ(self) -> np.ndarray:
        return afns_KQ(self.lam)

    @property
    def factors(self) -> pd.DataFrame:
        """Smoothed level, slope, curvature, in yield units."""
        return self._factor_frame(self.X, FACTOR_NAMES)

    @property
    def factor_std_errors(self) -> pd.DataFrame:
        return self._std_error_frame(self.X_cov, FACTOR_NAMES)

    def _q_loadings(self, years):
        years = np.asarray(years, float)
        return yield_adjustment(self.lam, self.Omega, years), ns_loadings(years, self.lam)

    def _p_loadings(self, years):
        return continuous_yield_loadings(self.KP, self.thetaP, self.Sigma, 0.0, DELTA1, np.asarray(years, float))

    @cached_property
    def _fitted(self) -> np.ndarray:
        a, Z = self._q_loadings(self.panel.maturities)
        return a + self.X @ Z.T

    @property
    def yield_adjustment(self) -> pd.Series:
        """``-A(tau)/tau`` per fitted maturity, in yield units (the convexity the NS loadings alone miss)."""
        return pd.Series(self._q_loadings(self.panel.maturities)[0] * self.scale, index=self.panel.labels,
                         name="yield_adjustment")

    @property
    def risk_neutral_yields(self) -> pd.DataFrame:
        """Yields priced with the physical dynamics, convexity included, in yield units."""
        A, B = self._p_loadings(self.panel.maturities)
        return self._frame((A + self.X @ B.T) * self.scale)

    @property
    def term_premium(self) -> pd.DataFrame:
        A, B = self._p_loadings(self.panel.maturities)
        return self._frame((self._fitted - A - self.X @ B.T) * self.scale)

    def _tp(self, X, maturity):
        years = maturity_years(maturity)
        a, Z = self._q_loadings([years])
        A, B = self._p_loadings([years])
        return (a[0] + X @ Z[0]) - (A[0] + X @ B[0]), years

    def term_premium_at(self, maturity) -> pd.Series:
        """Term premium at any maturity (tenor or years), in yield units."""
        tp, years = self._tp(self.X, maturity)
        return pd.Series(tp * self.scale, index=self.panel.dates, name=f"term_premium_{years_to_label(years)}")

    def yields_at(self, maturities) -> pd.DataFrame:
        years = [maturity_years(m) for m in maturities]
        a, Z = self._q_loadings(years)
        return self._frame((a + self.X @ Z.T) * self.scale, [years_to_label(y) for y in years])

    def loadings(self, maturities=None) -> pd.DataFrame:
        years = self.panel.maturities if maturities is None else np.array([maturity_years(m) for m in maturities])
        a, Z = self._q_loadings(years)
        frame = pd.DataFrame(Z, index=[years_to_label(y) for y in years], columns=[f"B_{n}" for n in FACTOR_NAMES])
        frame.insert(0, "A", a * self.scale)
        return frame

    def _smooth_new(self, new_yields, yield_units: str, maturity_units: str):
        """The Kalman smoother at the fitted parameters on other dates' curves: (dates, smoothed result)."""
        obs = read_observations(new_yields)
        frame = align_yields(obs, self.panel.maturities, self.panel.labels, self.units, yield_units,
                             maturity_units)
        Y = frame.to_numpy(float) / self.scale
        build = _Build(self.panel.maturities, self.dt, self.version, self.h_floor)
        return frame.index, GaussianSSM(Y, build).smooth(self.theta)

    def evaluate(self, new_yields, yield_units: str = "auto", maturity_units: str = "auto") -> pd.DataFrame:
        """Kalman-smoothed factors and the 10-year term premium of other dates' curves with the fitted parameters
        (columns matched by maturity; the fitted maturities are needed, blanks allowed), in this fit's units."""
        dates, sm = self._smooth_new(new_yields, yield_units, maturity_units)
        out = pd.DataFrame(sm.states * self.scale, index=dates, columns=FACTOR_NAMES)
        out["term_premium_10Y"] = self._tp(sm.states, 10.0)[0] * self.scale
        return out

    def evaluate_frames(self, new_yields, yield_units: str = "auto", maturity_units: str = "auto") -> dict:
        """Other dates' curves under the fitted model, as the fit's own outputs (what ``SMOOTH_STATES`` shows):
        ``factors`` and ``factor_std_errors`` (Kalman-smoothed), ``fitted_yields`` and ``term_premium`` at the
        fitted maturities, all in this fit's yield units; dates x columns frames."""
        dates, sm = self._smooth_new(new_yields, yield_units, maturity_units)
        X, s = sm.states, self.scale
        a, Z = self._q_loadings(self.panel.maturities)
        A, B = self._p_loadings(self.panel.maturities)
        frame = lambda values, columns: pd.DataFrame(values, index=dates, columns=list(columns))  # noqa: E731
        return {"factors": frame(X * s, FACTOR_NAMES),
                "factor_std_errors": frame(np.sqrt(np.maximum(np.diagonal(sm.cov, axis1=1, axis2=2), 0)) * s,
                                           FACTOR_NAMES),
                "fitted_yields": frame((a + X @ Z.T) * s, self.panel.labels),
                "term_premium": frame((a + X @ Z.T - A - X @ B.T) * s, self.panel.labels)}

    def parameter_blocks(self) -> dict[str, pd.DataFrame]:
        s, names = self.scale, FACTOR_NAMES
        Phi, Q = _discretise(self.KP, self.Omega, self.dt)
        sq = lambda m: pd.DataFrame(m, index=names, columns=names)  # noqa: E731
        return {
            "lambda": pd.DataFrame({"per_year": [self.lam], "per_month": [self.lam / 12]}, index=["lambda"]),
            "K_P": sq(self.KP), "theta_P": pd.DataFrame({"theta_P": self.thetaP * s}, index=names),
            "Sigma": sq(self.Sigma * s), "K_Q": sq(self.KQ),
            "Phi_P": sq(Phi), "Q_period": sq(Q * s * s),
            "yield_adjustment": self.yield_adjustment.to_frame(),
            "sigma_e": pd.DataFrame({"sigma_e": np.sqrt(self.h) * s}, index=self.panel.labels),
        }

    def summary(self) -> str:
        errors = self.pricing_errors
        lines = header_block(f"Arbitrage-free Nelson-Siegel model, {self.version} factors (afns)", [
            ("Factors", "level, slope, curvature"), ("Maturities (J)", len(self.panel.labels)),
            ("Dates (T)", len(self.panel.dates)),
            ("Sample", f"{_date(self.panel.dates[0])}..{_date(self.panel.dates[-1])}"),
            ("lambda (per year)", f"{self.lam:.5f}"), ("Log-likelihood", f"{self.loglik:.3f}"),
            ("Start log-likelihood", f"{self.start_loglik:.3f}"), ("Iterations", self.n_iter),
            ("Converged", "yes" if self.converged else "NO"), ("Seconds", f"{self.seconds:.2f}"),
            ("Yield units", self.units), ("Mean RMSE (bp)", f"{errors.mean():.2f}"),
        ])
        if not self.converged:
            lines.append(f"NOT CONVERGED: {self.message}")
        lines += flag_lines(self.flags)
        lines.append("Q: Nelson-Siegel loadings, r = level + slope, K_Q fixed by lambda, theta_Q = 0; term premium = "
                     "fitted minus physical-measure yield (convexity included).")
        lines.append(f"Units: factors, theta_P, Sigma, sigma_e, yield adjustment in {self.units}; K_P, K_Q, lambda "
                     "per year; pricing errors in bp.")
        lines += [f"Note: {n}" for n in self.notes]
        lines.append("")
        for name, block in self.parameter_blocks().items():
            lines += frame_table(name, block)
        lines += pricing_error_table(errors)
        lines += term_premium_table(self.term_premium, self.units)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _start(Y, years, dt, version, build: _Build):
    lam = profile_lambda(Y, years)
    F = cross_section_ols(Y, ns_loadings(years, lam))
    c, A, resid = _var_ols(F, "var" if version == "correlated" else "ar")
    Qm = resid.T @ resid / len(resid)
    rho = np.max(np.abs(np.linalg.eigvals(A)))
    if rho >= 0.995:
        A = A * 0.995 / rho
    if version == "independent":
        kappa = -np.log(np.clip(np.diag(A), 1e-3, 0.999)) / dt
        KP = np.diag(kappa)
        Sigma = np.diag(np.sqrt(np.diag(Qm) / dt))
    else:
        K = logm(A)
        KP = -np.real(K) / dt if np.all(np.isfinite(K)) else np.diag(-np.log(np.clip(np.diag(A), 1e-3, 0.999)) / dt)
        Sigma = np.linalg.cholesky(Qm / dt + 1e-14 * np.eye(3))
    thetaP = np.nanmean(F, axis=0)
    resid_y = Y - F @ ns_loadings(years, lam).T
    h = np.maximum(np.nanvar(resid_y, axis=0), 10 * build.floor)
    theta = build.pack(lam, KP, thetaP, Sigma, h)
    if build(theta) is None:          # fall back to a clearly stationary diagonal start
        KP = np.diag(np.full(3, 0.2)) if version == "correlated" else np.diag(np.full(3, 0.2))
        theta = build.pack(lam, KP, thetaP, Sigma, h)
    return theta


def fit_afns(yields, maturities=None, *, version: str = "independent", yield_units: str = "auto",
             maturity_units: str = "auto", periods_per_year: int | None = None, max_iter: int = 2000
             ) -> AFNSResult:
    """Fit the arbitrage-free Nelson-Siegel model by exact Kalman maximum likelihood (equations in the module
    docstring).

    Parameters
    ----------
    yields : anything :func:`xlatsm.read_panel` accepts; blanks are missing cells (kept in the Kalman filter).
    version : "independent" (diagonal K_P and Sigma; default) or "correlated" (full K_P, triangular Sigma).
    periods_per_year : data frequency (default from the dates).
    """
    started = time.perf_counter()
    if version not in VERSIONS:
        raise InputError(f"version must be one of {VERSIONS}, not {version!r}")
    panel = read_yields(yields, maturities, yield_units, maturity_units)
    notes = [n for n in panel.notes if n]
    Y, years = panel.yields, panel.maturities
    T, J = Y.shape
    if J < 4:
        raise InputError(f"{J} maturities cannot fit three AFNS factors with error: give at least 4")
    if T < 24:
        raise InputError(f"{T} dates are too few for the factor dynamics: give at least 24")
    dt = 1.0 / float(periods_per_year or panel.periods_per_year)
    floor = variance_floor(Y)
    build = _Build(years, dt, version, floor)
    starts = [("the two-step Nelson-Siegel VAR", _start(Y, years, dt, version, build))]
    if version == "correlated":
        # nested start: the independent-factor maximum is a point of the correlated model (off-diagonals 0), so
        # the correlated fit can only improve on it. The likelihood has several local maxima (they differ in
        # which maturities are priced exactly, on their variance floor), so the two-step start is run too and
        # the higher maximum kept.
        ind = fit_afns(panel, version="independent", periods_per_year=periods_per_year, max_iter=max_iter)
        starts.insert(0, (f"the independent-factor fit (log-likelihood {ind.loglik:.3f})",
                          build.pack(ind.lam, ind.KP, ind.thetaP, ind.Sigma, ind.h)))
    model = GaussianSSM(Y, build, log_h_tail=True)
    runs = []
    for label, theta0 in starts:
        runs.append((label, model.maximise(theta0, max_iter=max_iter), dict(model.report)))
    label, (theta, ll, ok, nit, msg, start_ll), report = max(runs, key=lambda run: run[1][1])
    notes.append(f"started from {label}" + "".join(
        f"; the start from {other} reached log-likelihood {run[1]:.3f}" for other, run, _ in runs if other != label))
    sm = model.smooth(theta)
    lam, KP, thetaP, Sigma, h = build.unpack(theta)
    result = AFNSResult(panel=panel, version=version, dt=dt, theta=theta, lam=lam, KP=KP, thetaP=thetaP,
                        Sigma=Sigma, h=h, X=sm.states, X_cov=sm.cov, loglik=ll, converged=ok, n_iter=nit,
                        message=msg, start_loglik=start_ll, notes=notes, h_floor=floor)
    if not ok:
        result.flags.append(Flag("not_converged", f"the Kalman MLE did not reach a verified maximum ({msg}); "
                                                  "raise max_iter or try the other version"))
    result.flags += heywood_flag(h, floor, panel.labels) + flat_flag(report, build.names(panel.labels))
    Phi, _ = _discretise(KP, result.Omega, dt)
    result.flags += explosive_flags(Phi) + result._nonfinite_flags(["factors", "fitted_yields", "term_premium"])
    result.seconds = time.perf_counter() - started
    return result
