r"""h-step forecasts of a fitted model: factors, yields at every fitted maturity, the short rate and term premia,
with bands, and forecasts conditional on a user-given path (scenarios).

Every model xlatsm fits is, for forecasting, one linear Gaussian state space (decimals, one period = the data's):

.. math::

    s_{t+1} = d + T s_t + \eta_{t+1},\ \eta \sim N(0, Q_s),\qquad
    y_t = c + Z s_t + e_t,\ e \sim N(0, H),\qquad r_t = r_0 + r_1' s_t,\qquad tp_t = p_0 + P_1 s_t

started from the filtered state at the last date, ``s_T | y_1..y_T ~ N(a_T, P_T)`` (the Kalman filter, so a last
row with blanks is handled; for JSZ and ACM the factors are portfolios of the yields, observed exactly, and for
the two-step DNS the per-date least-squares factors, so P_T = 0). Then, for h = 1, 2, ...

.. math::

    a_{T+h} = d + T a_{T+h-1},\qquad P_{T+h} = T P_{T+h-1} T' + Q_s
    \quad(= T^h P_T T^{h\prime} + \textstyle\sum_{j<h} T^j Q_s T^{j\prime}),

the yields' forecast is ``c + Z a_{T+h}`` with variance ``Z P_{T+h} Z' + H`` (an observed yield: measurement
error included), the short rate's ``r_0 + r_1'a`` with variance ``r_1'P r_1`` and the term premia's
``p_0 + P_1 a`` with variance ``P_1 P P_1'``. Bands are the central ``level`` interval of the normal forecast
distribution, ``mean +- z sd``. Parameters are taken as known: the bands hold the state-space forecast
uncertainty, not the estimation error of the parameters.

Per model: the Gaussian ATSM (jsz/kalman/em) ``s = P`` (yield portfolios), ``T = K_1^P``, ``d = K_0^P``,
``Q_s = Sigma_P Sigma_P'``, ``H = diag(sigma_e^2)``, ``r = rho_0 + rho_1'P``, term premium = fitted minus
risk-neutral loadings; ACM its VAR(1) ``X_{t+1} = mu + Phi X_t + v``, ``Var(v) = Sigma``, yields from its
loadings, ``r = (delta_0 + delta_1'X)/dt``, ``H`` the sample variance of its yield pricing errors; AFNS its exact
discretised VAR, ``r = L + S``; DNS its VAR(1) or AR(1)s, the short rate the Nelson-Siegel instantaneous rate
``L + S`` (the curve at maturity zero), no term premium (not arbitrage-free), ``H`` diag(h) (one-step) or the
sample variance of the two-step cross-section residuals; the LGSSM its VAR(L) in companion form,
``s = (x_t, .., x_{t-L+1})``, ``Z = [C 0 ..]``, ``c``, ``H = R`` (no short rate or term premium: its series are
whatever was fitted).

Scenarios (``condition=``): paths of the short rate, of a factor or of a fitted yield over the first periods are
treated as extra measurements with zero error in the forecast periods, and the Kalman smoother runs over the
sample extended by the forecast periods. It starts from the filtered state at the last date, which carries all
the information of the observed sample (the state is Markov), so the forecast periods' smoothed moments are those
of the whole extended sample: ``E[s_{T+h} | y_1..y_T, path]`` and its variance, i.e. the Gaussian conditional
expectation.

Units: yields, the short rate, term premia and factors in the yield units of the fit (ACM's factors
standardised, the LGSSM's in the data's units); horizons in periods of the data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import EstimationError, InputError, ModelError, XlatsmError

__all__ = ["forecast", "ForecastResult", "StateSpaceForecast", "state_space_of", "plot_forecast",
           "write_forecast_outputs", "target_dates"]

PARAMETERS_NOTE = ("bands hold the state-space forecast uncertainty only: the parameters are taken as known "
                   "(their estimation error is not in the bands)")


@dataclass
class StateSpaceForecast:
    """A fitted model as the linear Gaussian state space of the module docstring (decimals, per period)."""

    model: str
    T: np.ndarray                   # (m, m)
    d: np.ndarray                   # (m,)
    Qs: np.ndarray                  # (m, m)
    Z: np.ndarray                   # (J, m)
    c: np.ndarray                   # (J,)
    H: np.ndarray                   # (J, J)
    a: np.ndarray                   # (m,) filtered state at the last date
    P: np.ndarray                   # (m, m) its covariance
    labels: list                    # J series labels (maturities)
    factor_names: list              # the first k states are the factors
    scale: float                    # decimals -> the yields' units
    factor_scale: float             # state -> the factors' units
    units: str
    factor_units: str
    dates: pd.Index
    periods_per_year: int
    history: np.ndarray             # (T, J) observed yields, decimals
    r0: float | None = None
    r1: np.ndarray | None = None
    tp0: np.ndarray | None = None
    TP: np.ndarray | None = None
    no_term_premium: str = ""
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)

    @property
    def k(self) -> int:
        return len(self.factor_names)


def _atsm(result, params=None, x_last=None) -> StateSpaceForecast:
    """The Gaussian ATSM's forecasting state space; ``params``/``x_last`` replace the estimate (delta method)."""
    from types import SimpleNamespace

    p = result.params if params is None else params
    ld = p.loadings()
    q = p.q_dynamics()
    X, cov = result._smoothed
    a = X[-1] if x_last is None else x_last
    if not np.all(np.isfinite(a)):
        raise InputError("the last date's factors are not defined (blank yields under jsz): trim the sample")
    # the result's own risk-neutral loadings (discrete or continuous time), at these parameters
    A_rn, B_rn = type(result)._risk_neutral_loadings(SimpleNamespace(params=p), p.structure.periods)
    how = ("the yield portfolios W y_T, priced exactly (jsz)" if result.method == "jsz"
           else "the Kalman filter at the fitted parameters")
    continuous = getattr(result, "time", "") == "continuous"
    return StateSpaceForecast(
        model=f"Gaussian ATSM ({result.method}" + (", continuous time, exactly discretised)" if continuous else ")"),
        T=p.K1P, d=p.K0P, Qs=p.Omega_P, Z=ld.B_P, c=ld.A_P,
        H=np.diag(p.sigma_e ** 2), a=a, P=cov[-1], labels=list(result.panel.labels),
        factor_names=list(result.factor_names), scale=result.scale, factor_scale=result.scale,
        units=result.units, factor_units=result.units, dates=result.panel.dates,
        periods_per_year=int(round(1.0 / p.structure.dt)), history=result.panel.yields, r0=q["rho0"],
        r1=q["rho1"], tp0=ld.A_P - A_rn, TP=ld.B_P - B_rn,
        notes=[f"last date's factors: {how}"], flags=list(getattr(result, "flags", [])))


def _acm(result) -> StateSpaceForecast:
    n = result.periods
    A, B = result._loadings(int(n.max()))
    A_rn, B_rn = result._loadings(int(n.max()), True)
    tau = n * result.dt
    Z, c = -B[n] / tau[:, None], -A[n] / tau
    Z_rn, c_rn = -B_rn[n] / tau[:, None], -A_rn[n] / tau
    resid = result.panel.yields - result._fitted
    k = result.n_factors
    return StateSpaceForecast(
        model="ACM", T=result.Phi, d=result.mu, Qs=result.Sigma, Z=Z, c=c,
        H=np.diag(np.nanmean(resid ** 2, axis=0)), a=result.X[-1], P=np.zeros((k, k)),
        labels=list(result.panel.labels), factor_names=list(result.factor_names), scale=result.scale,
        factor_scale=1.0, units=result.units, factor_units="standardised", dates=result.panel.dates,
        periods_per_year=int(round(1.0 / result.dt)), history=result.panel.yields, r0=result.delta0 / result.dt,
        r1=result.delta1 / result.dt, tp0=c - c_rn, TP=Z - Z_rn,
        notes=["yield bands: measurement error = the sample variance of ACM's yield pricing errors per maturity",
               "last date's factors: the principal components of that date's yields, observed exactly"],
        flags=list(result.flags))


def _afns(result) -> StateSpaceForecast:
    from .atsm.afns import DELTA1

    mats = result.matrices()
    years = result.panel.maturities
    A_p, B_p = result._p_loadings(years)
    return StateSpaceForecast(
        model=f"AFNS ({result.version})", T=mats.T, d=mats.d, Qs=mats.Q, Z=mats.Z, c=mats.a, H=np.diag(mats.h),
        a=result.X[-1], P=result.X_cov[-1], labels=list(result.panel.labels), factor_names=list(result.factor_names),
        scale=result.scale, factor_scale=result.scale, units=result.units, factor_units=result.units,
        dates=result.panel.dates, periods_per_year=int(round(1.0 / result.dt)), history=result.panel.yields,
        r0=0.0, r1=DELTA1.copy(), tp0=mats.a - A_p, TP=mats.Z - B_p,
        notes=["last date's factors: the Kalman filter at the fitted parameters"], flags=list(result.flags))


def _dns(result) -> StateSpaceForecast:
    from .atsm.nelson_siegel import NO_TERM_PREMIUM, ns_loadings

    Z = ns_loadings(result.panel.maturities, result.lam_per_year)
    f = result.F[-1]
    if not np.all(np.isfinite(f)):
        raise InputError("the last date has fewer than 3 observed maturities, so its Nelson-Siegel factors are not "
                         "defined: trim the sample to end on a fuller curve")
    notes = ["short rate: the Nelson-Siegel instantaneous rate level + slope (the curve at maturity zero)"]
    if result.h is not None:
        H = np.diag(result.h)
        notes.append("last date's factors: the Kalman filter at the fitted parameters (one-step)")
    else:
        resid = result.panel.yields - result._fitted
        H = np.diag(np.nanmean(resid ** 2, axis=0))
        notes += ["last date's factors: that date's least-squares factors (two-step), taken as observed",
                  "yield bands: measurement error = the sample variance of the cross-section residuals per maturity"]
    return StateSpaceForecast(
        model=f"DNS ({result.method}, {result.dynamics})", T=result.A, d=result.c, Qs=result.Q, Z=Z,
        c=np.zeros(len(Z)), H=H, a=f, P=result.F_cov[-1], labels=list(result.panel.labels),
        factor_names=list(result.factor_names), scale=result.scale, factor_scale=result.scale, units=result.units,
        factor_units=result.units, dates=result.panel.dates, periods_per_year=int(round(1.0 / result.dt)),
        history=result.panel.yields, r0=0.0, r1=np.array([1.0, 1.0, 0.0]), no_term_premium=NO_TERM_PREMIUM,
        notes=notes, flags=list(result.flags))


def _lgssm(result, params=None) -> StateSpaceForecast:
    """The LGSSM's forecasting state space at ``params`` (default the fit's; the last state re-filtered)."""
    from .ssm.kalman import smooth

    params = result.params if params is None else params
    k, L, p = params.k_states, params.lags, params.k_endog
    m = k * L
    raw = np.asarray(result.data, float)
    # the filter runs on standardised data (as smooth_states) so its tolerances never meet the data's units
    s = float(np.sqrt(np.nanmean((raw - params.obs_intercept) ** 2)))
    s = s if np.isfinite(s) and s > 0 else 1.0
    inner = params.scaled(np.zeros(p), s)
    out = smooth(raw / s, inner.to_state_space(len(raw)))
    # at the last date the smoothed companion state is the filtered one
    a, P = out.states[-1] * s, out.cov[-1] * s * s
    T = params.companion_transition()
    d = np.zeros(m)
    d[:k] = params.state_intercept
    Qs = np.zeros((m, m))
    Qs[:k, :k] = params.Q
    Z = np.zeros((p, m))
    Z[:, :k] = params.C
    from .ssm.results import factor_names

    index = result.index
    ppy = 12
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 2:
        from .data.dates import infer_frequency

        try:
            ppy = infer_frequency(index).periods_per_year
        except InputError:
            ppy = 12
    return StateSpaceForecast(
        model=f"LGSSM (k={k}, VAR({L}))", T=T, d=d, Qs=Qs, Z=Z, c=params.obs_intercept.copy(), H=params.R.copy(),
        a=a, P=0.5 * (P + P.T), labels=list(result.columns), factor_names=factor_names(k), scale=1.0,
        factor_scale=1.0, units="the data's units", factor_units="the data's units", dates=index,
        periods_per_year=ppy, history=raw,
        no_term_premium="the LGSSM has no pricing model: no short rate or term premium, only its series",
        notes=[f"last date's state: the Kalman filter at the fitted parameters (companion form, {m} states)"],
        flags=list(result.flags))


def state_space_of(result) -> StateSpaceForecast:
    """The forecasting state space of a fitted model (module docstring)."""
    from .atsm.acm import ACMResult
    from .atsm.afns import AFNSResult
    from .atsm.nelson_siegel import DNSResult
    from .atsm.results import ATSMResult
    from .ssm.results import LGSSMResult

    for kind, build in ((ATSMResult, _atsm), (ACMResult, _acm), (AFNSResult, _afns), (DNSResult, _dns),
                        (LGSSMResult, _lgssm)):
        if isinstance(result, kind):
            return build(result)
    raise InputError(f"cannot forecast a {type(result).__name__}: give a fit of xlatsm.fit_atsm or fit_lgssm")


# ----------------------------------------------------------------------------------------------------------------
@dataclass
class ForecastResult:
    """Forecasts from the last date of a fit, h = 1..horizon periods ahead (see :func:`forecast`).

    ``factors``, ``yields``, ``short_rate``, ``term_premium``: means, DataFrames with one row per horizon (index
    ``h``) and one column per factor or maturity; ``<name>_std`` their forecast standard deviations and
    ``<name>_lower``/``<name>_upper`` the central ``level`` band (normal). ``target_dates`` are the dates the
    rows forecast. Yield-like numbers in ``units``; factors in ``factor_units``. ``table(name)`` gives one
    block with mean, lower and upper side by side (the spreadsheet's layout)."""

    model: str
    origin: object
    horizon: int
    level: float
    units: str
    factor_units: str
    target_dates: pd.Index
    blocks: dict                    # name -> (mean DataFrame, std DataFrame)
    history: pd.DataFrame           # recent observed yields (units), for charts
    scenario: dict = field(default_factory=dict)
    no_term_premium: str = ""
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)

    @property
    def z(self) -> float:
        from scipy.stats import norm

        return float(norm.ppf(0.5 + self.level / 2.0))

    def _block(self, name):
        if name not in self.blocks:
            if name in ("short_rate", "term_premium") and self.no_term_premium:
                raise ModelError(self.no_term_premium)
            raise InputError(f"no forecast block {name!r}: choose one of {', '.join(self.blocks)}")
        return self.blocks[name]

    def mean(self, name: str) -> pd.DataFrame:
        return self._block(name)[0]

    def std(self, name: str) -> pd.DataFrame:
        return self._block(name)[1]

    def lower(self, name: str) -> pd.DataFrame:
        mean, sd = self._block(name)
        return mean - self.z * sd

    def upper(self, name: str) -> pd.DataFrame:
        mean, sd = self._block(name)
        return mean + self.z * sd

    def __getattr__(self, attr):
        # yields, yields_std, yields_lower, yields_upper, and the same for factors, short_rate, term_premium
        if attr.startswith("_") or attr in ("blocks", "no_term_premium"):
            raise AttributeError(attr)
        for suffix, method in (("_std", "std"), ("_lower", "lower"), ("_upper", "upper")):
            if attr.endswith(suffix) and attr[:-len(suffix)] in _BLOCK_NAMES:
                return getattr(self, method)(attr[:-len(suffix)])
        if attr in _BLOCK_NAMES:
            return self.mean(attr)
        raise AttributeError(f"'ForecastResult' object has no attribute {attr!r}")

    def table(self, name: str = "yields") -> pd.DataFrame:
        """One block as mean / lower / upper columns per series, rows = horizons, with the target date first."""
        mean, lo, hi = self.mean(name), self.lower(name), self.upper(name)
        pct = f"{self.level * 100:g}%"
        cols = {"date": list(self.target_dates)}
        for c in mean.columns:
            cols[f"{c}"] = mean[c].to_numpy()
            cols[f"{c} lower {pct}"] = lo[c].to_numpy()
            cols[f"{c} upper {pct}"] = hi[c].to_numpy()
        return pd.DataFrame(cols, index=mean.index)

    def summary(self) -> str:
        from .textfmt import format_matrix, header_block

        rows = [("Model", self.model), ("Origin", _date_text(self.origin)), ("Horizon (periods)", self.horizon),
                ("Band level", f"{self.level:g}"), ("Yield units", self.units), ("Factor units", self.factor_units)]
        lines = header_block("Forecasts", rows)
        lines += [f"FLAG {f.code}: {f.message}" for f in self.flags]
        if self.scenario:
            lines.append("Scenario (conditioned on, " + self.units + "): " + "; ".join(
                f"{k} = " + ", ".join("-" if np.isnan(v) else f"{v:g}" for v in vals)
                for k, vals in self.scenario.items()))
        pct = f"{self.level * 100:g}%"
        shown = sorted(set([0, min(self.horizon, 6) - 1, self.horizon - 1]))
        for name in _BLOCK_NAMES:
            if name not in self.blocks:
                continue
            mean, lo, hi = self.mean(name), self.lower(name), self.upper(name)
            rows_, names_ = [], []
            for i in shown:
                rows_ += [mean.iloc[i].to_numpy(), lo.iloc[i].to_numpy(), hi.iloc[i].to_numpy()]
                h = mean.index[i]
                names_ += [f"h={h} mean", f"h={h} lo {pct}", f"h={h} hi {pct}"]
            units = self.factor_units if name == "factors" else self.units
            lines += format_matrix(f"{name.replace('_', ' ')} ({units})", np.array(rows_), names_,
                                   list(mean.columns), fmt="{:>11.4f}")
        if self.no_term_premium:
            lines.append(f"Term premium: {self.no_term_premium}")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


_BLOCK_NAMES = ("factors", "yields", "short_rate", "term_premium")


def _date_text(value) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def target_dates(dates: pd.Index, periods_per_year: int, horizon: int) -> pd.Index:
    """The dates h = 1..horizon periods after the last one (month ends stay month ends); 'T+h' without dates."""
    if isinstance(dates, pd.DatetimeIndex) and len(dates):
        last = dates[-1]
        if 12 % periods_per_year == 0:
            months = 12 // periods_per_year
            if last.is_month_end:
                return pd.DatetimeIndex([last + pd.offsets.MonthEnd(months * h) for h in range(1, horizon + 1)])
            return pd.DatetimeIndex([last + pd.DateOffset(months=months * h) for h in range(1, horizon + 1)])
        if periods_per_year >= 250:
            return pd.DatetimeIndex([last + pd.offsets.BDay(h) for h in range(1, horizon + 1)])
        return pd.DatetimeIndex([last + pd.Timedelta(days=round(365.25 / periods_per_year * h))
                                 for h in range(1, horizon + 1)])
    return pd.Index([f"T+{h}" for h in range(1, horizon + 1)])


def _measurement_rows(ss: StateSpaceForecast, name: str):
    """(row of Z-like loadings, intercept, scale to user units) of a conditionable variable."""
    key = str(name).strip()
    if key.lower() in ("short_rate", "short rate", "r"):
        if ss.r1 is None:
            raise InputError(f"{ss.model} has no short rate to condition on: condition on a factor or a series")
        return ss.r1, float(ss.r0), ss.scale
    for i, f in enumerate(ss.factor_names):
        if key.lower() == str(f).lower():
            row = np.zeros(len(ss.a))
            row[i] = 1.0
            return row, 0.0, ss.factor_scale
    for j, label in enumerate(ss.labels):
        if key.upper() == str(label).upper():
            return ss.Z[j], float(ss.c[j]), ss.scale
    raise InputError(f"cannot condition on {name!r}: give 'short_rate', a factor ({', '.join(ss.factor_names)}) "
                     f"or a fitted series ({', '.join(map(str, ss.labels))})")


def _conditional_moments(ss: StateSpaceForecast, a1, P1, horizon, condition):
    """Smoothed moments of s_{T+1..T+H} given the conditioning paths (zero-error measurements), by the Kalman
    smoother (statsmodels', via :mod:`xlatsm.ssm.kalman`) started at s_{T+1} ~ N(a1, P1)."""
    from .ssm.kalman import StateSpace, smooth

    rows, intercepts, data, scenario = [], [], [], {}
    for name, path in condition.items():
        row, c0, unit = _measurement_rows(ss, name)
        values = np.asarray(path, float).ravel()
        if len(values) > horizon:
            raise InputError(f"the path of {name!r} has {len(values)} values, more than the horizon {horizon}")
        if values.size == 0 or np.all(np.isnan(values)):
            raise InputError(f"the path of {name!r} has no values")
        column = np.full(horizon, np.nan)
        column[:len(values)] = values / unit
        rows.append(row)
        intercepts.append(c0)
        data.append(column)
        scenario[str(name)] = values
    Zc = np.array(rows)
    # a global rescaling keeps the filter's absolute tolerances away from decimals^2 variances
    g = float(np.sqrt(max(np.mean(np.abs(np.diag(P1))), 1e-300)))
    m = len(a1)
    space = StateSpace(design=Zc, obs_intercept=np.array(intercepts) / g, obs_cov=np.zeros((len(rows), len(rows))),
                       transition=ss.T, state_intercept=ss.d / g, selection=np.eye(m), state_cov=ss.Qs / g ** 2,
                       initial_mean=a1 / g, initial_cov=P1 / g ** 2)
    out = smooth(np.column_stack(data) / g, space)
    cov = np.array([0.5 * (c + c.T) for c in out.cov]) * g * g
    return out.states * g, cov, scenario


def _mean_path(ss: StateSpaceForecast, horizon: int) -> np.ndarray:
    """(horizon, m) forecast means of the state, a(T+h) = d + T a(T+h-1)."""
    out, a = np.empty((horizon, len(ss.a))), ss.a.astype(float)
    for h in range(horizon):
        a = ss.d + ss.T @ a
        out[h] = a
    return out


def _block_means(ss: StateSpaceForecast, means: np.ndarray) -> dict:
    """Forecast means per block (decimals; factors in state units) from the state means."""
    out = {"factors": means[:, :ss.k], "yields": ss.c + means @ ss.Z.T}
    if ss.r1 is not None:
        out["short_rate"] = (ss.r0 + means @ ss.r1)[:, None]
    if ss.TP is not None:
        out["term_premium"] = ss.tp0 + means @ ss.TP.T
    return out


def _parameter_variances(result, ss: StateSpaceForecast, horizon: int) -> tuple[dict, list]:
    """Delta-method variances of the forecast means from the parameters' estimation error (decimals^2 per block),
    by :meth:`ATSMResult.inference` (the inverse observed information of the fit's own likelihood): the forecast
    means as functions of the parameter vector, the last date's factors included (they move with the parameters
    under kalman/em)."""
    from .atsm.results import ATSMResult
    from .ssm.results import LGSSMResult

    is_lgssm = isinstance(result, LGSSMResult)
    if not is_lgssm and (not isinstance(result, ATSMResult) or result.method not in ("jsz", "kalman", "em")):
        raise InputError("parameter_uncertainty is available for the Gaussian ATSM fitted by jsz, kalman or em "
                         f"and for the LGSSM; {ss.model} has no parameter covariance in xlatsm yet")
    inf = result.inference()
    if not inf.ok:
        raise EstimationError("the observed information of this fit is not positive definite, so the parameters "
                              "have no covariance: forecast without parameter_uncertainty")
    lik = inf.likelihood
    names = list(_block_means(ss, _mean_path(ss, horizon)))

    def flat(theta):
        try:
            # LGSSM: the parameters in the reported normalisation, so its factors' forecasts keep their meaning;
            # the last state is re-filtered at each theta
            sub = (_lgssm(result, lik.reported(theta)) if is_lgssm
                   else _atsm(result, lik.unpack(theta), lik.factors(theta)[-1]))
            blocks = _block_means(sub, _mean_path(sub, horizon))
            return np.concatenate([blocks[n].ravel() for n in names])
        except (XlatsmError, np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError):
            return np.full(sum(_block_means(ss, _mean_path(ss, horizon))[n].size for n in names), np.nan)

    se = inf.delta_std_errors(flat)
    out, start = {}, 0
    for name, block in _block_means(ss, _mean_path(ss, horizon)).items():
        out[name] = (se[start:start + block.size] ** 2).reshape(block.shape)
        start += block.size
    notes = [n for n in inf.notes] + ["bands include the parameters' estimation error: delta method on the "
                                      "forecast means, added to the state-space forecast variance"]
    return out, notes


def forecast(result, horizon: int = 12, level: float = 0.9, condition: dict | None = None,
             history: int = 36, parameter_uncertainty: bool = False) -> ForecastResult:
    """h-step forecasts of a fitted model from its last date (equations in the module docstring).

    Parameters
    ----------
    result : a fit of :func:`xlatsm.fit_atsm` (any method) or :func:`xlatsm.fit_lgssm`.
    horizon : forecast periods (of the data's frequency), h = 1..horizon.
    level : central probability of the bands (0.9: 5% and 95% quantiles of the normal forecast distribution).
    condition : a scenario, ``{"short_rate": [..]}``, ``{"level": [..]}`` (a factor) or ``{"10Y": [..]}`` (a
        fitted series): values in the fit's units for the first periods (NaN: free in that period); the
        forecasts are then the Gaussian conditional expectations given those paths (Kalman smoother).
    history : observed dates kept in ``.history`` for charts.
    parameter_uncertainty : add the parameters' estimation error to the bands (Gaussian ATSM fitted by jsz,
        kalman or em, and the LGSSM): the delta-method variance of the forecast means from the fit's inverse
        observed information (:meth:`xlatsm.ATSMResult.inference`, :meth:`xlatsm.LGSSMResult.inference`), added
        to the state-space variance.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise InputError(f"horizon must be a whole number of periods >= 1, not {horizon!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0.0 < level < 1.0:
        raise InputError(f"level must be a probability strictly between 0 and 1 (e.g. 0.9), not {level!r}")
    horizon = int(horizon)
    ss = state_space_of(result)
    m = len(ss.a)
    means, covs = np.empty((horizon, m)), np.empty((horizon, m, m))
    a, P = ss.a.astype(float), ss.P.astype(float)
    for h in range(horizon):
        a = ss.d + ss.T @ a
        P = ss.T @ P @ ss.T.T + ss.Qs
        P = 0.5 * (P + P.T)
        means[h], covs[h] = a, P
    scenario = {}
    notes = list(ss.notes)
    if condition:
        if not isinstance(condition, dict):
            raise InputError("condition must be a mapping such as {'short_rate': [5.0, 5.25, 5.5]}")
        means, covs, scenario = _conditional_moments(ss, means[0], covs[0], horizon, condition)
        notes.append("conditional forecasts: the given paths are measurements without error in the forecast "
                     "periods (Kalman smoother on the extended sample)")
    extra = {}
    if parameter_uncertainty:
        if condition:
            raise InputError("parameter_uncertainty applies to unconditional forecasts: drop condition= or it")
        extra, more = _parameter_variances(result, ss, horizon)
        notes += more
    else:
        notes.append(PARAMETERS_NOTE)
    index = pd.Index(np.arange(1, horizon + 1), name="h")
    k = ss.k

    def block(loadings, intercept, unit, columns, extra_var=None, name=""):
        mean = (intercept + means @ loadings.T) * unit
        var = np.einsum("ij,hjk,ik->hi", loadings, covs, loadings)
        if extra_var is not None:
            var = var + extra_var
        if name in extra:
            var = var + extra[name]
        sd = np.sqrt(np.maximum(var, 0.0)) * unit
        return pd.DataFrame(mean, index=index, columns=columns), pd.DataFrame(sd, index=index, columns=columns)

    blocks = {"factors": block(np.eye(m)[:k], np.zeros(k), ss.factor_scale, list(ss.factor_names), name="factors"),
              "yields": block(ss.Z, ss.c, ss.scale, list(ss.labels), np.diag(ss.H), name="yields")}
    if ss.r1 is not None:
        blocks["short_rate"] = block(ss.r1[None, :], np.array([ss.r0]), ss.scale, ["short_rate"],
                                     name="short_rate")
    if ss.TP is not None:
        blocks["term_premium"] = block(ss.TP, ss.tp0, ss.scale, list(ss.labels), name="term_premium")
    recent = pd.DataFrame(ss.history[-history:] * ss.scale, index=ss.dates[-history:], columns=list(ss.labels))
    return ForecastResult(model=ss.model, origin=ss.dates[-1], horizon=horizon, level=float(level), units=ss.units,
                          factor_units=ss.factor_units,
                          target_dates=target_dates(ss.dates, ss.periods_per_year, horizon), blocks=blocks,
                          history=recent, scenario=scenario, no_term_premium=ss.no_term_premium, notes=notes,
                          flags=ss.flags)


def plot_forecast(fc: ForecastResult, path, series=None, block: str = "yields"):
    """A chart (PNG/PDF by ``path``'s suffix, matplotlib Agg) of recent observed values and the forecast mean with
    its band, for up to four series of ``block`` (default: shortest, ~2-year and longest yields, and the short
    rate when the model has one). Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean, lo, hi = fc.mean(block), fc.lower(block), fc.upper(block)
    cols = list(mean.columns)
    if series is None:
        picks = [cols[0], cols[len(cols) // 3], cols[-1]] if len(cols) >= 3 else cols
        series = list(dict.fromkeys(picks))
    else:
        series = [series] if isinstance(series, str) else list(series)
        bad = [s for s in series if s not in cols]
        if bad:
            raise InputError(f"no series {', '.join(map(str, bad))} in the {block} forecasts: choose from "
                             f"{', '.join(map(str, cols))}")
    x = list(fc.target_dates)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, s in enumerate(series):
        colour = colours[i % len(colours)]
        if block == "yields" and s in fc.history.columns:
            hist = fc.history[s]
            ax.plot(list(hist.index), hist.to_numpy(), color=colour, lw=1.2, label=f"{s} observed")
            xs, ys = [hist.index[-1]] + x, np.concatenate([[hist.iloc[-1]], mean[s].to_numpy()])
        else:
            xs, ys = x, mean[s].to_numpy()
        ax.plot(xs, ys, color=colour, lw=1.6, ls="--", label=f"{s} forecast")
        ax.fill_between(x, lo[s].to_numpy(), hi[s].to_numpy(), color=colour, alpha=0.15)
    if block == "yields" and "short_rate" in fc.blocks:
        sr = fc.mean("short_rate")["short_rate"]
        ax.plot(x, sr.to_numpy(), color="black", lw=1.0, ls=":", label="short rate forecast")
    what = {"yields": "yield", "factors": "factor", "short_rate": "short-rate", "term_premium": "term-premium"}
    title = f"{fc.model}: {what.get(block, block)} forecasts from {_date_text(fc.origin)}, {fc.level:.0%} bands"
    if fc.scenario:
        title += " (scenario)"
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(fc.factor_units if block == "factors" else fc.units)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_forecast_outputs(fc: ForecastResult, out, prefix: str = "forecast") -> list:
    """Write a forecast's tables and chart into the folder ``out``: ``<prefix>_yields.csv``, ``_factors.csv``,
    ``_short_rate.csv`` and ``_term_premium.csv`` (where the model has them; :meth:`ForecastResult.table`
    layout: target date, then mean, lower and upper per series), ``<prefix>.png`` (:func:`plot_forecast`) and
    ``<prefix>_summary.txt``. Returns the paths written."""
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in _BLOCK_NAMES:
        if name in fc.blocks:
            path = out / f"{prefix}_{name}.csv"
            fc.table(name).to_csv(path)
            written.append(path)
    written.append(Path(plot_forecast(fc, out / f"{prefix}.png")))
    path = out / f"{prefix}_summary.txt"
    path.write_text(fc.summary() + "\n", encoding="utf-8")
    written.append(path)
    return written
