r"""Dynamic Nelson-Siegel (DNS): Diebold and Li (2006) two-step and Diebold, Rudebusch and Aruoba (2006) one-step.

The yield of maturity ``tau`` (years) is

.. math::

    y_t(\tau) = L_t + S_t\,\frac{1-e^{-\lambda\tau}}{\lambda\tau}
              + C_t\Big(\frac{1-e^{-\lambda\tau}}{\lambda\tau} - e^{-\lambda\tau}\Big) + e_t(\tau)

with factors level ``L``, slope ``S``, curvature ``C`` (yield units) and decay ``lambda``. ``lam`` is given, as
Diebold and Li do, **per month of maturity** (their 0.0609 puts the curvature loading's maximum at 30 months);
inside, ``lambda = 12 lam`` per year.

* ``method="two_step"`` (Diebold-Li): ``lam`` fixed (default 0.0609) or ``lam="profile"`` (the value minimising
  the total squared error of the cross-sections); the factors are least squares per date (observed cells only),
  then a VAR(1) ``f_t = c + A f_{t-1} + eta_t`` (``dynamics="var"``) or three AR(1)s (``dynamics="ar"``) by OLS.
* ``method="one_step"`` (Diebold-Rudebusch-Aruoba): the state-space model
  ``f_t - mu = A (f_{t-1} - mu) + eta_t, eta ~ N(0, Q)``, ``y_t = Lambda(lambda) f_t + e_t, e ~ N(0, diag(h))``,
  ``f_1`` from the stationary distribution, estimated jointly (``lambda`` too) by exact Kalman maximum likelihood
  (:mod:`xlatsm.atsm.statespace_mle`, statsmodels' filter through :mod:`xlatsm.ssm.kalman`); missing cells stay in
  the filter. Started from the two-step fit with profiled ``lambda``.

**No term premium.** DNS imposes no absence of arbitrage, so there is no risk-neutral measure: term premia and
risk-neutral yields are not defined and ``term_premium`` raises :class:`xlatsm.ModelError` saying so (use
``fit_afns``, the arbitrage-free version, or ``fit_acm``/``fit_atsm``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from ..data import YieldPanel, years_to_label
from ..data.align import align_yields
from ..data.panel import read_observations
from ..diagnostics import Flag, flag_lines
from ..errors import InputError, ModelError
from ..textfmt import frame_table, header_block, pricing_error_table
from .results_other import CurveResult, _date, explosive_flags, maturity_years, read_yields
from .statespace_mle import (GaussianSSM, Matrices, chol_from_free, flat_flag, free_from_chol, heywood_flag,
                             stationary_cov, variance_floor)

__all__ = ["fit_dns", "DNSResult", "ns_loadings", "FACTOR_NAMES", "DL_LAMBDA"]

FACTOR_NAMES = ["level", "slope", "curvature"]
DL_LAMBDA = 0.0609          # per month of maturity (Diebold and Li 2006)
NO_TERM_PREMIUM = ("the dynamic Nelson-Siegel model is not arbitrage-free, so it has no risk-neutral measure and "
                   "no term premium or risk-neutral yields: use fit_afns (arbitrage-free Nelson-Siegel), fit_acm "
                   "or fit_atsm for term premia")


def ns_loadings(years, lam_per_year: float) -> np.ndarray:
    """(J, 3) Nelson-Siegel loadings [1, (1-e^{-x})/x, (1-e^{-x})/x - e^{-x}], x = lambda tau (tau in years)."""
    x = lam_per_year * np.asarray(years, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(x > 1e-8, -np.expm1(-x) / x, 1.0 - x / 2)
    return np.column_stack([np.ones_like(x), slope, slope - np.exp(-x)])


def cross_section_ols(Y: np.ndarray, Lam: np.ndarray) -> np.ndarray:
    """Least squares factors per date on the observed cells: (T, 3); NaN rows where fewer than 3 cells."""
    T = len(Y)
    out = np.full((T, Lam.shape[1]), np.nan)
    obs = ~np.isnan(Y)
    full = obs.all(axis=1)
    if full.any():
        out[full] = np.linalg.lstsq(Lam, Y[full].T, rcond=None)[0].T
    for t in np.flatnonzero(~full):
        o = obs[t]
        if o.sum() >= Lam.shape[1]:
            out[t] = np.linalg.lstsq(Lam[o], Y[t, o], rcond=None)[0]
    return out


def _ssr(Y, years, lam_year):
    Lam = ns_loadings(years, lam_year)
    F = cross_section_ols(Y, Lam)
    R = Y - F @ Lam.T
    return float(np.nansum(R ** 2))


def profile_lambda(Y: np.ndarray, years: np.ndarray) -> float:
    """lambda (per year) minimising the total squared cross-sectional error: grid, then Brent on log lambda."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(5.0), 41))
    values = [_ssr(Y, years, g) for g in grid]
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(lambda z: _ssr(Y, years, np.exp(z)), bounds=(np.log(lo), np.log(hi)), method="bounded",
                          options={"xatol": 1e-10})
    return float(np.exp(res.x))


def _var_ols(F: np.ndarray, dynamics: str):
    """(c, A, resid) of f_t = c + A f_{t-1} + eta_t over the dates where both are known."""
    ok = ~np.isnan(F).any(axis=1)
    pair = ok[1:] & ok[:-1]
    X0, X1 = F[:-1][pair], F[1:][pair]
    k = F.shape[1]
    if dynamics == "var":
        Z = np.column_stack([np.ones(len(X0)), X0])
        G = np.linalg.lstsq(Z, X1, rcond=None)[0]
        return G[0], G[1:].T, X1 - Z @ G
    c, A = np.zeros(k), np.zeros((k, k))
    resid = np.empty_like(X1)
    for i in range(k):
        Z = np.column_stack([np.ones(len(X0)), X0[:, i]])
        g = np.linalg.lstsq(Z, X1[:, i], rcond=None)[0]
        c[i], A[i, i] = g
        resid[:, i] = X1[:, i] - Z @ g
    return c, A, resid


@dataclass
class DNSResult(CurveResult):
    """A fitted dynamic Nelson-Siegel model (see :func:`fit_dns`). Factors, fitted yields, ``mu`` and ``Q``
    (square root) in yield units; ``A`` unit-free; ``lam`` per month of maturity (``lam_per_year`` = 12 lam);
    pricing errors in bp. ``loglik`` is the exact Kalman log-likelihood (one_step; of the decimal yields) or
    None (two_step, two least-squares steps). No term premium (see the module docstring)."""

    panel: YieldPanel
    method: str
    dynamics: str
    lam_per_year: float
    F: np.ndarray                 # (T, 3) decimals: OLS (two_step) or smoothed (one_step)
    F_cov: np.ndarray             # (T, 3, 3) decimals^2 (zeros for two_step)
    c: np.ndarray                 # f_t = c + A f_{t-1} + eta
    A: np.ndarray
    Q: np.ndarray
    h: np.ndarray | None = None   # (J,) measurement variances (one_step)
    loglik: float | None = None
    converged: bool = True
    n_iter: int = 0
    message: str = ""
    start_loglik: float | None = None
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    seconds: float = 0.0
    dt: float = 1 / 12

    factor_names = FACTOR_NAMES
    n_factors = 3
    model_name = "dynamic Nelson-Siegel"

    def _extra_pairs(self):
        return [("lambda (per month)", self.lam), ("dynamics", self.dynamics)]

    def matrices(self) -> Matrices:
        """The one-step model's state-space matrices at the estimate (decimals, per period)."""
        if self.method != "one_step":
            raise ModelError("the two-step fit has no state-space likelihood: use method='one_step'")
        return dns_matrices(self.theta, self.panel.maturities, self.h_floor)

    @property
    def lam(self) -> float:
        """Decay per month of maturity (Diebold-Li's units)."""
        return self.lam_per_year / 12.0

    @property
    def mu(self) -> np.ndarray:
        return np.linalg.solve(np.eye(3) - self.A, self.c)

    def loadings(self, maturities=None) -> pd.DataFrame:
        """Nelson-Siegel loadings at maturities (tenors or years; default the fitted ones), unit-free."""
        years = self.panel.maturities if maturities is None else np.array([maturity_years(m) for m in maturities])
        return pd.DataFrame(ns_loadings(years, self.lam_per_year), index=[years_to_label(y) for y in years],
                            columns=FACTOR_NAMES)

    @property
    def factors(self) -> pd.DataFrame:
        """Level, slope, curvature per date, in yield units (least squares for two_step, smoothed for one_step)."""
        return self._factor_frame(self.F, FACTOR_NAMES)

    @property
    def factor_std_errors(self) -> pd.DataFrame:
        return self._std_error_frame(self.F_cov, FACTOR_NAMES)

    @cached_property
    def _fitted(self) -> np.ndarray:
        return self.F @ ns_loadings(self.panel.maturities, self.lam_per_year).T

    def yields_at(self, maturities) -> pd.DataFrame:
        years = [maturity_years(m) for m in maturities]
        return self._frame(self.F @ ns_loadings(years, self.lam_per_year).T * self.scale,
                           [years_to_label(y) for y in years])

    @property
    def term_premium(self):
        raise ModelError(NO_TERM_PREMIUM)

    def term_premium_at(self, maturity):
        raise ModelError(NO_TERM_PREMIUM)

    @property
    def risk_neutral_yields(self):
        raise ModelError(NO_TERM_PREMIUM)

    def evaluate(self, new_yields, yield_units: str = "auto", maturity_units: str = "auto") -> pd.DataFrame:
        """Level, slope and curvature of other dates' curves by least squares with the fitted lambda, in this fit's
        yield units (columns matched by maturity; any subset of at least three of the fitted maturities)."""
        from ..data import maturities_to_years

        obs = read_observations(new_yields)
        years_new, _ = maturities_to_years(list(obs.columns), maturity_units, ordered=False)
        years_new = np.sort(years_new)
        labels = [years_to_label(y) for y in years_new]
        frame = align_yields(obs, years_new, labels, self.units, yield_units, maturity_units)
        Y = frame.to_numpy(float) / self.scale
        F = cross_section_ols(Y, ns_loadings(years_new, self.lam_per_year))
        return pd.DataFrame(F * self.scale, index=frame.index, columns=FACTOR_NAMES)

    def evaluate_frames(self, new_yields, yield_units: str = "auto", maturity_units: str = "auto") -> dict:
        """Other dates' curves under the fitted model, as the fit's own outputs (what ``SMOOTH_STATES`` shows):
        ``factors`` (least squares per date with the fitted lambda, :meth:`evaluate`) and ``fitted_yields`` at the
        fitted maturities, in this fit's yield units. No ``term_premium``: DNS has none (``term_premium_at`` says
        why)."""
        factors = self.evaluate(new_yields, yield_units, maturity_units)
        Lam = ns_loadings(self.panel.maturities, self.lam_per_year)
        return {"factors": factors,
                "fitted_yields": pd.DataFrame(factors.to_numpy() @ Lam.T, index=factors.index,
                                              columns=list(self.panel.labels))}

    def parameter_blocks(self) -> dict[str, pd.DataFrame]:
        s, names = self.scale, FACTOR_NAMES
        blocks = {
            "lambda": pd.DataFrame({"per_month": [self.lam], "per_year": [self.lam_per_year]}, index=["lambda"]),
            "mu": pd.DataFrame({"mu": self.mu * s}, index=names),
            "A": pd.DataFrame(self.A, index=names, columns=names),
            "c": pd.DataFrame({"c": self.c * s}, index=names),
            "Q": pd.DataFrame(self.Q * s * s, index=names, columns=names),
        }
        if self.h is not None:
            blocks["sigma_e"] = pd.DataFrame({"sigma_e": np.sqrt(self.h) * s}, index=self.panel.labels)
        return blocks

    def summary(self) -> str:
        errors = self.pricing_errors
        rows = [("Factors", "level, slope, curvature"), ("Maturities (J)", len(self.panel.labels)),
                ("Dates (T)", len(self.panel.dates)),
                ("Sample", f"{_date(self.panel.dates[0])}..{_date(self.panel.dates[-1])}"),
                ("Method", self.method), ("Dynamics", self.dynamics),
                ("lambda (per month)", f"{self.lam:.5f}"), ("lambda (per year)", f"{self.lam_per_year:.5f}"),
                ("Log-likelihood", "n/a (two steps)" if self.loglik is None else f"{self.loglik:.3f}"),
                ("Converged", "yes" if self.converged else "NO"), ("Seconds", f"{self.seconds:.2f}"),
                ("Yield units", self.units), ("Mean RMSE (bp)", f"{errors.mean():.2f}")]
        lines = header_block("Dynamic Nelson-Siegel model (dns)", rows)
        lines += flag_lines(self.flags)
        lines.append("Term premia: not defined (DNS is not arbitrage-free); use fit_afns, fit_acm or fit_atsm.")
        lines.append(f"Units: factors, mu, c, sqrt(Q), sigma_e in {self.units}; A unit-free; lambda per month "
                     "of maturity (and per year); pricing errors in bp.")
        lines += [f"Note: {n}" for n in self.notes]
        lines.append("")
        for name, block in self.parameter_blocks().items():
            lines += frame_table(name, block)
        lines += pricing_error_table(errors)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------------------------------------
def _lam_year(lam, Y, years, notes):
    if isinstance(lam, str):
        if lam.strip().lower() != "profile":
            raise InputError(f"lam must be a number (per month of maturity, e.g. 0.0609) or 'profile', not {lam!r}")
        value = profile_lambda(Y, years)
        notes.append(f"lambda profiled: {value / 12:.5f} per month ({value:.5f} per year) minimises the "
                     "cross-sectional squared errors")
        return value
    if not isinstance(lam, (int, float, np.integer, np.floating)) or not np.isfinite(lam) or lam <= 0:
        raise InputError(f"lam must be a positive number per month of maturity (Diebold-Li: 0.0609), got {lam!r}")
    return 12.0 * float(lam)


def dns_matrices(theta: np.ndarray, years: np.ndarray, floor=0.0) -> Matrices | None:
    """theta = [log lambda_year, mu (3), A (9, row-major), chol(Q) free (6), log(h - floor) (J)] -> state-space
    matrices."""
    lam = np.exp(theta[0])
    mu = theta[1:4]
    A = theta[4:13].reshape(3, 3)
    L = chol_from_free(theta[13:19], 3)
    Q = L @ L.T
    h = floor + np.exp(theta[19:])
    P1 = stationary_cov(A, Q)
    if P1 is None or not np.isfinite(lam) or lam > 50:
        return None
    return Matrices(Z=ns_loadings(years, lam), a=np.zeros(len(years)), h=h, T=A, d=mu - A @ mu, Q=Q, a1=mu, P1=P1)


def fit_dns(yields, maturities=None, *, method: str = "two_step", lam=DL_LAMBDA, dynamics: str = "var",
            yield_units: str = "auto", maturity_units: str = "auto", max_iter: int = 2000) -> DNSResult:
    """Fit the dynamic Nelson-Siegel model (equations and units in the module docstring).

    Parameters
    ----------
    yields : anything :func:`xlatsm.read_panel` accepts; blanks are missing cells.
    method : "two_step" (Diebold-Li; default) or "one_step" (Diebold-Rudebusch-Aruoba Kalman MLE).
    lam : decay per month of maturity (default 0.0609) or "profile" (two_step); one_step estimates it and uses
        ``lam`` (or the profiled value) only as its start.
    dynamics : "var" (VAR(1), default) or "ar" (three AR(1)s; two_step only).
    """
    started = time.perf_counter()
    if method not in ("two_step", "one_step"):
        raise InputError(f"method must be 'two_step' (Diebold-Li) or 'one_step' (Kalman MLE), not {method!r}")
    if dynamics not in ("var", "ar"):
        raise InputError(f"dynamics must be 'var' or 'ar', not {dynamics!r}")
    if method == "one_step" and dynamics != "var":
        raise InputError("the one-step model has VAR(1) factors: use dynamics='var' with method='one_step'")
    panel = read_yields(yields, maturities, yield_units, maturity_units)
    notes = [n for n in panel.notes if n]
    Y, years = panel.yields, panel.maturities
    T, J = Y.shape
    if J < 4:
        raise InputError(f"{J} maturities cannot fit three Nelson-Siegel factors with error: give at least 4")
    if T < 24:
        raise InputError(f"{T} dates are too few for the factor dynamics: give at least 24")
    if (np.sum(~np.isnan(Y), axis=1) < 3).mean() > 0.5:
        raise InputError("most dates have fewer than 3 observed maturities: give fuller curves")
    dt = 1.0 / panel.periods_per_year
    lam_start = lam if method == "two_step" else ("profile" if lam == DL_LAMBDA else lam)
    lam_year = _lam_year(lam_start, Y, years, notes)
    Lam = ns_loadings(years, lam_year)
    F = cross_section_ols(Y, Lam)
    c, A, resid = _var_ols(F, dynamics)
    Q = resid.T @ resid / len(resid)
    result = DNSResult(panel=panel, method=method, dynamics=dynamics, lam_per_year=lam_year, F=F,
                       F_cov=np.zeros((T, 3, 3)), c=c, A=A, Q=Q, notes=notes, dt=dt)
    if method == "one_step":
        resid_y = Y - F @ Lam.T
        floor = variance_floor(Y)
        h0 = np.maximum(np.nanvar(resid_y, axis=0), 10 * floor)
        mu0 = np.nanmean(F, axis=0)
        A0 = A if np.max(np.abs(np.linalg.eigvals(A))) < 0.995 else A * 0.99 / np.max(np.abs(np.linalg.eigvals(A)))
        theta0 = np.concatenate([[np.log(lam_year)], mu0, A0.ravel(), free_from_chol(np.linalg.cholesky(Q)),
                                 np.log(h0 - floor)])
        model = GaussianSSM(Y, lambda th: dns_matrices(th, years, floor), log_h_tail=True)
        theta, ll, ok, nit, msg, start_ll = model.maximise(theta0, max_iter=max_iter)
        mats = dns_matrices(theta, years, floor)
        sm = model.smooth(theta)
        result = DNSResult(panel=panel, method=method, dynamics=dynamics, lam_per_year=float(np.exp(theta[0])),
                           F=sm.states, F_cov=sm.cov, c=mats.d, A=mats.T, Q=mats.Q, h=mats.h, loglik=ll,
                           converged=ok, n_iter=nit, message=msg, start_loglik=start_ll, notes=notes, dt=dt)
        result.theta, result.h_floor = theta, floor
        names = (["log lambda"] + [f"mu[{c}]" for c in "LSC"] + [f"A[{r},{c}]" for r in "LSC" for c in "LSC"]
                 + [f"log Q_chol[{r},{c}]" if r == c else f"Q_chol[{r},{c}]" for i, r in enumerate("LSC")
                    for c in "LSC"[:i + 1]] + [f"log(h - floor) {lab}" for lab in panel.labels])
        result.flags += heywood_flag(mats.h, floor, panel.labels) + flat_flag(model.report, names)
        if not ok:
            result.flags.append(Flag("not_converged", f"the Kalman MLE did not reach a verified maximum ({msg}); "
                                                      "raise max_iter or check the data"))
    result.flags += explosive_flags(result.A) + result._nonfinite_flags(["factors", "fitted_yields"])
    result.seconds = time.perf_counter() - started
    return result
