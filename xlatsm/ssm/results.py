"""Result objects of the LGSSM: plain attributes, labelled frames on demand, and a text ``summary()``."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..diagnostics import Flag, flag_lines
from ..textfmt import format_matrix, header_block
from .params import LGSSMParams


@dataclass
class SmoothResult:
    """Smoothed factors for given parameters: ``states`` (T, k), ``cov`` (T, k, k), ``loglik``, ``fitted`` (T, p);
    ``flags`` (:class:`~xlatsm.diagnostics.Flag`, e.g. ``explosive_p`` for a non-stationary factor VAR)."""

    states: np.ndarray
    cov: np.ndarray
    loglik: float
    index: pd.Index
    fitted: np.ndarray
    columns: list[str]
    names: list[str] | None = None
    flags: list[Flag] = field(default_factory=list)

    @property
    def factors(self) -> pd.DataFrame:
        return pd.DataFrame(self.states, index=self.index, columns=self.names or factor_names(self.states.shape[1]))

    @property
    def std_errors(self) -> np.ndarray:
        """(T, k) posterior standard deviations of the smoothed factors."""
        return np.sqrt(np.maximum(np.diagonal(self.cov, axis1=1, axis2=2), 0.0))


def factor_names(k: int) -> list[str]:
    return [f"f{j + 1}" for j in range(k)]


@dataclass
class LGSSMResult:
    """The fitted LGSSM (see :func:`xlatsm.fit_lgssm`).

    ``loglik`` is the log-likelihood at ``params`` (the last entry of ``loglik_path``, one value per accepted
    iterate, never decreasing); ``smoothed_states``/``smoothed_cov`` are E[x_t|Y] and Var(x_t|Y) at ``params``, in
    the reported normalisation. ``flags`` lists what may be wrong with the fit (:mod:`xlatsm.diagnostics`: not
    converged, worse than the start, Heywood cases, explosive factor VAR, a factor shock variance at its floor);
    ``summary()`` prints them. ``scale`` is the global scale the data were standardised by internally.
    """

    params: LGSSMParams
    loglik: float
    loglik_path: np.ndarray
    n_iter: int
    converged: bool
    smoothed_states: np.ndarray
    smoothed_cov: np.ndarray
    index: pd.Index
    columns: list[str]
    n_obs_cells: int
    measurement_error: str
    intercepts: bool
    fixed: tuple
    initial_state: str
    normalisation: str
    tol: float
    data: np.ndarray = field(repr=False)
    flags: list[Flag] = field(default_factory=list)
    scale: float = 1.0

    def forecast(self, horizon: int = 12, level: float = 0.9, **options):
        """h-step forecasts of the factors and series from the VAR(L) with bands (:mod:`xlatsm.forecast`)."""
        from ..forecast import forecast
        return forecast(self, horizon, level=level, **options)

    @property
    def standard_errors(self) -> dict:
        """Not built yet for the LGSSM: raises :class:`~xlatsm.errors.InputError` saying so (standard errors and
        bands exist for the Gaussian ATSM, :meth:`xlatsm.atsm.results.ATSMResult.standard_errors`)."""
        from ..errors import InputError

        raise InputError("standard errors are not available for the LGSSM yet (the information at the EM answer in "
                         "the identified rotation is not built); the Gaussian ATSM (fit_atsm, method 'jsz', "
                         "'kalman' or 'em') has them")

    @property
    def diagonal_R(self) -> bool:
        """True unless R is a full matrix (``measurement_error="full"``); kept for the older switch."""
        return self.measurement_error != "full"

    @property
    def n_params(self) -> int:
        """Free identified parameters, exactly (the equation is in :meth:`LGSSMParams.n_free`)."""
        return self.params.n_free(self.measurement_error, self.intercepts, frozenset(self.fixed),
                                  self.initial_state)

    @property
    def residuals(self) -> pd.DataFrame:
        """y - fitted on the observed cells (NaN where y is missing), in the data's units."""
        return pd.DataFrame(self.data, index=self.index, columns=self.columns) - self.fitted

    @property
    def rmse(self) -> pd.Series:
        """Root-mean-square error of the smoothed fit by series, sqrt(mean_t (y_it - c_i - C_i E[x_t|Y])^2) over
        the observed cells, in the data's units (for yields in percent, x100 gives bp)."""
        r = self.residuals.to_numpy()
        return pd.Series(np.sqrt(np.nanmean(r ** 2, axis=0)), index=self.columns, name="rmse")

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.loglik + np.log(self.n_obs_cells) * self.n_params

    @property
    def factors(self) -> pd.DataFrame:
        """Smoothed factors as a labelled frame (dates x f1..fk)."""
        return pd.DataFrame(self.smoothed_states, index=self.index, columns=factor_names(self.params.k_states))

    @property
    def factor_std_errors(self) -> pd.DataFrame:
        """Posterior standard deviations of the smoothed factors (dates x f1..fk)."""
        se = np.sqrt(np.maximum(np.diagonal(self.smoothed_cov, axis1=1, axis2=2), 0.0))
        return pd.DataFrame(se, index=self.index, columns=factor_names(self.params.k_states))

    def parameter_blocks(self) -> dict[str, pd.DataFrame]:
        """Every parameter matrix, labelled: A_1..A_L, d, Q (factors), C, c, R (series)."""
        p = self.params
        names = factor_names(p.k_states)
        blocks = {f"A_{j + 1}": pd.DataFrame(A, index=names, columns=names) for j, A in enumerate(p.A)}
        blocks["d"] = pd.DataFrame({"d": p.state_intercept}, index=names)
        blocks["Q"] = pd.DataFrame(p.Q, index=names, columns=names)
        blocks["C"] = pd.DataFrame(p.C, index=self.columns, columns=names)
        blocks["c"] = pd.DataFrame({"c": p.obs_intercept}, index=self.columns)
        blocks["R"] = pd.DataFrame(p.R, index=self.columns, columns=self.columns)
        return blocks

    @property
    def fitted(self) -> pd.DataFrame:
        """c + C E[x_t|Y]: the smoothed fit of every series, missing cells included."""
        values = self.params.obs_intercept + self.smoothed_states @ self.params.C.T
        return pd.DataFrame(values, index=self.index, columns=self.columns)

    def smooth(self, y=None):
        """Re-smooth new (or the same) data with the fitted parameters."""
        from .em import smooth_states

        return smooth_states(self.data if y is None else y, self.params)

    def summary(self) -> str:
        p = self.params
        names = factor_names(p.k_states)
        lines = header_block("Linear Gaussian state-space model, exact EM", [
            ("Series (p)", p.k_endog), ("Factors (k)", p.k_states), ("VAR lags (L)", p.lags),
            ("Dates (T)", len(self.index)), ("Observed cells", self.n_obs_cells),
            ("Log-likelihood", f"{self.loglik:.4f}"), ("AIC", f"{self.aic:.2f}"), ("BIC", f"{self.bic:.2f}"),
            ("EM iterations", self.n_iter),
            ("Converged", f"{'yes' if self.converged else 'NO, see FLAG'} (tol {self.tol:g})"),
            ("Initial state", self.initial_state), ("Measurement cov R", self.measurement_error),
            ("Intercepts", "estimated" if self.intercepts else "zero"),
            ("Fixed", ", ".join(self.fixed) or "none"),
        ])
        lines += flag_lines(self.flags)
        lines.append("Identification: C and x are identified only up to x* = M x, C* = C M^-1 (M invertible).")
        lines.append(f"Reported normalisation: {self.normalisation}.")
        lines.append("")
        for j, A in enumerate(p.A):
            lines += format_matrix(f"A_{j + 1} (factor VAR, lag {j + 1})", A, names, names)
        lines += format_matrix("d (state intercept)", p.state_intercept[:, None], names, ["d"])
        lines += format_matrix("Q (factor shock covariance)", p.Q, names, names)
        lines += format_matrix("C (loadings)", p.C, self.columns, names)
        lines += format_matrix("c (observation intercept)", p.obs_intercept[:, None], self.columns, ["c"])
        if self.measurement_error != "full":
            lines += format_matrix(f"R (measurement error variances, {self.measurement_error})",
                                   np.diag(p.R)[:, None], self.columns, ["R_ii"])
        else:
            lines += format_matrix("R (measurement error covariance)", p.R, self.columns, self.columns)
        lines += format_matrix("RMSE of the smoothed fit by series (data's units)", self.rmse.to_numpy()[:, None],
                               self.columns, ["RMSE"])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
