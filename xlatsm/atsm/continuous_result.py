"""ContinuousATSMResult: a fit of the continuous-time JSZ model (``fit_atsm(..., time="continuous")``).

Everything the discrete :class:`~xlatsm.atsm.results.ATSMResult` reports (factors, fitted yields, pricing errors,
term premia, expected short rates, forecasts), computed with the continuous-time loadings and the exact
discretisation of the P dynamics, and the parameters under the seeds' names and units (per year).

Units: yield-like parameters (``theta_P``, ``theta_Q``, ``k_inf_Q``, ``r_inf_Q``, ``rho0``, ``Sigma``, ``K0_P``,
``Sigma_P``, ``sigma_e``) in the units the yields were given in; ``K_P``, ``K_Q``, ``kappa_Q`` per year;
``Sigma`` per square-root year (``k_inf_Q`` per year); ``lambda_0`` per square-root year (unit-free otherwise),
``lambda_1`` per square-root year per yield unit; ``K1_P``, ``rho1`` unit-free; ``K0_P``, ``K1_P``, ``Sigma_P``
are the exact one-period discretisation (per period of the data).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import maturities_to_years, years_to_label
from ..diagnostics import Flag
from ..errors import InputError
from .continuous import ContinuousParams, risk_neutral_ct_loadings
from .results import ATSMResult, diagnose

TIME_NOTE = ("Model: continuous time (dX = K(theta - X)dt + Sigma dW under P and Q; K, theta, Sigma per year; "
             "exact continuous-time loadings; P dynamics exactly discretised at the data's period).")


class ContinuousATSMResult(ATSMResult):
    """A fitted continuous-time Gaussian ATSM in JSZ canonical form (see :mod:`xlatsm.atsm.continuous`).

    ``params`` is a :class:`~xlatsm.atsm.continuous.ContinuousParams`; ``time`` is ``"continuous"``;
    :meth:`parameter_blocks` holds ``K_P``, ``theta_P``, ``K_Q``, ``theta_Q``, ``Sigma``, ``lambda_0``,
    ``lambda_1``, ``r_inf_Q`` (the seeds' names, per year) and the exact monthly (per period) discretisation.

    Uncertainty as for the discrete model, by the delta method on the observed information of the likelihood the
    estimator maximised (:mod:`xlatsm.inference.continuous`): :attr:`standard_errors` (same keys as
    :meth:`parameter_blocks`), ``parameter_standard_errors(robust=True)`` (sandwich), :meth:`term_premium_bands`,
    :meth:`expected_short_rate_bands`, ``forecast(..., parameter_uncertainty=True)``; the summary shows estimate,
    s.e. and t. The parametric bootstrap is refused (``method="bootstrap"`` raises InputError saying why)."""

    params: ContinuousParams
    time = "continuous"
    model_name = "Gaussian ATSM, JSZ canonical form, continuous time"

    def _periods(self, maturities) -> np.ndarray:
        years, _ = maturities_to_years(list(maturities), "years")
        periods = np.round(np.asarray(years) / self.params.structure.dt)
        if np.any(periods < 1):
            raise InputError("maturities shorter than one data period are not priced: give at least one period")
        return periods

    def _risk_neutral_loadings(self, periods):
        return risk_neutral_ct_loadings(self.params, periods)

    def term_premium_at(self, maturity) -> pd.Series:
        """Term premium at any maturity (tenor label like "10Y" or years): model yield minus the yield priced
        with the P dynamics (lambda_0 = lambda_1 = 0), convexity included, in yield units."""
        periods = self._periods([maturity])
        tp = continuous_term_premium_values(self.params, self._smoothed[0], periods)[:, 0]
        years = periods[0] * self.params.structure.dt
        return pd.Series(tp * self.scale, index=self.panel.dates, name=f"term_premium_{years_to_label(years)}")

    def loadings(self, maturities=None) -> pd.DataFrame:
        """y(tau) = A(tau) + B(tau)'P_t (continuous-time loadings); A in yield units, B unit-free."""
        structure = self.params.structure
        periods = structure.periods if maturities is None else self._periods(maturities)
        ld = self.params.loadings(periods)
        frame = pd.DataFrame(ld.B_P, columns=[f"B_{n}" for n in self.factor_names],
                             index=[years_to_label(p * structure.dt) for p in periods])
        frame.insert(0, "A", ld.A_P * self.scale)
        return frame

    def parameter_blocks(self) -> dict[str, pd.DataFrame]:
        """Every parameter, labelled, in reporting units (module docstring)."""
        return continuous_parameter_blocks(self.params, self.scale, self.factor_names, self.panel.labels)

    def _extra_pairs(self) -> list[tuple[str, object]]:
        return [("time", "continuous (K, theta, Sigma per year)")]

    def summary(self) -> str:
        lines = super().summary().split("\n")
        title = f"Gaussian ATSM, JSZ canonical form, continuous time ({self.method})"
        lines[1] = title.center(len(lines[0]))
        out = []
        for line in lines:
            if line.startswith("Units:"):
                line = (f"Units: yield-like parameters in {self.units}; K_P, K_Q, kappa_Q per year; Sigma per "
                        "sqrt-year; lambda_0 per sqrt-year, lambda_1 per sqrt-year per yield unit; K0_P, K1_P, "
                        "Sigma_P the exact one-period discretisation; maturities in years; pricing errors in bp.")
            out.append(line)
            if line.startswith("Identification:"):
                out.append(TIME_NOTE)
        return "\n".join(out)

    # -- uncertainty (xlatsm.inference.continuous) ---------------------------------------------------------------
    def inference(self, robust: bool = False):
        """The observed information of the likelihood the estimator maximised (jsz: the full continuous JSZ
        likelihood, W and the first date held fixed; kalman/em: the exact Kalman likelihood of the exactly
        discretised OU process) and the delta method on it
        (:class:`xlatsm.inference.continuous.ContinuousATSMInference`; computed once per ``robust``).
        :attr:`standard_errors`, :meth:`term_premium_bands` and :meth:`expected_short_rate_bands` (method
        "delta") and ``forecast(..., parameter_uncertainty=True)`` are built on it."""
        from ..inference.continuous import continuous_inference

        key = ("inference", bool(robust))
        if key not in self._inference_cache:
            self._inference_cache[key] = continuous_inference(self, robust=bool(robust))
        return self._inference_cache[key]

    def bootstrap(self, n_boot: int = 199, seed: int = 0, progress=True):
        """Refused for continuous fits (:data:`xlatsm.inference.continuous.NO_BOOTSTRAP` says why): bands and
        standard errors by the delta method only."""
        from ..inference.continuous import NO_BOOTSTRAP

        raise InputError(NO_BOOTSTRAP)

def continuous_parameter_blocks(p: ContinuousParams, scale: float, names: list[str], labels) -> dict[str, pd.DataFrame]:
    """:meth:`ContinuousATSMResult.parameter_blocks` for any parameters ``p`` (yield-like ones times ``scale``):
    the delta method differentiates it along the parameter vector (:mod:`xlatsm.inference.continuous`)."""
    s = scale
    q = p.q_dynamics()
    lam0, lam1 = p.market_price_of_risk()
    c, Phi, Q = p.discretisation()
    col = lambda v, name: pd.DataFrame({name: np.asarray(v)}, index=names)  # noqa: E731
    sq = lambda m: pd.DataFrame(m, index=names, columns=names)  # noqa: E731
    kappa = p.kappaQ
    return {
        "kappa_Q": pd.DataFrame({"real": np.real(kappa), "imag": np.imag(kappa)},
                                index=[f"kappa_{i + 1}" for i in range(len(kappa))]),
        "k_inf_Q": pd.DataFrame({"k_inf_Q": [p.kinfQ * s]}, index=["k_inf_Q"]),
        "r_inf_Q": pd.DataFrame({"r_inf_Q": [p.rinfQ * s]}, index=["r_inf_Q"]),
        "K_P": sq(p.KP),
        "theta_P": col(p.thetaP * s, "theta_P"),
        "K_Q": sq(q["K_Q"]),
        "theta_Q": col(q["theta_Q"] * s, "theta_Q"),
        "Sigma": sq(p.Sigma * s),
        "lambda_0": col(lam0, "lambda_0"),
        "lambda_1": sq(lam1 / s),
        "rho0": pd.DataFrame({"rho0": [q["rho0"] * s]}, index=["rho0"]),
        "rho1": col(q["rho1"], "rho1"),
        "K0_P": col(c * s, "K0_P"),
        "K1_P": sq(Phi),
        "Sigma_P": sq(np.linalg.cholesky(Q) * s),
        "sigma_e": pd.DataFrame({"sigma_e": p.sigma_e * s}, index=list(labels)),
    }


def continuous_term_premium_values(params: ContinuousParams, X: np.ndarray, periods) -> np.ndarray:
    """(T, k) term premia in decimals at ``periods`` (whole data periods) for factors X (T, N): the model yield
    ``A_P + B_P'X_t`` minus the yield priced with the physical dynamics (lambda_0 = lambda_1 = 0, convexity
    included, :func:`~xlatsm.atsm.continuous.risk_neutral_ct_loadings`)."""
    periods = np.asarray(periods, float)
    ld = params.loadings(periods)
    A, B = risk_neutral_ct_loadings(params, periods)
    return (ld.A_P - A) + np.asarray(X) @ (ld.B_P - B).T


def continuous_term_premium_factor_loading(params: ContinuousParams, periods) -> np.ndarray:
    """(k, N) loading of the term premia at ``periods`` on the factors, ``B_P(tau) - B_rn(tau)`` (unit-free)."""
    periods = np.asarray(periods, float)
    return params.loadings(periods).B_P - risk_neutral_ct_loadings(params, periods)[1]


def diagnose_continuous(result: ContinuousATSMResult, at_floor=None) -> list[Flag]:
    """The discrete model's flags (:func:`xlatsm.atsm.results.diagnose`; ``lamQ`` and ``K1P`` are the exact
    one-period equivalents, so its root tests are ``Re kappa <= 0``), with the risk-neutral one said in
    continuous-time terms."""
    flags = []
    for flag in diagnose(result, at_floor):
        if flag.code == "explosive_q":
            kappa = result.params.kappaQ
            flag = Flag("explosive_q", f"a risk-neutral mean-reversion speed is not positive (kappa^Q = "
                                       f"{np.min(np.real(kappa)):.5g} per year): long yields have no "
                                       "risk-neutral limit, so r_inf^Q and theta_Q are undefined (NaN); use a "
                                       "shorter maximum maturity, more data, or fewer factors")
        flags.append(flag)
    return flags
