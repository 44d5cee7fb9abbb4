r"""Rolling and recursive re-estimation: one fit per window, real-time term premia, parameter paths and
out-of-sample forecasts against the random walk.

Windows (dates ``0..T-1`` of the panel): window ``i`` ends at date ``e_i`` (the forecast origin) and starts at date
0 (``window=None``: expanding, "recursive") or at ``e_i - window + 1`` (a moving window of ``window`` dates).
``forecast_start`` is the first date *forecast*: the first origin is ``max(horizons)`` dates before it, so that
every horizon is evaluated on the same target dates, from ``forecast_start`` to the last date (Diebold and Li
2006: forecasts for 1994:01-2000:12). Without it the first origin is the ``window``-th date (moving) or the
middle of the sample (expanding) and every later target is evaluated. Origins then run every ``step``-th date to
the last one.

Each window is fitted with the same options (:func:`xlatsm.fit_atsm` for the ATSM methods, acm and afns,
:func:`xlatsm.atsm.nelson_siegel.fit_dns` for ``method="dns"`` so that its ``dynamics`` and ``lam`` can be given,
:func:`xlatsm.fit_lgssm` for ``method="lgssm"``) and forecast from its last date
(:func:`xlatsm.forecast.forecast`). Forecast errors ``y_{e+h} - yhat_{e+h|e}`` and the random walk's
``y_{e+h} - y_e`` give

.. math::

    \mathrm{RMSE}_{h,j} = \Big(\frac{1}{n_{h,j}} \sum_{e} (y_{e+h,j} - \hat y_{e+h|e,j})^2\Big)^{1/2}

over the origins whose target is in the sample (and both forecasts and the outcome are observed), in the
yields' units.

Warm starts (``warm_start=True``, the default): the windows are cut into chunks, contiguous runs of
``chunk_size`` windows (:func:`window_chunks`; the cut depends on the number of windows alone, never on the
engine or the number of workers), and one worker fits a chunk in order: its first window from the estimator's
own deterministic starting values (cold), every later one from the previous window's estimate (warm). For
"jsz" that is the neighbour's Q-eigenvalues and Sigma_P (one search instead of the screened deterministic
starts); for "kalman"/"em" its whole parameter vector (instead of the JSZ fit that makes their cold start); for
"lgssm" its parameters; "auto" whichever of these ran. ATSM estimates are carried over in the new window's
portfolio coordinates: ``P' = W' y = W'A + (W'B) P``, so ``K1' = M K1 M^{-1}``, ``K0' = W'A + M K0 - K1' W'A``,
``Omega' = M Omega M'`` with ``M = W'B`` (the Q-eigenvalues, ``k_inf``, the measurement errors and so the
model of the yields are unchanged). A warm fit that fails, does not converge or raises a flag the neighbour it
started from did not raise (a flag both share is the data's) is refitted cold, and ``windows["fit_start"]``
says so ("warm", "cold", "cold (warm: <why>)"). "dns", "acm" and "afns" have no start to carry (closed-form
regressions, or no start option): every window is cold. The warm answer is the cold one's optimum
(tests/test_rolling.py compares them window by window for jsz, kalman and lgssm: log-likelihoods equal to
1e-8, parameters within 1% of a standard error), and
because the chunks are the same whatever runs them, each window's fit is the same computation on Dask, in
local processes or serially: the results equal a serial run's exactly. ``warm_start=False`` fits every window
cold.

Engines: ``client=None`` runs on a local Dask cluster (``dask.distributed``, the optional extra
``xlatsm[scale]``: one single-threaded worker process per core) with a progress bar; ``client=`` a
``dask.distributed.Client`` or a scheduler address ("tcp://host:8786") uses an existing cluster; without dask
the windows run in local processes (``concurrent.futures``) and the result says so; ``client="serial"`` (or
``n_workers=1``) runs them one after the other in this process.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import EstimationError, InputError, ModelError, XlatsmError
from .threads import single_blas_thread

__all__ = ["rolling", "RollingResult", "window_bounds", "window_chunks"]

NO_WARM_START = ("each window is fitted from its own deterministic starting values (no warm start), so every "
                 "window is the same computation whichever engine runs it: results equal a serial run's")
WARM_START = ("warm starts: within each chunk of {size} consecutive windows every fit after the first starts from "
              "the previous window's estimate (a warm fit that fails, does not converge or raises a flag its "
              "neighbour did not is refitted cold, see windows['fit_start']); the "
              "chunks depend on the windows alone, so results equal a serial run's whatever the engine")
#: the methods whose estimators take a start (the others are closed-form or have no start option)
WARM_METHODS = ("auto", "jsz", "kalman", "em", "lgssm")


@dataclass
class RollingResult:
    """What :func:`rolling` returns (module docstring for the definitions; yield-like numbers in ``units``).

    * ``forecast_rmse``: one row per (model, horizon), model in {"model", "random walk"}, one column per maturity
      in the input's order; ``forecast_counts`` the number of origins behind each entry.
    * ``forecasts``: the model's forecasts, rows (origin, horizon, target), columns maturities; ``errors`` the
      model's forecast errors (outcome - forecast) where the outcome is in the sample, ``random_walk_errors``
      the random walk's.
    * ``term_premium``: the last date's term premia of each window (rows: window end dates), the real-time term
      premia; raises :class:`xlatsm.ModelError` for models without one (DNS, LGSSM).
    * ``parameters``: every parameter of each window's fit, flattened as "block[row,column]" (reporting units of
      the fit's ``parameter_blocks()``), rows window end dates.
    * ``fits``: the fitted results by window end date (``keep_fits=True``); ``windows``: start, end, dates,
      seconds, flags, errors and ``fit_start`` ("cold", "warm" or "cold (warm: <why>)") per window; ``engine``,
      ``notes``, ``seconds``.
    """

    method: str
    units: str
    horizons: tuple
    columns: list
    windows: pd.DataFrame
    forecasts: pd.DataFrame
    errors: pd.DataFrame
    random_walk_errors: pd.DataFrame
    forecast_rmse: pd.DataFrame
    forecast_counts: pd.DataFrame
    parameters: pd.DataFrame
    fits: dict
    engine: str
    seconds: float
    _term_premium: pd.DataFrame | None = None
    no_term_premium: str = ""
    notes: list = field(default_factory=list)

    @property
    def term_premium(self) -> pd.DataFrame:
        if self._term_premium is None:
            raise ModelError(self.no_term_premium or "this model has no term premium")
        return self._term_premium

    @property
    def rmse_ratio(self) -> pd.DataFrame:
        """Model RMSE / random-walk RMSE per horizon and maturity (below 1: the model forecasts better)."""
        return self.forecast_rmse.loc["model"] / self.forecast_rmse.loc["random walk"]

    def summary(self) -> str:
        from .textfmt import format_matrix, header_block

        w = self.windows
        failed = int(w["error"].astype(bool).sum())
        flagged = int((w["flags"] != "").sum())
        rows = [("Method", self.method), ("Windows", len(w)),
                ("First origin", _date(w["end"].iloc[0])), ("Last origin", _date(w["end"].iloc[-1])),
                ("Window", "expanding" if (w["start"] == w["start"].iloc[0]).all() else "moving"),
                ("Failed windows", failed), ("Flagged windows", flagged), ("Yield units", self.units),
                ("Horizons", ", ".join(map(str, self.horizons))), ("Seconds", f"{self.seconds:.1f}")]
        if "fit_start" in w:
            starts = w["fit_start"]
            rows.insert(7, ("Warm / cold / refitted cold", f"{int((starts == 'warm').sum())} / "
                            f"{int((starts == 'cold').sum())} / {int(starts.str.startswith('cold (').sum())}"))
        lines = header_block("Rolling re-estimation and out-of-sample forecasts", rows)
        lines.append(f"Engine: {self.engine}")
        rmse, counts = self.forecast_rmse, self.forecast_counts
        names = [f"{m} h={h}" for m, h in rmse.index]
        lines += format_matrix(f"Out-of-sample RMSE ({self.units}); origins per horizon: " + ", ".join(
            f"h={h}: {int(counts.loc[('model', h)].max())}" for h in self.horizons), rmse.to_numpy(), names,
            list(rmse.columns), fmt="{:>11.3f}")
        if self._term_premium is not None and len(self._term_premium):
            tp = self._term_premium
            lines += format_matrix(f"Real-time term premium ({self.units}), last date of each window",
                                   np.vstack([tp.mean(), tp.min(), tp.max(), tp.iloc[-1]]),
                                   ["mean", "min", "max", "last"], list(tp.columns), fmt="{:>11.3f}")
        elif self.no_term_premium:
            lines.append(f"Term premium: {self.no_term_premium}")
        if failed:
            bad = w[w["error"].astype(bool)]
            lines.append(f"FAILED windows ({failed}), first ending {_date(bad['end'].iloc[0])}: "
                         f"{bad['error'].iloc[0]}")
        if flagged:
            codes = sorted({c for f in w["flags"] for c in f.split(",") if c})
            lines.append(f"FLAGGED windows ({flagged}): {', '.join(codes)} (see .windows and .fits)")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _date(value) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)


# ----------------------------------------------------------------------------------------------------------------
def window_bounds(dates: pd.Index, window=None, step: int = 1, forecast_start=None, max_horizon: int = 1,
                  min_dates: int = 24):
    """([(start, end)] positions (end inclusive) of the windows, position of the first evaluated target) (module
    docstring). ``forecast_start`` is the first date forecast: the first window ends ``max_horizon`` dates before
    it, so that every horizon is evaluated on the same target dates."""
    T = len(dates)
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
            raise InputError(f"window must be None (expanding) or a number of dates >= 2, not {window!r}")
        if window > T:
            raise InputError(f"window of {window} dates is longer than the sample ({T} dates)")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise InputError(f"step must be a whole number of dates >= 1, not {step!r}")
    if forecast_start is None:
        first = window - 1 if window is not None else max(T // 2, min(min_dates, T) - 1)
        target = first + 1
    else:
        if isinstance(forecast_start, (int, np.integer)) and not isinstance(forecast_start, bool):
            target = int(forecast_start) if forecast_start >= 0 else T + int(forecast_start)
        else:
            if not isinstance(dates, pd.DatetimeIndex):
                raise InputError("the data have no dates: give forecast_start as a position (a number)")
            try:
                stamp = pd.Timestamp(str(forecast_start).replace(":", "-"))
            except (ValueError, TypeError) as exc:
                raise InputError(f"forecast_start {forecast_start!r} is not a date (e.g. '1994-01')") from exc
            later = np.flatnonzero(dates >= stamp)
            if len(later) == 0:
                raise InputError(f"forecast_start {forecast_start} is after the last date {_date(dates[-1])}")
            target = int(later[0])
        first = target - int(max_horizon)
        if first < 0 or target >= T:
            raise InputError(f"forecast_start must leave {max_horizon} date(s) of data before it and lie in the "
                             f"sample of {T} dates")
    if not 0 <= first < T:
        raise InputError(f"the first forecast origin is outside the sample of {T} dates")
    if window is not None and first < window - 1:
        raise InputError(f"the first window would end at date {first + 1}, before {window} dates exist: start "
                         "the forecasts later or use a shorter window")
    return [(0 if window is None else e - window + 1, e) for e in range(first, T, int(step))], target


def window_chunks(n_windows: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    """[(first, last + 1)] of consecutive windows fitted by one worker task, warm-starting along the chunk.

    A function of the number of windows alone (never of the engine or of the workers), so that a warm-started
    run is the same computation everywhere. Default size: ``n / 32`` rounded up, kept within 4..25 windows
    (about 32 tasks to spread over the workers; each chunk's first fit is cold)."""
    if chunk_size is None:
        chunk_size = min(25, max(4, -(-n_windows // 32)))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise InputError(f"chunk_size must be a whole number of windows >= 1, not {chunk_size!r}")
    size = int(chunk_size)
    return [(i, min(i + size, n_windows)) for i in range(0, n_windows, size)]


def _fit(frame: pd.DataFrame, units: str, method: str, options: dict):
    """One window's fit (the panel in the yields' own units, so no window guesses them anew)."""
    if method == "dns":
        from .atsm.nelson_siegel import fit_dns

        opts = dict(options)
        if "dns_method" in opts:
            opts["method"] = opts.pop("dns_method")
        if "dns_lambda" in opts:
            opts["lam"] = opts.pop("dns_lambda")
        return fit_dns(frame, yield_units=units, **opts)
    if method == "lgssm":
        from .ssm.em import fit_lgssm

        opts = dict(options)
        opts.setdefault("progress", None)
        return fit_lgssm(frame, **opts)
    from .atsm.methods import fit_atsm

    opts = dict(options)
    if method in ("auto", "jsz", "kalman", "em"):
        opts.setdefault("progress", None)
    return fit_atsm(frame, method=method, yield_units=units, **opts)


def _flatten(blocks: dict) -> dict:
    out = {}
    for name, frame in blocks.items():
        values = frame.to_numpy()
        for i, row in enumerate(frame.index):
            for j, col in enumerate(frame.columns):
                key = f"{name}[{row}]" if frame.shape[1] == 1 else f"{name}[{row},{col}]"
                v = values[i, j]
                out[key] = float(np.real(v)) if np.isscalar(v) or np.ndim(v) == 0 else np.nan
    return out


def _window_frame(panel, start: int, end: int) -> pd.DataFrame:
    """The window's panel in the yields' own units (so no window guesses them anew)."""
    s = panel.scale if panel.yield_units != "bp" else 1e4
    return pd.DataFrame(panel.yields[start:end + 1] * s, index=panel.dates[start:end + 1],
                        columns=list(panel.labels))


def _rotate_atsm(params, W_new: np.ndarray):
    """The same model of the yields in the portfolios ``P' = W_new y`` (module docstring): with ``y = A + B P``
    under the old weights, ``P' = a + M P`` (``a = W_new A``, ``M = W_new B``), so ``K1' = M K1 M^-1``,
    ``K0' = a + M K0 - K1' a`` and ``Sigma'`` the Cholesky factor of ``M Omega M'``; the Q-eigenvalues, k_inf and
    the measurement errors are rotation-free."""
    from dataclasses import replace

    ld = params.loadings()
    M = W_new @ ld.B_P
    a = W_new @ ld.A_P
    K1 = M @ params.K1P @ np.linalg.inv(M)
    K0 = a + M @ params.K0P - K1 @ a
    Omega = M @ params.Omega_P @ M.T
    return replace(params, K0P=K0, K1P=K1, Sigma_P=np.linalg.cholesky(0.5 * (Omega + Omega.T)),
                   structure=replace(params.structure, W=W_new))


def _next_start(fit, panel, start: int, end: int, options: dict):
    """The start for the window ``start..end`` from a neighbour's fit (None: no start to carry)."""
    from .atsm.results import ATSMResult

    if isinstance(fit, ATSMResult):
        params = fit.params
        portfolios = options.get("portfolios")
        if portfolios is None or (isinstance(portfolios, str) and portfolios == "pca"):
            from .atsm.model import portfolio_weights

            return _rotate_atsm(params, portfolio_weights(panel.yields[start:end + 1], params.structure.n_factors))
        return params                   # portfolios of named maturities: the same W in every window
    return getattr(fit, "params", None)


def _warm_trouble(fit, neighbour) -> str:
    """Why a warm-started fit is not trusted ('' when it is): not converged, or a flag its neighbour (the fit it
    started from) did not raise. A flag the neighbour shares is the data's (e.g. a Heywood case in every window),
    which a cold refit would raise as well."""
    if not getattr(fit, "converged", True):
        return "not converged"
    known = {f.code for f in getattr(neighbour, "flags", [])}
    new = [f.code for f in getattr(fit, "flags", []) if f.code not in known]
    return "flagged " + ",".join(new) if new else ""


def _run_window(panel, start: int, end: int, method: str, options: dict, hmax: int, keep_fit: bool,
                warm=None) -> dict:
    """One window: fitted (from ``warm``, a neighbour's fit, when given; cold again if that fails, does not
    converge or is flagged), forecast, summarised. ``record["_fit"]`` is the fit (for the next window's start)."""
    from .forecast import forecast

    started = time.perf_counter()
    frame = _window_frame(panel, start, end)
    units = panel.yield_units
    record = {"start": start, "end": end, "error": "", "flags": "", "forecast": None, "tp": None, "params": {},
              "fit": None, "fit_start": "cold", "_fit": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # a window's convergence trouble is in its flags
            fit = None
            if warm is not None:
                try:
                    initial = _next_start(warm, panel, start, end, options)
                    fit = _fit(frame, units, method, {**options, "start": initial}) if initial is not None else None
                    trouble = "" if fit is not None else "no start"
                    if fit is not None:
                        trouble = _warm_trouble(fit, warm)
                except (XlatsmError, np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
                    trouble = f"{type(exc).__name__}"
                if trouble:
                    fit = None
                    record["fit_start"] = f"cold (warm: {trouble})"
                else:
                    record["fit_start"] = "warm"
            if fit is None:
                fit = _fit(frame, units, method, options)
        record["_fit"] = fit
        fc = forecast(fit, hmax, history=1)
        record["forecast"] = fc.yields.to_numpy()
        record["flags"] = ",".join(f.code for f in getattr(fit, "flags", []))
        try:
            record["tp"] = fit.term_premium.iloc[-1].to_numpy()
        except (ModelError, AttributeError):
            record["tp"] = None
        record["params"] = _flatten(fit.parameter_blocks())
        if keep_fit:
            record["fit"] = fit
    except (XlatsmError, np.linalg.LinAlgError) as exc:     # one window's failure is reported, not the run's end
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["seconds"] = time.perf_counter() - started
    return record


def _run_chunk(payload) -> list:
    """The windows of one chunk in order; with warm starts each from the previous window's fit (the first cold)."""
    panel, bounds, method, options, hmax, keep_fits = payload[:6]
    warm_start = payload[6] if len(payload) > 6 else False
    records, previous = [], None
    for s, e in bounds:
        record = _run_window(panel, s, e, method, options, hmax, keep_fits, previous if warm_start else None)
        previous = record.pop("_fit")
        records.append(record)
    return records


# ----------------------------------------------------------------------------------------------------------------
def _progress_bar(total: int, progress):
    if progress is True:
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc="windows", unit="fit", leave=False)
        except ImportError:
            return None
    return None


def _execute(chunks: list, client, n_workers, processes: bool, progress, total: int):
    """Run the chunks; (records, engine description)."""
    bar = _progress_bar(total, progress)
    done = 0

    def tick(n):
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        if callable(progress):
            progress(done, total)

    records = []
    try:
        if client == "serial" or (n_workers == 1 and client is None):
            for chunk in chunks:
                out = _run_chunk(chunk)
                records += out
                tick(len(out))
            return records, "serial (this process)"
        if client == "processes" or client is None:
            try:
                if client == "processes":
                    raise ImportError
                from dask.distributed import Client, LocalCluster, as_completed  # noqa: F401
            except ImportError:
                return _processes(chunks, n_workers, tick, client != "processes")
            import logging

            workers = int(n_workers or os.cpu_count() or 1)
            try:
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            except (RuntimeError, OSError) as exc:
                raise EstimationError(
                    f"could not start a local Dask cluster ({exc}); worker processes import the calling script, so "
                    "in a script put the call under `if __name__ == '__main__':`, or use processes=False, "
                    "client='processes' or client='serial'") from exc
            with cluster, Client(cluster) as local:
                records = _dask(local, chunks, tick)
            kind = "processes" if processes else "threads"
            return records, f"dask.distributed local cluster ({workers} worker {kind}, 1 thread each)"
        if isinstance(client, str):
            from dask.distributed import Client

            try:
                remote = Client(client, timeout=30)
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(f"cannot reach a Dask scheduler at {client!r} ({exc}): give its address as "
                                 "tcp://host:port, with xlatsm installed on its workers") from exc
            with remote:
                records = _dask(remote, chunks, tick)
            return records, f"dask.distributed cluster at {client}"
        if hasattr(client, "submit"):
            records = _dask(client, chunks, tick)
            return records, f"dask.distributed client {getattr(client, 'scheduler', client)}"
        raise InputError(f"client must be None (local Dask cluster), 'serial', 'processes', a scheduler address or "
                         f"a dask.distributed Client, not {client!r}")
    finally:
        if bar is not None:
            bar.close()


def _dask(client, chunks, tick) -> list:
    from dask.distributed import as_completed

    futures = [client.submit(_run_chunk, chunk, pure=False) for chunk in chunks]
    records = []
    for future in as_completed(futures):
        out = future.result()
        records += out
        tick(len(out))
    return records


def _processes(chunks, n_workers, tick, missing_dask: bool):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = int(n_workers or os.cpu_count() or 1)
    records = []
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_run_chunk, chunk) for chunk in chunks]
            for future in as_completed(futures):
                out = future.result()
                records += out
                tick(len(out))
    except BrokenProcessPool as exc:
        raise EstimationError(f"the local worker processes stopped ({exc}); they import the calling script, so in a "
                              "script put the call under `if __name__ == '__main__':`, or use client='serial'") from exc
    engine = f"local processes ({workers}, concurrent.futures)"
    if missing_dask:
        message = ("dask.distributed is not installed (pip install 'xlatsm[scale]'): the windows ran in local "
                   "processes instead")
        warnings.warn(message, stacklevel=3)
        engine += "; " + message
    return records, engine


# ----------------------------------------------------------------------------------------------------------------
def _input_order(yields, panel, maturities, maturity_units) -> list:
    """The panel's labels in the order the input's columns had (the panel sorts them by maturity)."""
    from .data import maturities_to_years

    columns = list(maturities) if maturities is not None else (
        list(yields.columns) if isinstance(yields, pd.DataFrame) or hasattr(yields, "row_names") else None)
    if columns is None or len(columns) != len(panel.labels):
        return list(panel.labels)
    try:
        years, _ = maturities_to_years(columns, maturity_units, ordered=False)
    except XlatsmError:
        return list(panel.labels)
    order = []
    for y in years:
        match = np.flatnonzero(np.isclose(panel.maturities, y, rtol=1e-9, atol=1e-9))
        if len(match) != 1:
            return list(panel.labels)
        order.append(panel.labels[int(match[0])])
    return order if len(set(order)) == len(order) else list(panel.labels)


@single_blas_thread
def rolling(yields, method: str = "auto", window: int | None = None, step: int = 1, horizons=(1, 6, 12),
            forecast_start=None, client=None, *, n_workers: int | None = None, processes: bool = True,
            keep_fits: bool = True, progress=True, maturities=None, yield_units: str = "auto",
            maturity_units: str = "auto", chunks_per_worker: int = 4, warm_start: bool = True,
            chunk_size: int | None = None, **fit_options) -> RollingResult:
    """Refit ``method`` over many windows and forecast from each (module docstring for the definitions).

    Parameters
    ----------
    yields : dates x maturities, anything :func:`xlatsm.read_panel` accepts.
    method : "auto", "jsz", "kalman", "em", "acm", "afns", "dns" or "lgssm" (then ``k_states=`` is needed).
    window : None (expanding from the first date: recursive) or a number of dates (moving window).
    step : re-estimate every ``step`` dates.
    horizons : forecast horizons in periods of the data.
    forecast_start : the first date forecast (a date such as "1994-01", or a position): the first window ends
        ``max(horizons)`` dates before it and every horizon's RMSE is over the targets from it to the last date
        (Diebold and Li 2006: forecasts for 1994:01-2000:12); default: the first window ends at the ``window``-th
        date (moving) or the middle of the sample (expanding) and every later target is evaluated.
    client : None (local Dask cluster, all cores), a dask.distributed Client or scheduler address, "processes"
        (local processes) or "serial".
    n_workers : workers of the local cluster or process pool (default: the number of cores).
    processes : local Dask cluster of processes (True) or threads (False).
    keep_fits : keep every window's fit in ``.fits`` (memory grows with the windows).
    progress : True (a progress bar), False, or a callable ``progress(done, total)``.
    warm_start : True (default): within each chunk of consecutive windows every fit after the first starts from
        the previous window's estimate (jsz, kalman, em, lgssm, auto; a failed, unconverged or flagged warm fit is
        refitted cold); the same answers as cold fits (tested window by window), faster. False: every window
        from the estimator's own deterministic start.
    chunk_size : windows per chunk under warm starts (default :func:`window_chunks`'s); a function of the windows
        only, so results do not depend on the engine. ``chunks_per_worker`` splits cold runs instead.
    fit_options : passed to every window's fit (e.g. ``n_factors=3``; dns: ``dynamics="ar"``, ``lam=0.0609``,
        ``dns_method="one_step"``; lgssm: ``k_states=2``, ``lags=1``).
    """
    from .atsm.results_other import read_yields

    started = time.perf_counter()
    name = str(method).strip().lower()
    from .atsm.methods import METHODS

    if name not in METHODS + ("lgssm",):
        raise InputError(f"method must be one of {', '.join(METHODS + ('lgssm',))}, not {method!r}")
    try:
        horizons = tuple(int(h) for h in np.atleast_1d(horizons))
    except (TypeError, ValueError) as exc:
        raise InputError(f"horizons must be whole numbers of periods, not {horizons!r}") from exc
    if not horizons or min(horizons) < 1:
        raise InputError(f"horizons must be whole numbers of periods >= 1, not {horizons!r}")
    panel = read_yields(yields, maturities, yield_units, maturity_units)
    hmax = max(horizons)
    bounds, first_target = window_bounds(panel.dates, window, step, forecast_start, hmax)
    warm = bool(warm_start) and name in WARM_METHODS and \
        str(fit_options.get("time", "discrete")).strip().lower() == "discrete" and "start" not in fit_options
    if warm:
        # contiguous chunks cut by the windows alone: each is the same warm-started sequence on any engine
        cuts = window_chunks(len(bounds), chunk_size)
        chunks = [(panel, bounds[a:b], name, dict(fit_options), hmax, keep_fits, True) for a, b in cuts]
        note = WARM_START.format(size=cuts[0][1] - cuts[0][0])
    else:
        workers = int(n_workers or os.cpu_count() or 1)
        n_chunks = max(1, min(len(bounds), workers * max(1, int(chunks_per_worker))))
        # interleaved chunks: expanding windows grow, so each chunk gets early and late ones alike
        chunks = [(panel, bounds[i::n_chunks], name, dict(fit_options), hmax, keep_fits) for i in range(n_chunks)]
        note = NO_WARM_START if name in WARM_METHODS else (
            NO_WARM_START + f"; method {name} has no start to carry from a neighbour (closed-form regressions or no "
            "start option)")
    records, engine = _execute(chunks, client, n_workers, processes, progress, len(bounds))
    records.sort(key=lambda r: r["end"])
    return _assemble(panel, records, name, horizons, hmax, first_target, engine,
                     _input_order(yields, panel, maturities, maturity_units), time.perf_counter() - started, note)


def _assemble(panel, records, method, horizons, hmax, first_target, engine, order, seconds,
              start_note: str = NO_WARM_START) -> RollingResult:
    from .forecast import target_dates

    dates, labels = panel.dates, list(panel.labels)
    s = panel.scale if panel.yield_units != "bp" else 1e4
    Y = panel.yields * s
    T, J = Y.shape
    ends = [r["end"] for r in records]
    end_dates = dates[ends]
    windows = pd.DataFrame({"start": dates[[r["start"] for r in records]], "end": end_dates,
                            "dates": [r["end"] - r["start"] + 1 for r in records],
                            "seconds": [r["seconds"] for r in records], "flags": [r["flags"] for r in records],
                            "error": [r["error"] for r in records], "fit_start": [r["fit_start"] for r in records]})
    ppy = panel.periods_per_year
    rows, fc_values, err_rows, err_values, rw_values = [], [], [], [], []
    for r in records:
        e = r["end"]
        fc = r["forecast"] if r["forecast"] is not None else np.full((hmax, J), np.nan)
        targets = target_dates(dates[:e + 1], ppy, hmax)
        for h in range(1, hmax + 1):
            target = dates[e + h] if e + h < T else targets[h - 1]
            rows.append((dates[e], h, target))
            fc_values.append(fc[h - 1])
            if first_target <= e + h < T:
                err_rows.append((dates[e], h, target))
                err_values.append(Y[e + h] - fc[h - 1])
                rw_values.append(Y[e + h] - Y[e])
    idx_names = ["origin", "horizon", "target"]
    forecasts = pd.DataFrame(np.array(fc_values).reshape(-1, J), columns=labels,
                             index=pd.MultiIndex.from_tuples(rows, names=idx_names))[order]
    err_index = pd.MultiIndex.from_tuples(err_rows, names=idx_names) if err_rows else \
        pd.MultiIndex.from_arrays([[], [], []], names=idx_names)
    errors = pd.DataFrame(np.array(err_values).reshape(-1, J), columns=labels, index=err_index)[order]
    rw = pd.DataFrame(np.array(rw_values).reshape(-1, J), columns=labels, index=err_index)[order]
    rmse_rows, count_rows, keys = [], [], []
    for model, frame in (("model", errors), ("random walk", rw)):
        for h in horizons:
            if len(frame):
                sel = frame.xs(h, level="horizon").to_numpy()
                other = (rw if model == "model" else errors).xs(h, level="horizon").to_numpy()
                ok = np.isfinite(sel) & np.isfinite(other)          # the same origins for both forecasts
                n = ok.sum(axis=0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rmse = np.sqrt(np.sum(np.where(ok, sel, 0.0) ** 2, axis=0) / n)
            else:
                n, rmse = np.zeros(J, int), np.full(J, np.nan)
            keys.append((model, h))
            rmse_rows.append(np.where(n > 0, rmse, np.nan))
            count_rows.append(n)
    mindex = pd.MultiIndex.from_tuples(keys, names=["model", "horizon"])
    forecast_rmse = pd.DataFrame(np.array(rmse_rows), index=mindex, columns=order)
    counts = pd.DataFrame(np.array(count_rows), index=mindex, columns=order)
    tp = None
    no_tp = ""
    if any(r["tp"] is not None for r in records):
        tp = pd.DataFrame([r["tp"] if r["tp"] is not None else np.full(J, np.nan) for r in records],
                          index=pd.Index(end_dates, name="end"), columns=labels)[order]
    elif method == "dns":
        from .atsm.nelson_siegel import NO_TERM_PREMIUM

        no_tp = NO_TERM_PREMIUM
    elif method == "lgssm":
        no_tp = "the LGSSM has no pricing model, so no term premium"
    else:
        no_tp = "no window produced a term premium (see .windows for the errors)"
    parameters = pd.DataFrame([r["params"] for r in records], index=pd.Index(end_dates, name="end"))
    fits = {dates[r["end"]]: r["fit"] for r in records if r["fit"] is not None}
    notes = [start_note,
             f"forecast origins are the windows' last dates; RMSE over the targets from {_date(dates[first_target])} "
             "to the last date (the same target dates for every horizon when forecast_start is given), the model "
             "and the random walk on the same origins",
             "random walk: the forecast of every horizon is the origin's observed yield"]
    failed = sum(bool(r["error"]) for r in records)
    if failed:
        notes.append(f"{failed} window(s) failed: their forecasts are blank and left out of the RMSE")
    return RollingResult(method=method, units=panel.yield_units, horizons=tuple(horizons), columns=order,
                         windows=windows, forecasts=forecasts, errors=errors, random_walk_errors=rw,
                         forecast_rmse=forecast_rmse, forecast_counts=counts, parameters=parameters, fits=fits,
                         engine=engine, seconds=seconds, _term_premium=tp, no_term_premium=no_tp, notes=notes)

