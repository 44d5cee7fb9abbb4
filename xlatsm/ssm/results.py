"""Result objects of the LGSSM: plain attributes, labelled frames on demand, and a text ``summary()``."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..diagnostics import Flag, flag_lines
from ..textfmt import estimate_table, format_matrix, frame_table, header_block
from ..threads import single_blas_thread
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


#: summary() computes standard errors up to this many identified parameters (beyond, it says how to get them)
SUMMARY_SE_LIMIT = 200


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
    _inference_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def forecast(self, horizon: int = 12, level: float = 0.9, **options):
        """h-step forecasts of the factors and series from the VAR(L) with bands (:mod:`xlatsm.forecast`)."""
        from ..forecast import forecast
        return forecast(self, horizon, level=level, **options)

    @single_blas_thread
    def inference(self, robust: bool = False):
        """The observed information at the EM answer and what the standard errors hold fixed
        (:class:`xlatsm.inference.lgssm.LGSSMInference`, computed once per ``robust``). Raises
        :class:`~xlatsm.errors.EstimationError` saying what to do for fits it cannot serve (not converged, a
        factor shock variance on its floor, a full R on its floor)."""
        key = ("observed", bool(robust))
        if key not in self._inference_cache:
            from ..inference.lgssm import lgssm_inference

            self._inference_cache[key] = lgssm_inference(self, robust=robust)
        return self._inference_cache[key]

    @property
    def standard_errors(self) -> dict[str, pd.DataFrame]:
        """Standard errors of every entry of :meth:`parameter_blocks` (same keys, labels and units: the data's),
        from the inverse observed information of the exact log-likelihood on the identified parameters and the
        delta method through the reported normalisation (:mod:`xlatsm.inference.lgssm`). Fixed blocks, zero
        intercepts and measurement variances on their floor have s.e. 0; NaN everywhere, with a note in
        ``inference().notes``, when the information is not positive definite."""
        return self.parameter_standard_errors()

    def parameter_standard_errors(self, robust: bool = False, method: str = "observed", n_boot: int = 199,
                                  seed: int = 0, progress=True) -> dict[str, pd.DataFrame]:
        """:attr:`standard_errors`; ``robust=True``: the sandwich H^-1 (sum_t s_t s_t') H^-1 with the per-date
        scores of the prediction-error decomposition. Only ``method="observed"`` exists for the LGSSM (the
        arguments ``n_boot``, ``seed``, ``progress`` of the ATSM's bootstrap are accepted and unused)."""
        if method != "observed":
            from ..errors import InputError

            raise InputError(f"method {method!r}: the LGSSM's standard errors come from the observed information "
                             "only (method 'observed', robust=True for the sandwich); the parametric bootstrap is "
                             "built for the ATSM")
        return self.inference(robust=robust).standard_errors()

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
        se, notes = self._summary_standard_errors()
        lines += [f"Standard errors: {n}" for n in notes]
        lines.append("")
        blocks = self.parameter_blocks()
        titles = {**{f"A_{j + 1}": f"A_{j + 1} (factor VAR, lag {j + 1})" for j in range(p.lags)},
                  "d": "d (state intercept)", "Q": "Q (factor shock covariance)", "C": "C (loadings)",
                  "c": "c (observation intercept)"}
        for name, title in titles.items():
            lines += frame_table(title, blocks[name]) if se is None else estimate_table(title, blocks[name], se[name])
        if self.measurement_error != "full":
            title = f"R (measurement error variances, {self.measurement_error})"
            rows = self.columns if self.measurement_error == "diagonal" else ["all"]
            variances = pd.DataFrame({"R_ii": np.diag(p.R)[:len(rows)]}, index=rows)
            lines += frame_table(title, variances) if se is None else estimate_table(
                title, variances, pd.DataFrame({"R_ii": np.diag(se["R"].to_numpy())[:len(rows)]}, index=rows))
        else:
            title = "R (measurement error covariance)"
            lines += frame_table(title, blocks["R"]) if se is None else estimate_table(title, blocks["R"], se["R"])
        lines += format_matrix("RMSE of the smoothed fit by series (data's units)", self.rmse.to_numpy()[:, None],
                               self.columns, ["RMSE"])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _summary_standard_errors(self):
        """(standard-error blocks or None, note lines) for the summary: what was computed, or why not. Models with
        more than :data:`SUMMARY_SE_LIMIT` identified parameters are left to ``standard_errors`` (the cost grows
        with their square: about 2 s at 80 on the GSW sample)."""
        if self.n_params > SUMMARY_SE_LIMIT and not self._inference_cache:
            return None, [f"not computed for the summary ({self.n_params} identified parameters; the cost grows "
                          "with their square): result.standard_errors computes them"]
        try:
            inference = self.inference()
            return (inference.standard_errors() if inference.ok else None), list(inference.notes)
        except Exception as exc:  # noqa: BLE001 - a summary says why there are no standard errors, never fails
            return None, [f"not available ({exc})"]
