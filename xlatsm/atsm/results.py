"""ATSMResult: the fitted term structure model, its factors, fitted curve, pricing errors and term premia.

Units: yields, factors, term premia and every yield-like parameter (K0P, K0Q, Sigma_P, r_inf^Q, rho0, theta,
measurement error sigma) are reported in the units the yields were given in (``yield_units``); dimensionless
ones (K1P, K1Q, lambda^Q, rho1, lambda_0) are unit-free. lambda_1 is per unit of yield *in decimals*, whatever the
input's units (Sigma_P lambda_1 = K1_P - K1_Q with Sigma_P in decimals). Pricing errors are in basis points.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from ..data import YieldPanel, maturities_to_years, years_to_label
from ..diagnostics import Flag, flag_lines
from ..extrapolation import flag as extrapolation_flag, summary_lines
from ..extrapolation import term_premium as extrapolated_term_premium
from ..textfmt import estimate_table, frame_table, header_block, pricing_error_table, term_premium_table
from ..threads import single_blas_thread
from .collapsed import CollapsedYields
from .loadings import discrete_yield_loadings
from .model import ATSMParams, jsz_loadings
from .results_other import CurveResult

FACTOR_NAMES = ["level", "slope", "curvature", "PC4", "PC5"]


@dataclass
class ATSMResult(CurveResult):
    """A fitted Gaussian ATSM (see :func:`xlatsm.fit_atsm`).

    ``params`` are the identified JSZ parameters (decimals, portfolio rotation); ``loglik`` is the maximised
    log-likelihood of ``method`` ("jsz": portfolios priced exactly, conditional on the first date; "kalman"/"em":
    every yield with error, diffuse start), the estimator that ran (``method_requested`` is the one asked for,
    e.g. "auto"); ``start_loglik`` that of the starting values; ``loglik_path`` the log-likelihood of the
    accepted iterates (quasi-Newton steps for jsz/kalman, EM iterations for em; never decreasing). ``flags``
    (:class:`xlatsm.diagnostics.Flag`) says what may be wrong with the answer; ``n_params``, ``aic``, ``bic``
    count the free parameters exactly. Curves and factors are DataFrames in the input's units: ``factors``,
    ``factor_std_errors``, ``fitted_yields``, ``risk_neutral_yields``, ``term_premium``; pricing errors in bp;
    ``parameter_blocks()`` and ``summary()`` label everything.
    """

    params: ATSMParams
    panel: YieldPanel
    method: str
    loglik: float
    converged: bool
    n_iter: int
    loglik_path: np.ndarray
    message: str
    notes: list = field(default_factory=list)
    measurement_error: str = "common"
    seconds: float = 0.0
    method_requested: str = ""
    start_loglik: float = float("nan")
    flags: list = field(default_factory=list)
    # standard errors and bootstrap draws, computed on first use (a replace() starts afresh)
    _inference_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # -- basics ------------------------------------------------------------------------------------------------
    @property
    def n_factors(self) -> int:
        return self.params.structure.n_factors

    @property
    def factor_names(self) -> list[str]:
        return FACTOR_NAMES[:self.n_factors]

    @property
    def n_params(self) -> int:
        """Free parameters: lambda^Q (N), k_inf^Q (1), Sigma_P (N(N+1)/2), K0P (N), K1P (N^2) and the measurement
        error sigmas (1, or J with per_maturity). The JSZ canonical form is exactly identified: no redundant
        directions (a rotation of the factors is pinned by W)."""
        N = self.n_factors
        n_sigma = len(self.panel.labels) if self.measurement_error == "per_maturity" else 1
        return N + 1 + N * (N + 1) // 2 + N + N * N + n_sigma

    @property
    def n_obs(self) -> int:
        """Observations behind loglik: (T-1) J for jsz (conditional on the first date), observed cells else."""
        if self.method == "jsz":
            return (len(self.panel.dates) - 1) * len(self.panel.labels)
        return int(np.sum(~np.isnan(self.panel.yields)))

    @property
    def aic(self) -> float:
        return 2.0 * self.n_params - 2.0 * self.loglik

    @property
    def bic(self) -> float:
        return self.n_params * float(np.log(self.n_obs)) - 2.0 * self.loglik

    # -- factors -----------------------------------------------------------------------------------------------
    @cached_property
    def _smoothed(self):
        """(T, N) factors and (T, N, N) covariances in decimals. JSZ prices the portfolios exactly, so its factors
        are W y_t with zero uncertainty; kalman/em smooth them with the Kalman smoother at the fitted parameters."""
        Y = self.panel.yields
        N = self.n_factors
        if self.method == "jsz":
            return Y @ self.params.structure.W.T, np.zeros((len(Y), N, N))
        out = _smooth(Y, self.params)
        return out.states, out.cov

    @property
    def factors(self) -> pd.DataFrame:
        """Smoothed factors P_t (the yield portfolios W y_t), in yield units."""
        return self._frame(self._smoothed[0] * self.scale, self.factor_names)

    @property
    def factor_std_errors(self) -> pd.DataFrame:
        """Standard deviations of the factors given the data, in yield units. Under jsz they are exactly zero:
        the N portfolios are priced without error, so the factors are observed (W y_t); the Kalman smoother's
        uncertainty (method "kalman" or "em") is the one that reflects measurement error."""
        se = np.sqrt(np.maximum(np.diagonal(self._smoothed[1], axis1=1, axis2=2), 0.0))
        return self._frame(se * self.scale, self.factor_names)

    def smooth(self, yields):
        """Kalman-smooth another panel of the same maturities with the fitted model (all yields with error):
        a :class:`~xlatsm.ssm.results.SmoothResult` in this fit's yield units."""
        from ..data import read_panel
        from ..errors import InputError
        from ..ssm.results import SmoothResult

        panel = read_panel(yields, yield_units="decimal" if self.units == "bp" else self.units)
        if self.units == "bp":
            panel = replace(panel, yields=panel.yields / 1e4)
        if len(panel.maturities) != len(self.panel.maturities) or not np.allclose(panel.maturities,
                                                                                    self.panel.maturities):
            raise InputError(f"the model was fitted to maturities {self.panel.labels}; the data have "
                             f"{panel.labels}: select the same columns")
        out = _smooth(panel.yields, self.params)
        s = self.scale
        ld = self.params.loadings()
        return SmoothResult(states=out.states * s, cov=out.cov * s * s, loglik=out.loglik, index=panel.dates,
                            fitted=(ld.A_P + out.states @ ld.B_P.T) * s, columns=self.panel.labels, names=self.factor_names)

    # -- curves ------------------------------------------------------------------------------------------------
    @cached_property
    def _fitted(self) -> np.ndarray:
        ld = self.params.loadings()
        return ld.A_P + self._smoothed[0] @ ld.B_P.T

    def _risk_neutral_loadings(self, periods):
        q = self.params.q_dynamics()
        p = self.params
        return discrete_yield_loadings(p.K0P, p.K1P, p.Omega_P, q["rho0"], q["rho1"], periods, p.structure.dt)

    @property
    def risk_neutral_yields(self) -> pd.DataFrame:
        """Yields priced with the physical dynamics (lambda_0 = lambda_1 = 0), convexity included (as ACM)."""
        A, B = self._risk_neutral_loadings(self.params.structure.periods)
        return self._frame((A + self._smoothed[0] @ B.T) * self.scale)

    @property
    def term_premium(self) -> pd.DataFrame:
        """Fitted yield minus risk-neutral yield, per date and maturity, in yield units."""
        A, B = self._risk_neutral_loadings(self.params.structure.periods)
        return self._frame((self._fitted - A - self._smoothed[0] @ B.T) * self.scale)

    def term_premium_at(self, maturity) -> pd.Series:
        """Term premium at any maturity (tenor label like "10Y" or years), not only the fitted columns."""
        years = _years(maturity)
        periods = np.array([round(years / self.params.structure.dt)])
        tp = term_premium_values(self.params, self._smoothed[0], periods)[:, 0]
        return pd.Series(tp * self.scale, index=self.panel.dates, name=f"term_premium_{years_to_label(years)}")

    def expected_short_rate_path(self, horizon: int = 120) -> pd.DataFrame:
        """E_t[r_{t+h}] under P for h = 0..horizon periods, per date, in yield units."""
        out = expected_short_rate_values(self.params, self._smoothed[0], horizon)
        return pd.DataFrame(out * self.scale, index=self.panel.dates, columns=[f"h{h}" for h in range(horizon + 1)])

    def loadings(self, maturities=None) -> pd.DataFrame:
        """y(tau) = A(tau) + B(tau)'P_t for maturities (tenor labels or years; default the fitted ones).

        A in yield units, B unit-free; rows are maturities."""
        structure = self.params.structure
        if maturities is None:
            periods = structure.periods
        else:
            years, _ = maturities_to_years(list(maturities), "years")
            periods = np.round(years / structure.dt)
        ld = jsz_loadings(self.params.q_coefs, self.params.kinfQ, self.params.Omega_P, structure, periods)
        frame = pd.DataFrame(ld.B_P, columns=[f"B_{n}" for n in self.factor_names],
                             index=[years_to_label(p * structure.dt) for p in periods])
        frame.insert(0, "A", ld.A_P * self.scale)
        return frame

    # -- parameters --------------------------------------------------------------------------------------------
    def parameter_blocks(self) -> dict[str, pd.DataFrame]:
        """Every parameter matrix, labelled, in reporting units (see the module docstring)."""
        return parameter_blocks_of(self.params, self.scale, self.factor_names, self.panel.labels)

    # -- uncertainty (xlatsm.inference) ------------------------------------------------------------------------
    @single_blas_thread
    def inference(self, robust: bool = False):
        """The observed information at the estimate and the delta method on it
        (:class:`xlatsm.inference.atsm.ATSMInference`; computed once per ``robust``). Raises InputError for
        results that have none."""
        from ..inference.atsm import atsm_inference

        key = ("inference", bool(robust))
        if key not in self._inference_cache:
            self._inference_cache[key] = atsm_inference(self, robust=bool(robust))
        return self._inference_cache[key]

    @property
    def standard_errors(self) -> dict[str, pd.DataFrame]:
        """Standard errors of every entry of :meth:`parameter_blocks` (same keys, labels and units) from the
        inverse observed information (jsz: of the full JSZ likelihood; kalman/em: of the exact Kalman
        likelihood) and the delta method. NaN everywhere, with a note, when the information is not positive
        definite. :meth:`parameter_standard_errors` gives the robust (sandwich) and bootstrap versions."""
        return self.parameter_standard_errors()

    @single_blas_thread
    def parameter_standard_errors(self, robust: bool = False, method: str = "observed", n_boot: int = 199,
                                  seed: int = 0, progress=True) -> dict[str, pd.DataFrame]:
        """Standard errors matching :meth:`parameter_blocks`: ``method="observed"`` (inverse observed
        information; ``robust=True``: the sandwich H^-1 (sum_t s_t s_t') H^-1) or ``"bootstrap"`` (standard
        deviation over ``n_boot`` parametric-bootstrap refits, seed ``seed``, tqdm bar unless ``progress=False``)."""
        from ..inference.bands import parameter_standard_errors

        return parameter_standard_errors(self, robust=robust, method=method, n_boot=n_boot, seed=seed,
                                         progress=progress)

    @single_blas_thread
    def bootstrap(self, n_boot: int = 199, seed: int = 0, progress=True):
        """Parametric bootstrap (simulate from the fit, refit, :mod:`xlatsm.inference.bootstrap`): the draws,
        computed once per (n_boot, seed)."""
        from ..inference.bootstrap import atsm_bootstrap

        key = ("bootstrap", int(n_boot), seed)
        if key not in self._inference_cache:
            self._inference_cache[key] = atsm_bootstrap(self, n_boot=n_boot, seed=seed, progress=progress)
        return self._inference_cache[key]

    @single_blas_thread
    def term_premium_bands(self, level: float = 0.9, maturity="10Y", method: str = "delta", *,
                           robust: bool = False, n_boot: int = 199, seed: int = 0, progress=True,
                           interval: str = "auto") -> pd.DataFrame:
        """Bands on the term premium at ``maturity`` (default 10Y), one row per date: columns ``estimate``,
        ``lower``, ``upper`` (the ``level`` band, default 90%) and ``std_error``, in the yields' units.

        ``method="delta"``: estimate -+ z s.e., the s.e. from the delta method on the parameters' covariance
        (plus, for kalman/em, the smoothed factors' own variance); ``"bootstrap"``: ``n_boot`` parametric-bootstrap
        refits (``seed``; a tqdm bar unless ``progress=False``) with ``interval="auto"`` (the studentized,
        bootstrap-t interval for jsz, measured to cover best at realistic persistence; basic for kalman/em),
        ``"studentized"`` (jsz), ``"basic"`` (2 estimate - quantiles: corrects the estimator's bias as the
        bootstrap sees it) or ``"percentile"``. The frame's ``attrs`` say units, level, method and what is held
        fixed."""
        from ..inference.bands import term_premium_bands

        return term_premium_bands(self, level, maturity, method, robust=robust, n_boot=n_boot, seed=seed,
                                  progress=progress, interval=interval)

    @single_blas_thread
    def expected_short_rate_bands(self, horizon: int = 120, level: float = 0.9, date=None, method: str = "delta",
                                  *, robust: bool = False, n_boot: int = 199, seed: int = 0,
                                  progress=True, interval: str = "auto") -> pd.DataFrame:
        """Bands on the expected short-rate path E_t[r_{t+h}], h = 0..horizon periods, at one date (default the
        last; a date or a row number): columns ``estimate``, ``lower``, ``upper``, ``std_error`` in the yields'
        units; ``method`` as :meth:`term_premium_bands`. ``estimate`` is the row of
        :meth:`expected_short_rate_path` for that date."""
        from ..inference.bands import short_rate_bands

        return short_rate_bands(self, horizon, level, date, method, robust=robust, n_boot=n_boot, seed=seed,
                                progress=progress, interval=interval)

    def summary(self) -> str:
        p = self.params
        lines = header_block(f"Gaussian affine term structure model, JSZ canonical form ({self.method})", [
            ("Factors (N)", self.n_factors), ("Maturities (J)", len(self.panel.labels)),
            ("Dates (T)", len(self.panel.dates)),
            ("Sample", f"{_date(self.panel.dates[0])}..{_date(self.panel.dates[-1])}"),
            ("Method", self.method if self.method_requested in ("", self.method)
             else f"{self.method} ({self.method_requested})"),
            ("Log-likelihood", f"{self.loglik:.3f}"), ("Start log-likelihood", f"{self.start_loglik:.3f}"),
            ("Free parameters", self.n_params), ("AIC", f"{self.aic:.2f}"), ("BIC", f"{self.bic:.2f}"),
            ("Iterations", self.n_iter),
            ("Converged", "yes" if self.converged else "NO"), ("Seconds", f"{self.seconds:.2f}"),
            ("Yield units", self.units), ("Period", f"{p.structure.dt * 12:g} month(s)"),
            ("Measurement error", self.measurement_error), ("Mean RMSE (bp)", f"{self.pricing_errors.mean():.2f}"),
        ])
        if not self.converged:
            lines.append(f"NOT CONVERGED: {self.message}")
        extra = extrapolation_flag(self, ["10Y"], "the 10-year term premium")
        lines += flag_lines(list(self.flags) + ([extra] if extra is not None else []))
        lines.append("Identification: JSZ (2011) canonical form; factors = first principal components of yields.")
        lines.append(f"Units: yield-like parameters in {self.units}; K1, lambda, rho1, lambda_0 unit-free; "
                     "lambda_1 per unit of decimal yield; maturities in years; pricing errors in bp.")
        lines += [f"Note: {n}" for n in list(self.panel.notes) + list(self.notes)]
        se_blocks, se_notes = self._summary_standard_errors()
        lines += [f"Standard errors: {n}" for n in se_notes]
        lines.append("")
        for name, block in self.parameter_blocks().items():
            se = se_blocks.get(name) if se_blocks else None
            if name == "sigma_e" and self.measurement_error == "common":
                block = block.iloc[:1].rename(index={block.index[0]: "all"})
                se = None if se is None else se.iloc[:1].rename(index={se.index[0]: "all"})
            lines += frame_table(name, block) if se is None else estimate_table(name, block, se)
        errors = self.pricing_errors
        lines += pricing_error_table(errors)
        lines += term_premium_table(self.term_premium, self.units)
        if se_blocks:
            band = self.term_premium_bands(0.9, "10Y")
            if band["std_error"].notna().iloc[-1]:
                lines.append(f"Term premium 10Y, last date, 90% band (delta method): {band['lower'].iloc[-1]:.3f} "
                             f".. {band['upper'].iloc[-1]:.3f} ({self.units}; s.e. "
                             f"{band['std_error'].iloc[-1]:.3f})")
        tp10, _ = extrapolated_term_premium(self, "10Y")
        lines += summary_lines(self, [("Term premium", "10Y",
                                       f"mean {tp10.mean():.3f}, last {tp10.iloc[-1]:.3f} ({self.units})")])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _summary_standard_errors(self):
        """(standard-error blocks or None, note lines) for the summary: what was computed, or why not."""
        try:
            inference = self.inference()
            blocks = self.standard_errors
        except Exception as exc:  # noqa: BLE001 - the summary says why instead of failing
            return None, [f"not available ({exc})"]
        return (blocks if inference.ok else None), list(inference.notes)


def parameter_blocks_of(p: ATSMParams, scale: float, names: list[str], labels) -> dict[str, pd.DataFrame]:
    """:meth:`ATSMResult.parameter_blocks` for any parameters ``p`` (yield-like ones times ``scale``)."""
    s = scale
    q = p.q_dynamics()
    lam0, lam1 = p.market_price_of_risk()
    ct = p.continuous_time()
    col = lambda v, name: pd.DataFrame({name: np.asarray(v)}, index=names)  # noqa: E731
    sq = lambda m: pd.DataFrame(m, index=names, columns=names)  # noqa: E731
    return {
        "lambda_Q": pd.DataFrame({"real": np.real(p.lamQ), "imag": np.imag(p.lamQ)},
                                 index=[f"lambda_{i + 1}" for i in range(len(p.lamQ))]),
        "k_inf_Q": pd.DataFrame({"k_inf_Q": [p.kinfQ * s]}, index=["k_inf_Q"]),
        "r_inf_Q": pd.DataFrame({"r_inf_Q": [p.rinfQ * s]}, index=["r_inf_Q"]),
        "K0_P": col(p.K0P * s, "K0_P"),
        "K1_P": sq(p.K1P),
        "Sigma_P": sq(p.Sigma_P * s),
        "K0_Q": col(q["K0Q"] * s, "K0_Q"),
        "K1_Q": sq(q["K1Q"]),
        "rho0": pd.DataFrame({"rho0": [q["rho0"] * s]}, index=["rho0"]),
        "rho1": col(q["rho1"], "rho1"),
        "lambda_0": col(lam0, "lambda_0"),
        "lambda_1": sq(lam1),
        "K_P": sq(ct["K_P"]),
        "theta_P": col(ct["theta_P"] * s, "theta_P"),
        "K_Q": sq(ct["K_Q"]),
        "theta_Q": col(ct["theta_Q"] * s, "theta_Q"),
        "sigma_e": pd.DataFrame({"sigma_e": p.sigma_e * s}, index=list(labels)),
    }


def term_premium_values(params: ATSMParams, X: np.ndarray, periods: np.ndarray) -> np.ndarray:
    r"""(T, k) term premia in decimals at ``periods`` (whole periods) for factors X (T, N):
    ``tp_t(n) = (A_P(n) + B_P(n)'X_t) - (A_rn(n) + B_rn(n)'X_t)``, the model yield minus the yield priced with
    the physical dynamics (lambda_0 = lambda_1 = 0, convexity included)."""
    p = params
    periods = np.asarray(periods)
    ld = jsz_loadings(p.q_coefs, p.kinfQ, p.Omega_P, p.structure, periods)
    q = p.q_dynamics()
    A, B = discrete_yield_loadings(p.K0P, p.K1P, p.Omega_P, q["rho0"], q["rho1"], periods, p.structure.dt)
    return (ld.A_P - A) + X @ (ld.B_P - B).T


def term_premium_factor_loading(params: ATSMParams, periods: np.ndarray) -> np.ndarray:
    """(k, N) loading of the term premia at ``periods`` on the factors, ``B_P(n) - B_rn(n)`` (decimals)."""
    p = params
    ld = jsz_loadings(p.q_coefs, p.kinfQ, p.Omega_P, p.structure, np.asarray(periods))
    q = p.q_dynamics()
    _, B = discrete_yield_loadings(p.K0P, p.K1P, p.Omega_P, q["rho0"], q["rho1"], np.asarray(periods),
                                   p.structure.dt)
    return ld.B_P - B


def expected_short_rate_values(params: ATSMParams, X: np.ndarray, horizon: int) -> np.ndarray:
    """(T, horizon + 1) physical expectations E_t[r_{t+h}] = rho0 + rho1'E_t[P_{t+h}] in decimals per year."""
    q = params.q_dynamics()
    X = np.array(X, float, copy=True)
    out = np.empty((len(X), horizon + 1))
    for h in range(horizon + 1):
        out[:, h] = q["rho0"] + X @ q["rho1"]
        X = params.K0P + X @ params.K1P.T
    return out


def _smooth(Y: np.ndarray, params: ATSMParams):
    """Kalman smoother at ``params`` in the collapsed space (no p x p matrix, whatever the number of maturities)."""
    ld = params.loadings()
    return CollapsedYields(Y).run(ld.A_P, ld.B_P, params.sigma_e ** 2, params.K0P, params.K1P, params.Omega_P)


def diagnose(result: ATSMResult, at_floor: np.ndarray | None = None) -> list[Flag]:
    """The flags of a fit (see :mod:`xlatsm.diagnostics`): non-convergence, a worse answer than the start,
    explosive Q or P roots, a parameter at the edge of its region, measurement variances on their floor
    (Heywood), non-finite outputs."""
    flags = []
    p = result.params
    explosive = np.max(np.abs(p.lamQ)) >= 1.0
    if not result.converged:
        hint = ("; with an explosive Q-root the likelihood may keep rising as that root grows (no finite maximum: "
                "use fewer factors or a shorter maximum maturity)" if explosive else "")
        flags.append(Flag("not_converged", f"{result.method} stopped before its tolerance ({result.message}); "
                                           f"raise max_iter, or try another method{hint}"))
    if np.isfinite(result.start_loglik) and result.loglik < result.start_loglik - 1e-9 * abs(result.start_loglik):
        flags.append(Flag("worse_than_start", f"the log-likelihood {result.loglik:.6g} is below the starting "
                                              f"values' {result.start_loglik:.6g}; do not use this fit"))
    if not np.isfinite(result.loglik):
        flags.append(Flag("nonfinite", "the log-likelihood is not finite; do not use this fit"))
    lamQ = np.abs(p.lamQ)
    if np.max(lamQ) >= 1.0:
        flags.append(Flag("explosive_q", f"a risk-neutral root is at or above one (|lambda^Q| = "
                                         f"{np.max(lamQ):.5f}): long yields have no risk-neutral limit, so r_inf^Q "
                                         "and theta^Q are undefined (NaN) and k_inf^Q is not a long-run mean; use a "
                                         "shorter maximum maturity, more data, or fewer factors"))
    lamP = np.abs(np.linalg.eigvals(p.K1P))
    if np.max(lamP) >= 1.0:
        flags.append(Flag("explosive_p", f"a physical root is at or above one (|eig K1_P| = {np.max(lamP):.5f}): "
                                         "expected short rates do not mean-revert, so theta_P, long-horizon "
                                         "forecasts and term premia are not meaningful; use a longer sample or "
                                         "fewer factors"))
    if at_floor is not None and np.any(at_floor) and result.measurement_error == "common":
        flags.append(Flag("at_bound", "the measurement error sigma is on its lower bound (1e-7 of the yields' "
                                      "standard deviation): the model prices every yield exactly, so the "
                                      "likelihood is degenerate; the data look model-generated or smoothed with "
                                      "N factors: use fewer factors"))
    elif at_floor is not None and np.any(at_floor):
        names = [label for label, hit in zip(result.panel.labels, at_floor) if hit]
        flags.append(Flag("heywood", f"measurement error variance on its floor (1e-6 of the maturity's variance) "
                                     f"for {', '.join(names)}: the model prices these yields exactly, and the "
                                     "likelihood would grow without bound otherwise; use measurement_error="
                                     "'common' or fewer factors"))
    bad = []
    try:
        blocks = result.parameter_blocks()
    except Exception as exc:  # noqa: BLE001 - any failure here is itself what the flag reports
        bad.append(f"parameter blocks ({exc})")
        blocks = {}
    explained = {"r_inf_Q", "theta_Q", "K_Q"} if any(f.code == "explosive_q" for f in flags) else set()
    for name, block in blocks.items():
        if not np.all(np.isfinite(block.to_numpy(dtype=complex))) and name not in explained:
            bad.append(name)
    for name in ("factors", "fitted_yields", "term_premium"):
        try:
            if not np.all(np.isfinite(getattr(result, name).to_numpy())):
                bad.append(name)
        except Exception as exc:  # noqa: BLE001
            bad.append(f"{name} ({exc})")
    if bad:
        why = []
        if {"K_P", "K_Q"} & set(bad):
            why.append("K_P/K_Q are matrix logarithms of K1, which have none when K1 has a real eigenvalue <= 0 "
                       "(a factor that flips sign each period)")
        flags.append(Flag("nonfinite", "not finite: " + ", ".join(bad) + (". " + "; ".join(why) if why else "")
                          + "; fewer factors usually cure it"))
    return flags


def _years(maturity) -> float:
    years, _ = maturities_to_years([maturity], "years")
    return float(years[0])


def _date(value) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)
