r"""Adrian, Crump and Moench (2013), "Pricing the term structure with linear regressions" (ACM), as the NY Fed
publishes it.

Everything below is per period (``dt`` years; monthly data: ``dt = 1/12``); ``p^{(n)}_t = -n\,dt\,y^{(n)}_t`` is
the log price of an ``n``-period zero bond, yields ``y`` are decimals per year, ``r_t = dt\,y^{(1)}_t``.

1. **Factors.** ``X_t`` (K, default 5): the first K principal components of the yields at ``pc_maturities``
   (default: every column of the panel; the NY Fed uses 3..120 months), from the sample-demeaned yields, each
   scaled to unit sample standard deviation and signed so its loadings sum to a positive number. ``X`` is
   therefore unit-free, and so are ``mu, Phi, Sigma, lambda_0, lambda_1``.
2. **VAR(1) by OLS.** ``X_{t+1} = mu + Phi X_t + v_{t+1}``; ``Sigma = V'V / (T - 2)`` (the sample covariance of
   the T-1 innovations, the NY Fed's convention). By default (``var_intercept=False``, as the NY Fed's published
   series) ``mu`` is set to zero, the factors being demeaned, and the innovations are ``X_{t+1} - Phi X_t``
   (the OLS intercept stays in them); ``var_intercept=True`` keeps the OLS ``mu``.
3. **Excess-return regressions.** One-period log excess returns of the bonds bought at maturity ``n`` (the
   ``rx_maturities``; default 6, 12, 24, 36, ... months up to the longest maturity, those the panel has when
   there are at least K: the NY Fed's 6, 12, 24..120 months):
   ``rx^{(n-1)}_{t+1} = p^{(n-1)}_{t+1} - p^{(n)}_t - r_t``, regressed jointly on a constant, the VAR
   innovations and the lagged factors: ``rx = a + beta' v_{t+1} + c' X_t + e_{t+1}``, and
   ``sigma^2 = tr(E'E) / (N (T-1))`` (pooled, the residuals have zero mean per maturity).
4. **Prices of risk** by cross-sectional OLS, with the convexity terms
   (``B*`` has rows ``vec(beta_i beta_i')'``):

   .. math::

       \lambda_0 = (\beta\beta')^{-1}\beta\,\big(a + \tfrac12(B^*\mathrm{vec}\,\Sigma + \sigma^2\iota)\big),\qquad
       \lambda_1 = (\beta\beta')^{-1}\beta\,c.

5. **Short rate** ``r_t = delta_0 + delta_1' X_t`` by OLS over every date, and **bond prices**
   ``p^{(n)}_t = A_n + B_n' X_t`` by the affine recursion ``A_1 = -delta_0``, ``B_1 = -delta_1``, and for
   ``n >= 2``

   .. math::

       A_n = A_{n-1} + B_{n-1}'(\mu - \lambda_0) + \tfrac12 (B_{n-1}'\Sigma B_{n-1} + \sigma^2) - \delta_0,\qquad
       B_n' = B_{n-1}'(\Phi - \lambda_1) - \delta_1'.

   The ``sigma^2`` term enters from ``n = 2`` (the one-period bond carries no return error), so the model's
   1-period yield is exactly the fitted short rate. Risk-neutral yields: the same recursion with
   ``lambda_0 = lambda_1 = 0`` (physical dynamics, ``sigma^2`` and ``Sigma`` convexity included); term premium =
   fitted yield - risk-neutral yield.

**Inference** (ACM 2013, section 3.3): every estimate is a smooth function of the three regressions, so its
first-order error is a linear map of theirs -- the VAR's ``v Z'(Z'Z)^{-1}``, the return regressions'
``e Z'(Z'Z)^{-1}`` and ``e v'(V'V)^{-1}`` (beta), ``Sigma`` and ``sigma^2`` of the convexity terms
(:meth:`ACMResult.parameter_standard_errors`). ``standard_errors`` are analytic under ACM's assumptions (Gaussian
innovations, iid homoskedastic return errors independent of them), ``robust=True`` the sandwich of the
date-by-date errors; ``term_premium_bands`` and ``expected_short_rate_bands`` are delta-method bands on that
covariance. The principal components are taken as observed.

Yields needed at maturities the panel lacks (the ``n-1``-period yield of a return, the 1-period short rate, any
maturity of a monthly grid) are interpolated across maturities by a monotone cubic (PCHIP) in yields, flat
below the shortest maturity; the summary says which. The regressions need every cell of the panel.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from ..data import YieldPanel, years_to_label
from ..data.align import align_yields
from ..data.panel import read_observations
from ..errors import InputError
from ..textfmt import (estimate_table, format_matrix, frame_table, header_block, pricing_error_table,
                       term_premium_table)
from .loadings import discrete_price_loadings
from ..diagnostics import flag_lines
from .results_other import CurveResult, _date, check_balanced, explosive_flags, maturity_years, read_yields

__all__ = ["fit_acm", "ACMResult", "ACMEvaluation", "acm_price_loadings", "ACM_RX_MONTHS"]

#: the NY Fed's return maturities (months at purchase)
ACM_RX_MONTHS = (6, 12, 24, 36, 48, 60, 72, 84, 96, 108, 120)


def acm_price_loadings(mu_star, Phi_star, Sigma, sigma2, delta0, delta1, n_max):
    """(A, B) for n = 0..n_max of log prices ``A_n + B_n'X`` (per period) by the ACM recursion above.

    ``mu_star = mu - lambda_0``, ``Phi_star = Phi - lambda_1`` (risk-neutral), or ``mu``, ``Phi`` for the
    risk-neutral yields. Built on :func:`discrete_price_loadings` (the exact Gaussian recursion with
    ``Omega = Sigma``, ``dt = 1``) plus ACM's return-error convexity ``(n-1) sigma^2 / 2`` for ``n >= 1``.
    """
    a, b = discrete_price_loadings(mu_star, Phi_star, Sigma, delta0, delta1, n_max, 1.0)
    n = np.arange(n_max + 1)
    return a + 0.5 * sigma2 * np.maximum(n - 1, 0), b


def _interpolator(maturities: np.ndarray, Y: np.ndarray):
    """Yields at any maturity (years): PCHIP across maturities per date, flat below the shortest."""
    if len(maturities) == 1:
        return lambda years: np.repeat(Y, len(np.atleast_1d(years)), axis=1)
    spline = PchipInterpolator(maturities, Y, axis=1, extrapolate=True)

    def at(years):
        years = np.atleast_1d(np.asarray(years, float))
        out = spline(np.clip(years, maturities[0], None))
        return out
    return at


@dataclass
class ACMResult(CurveResult):
    """A fitted ACM model (see :func:`fit_acm` and the module docstring for the equations and units).

    Outputs in the input's yield units: ``fitted_yields``, ``risk_neutral_yields``, ``term_premium`` (every fitted
    maturity), ``term_premium_at("10Y")`` (any maturity), ``expected_excess_returns``, ``decomposition(m)``;
    pricing errors in bp (``pricing_errors`` of yields, ``return_pricing_errors`` of the excess-return
    regressions). ``factors`` are the standardised principal components (unit-free). ``loglik`` is None: ACM
    is a sequence of regressions, not a likelihood. ``standard_errors`` (like ``parameter_blocks``, without the
    principal components' weights and means), ``term_premium_bands`` and ``expected_short_rate_bands``: the
    closed-form asymptotics of the three steps (module docstring).
    """

    factor_units = "standardised"     # principal components scaled to unit variance

    panel: YieldPanel
    dt: float
    n_factors: int
    pc_labels: list
    pc_mean: np.ndarray          # (J_pc,) decimals
    pc_weights: np.ndarray       # (J_pc, K): X = (y_pc - mean) @ pc_weights
    X: np.ndarray                # (T, K)
    mu: np.ndarray
    Phi: np.ndarray
    Sigma: np.ndarray
    V: np.ndarray                # (T-1, K) VAR innovations
    rx_periods: np.ndarray       # (N,) purchase maturities in periods
    rx: np.ndarray               # (T-1, N) excess log returns, per period, decimals
    a: np.ndarray
    beta: np.ndarray             # (N, K)
    c: np.ndarray                # (N, K)
    E: np.ndarray                # (T-1, N) return pricing errors
    sigma2: float
    lambda0: np.ndarray
    lambda1: np.ndarray
    delta0: float
    delta1: np.ndarray
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    flags: list = field(default_factory=list)
    var_intercept: bool = False  # True: mu is the OLS intercept; False: mu = 0 (the NY Fed's convention)
    sigma2_given: bool = False   # sigma^2 was given (fit_acm(sigma2=...)), not estimated
    short_rate: np.ndarray | None = None   # (T,) r_t per period, decimals: the regressand of delta_0, delta_1
    loglik = None
    method = "acm"
    converged = True
    n_iter = 0
    message = "closed form (regressions)"
    model_name = "Adrian-Crump-Moench (2013) regression ATSM"

    def _extra_pairs(self):
        return [("factors", self.n_factors), ("sigma (bp per period)", float(np.sqrt(self.sigma2) * 1e4)),
                ("return maturities", ", ".join(years_to_label(n * self.dt) for n in self.rx_periods))]

    # -- basics --------------------------------------------------------------------------------------------------
    @property
    def factor_names(self) -> list[str]:
        return [f"PC{i + 1}" for i in range(self.n_factors)]

    @property
    def periods(self) -> np.ndarray:
        """The fitted maturities in periods (whole numbers)."""
        return np.round(self.panel.maturities / self.dt).astype(int)

    @property
    def mu_star(self) -> np.ndarray:
        return self.mu - self.lambda0

    @property
    def Phi_star(self) -> np.ndarray:
        return self.Phi - self.lambda1

    def _loadings(self, n_max: int, risk_neutral: bool = False):
        mu, Phi = (self.mu, self.Phi) if risk_neutral else (self.mu_star, self.Phi_star)
        return acm_price_loadings(mu, Phi, self.Sigma, self.sigma2, self.delta0, self.delta1, n_max)

    def _yields(self, X: np.ndarray, periods, risk_neutral: bool = False) -> np.ndarray:
        periods = np.asarray(periods, int)
        A, B = self._loadings(int(periods.max()), risk_neutral)
        return -(A[periods][None, :] + X @ B[periods].T) / (periods * self.dt)

    def loadings(self, maturities=None) -> pd.DataFrame:
        """y(tau) = A(tau) + B(tau)'X_t at maturities (tenors or years; default the fitted ones): A in yield units,
        B in yield units per unit (standardised) factor; rows are maturities."""
        ns = self.periods if maturities is None else np.array([self._periods_of(m) for m in maturities])
        A, B = self._loadings(int(np.max(ns)))
        scale = -self.scale / (ns * self.dt)
        frame = pd.DataFrame(B[ns] * scale[:, None], columns=[f"B_{n}" for n in self.factor_names],
                             index=[years_to_label(n * self.dt) for n in ns])
        frame.insert(0, "A", A[ns] * scale)
        return frame

    @property
    def factor_std_errors(self) -> pd.DataFrame:
        """Zero: the principal components are observed (computed from the yields), not estimated."""
        return self._frame(np.zeros_like(self.X), self.factor_names)

    @property
    def factors(self) -> pd.DataFrame:
        """X_t: standardised principal components of the yields (unit-free; see the module docstring)."""
        return self._frame(self.X, self.factor_names)

    @cached_property
    def _fitted(self) -> np.ndarray:
        return self._yields(self.X, self.periods)

    @property
    def risk_neutral_yields(self) -> pd.DataFrame:
        """Yields priced with the physical VAR (lambda_0 = lambda_1 = 0), convexity included, in yield units."""
        return self._frame(self._yields(self.X, self.periods, True) * self.scale)

    @property
    def term_premium(self) -> pd.DataFrame:
        """Fitted yield minus risk-neutral yield, per date and fitted maturity, in yield units."""
        return self._frame((self._fitted - self._yields(self.X, self.periods, True)) * self.scale)

    def _periods_of(self, maturity) -> int:
        n = maturity_years(maturity) / self.dt
        if abs(n - round(n)) > 1e-6 or round(n) < 1:
            raise InputError(f"maturity {maturity!r} is not a whole number of {self.dt * 12:g}-month periods: "
                             "give a multiple of the data period")
        return int(round(n))

    def term_premium_at(self, maturity) -> pd.Series:
        """Term premium at any maturity (tenor label like "10Y" or years), in yield units."""
        n = self._periods_of(maturity)
        tp = self._yields(self.X, [n]) - self._yields(self.X, [n], True)
        return pd.Series(tp[:, 0] * self.scale, index=self.panel.dates,
                         name=f"term_premium_{years_to_label(n * self.dt)}")

    def yields_at(self, maturities) -> pd.DataFrame:
        """Fitted yields at any maturities (tenors or years), in yield units."""
        ns = [self._periods_of(m) for m in maturities]
        return self._frame(self._yields(self.X, ns) * self.scale, [years_to_label(n * self.dt) for n in ns])

    # -- decompositions ------------------------------------------------------------------------------------------
    @property
    def expected_excess_returns(self) -> pd.DataFrame:
        r"""Model-implied expected one-period log excess return of the bonds bought at the ``rx_maturities``,
        ``E_t rx^{(n-1)}_{t+1} = B_{n-1}'(lambda_0 + lambda_1 X_t) - 1/2 (B_{n-1}' Sigma B_{n-1} + sigma^2)``,
        annualised (divided by dt) and in yield units."""
        A, B = self._loadings(int(self.rx_periods.max()))
        Bm = B[self.rx_periods - 1]
        conv = 0.5 * (np.einsum("ni,ij,nj->n", Bm, self.Sigma, Bm) + self.sigma2 * (self.rx_periods > 1))
        out = (self.lambda0 @ Bm.T)[None, :] + self.X @ (Bm @ self.lambda1).T - conv[None, :]
        return self._frame(out / self.dt * self.scale, [years_to_label(n * self.dt) for n in self.rx_periods])

    def expected_short_rate_path(self, horizon: int = 120) -> pd.DataFrame:
        """E_t[r_{t+h}] under the VAR for h = 0..horizon periods, per year, in yield units."""
        X = self.X.copy()
        out = np.empty((len(X), horizon + 1))
        for h in range(horizon + 1):
            out[:, h] = self.delta0 + X @ self.delta1
            X = self.mu + X @ self.Phi.T
        return pd.DataFrame(out / self.dt * self.scale, index=self.panel.dates,
                            columns=[f"h{h}" for h in range(horizon + 1)])

    def decomposition(self, maturity="10Y") -> pd.DataFrame:
        r"""ACM's decompositions of the ``n``-period fitted yield, per date, in yield units (per year):

        * ``yield = expected_short_rate + expected_excess_return`` exactly, where ``expected_short_rate`` is
          ``(1/n) sum_{h<n} E_t r_{t+h}`` and ``expected_excess_return`` ``(1/n) sum_{h<n}
          E_t rx^{(n-h-1)}_{t+h+1}`` (model-implied, expectations under the VAR);
        * ``yield = risk_neutral_yield + term_premium``; ``convexity = expected_short_rate -
          risk_neutral_yield`` (Jensen terms of the physical dynamics, including ``sigma^2``).
        """
        n = self._periods_of(maturity)
        A, B = self._loadings(n)
        X = self.X.copy()
        short = np.zeros(len(X))
        excess = np.zeros(len(X))
        for h in range(n):
            m = n - h                            # bond of maturity m bought at t+h
            short += self.delta0 + X @ self.delta1
            if m >= 2:
                Bm = B[m - 1]
                excess += Bm @ self.lambda0 + X @ (self.lambda1.T @ Bm) - 0.5 * (Bm @ self.Sigma @ Bm + self.sigma2)
            X = self.mu + X @ self.Phi.T
        scale = self.scale / (n * self.dt)
        fitted = self._yields(self.X, [n])[:, 0] * self.scale
        rny = self._yields(self.X, [n], True)[:, 0] * self.scale
        return pd.DataFrame({"yield": fitted, "expected_short_rate": short * scale,
                             "expected_excess_return": excess * scale, "risk_neutral_yield": rny,
                             "term_premium": fitted - rny, "convexity": short * scale - rny},
                            index=self.panel.dates)

    # -- regressions ---------------------------------------------------------------------------------------------
    @property
    def return_pricing_errors(self) -> pd.DataFrame:
        """Residuals e_{t+1} of the excess-return regressions, per period, decimals (dates t+1)."""
        return self._frame(self.E, [years_to_label(n * self.dt) for n in self.rx_periods], self.panel.dates[1:])

    @property
    def return_rmse(self) -> pd.Series:
        """RMSE of the excess-return regressions per maturity, in basis points of one-period log return."""
        return pd.Series(np.sqrt(np.mean(self.E ** 2, axis=0)) * 1e4,
                         index=[years_to_label(n * self.dt) for n in self.rx_periods], name="return_RMSE_bp")

    # -- re-use --------------------------------------------------------------------------------------------------
    def evaluate(self, new_yields, yield_units: str = "auto", maturity_units: str = "auto") -> "ACMEvaluation":
        """The fitted model on other dates' curves (e.g. daily curves after a month-end fit, as the NY Fed
        publishes daily term premia): factors ``X = (y_pc - mean) @ weights`` with the fit's means and weights,
        then the same loadings. ``new_yields`` needs the principal-component maturities (matched by maturity,
        any order, converted to this fit's units)."""
        obs = read_observations(new_yields)
        pc_years = np.array([maturity_years(l) for l in self.pc_labels])
        frame = align_yields(obs, pc_years, self.pc_labels, self.units, yield_units, maturity_units)
        Y = frame.to_numpy(float) / self.scale
        if np.isnan(Y).any():
            row = int(np.argmax(np.isnan(Y).any(axis=1)))
            raise InputError(f"the new curves have blanks (first on {_date(frame.index[row])}) at maturities the "
                             "factors are built from: give complete curves at " + ", ".join(self.pc_labels))
        X = (Y - self.pc_mean) @ self.pc_weights
        return ACMEvaluation(self, X, frame.index)

    def evaluate_frames(self, new_yields, yield_units: str = "auto", maturity_units: str = "auto") -> dict:
        """Other dates' curves under the fitted model, as the fit's own outputs (what ``SMOOTH_STATES`` shows):
        ``factors`` (standardised principal components, unit-free), ``fitted_yields`` and ``term_premium`` at the
        fitted maturities in this fit's yield units (:meth:`evaluate`)."""
        ev = self.evaluate(new_yields, yield_units, maturity_units)
        return {"factors": ev.factors, "fitted_yields": ev.fitted_yields, "term_premium": ev.term_premium}

    # -- inference -----------------------------------------------------------------------------------------------
    def _se_pieces(self):
        r"""The first-order errors of the three regression steps, date by date (module docstring of
        :meth:`parameter_standard_errors`): per date t (T-1 of them), the rows of

        * ``D1_t = v_{t+1} Z_t' (Z'Z)^{-1}`` (K x (K+1)): the VAR's [mu, Phi] error, ``Z_t = (1, X_t')'``;
        * ``D2_t = e_{t+1} Z_t' (Z'Z)^{-1}`` (N x (K+1)): the return regressions' error on [a, c];
        * ``Db_t = e_{t+1} v_{t+1}' (V'V)^{-1}`` (N x K): the error of beta;
        * ``DS_t = (v_{t+1} v_{t+1}' - Sigma) / (T-1)``; ``ds2_t = (e_{t+1}'e_{t+1} / N - sigma^2) / (T-1)``;

        each flattened column-major and stacked (T-1, m). Also the analytic covariance of the stacked sum under
        ACM's assumptions (Gaussian VAR innovations; return errors iid N(0, sigma^2 I_N), independent of them):
        ``(Ups^-1 (x) Sigma)/T``, ``sigma^2 (Ups^-1 (x) I_N)/T``, ``sigma^2 (Sigma^-1 (x) I_N)/T``,
        ``(I + K_KK)(Sigma (x) Sigma)/T``, ``2 sigma^4 / (N T)``, blocks mutually uncorrelated
        (``Ups = Z'Z / T``, T the T-1 return dates)."""
        K, N = self.n_factors, len(self.rx_periods)
        T1 = len(self.V)
        Z = np.column_stack([np.ones(T1), self.X[:-1]])
        v = self.V - self.V.mean(axis=0)           # the OLS residuals (the NY Fed's V keeps the intercept)
        e = self.E
        ZZi = np.linalg.inv(Z.T @ Z)
        VVi = np.linalg.inv(v.T @ v)
        D1 = np.einsum("ti,tj->tji", v, Z @ ZZi).reshape(T1, -1)        # column-major vec of (K, K+1)
        D2 = np.einsum("ti,tj->tji", e, Z @ ZZi).reshape(T1, -1)        # (N, K+1)
        Db = np.einsum("ti,tj->tji", e, v @ VVi).reshape(T1, -1)        # (N, K)
        DS = (np.einsum("ti,tj->tji", v, v).reshape(T1, -1) - self.Sigma.reshape(1, -1, order="F")) / T1
        ds2 = ((np.sum(e ** 2, axis=1) / N - np.sum(e ** 2) / e.size) / T1)[:, None]
        pieces = np.hstack([D1, D2, Db, DS, ds2])
        Ups_i = np.linalg.inv(Z.T @ Z / T1)
        Sigma, s2 = self.Sigma, float(np.sum(e ** 2) / e.size)
        Kkk = np.zeros((K * K, K * K))
        for i in range(K):
            for j in range(K):
                Kkk[i * K + j, j * K + i] = 1.0
        from scipy.linalg import block_diag

        analytic = block_diag(np.kron(Ups_i, Sigma), s2 * np.kron(Ups_i, np.eye(N)),
                              s2 * np.kron(np.linalg.inv(Sigma), np.eye(N)),
                              (np.eye(K * K) + Kkk) @ np.kron(Sigma, Sigma), [[2 * s2 ** 2 / N]]) / T1
        return pieces, analytic, (K * (K + 1), N * (K + 1), N * K, K * K, 1)

    def _se_map(self, sizes) -> np.ndarray:
        r"""L: the linear map from the stacked regression errors to the parameters' first-order errors,
        ``[a, beta, c, mu, Phi, Sigma, sigma^2, lambda_0, lambda_1, mu_Q, Phi_Q]`` (matrices row-major).

        With ``Lambda = [lambda_0, lambda_1]``, ``A = (beta'beta)^{-1} beta'`` and the model's restrictions
        ``[a + (B* vec Sigma + sigma^2)/2, c] = beta Lambda``: ``d[a, c] = beta dG + D2`` (``dG = D1``; under
        the NY Fed's mu = 0 the intercept's error is the sample mean's, the same to first order), ``d beta = Db``
        and

        .. math::

            d\Lambda = A\,\big(d[a + \tfrac12(B^*\mathrm{vec}\Sigma + \sigma^2\iota),\ c]
            - d\beta\,\Lambda\big),\qquad
            d\,\tfrac12 (B^*\mathrm{vec}\Sigma)_i = \beta_i'\Sigma\,d\beta_i
            + \tfrac12 \beta_i' d\Sigma\,\beta_i .
        """
        K, N = self.n_factors, len(self.rx_periods)
        beta, Sigma = self.beta, self.Sigma
        A = np.linalg.solve(beta.T @ beta, beta.T)
        Lam = np.column_stack([self.lambda0, self.lambda1])
        edges = np.cumsum((0,) + tuple(sizes))

        def perturb(x):
            D1 = x[edges[0]:edges[1]].reshape(K, K + 1, order="F").copy()
            D2 = x[edges[1]:edges[2]].reshape(N, K + 1, order="F")
            Db = x[edges[2]:edges[3]].reshape(N, K, order="F")
            DS = x[edges[3]:edges[4]].reshape(K, K, order="F")
            ds2 = 0.0 if self.sigma2_given else float(x[edges[4]])
            dac = beta @ D1 + D2
            conv = np.einsum("ni,ij,nj->n", Db, Sigma, beta) + 0.5 * np.einsum("ni,ij,nj->n", beta, DS, beta) \
                + 0.5 * ds2
            dLam = A @ (np.column_stack([dac[:, 0] + conv, dac[:, 1:]]) - Db @ Lam)
            dmu, dPhi = D1[:, 0], D1[:, 1:]
            return np.concatenate([dac[:, 0], Db.ravel(), dac[:, 1:].ravel(), dmu, dPhi.ravel(), DS.ravel(), [ds2],
                                   dLam[:, 0], dLam[:, 1:].ravel(), dmu - dLam[:, 0], (dPhi - dLam[:, 1:]).ravel()])

        return np.column_stack([perturb(unit) for unit in np.eye(int(edges[-1]))])

    def parameter_covariance(self, robust: bool = False) -> np.ndarray:
        """Covariance of ``[a, beta, c, mu, Phi, Sigma, sigma^2, lambda_0, lambda_1, mu_Q, Phi_Q]`` (internal
        units, matrices row-major): ``L C L'`` with ``C`` the analytic covariance of the regression errors under
        ACM's assumptions, or (``robust=True``) the sandwich ``sum_t psi_t psi_t'`` of the date-by-date errors
        ``psi_t = L D_t`` (heteroskedasticity-robust; no Gaussianity needed; serial correlation still not
        allowed for)."""
        key = ("covariance", bool(robust))
        cache = self.__dict__.setdefault("_se_cache", {})
        if key not in cache:
            pieces, analytic, sizes = self._se_pieces()
            L = self._se_map(sizes)
            if robust:
                psi = pieces @ L.T
                cache[key] = psi.T @ psi
            else:
                cache[key] = L @ analytic @ L.T
        return cache[key]

    def _short_rate_covariance(self, robust: bool):
        """Covariance of (delta_0, delta_1) per period: OLS of r_t on (1, X_t) over every date, homoskedastic
        (s^2 (Z'Z)^-1, s^2 with T - K - 1 degrees of freedom) or White's HC0."""
        T = len(self.X)
        Z = np.column_stack([np.ones(T), self.X])
        r = self.delta0 + self.X @ self.delta1
        u = self.short_rate - r
        ZZi = np.linalg.inv(Z.T @ Z)
        if robust:
            meat = (Z * u[:, None]).T @ (Z * u[:, None])
            return ZZi @ meat @ ZZi
        return float(u @ u / (T - Z.shape[1])) * ZZi

    def inference(self, robust: bool = False) -> "ACMInference":
        """What the standard errors assume and hold fixed (``notes``; ``ok`` is True: they are closed form)."""
        notes = [("heteroskedasticity-robust sandwich of the date-by-date regression errors" if robust else
                  "analytic, ACM (2013) section 3.3: Gaussian VAR innovations, return errors iid N(0, sigma^2 I) "
                  "and independent of them") + "; they count the estimated betas, the generated VAR innovations, "
                 "Sigma and sigma^2 of the convexity term",
                 "the principal components are treated as observed (their weights and means fixed), as ACM do; no "
                 "allowance for serial correlation (delta_0, delta_1: OLS of the short rate on the factors)"]
        if not self.var_intercept:
            notes.append("mu = 0 by the NY Fed's convention (sample-demeaned factors): the true intercept in that "
                         "basis is (I - Phi)(E X - mean X), so mu's s.e. is that of the factors' sample mean (to first "
                         "order the OLS intercept's)")
        if self.sigma2_given:
            notes.append("sigma^2 was given: held fixed (s.e. zero)")
        return ACMInference(ok=True, robust=bool(robust), notes=notes)

    def parameter_standard_errors(self, robust: bool = False, method: str = "analytic", n_boot: int = 199,
                                  seed: int = 0, progress=True) -> dict[str, pd.DataFrame]:
        r"""Asymptotic standard errors of the three-step estimator (Adrian, Crump and Moench 2013, section 3.3 and
        appendix), with the same keys, labels and units as :meth:`parameter_blocks` (but ``pc_weights`` and
        ``pc_mean``: the principal components are treated as observed, as ACM do).

        Every estimate is a smooth function of the VAR, the excess-return regressions and the pricing errors'
        variance; to first order its error is ``L D`` with ``D`` the regression errors (:meth:`_se_pieces`) and
        ``L`` the map of :meth:`_se_map`, so the estimated betas, the generated regressors ``v_{t+1}``, Sigma
        and sigma^2 in the convexity term all count (with their covariances, e.g. between Phi and lambda_1 in
        Phi_Q = Phi - lambda_1). ``robust=False`` (default): ACM's assumptions (Gaussian VAR innovations, return
        errors iid N(0, sigma^2 I) independent of them); ``robust=True``: the sandwich of the date-by-date
        errors (``method="observed"`` is accepted as a synonym of "analytic"; n_boot, seed and progress are
        not used). ``mu`` under the NY Fed's convention (``var_intercept=False``) is set to zero for the
        sample-demeaned factors, but the true intercept in that basis is ``(I - Phi)(E X - mean X)``: its error,
        and so its s.e., is that of the sample mean (to first order the OLS intercept's, as with
        ``var_intercept=True``). sigma^2, when given, has s.e. zero. delta_0, delta_1: the OLS of the short
        rate on the factors. Units as :meth:`parameter_blocks`."""
        if method not in ("analytic", "observed"):
            raise InputError(f"ACM standard errors are closed form (method='analytic'), not {method!r}: "
                             "robust=True gives the sandwich; there is no bootstrap for ACM")
        K, N = self.n_factors, len(self.rx_periods)
        se = np.sqrt(np.maximum(np.diag(self.parameter_covariance(robust)), 0.0))
        sizes = {"a": N, "beta": N * K, "c": N * K, "mu": K, "Phi": K * K, "Sigma": K * K, "sigma2": 1,
                 "lambda_0": K, "lambda_1": K * K, "mu_Q": K, "Phi_Q": K * K}
        values, at = {}, 0
        for name, size in sizes.items():
            values[name] = se[at:at + size]
            at += size
        d_se = np.sqrt(np.maximum(np.diag(self._short_rate_covariance(robust)), 0.0)) / self.dt * self.scale
        blocks = self.parameter_blocks()
        out = {}
        for name, block in blocks.items():
            if name in ("pc_weights", "pc_mean"):
                continue
            if name == "delta_0":
                vals = d_se[:1]
            elif name == "delta_1":
                vals = d_se[1:]
            else:
                vals = values[name]
            out[name] = pd.DataFrame(np.asarray(vals, float).reshape(block.shape), index=block.index,
                                     columns=block.columns)
        return out

    def _theta(self) -> np.ndarray:
        """``[mu, Phi, Sigma, sigma^2, mu_Q, Phi_Q, delta_0, delta_1]`` (per period, matrices row-major)."""
        return np.concatenate([self.mu, self.Phi.ravel(), self.Sigma.ravel(), [self.sigma2], self.mu_star,
                               self.Phi_star.ravel(), [self.delta0], self.delta1])

    def _theta_covariance(self, robust: bool) -> np.ndarray:
        """Covariance of :meth:`_theta`: the regressions' (:meth:`parameter_covariance`) and the short rate's
        OLS, the latter taken as independent of the former."""
        K, N = self.n_factors, len(self.rx_periods)
        # parameter_covariance's order: a, beta, c, mu, Phi, Sigma, sigma^2, lambda_0, lambda_1, mu_Q, Phi_Q
        at = np.cumsum([0, N, N * K, N * K, K, K * K, K * K, 1, K, K * K, K, K * K])
        keep = np.concatenate([np.arange(at[3], at[7]), np.arange(at[9], at[11])])
        V = np.zeros((len(keep) + 1 + K,) * 2)
        V[:len(keep), :len(keep)] = self.parameter_covariance(robust)[np.ix_(keep, keep)]
        V[len(keep):, len(keep):] = self._short_rate_covariance(robust)
        return V

    def _delta_method(self, values, robust: bool):
        """(values(theta), their delta-method standard errors): central differences of ``values`` in
        :meth:`_theta` (steps 1e-6 of each entry's size) and :meth:`_theta_covariance`."""
        theta = self._theta()
        J = []
        for j in range(len(theta)):
            h = 1e-6 * max(abs(theta[j]), 1e-3)
            up, down = theta.copy(), theta.copy()
            up[j] += h
            down[j] -= h
            J.append((values(up) - values(down)) / (2 * h))
        J = np.array(J).T
        V = self._theta_covariance(robust)
        return values(theta), np.sqrt(np.maximum(np.einsum("ti,ij,tj->t", J, V, J), 0.0))

    def _split_theta(self, theta):
        K = self.n_factors
        edges = np.cumsum([0, K, K * K, K * K, 1, K, K * K, 1, K])
        mu, Phi, Sigma, s2, mu_q, phi_q, d0, d1 = (theta[a:b] for a, b in zip(edges[:-1], edges[1:]))
        return (mu, Phi.reshape(K, K), Sigma.reshape(K, K), float(s2[0]), mu_q, phi_q.reshape(K, K), float(d0[0]),
                d1)

    def _band_notes(self, robust: bool, level: float, z: float) -> list:
        return list(self.inference(robust).notes) + [
            f"delta method, {level:.0%} band: estimate -+ {z:.3f} s.e.; the factors are observed (no filtering "
            "uncertainty); delta_0, delta_1 taken as independent of the return regressions"]

    def term_premium_bands(self, level: float = 0.9, maturity="10Y", method: str = "delta", *,
                           robust: bool = False, n_boot: int = 199, seed: int = 0, progress=True,
                           interval: str = "basic") -> pd.DataFrame:
        r"""Bands on the term premium at ``maturity`` (default 10Y), one row per date, by the delta method:
        columns ``estimate``, ``lower``, ``upper`` (the ``level`` band: estimate -+ z s.e.) and ``std_error``, in
        the yields' units. The term premium ``tp_t = alpha(theta) + gamma(theta)'X_t`` (fitted minus risk-neutral
        yield, :func:`acm_price_loadings`) is a smooth function of ``theta = (mu, Phi, Sigma, sigma^2, mu_Q,
        Phi_Q, delta_0, delta_1)``; its variance is ``J V J'`` with ``J`` the central-difference Jacobian and
        ``V`` their covariance (:meth:`parameter_covariance`, ``robust`` as there; delta's error taken as
        independent of the return regressions'). Only ``method="delta"``; the other arguments are accepted for a
        common signature."""
        from ..inference.atsm import band_frame, check_level, z_value

        level = check_level(level)
        if method != "delta":
            raise InputError(f"ACM term-premium bands are by the delta method (method='delta'), not {method!r}")
        n = self._periods_of(maturity)
        Z = np.column_stack([np.ones(len(self.X)), self.X])

        cache = {}

        def loadings(mu, Phi, Sigma, s2, d0, d1):
            # a step in a P-side parameter leaves the Q-side loadings as they were, and vice versa
            key = b"".join(np.ascontiguousarray(a, float).tobytes() for a in (mu, Phi, Sigma, [s2, d0], d1))
            if key not in cache:
                A, B = acm_price_loadings(mu, Phi, Sigma, s2, d0, d1, n)
                cache[key] = np.concatenate([[A[n]], B[n]])
            return cache[key]

        def tp(theta):
            mu, Phi, Sigma, s2, mu_q, phi_q, d0, d1 = self._split_theta(theta)
            affine = loadings(mu, Phi, Sigma, s2, d0, d1) - loadings(mu_q, phi_q, Sigma, s2, d0, d1)
            return Z @ (affine / (n * self.dt))

        estimate, se = self._delta_method(tp, robust)
        z, s = z_value(level), self.scale
        return band_frame(self.panel.dates, estimate * s, (estimate - z * se) * s, (estimate + z * se) * s, se * s,
                          units=self.units, level=level, method="delta",
                          what=f"term premium {years_to_label(n * self.dt)}", notes=self._band_notes(robust, level, z))

    def expected_short_rate_bands(self, horizon: int = 120, level: float = 0.9, date=None, method: str = "delta",
                                  *, robust: bool = False, n_boot: int = 199, seed: int = 0, progress=True,
                                  interval: str = "basic") -> pd.DataFrame:
        r"""Bands on the expected short-rate path ``E_t[r_{t+h}] = (delta_0 + delta_1'(Phi^h X_t + sum_{j<h}
        Phi^j mu)) / dt``, h = 0..horizon periods, at one date (default the last; a date or a row number):
        columns ``estimate``, ``lower``, ``upper``, ``std_error`` in the yields' units, by the delta method as
        :meth:`term_premium_bands` (in mu, Phi, delta_0, delta_1). ``estimate`` is that date's row of
        :meth:`expected_short_rate_path`."""
        from ..inference.atsm import band_frame, check_level, z_value
        from ..inference.bands import _date_row

        level = check_level(level)
        if method != "delta":
            raise InputError(f"ACM short-rate bands are by the delta method (method='delta'), not {method!r}")
        if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 0:
            raise InputError(f"horizon must be a whole number of periods >= 0, not {horizon!r}")
        row = _date_row(self, date)

        def path(theta):
            mu, Phi, _, _, _, _, d0, d1 = self._split_theta(theta)
            x, out = self.X[row].copy(), np.empty(horizon + 1)
            for h in range(horizon + 1):
                out[h] = d0 + d1 @ x
                x = mu + Phi @ x
            return out / self.dt

        estimate, se = self._delta_method(path, robust)
        z, s = z_value(level), self.scale
        when = self.panel.dates[row]
        per_year = round(1.0 / self.dt)
        unit = {12: "months", 4: "quarters", 52: "weeks", 252: "business days"}.get(per_year, "periods")
        return band_frame(pd.Index(np.arange(horizon + 1), name=f"h ({unit} ahead)"), estimate * s,
                          (estimate - z * se) * s, (estimate + z * se) * s, se * s, units=self.units, level=level,
                          method="delta", what="expected short rate E_t[r_(t+h)]",
                          notes=self._band_notes(robust, level, z),
                          date=when.date() if hasattr(when, "date") else when)

    @property
    def standard_errors(self) -> dict[str, pd.DataFrame]:
        """:meth:`parameter_standard_errors` under ACM's assumptions (analytic; ``robust=True`` there for the
        sandwich)."""
        return self.parameter_standard_errors()

    # -- reporting -----------------------------------------------------------------------------------------------
    def parameter_blocks(self) -> dict[str, pd.DataFrame]:
        """Every parameter block, labelled. Factor-space blocks are unit-free; delta_0 (per year) and delta_1
        (per year per unit factor) in yield units; a, c, beta, sigma^2 in decimal log returns per period."""
        names, s = self.factor_names, self.scale
        rx_names = [years_to_label(n * self.dt) for n in self.rx_periods]
        sq = lambda m: pd.DataFrame(m, index=names, columns=names)  # noqa: E731
        col = lambda v, name: pd.DataFrame({name: np.asarray(v)}, index=names)  # noqa: E731
        return {
            "mu": col(self.mu, "mu"), "Phi": sq(self.Phi), "Sigma": sq(self.Sigma),
            "lambda_0": col(self.lambda0, "lambda_0"), "lambda_1": sq(self.lambda1),
            "mu_Q": col(self.mu_star, "mu_Q"), "Phi_Q": sq(self.Phi_star),
            "delta_0": pd.DataFrame({"delta_0": [self.delta0 / self.dt * s]}, index=["delta_0"]),
            "delta_1": col(self.delta1 / self.dt * s, "delta_1"),
            "a": pd.DataFrame({"a": self.a}, index=rx_names),
            "beta": pd.DataFrame(self.beta, index=rx_names, columns=names),
            "c": pd.DataFrame(self.c, index=rx_names, columns=names),
            "sigma2": pd.DataFrame({"sigma2": [self.sigma2]}, index=["sigma2"]),
            "pc_weights": pd.DataFrame(self.pc_weights, index=list(self.pc_labels), columns=names),
            "pc_mean": pd.DataFrame({"pc_mean": self.pc_mean * s}, index=list(self.pc_labels)),
        }

    def summary(self) -> str:
        errors = self.pricing_errors
        lines = header_block("Adrian-Crump-Moench (2013) regression term structure model (acm)", [
            ("Factors (K)", self.n_factors), ("Maturities (J)", len(self.panel.labels)),
            ("Dates (T)", len(self.panel.dates)),
            ("Sample", f"{_date(self.panel.dates[0])}..{_date(self.panel.dates[-1])}"),
            ("Return maturities", len(self.rx_periods)), ("sigma (bp/period)", f"{np.sqrt(self.sigma2) * 1e4:.2f}"),
            ("Log-likelihood", "n/a (regressions)"), ("Seconds", f"{self.seconds:.2f}"),
            ("Yield units", self.units), ("Period", f"{self.dt * 12:g} month(s)"),
            ("Mean RMSE (bp)", f"{errors.mean():.2f}"),
            ("Max eig Phi", f"{np.max(np.abs(np.linalg.eigvals(self.Phi))):.4f}"),
        ])
        lines += flag_lines(self.flags)
        lines.append("Factors: first K principal components of the yields, demeaned, scaled to unit variance "
                     "(unit-free); mu, Phi, Sigma, lambda_0, lambda_1 are unit-free.")
        lines.append("Returns: excess log returns of bonds bought at " + ", ".join(
            years_to_label(n * self.dt) for n in self.rx_periods) + "; regressed on [1, v_{t+1}, X_t].")
        lines.append(f"Units: yields, term premia, delta in {self.units} per year; a, beta, c, sigma2 in decimal "
                     "log returns per period; pricing errors in bp.")
        lines += [f"Note: {n}" for n in self.notes]
        try:
            se_blocks = self.standard_errors
            lines += [f"Standard errors: {n}" for n in self.inference().notes]
        except (np.linalg.LinAlgError, ValueError) as exc:     # the summary says why instead of failing
            se_blocks = {}
            lines.append(f"Standard errors: not available ({exc})")
        lines.append("")
        for name, block in self.parameter_blocks().items():
            if name in ("pc_weights", "pc_mean", "a", "c", "beta"):
                continue
            se = se_blocks.get(name)
            lines += frame_table(name, block) if se is None else estimate_table(name, block, se)
        lines += pricing_error_table(errors)
        lines += format_matrix("Excess-return regressions, RMSE in bp of one-period log return",
                               self.return_rmse.to_numpy()[None, :], ["RMSE_bp"], list(self.return_rmse.index),
                               fmt="{:>11.2f}")
        lines += term_premium_table(self.term_premium, self.units)
        if se_blocks:
            try:
                band = self.term_premium_bands(0.9, "10Y")
                lines.append(f"Term premium 10Y, last date, 90% band (delta method): {band['lower'].iloc[-1]:.3f} .. "
                             f"{band['upper'].iloc[-1]:.3f} ({self.units}; s.e. {band['std_error'].iloc[-1]:.3f})")
            except (InputError, np.linalg.LinAlgError, ValueError) as exc:
                lines.append(f"Term premium 10Y band: not available ({exc})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


@dataclass
class ACMInference:
    """What :meth:`ACMResult.inference` returns: the standard errors are closed form (``ok``), ``notes`` say what
    they assume and hold fixed."""

    ok: bool
    robust: bool
    notes: list


@dataclass
class ACMEvaluation:
    """A fitted ACM model evaluated on other curves (:meth:`ACMResult.evaluate`), in the fit's yield units."""

    model: ACMResult
    X: np.ndarray
    dates: pd.Index

    def _frame(self, values, columns):
        return pd.DataFrame(values, index=self.dates, columns=columns)

    @property
    def factors(self) -> pd.DataFrame:
        return self._frame(self.X, self.model.factor_names)

    @property
    def fitted_yields(self) -> pd.DataFrame:
        m = self.model
        return self._frame(m._yields(self.X, m.periods) * m.scale, list(m.panel.labels))

    @property
    def risk_neutral_yields(self) -> pd.DataFrame:
        m = self.model
        return self._frame(m._yields(self.X, m.periods, True) * m.scale, list(m.panel.labels))

    @property
    def term_premium(self) -> pd.DataFrame:
        return self.fitted_yields - self.risk_neutral_yields

    def term_premium_at(self, maturity) -> pd.Series:
        m = self.model
        n = m._periods_of(maturity)
        tp = m._yields(self.X, [n]) - m._yields(self.X, [n], True)
        return pd.Series(tp[:, 0] * m.scale, index=self.dates, name=f"term_premium_{years_to_label(n * m.dt)}")


# --------------------------------------------------------------------------------------------------------------------
def _ols(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Coefficients (k, m) of Y (T, m) on Z (T, k), by least squares (QR through lstsq)."""
    coef, *_ = np.linalg.lstsq(Z, Y, rcond=None)
    return coef


def fit_acm(yields, maturities=None, n_factors: int = 5, *, rx_maturities=None, pc_maturities=None,
            var_intercept: bool = False, sigma2: float | None = None, yield_units: str = "auto",
            maturity_units: str = "auto",
            periods_per_year: int | None = None) -> ACMResult:
    """Fit the ACM (2013) model by its three regression steps (equations in the module docstring).

    Parameters
    ----------
    yields : anything :func:`xlatsm.read_panel` accepts (dates down, maturities across; every cell needed).
    n_factors : K principal components (1..10; ACM and the NY Fed use 5).
    rx_maturities : purchase maturities of the excess returns (tenors or years); default 6 months, 1 year, then
        every whole year up to the longest maturity, those among the panel's columns when there are at least K of
        them (the NY Fed's 6, 12, 24, ..., 120 months on a 1..120-month panel).
    pc_maturities : maturities whose yields give the principal components; default every column.
    var_intercept : False (default, the NY Fed's published series): ``mu = 0`` -- the factors are demeaned over
        the sample, ``Phi`` is the OLS slope (estimated with an intercept) and the innovations
        ``v_{t+1} = X_{t+1} - Phi X_t`` keep the intercept (their mean, O(1/T)), which only moves the physical
        dynamics and so the risk-neutral yields and term premia (by a few bp at 10 years); True: the textbook
        VAR with its OLS intercept ``mu``.
    sigma2 : the return pricing-error variance (decimal log return per period, squared) to use in step 4 and the
        recursion instead of the regressions' own, e.g. the one of the observed curve when the panel holds a
        model's fitted yields (whose returns the regressions price exactly, giving sigma^2 = 0).
    yield_units, maturity_units : as :func:`xlatsm.fit_atsm`; results come back in the input's yield units.
    periods_per_year : data frequency (default from the dates; ACM is monthly).
    """
    started = time.perf_counter()
    panel = read_yields(yields, maturities, yield_units, maturity_units)
    check_balanced(panel, "ACM (regressions)", "method 'kalman' of fit_atsm, which handles blanks")
    notes = [n for n in panel.notes if n]
    if not isinstance(n_factors, (int, np.integer)) or not 1 <= n_factors <= 10:
        raise InputError(f"n_factors must be a whole number from 1 to 10, got {n_factors!r}")
    per_year = int(periods_per_year or panel.periods_per_year)
    dt = 1.0 / per_year
    Y = panel.yields
    T, J = Y.shape
    if T < max(36, 4 * n_factors):
        raise InputError(f"{T} dates are too few for ACM with {n_factors} factors: give at least "
                         f"{max(36, 4 * n_factors)}")
    periods = panel.maturities / dt
    if np.any(np.abs(periods - np.round(periods)) > 1e-6) or np.any(np.round(periods) < 1):
        raise InputError(f"ACM prices whole numbers of {12 * dt:g}-month periods; maturities "
                         f"{panel.labels} are not all multiples of the data period: give maturities in whole "
                         "periods (or set periods_per_year)")
    periods = np.round(periods).astype(int)
    interp = _interpolator(panel.maturities, Y)

    def yields_at_periods(ns):
        ns = np.asarray(ns, int)
        out = np.empty((T, len(ns)))
        have = {int(n): j for j, n in enumerate(periods)}
        missing = [n for n in ns if int(n) not in have]
        if missing:
            filled = interp(np.asarray(missing) * dt)
            fill = {n: filled[:, i] for i, n in enumerate(missing)}
        for i, n in enumerate(ns):
            out[:, i] = Y[:, have[int(n)]] if int(n) in have else fill[int(n)]
        return out, missing

    # 1. factors
    if pc_maturities is None:
        pc_idx = np.arange(J)
    else:
        pc_idx = []
        for m in pc_maturities:
            hit = np.flatnonzero(np.abs(panel.maturities - maturity_years(m)) < 1e-9)
            if not len(hit):
                raise InputError(f"pc_maturities: {m!r} is not a column of the panel ({panel.labels[0]}.."
                                 f"{panel.labels[-1]}); name fitted maturities")
            pc_idx.append(int(hit[0]))
        pc_idx = np.array(sorted(set(pc_idx)))
    if len(pc_idx) < n_factors:
        raise InputError(f"{len(pc_idx)} maturities cannot give {n_factors} principal components: use more "
                         "maturities or fewer factors")
    Ypc = Y[:, pc_idx]
    pc_mean = Ypc.mean(axis=0)
    _, svals, vt = np.linalg.svd(Ypc - pc_mean, full_matrices=False)
    W = vt[:n_factors].T
    Xraw = (Ypc - pc_mean) @ W
    sd = Xraw.std(axis=0, ddof=1)
    if np.any(sd <= 1e-14 * max(1.0, np.abs(Ypc).max())):
        raise InputError(f"the yields have fewer than {n_factors} independent directions: use fewer factors")
    sign = np.sign(W.sum(axis=0))
    sign[sign == 0] = 1.0
    W = W / sd * sign
    X = (Ypc - pc_mean) @ W

    # 2. VAR(1)
    Z = np.column_stack([np.ones(T - 1), X[:-1]])
    G = _ols(Z, X[1:])
    mu, Phi = G[0], G[1:].T
    V = X[1:] - Z @ G
    Sigma = V.T @ V / (T - 2)
    if not var_intercept:
        # the NY Fed's convention: the factors have zero sample mean, the VAR's mean is set to zero and its
        # intercept left in the innovations (mean mu_OLS); Sigma is still their covariance (demeaned)
        V = V + mu
        mu = np.zeros(n_factors)

    # 3. excess returns
    if rx_maturities is None:
        years = np.concatenate([[0.5], np.arange(1, np.floor(periods.max() * dt) + 1)])
        rx_periods = np.array(sorted({int(round(y / dt)) for y in years if 2 <= round(y / dt) <= periods.max()}))
        in_panel = np.array([n for n in rx_periods if n in set(periods.tolist())])
        if len(in_panel) >= max(n_factors, 2):       # returns on observed maturities where there are enough
            rx_periods = in_panel
    else:
        rx_periods = []
        for m in rx_maturities:
            n = maturity_years(m) / dt
            if abs(n - round(n)) > 1e-6 or round(n) < 2 or round(n) > periods.max():
                raise InputError(f"rx_maturities: {m!r} must be a whole number of periods from 2 up to the "
                                 f"longest maturity {panel.labels[-1]}")
            rx_periods.append(int(round(n)))
        rx_periods = np.array(sorted(set(rx_periods)))
    if len(rx_periods) < n_factors:
        raise InputError(f"{len(rx_periods)} return maturities cannot identify {n_factors} prices of risk: give "
                         f"at least {n_factors} rx_maturities")
    y_n, miss_n = yields_at_periods(rx_periods)
    y_n1, miss_n1 = yields_at_periods(rx_periods - 1)   # includes n-1 = 1 when n = 2
    y_1, miss_1 = yields_at_periods([1])
    r = y_1[:, 0] * dt                                    # per-period short rate
    p_n = -rx_periods * dt * y_n
    p_n1 = -(rx_periods - 1) * dt * y_n1
    rx = p_n1[1:] - p_n[:-1] - r[:-1, None]
    missing = sorted(set(miss_n) | set(miss_n1) | set(miss_1))
    if missing:
        notes.append("yields interpolated across maturities (PCHIP, flat below the shortest) at " + ", ".join(
            years_to_label(n * dt) for n in missing)
            + (" (the 1-period short rate is the shortest yield held flat)"
               if 1 in missing and panel.maturities[0] > dt + 1e-9 else ""))
    Zr = np.column_stack([np.ones(T - 1), V, X[:-1]])
    coef = _ols(Zr, rx)
    a, beta, c = coef[0], coef[1:1 + n_factors].T, coef[1 + n_factors:].T
    E = rx - Zr @ coef
    sigma2_regression = float(np.sum(E ** 2) / E.size)
    sigma2_given = sigma2 is not None
    if sigma2 is None:
        sigma2 = sigma2_regression
    else:
        if not np.isfinite(sigma2) or sigma2 < 0:
            raise InputError(f"sigma2 must be a non-negative number (squared log return per period), got {sigma2!r}")
        notes.append(f"sigma^2 = {sigma2:.6g} given (the regressions' own is {sigma2_regression:.6g})")
        sigma2 = float(sigma2)

    # 4. prices of risk
    Bstar = np.einsum("ni,nj->nij", beta, beta).reshape(len(rx_periods), -1)
    BtB = beta.T @ beta
    lambda0 = np.linalg.solve(BtB, beta.T @ (a + 0.5 * (Bstar @ Sigma.reshape(-1) + sigma2)))
    lambda1 = np.linalg.solve(BtB, beta.T @ c)

    # 5. short rate
    d = _ols(np.column_stack([np.ones(T), X]), r)
    delta0, delta1 = float(d[0]), d[1:]

    result = ACMResult(panel=panel, dt=dt, n_factors=n_factors, pc_labels=[panel.labels[j] for j in pc_idx],
                       pc_mean=pc_mean, pc_weights=W, X=X, mu=mu, Phi=Phi, Sigma=Sigma, V=V, rx_periods=rx_periods,
                       rx=rx, a=a, beta=beta, c=c, E=E, sigma2=sigma2, lambda0=lambda0, lambda1=lambda1,
                       delta0=delta0, delta1=delta1, notes=notes, var_intercept=bool(var_intercept),
                       sigma2_given=sigma2_given, short_rate=r)
    result.flags = explosive_flags(Phi, result.Phi_star) + result._nonfinite_flags(
        ["fitted_yields", "term_premium"])
    result.seconds = time.perf_counter() - started
    return result
