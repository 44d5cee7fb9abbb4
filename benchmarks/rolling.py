"""Rolling re-estimation: the Diebold-Li (2006) recursive out-of-sample exercise, and the speed-up of a local Dask
cluster over a serial run.

    python benchmarks/rolling.py [path/to/diebold_li_1972_2000_bonds.csv] [--workers 2] [--step 4]

1. Diebold and Li (2006), section 4: dynamic Nelson-Siegel, lambda = 0.0609 per month, AR(1) factors, estimated
   recursively from 1985:01 to each forecast origin, forecasts for 1994:01-2000:12 at h = 1, 6, 12 months (the same
   84 target months at every horizon), against the random walk. Prints the RMSE table (percent) for the model and
   the random walk, the ratio, and the paper's Table 5 (6 months) beside ours. The random walk is model-free and
   matches the paper (their RMSE is sqrt(mean^2 + sd^2) with the n-1 standard deviation; both are printed). Their
   model forecasts are direct h-step regressions of the factors (their footnote 12); xlatsm iterates the AR(1),
   which is the same at h = 1 and differs somewhat at 6 and 12 months.
2. Speed-up: the same expanding windows refitted with the Gaussian ATSM (``--method``: jsz by default, or kalman;
   3 factors, all 17 maturities) every ``--step`` months, cold (every window from the estimator's own starts) and
   warm (each window from its neighbour's estimate within chunks of consecutive windows, the default), serially
   in this process and on a Dask cluster of ``--workers`` single-threaded worker processes (already running, and
   for the warm run also with the cluster's start-up included). Prints seconds and the ratios (warm vs cold on
   each engine, Dask vs serial for each start), checks that every forecast, parameter and term premium of a Dask
   run is identical to the serial run with the same starts, and how far warm answers are from cold ones (largest
   log-likelihood gap relative, largest term-premium gap in bp). BLAS runs single-threaded in this process, as in
   Dask's workers, so that both engines do the same computation. The machine is shared (2 cores, other jobs
   running): the ratios are what count, and they are measured in one run.
"""
from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # before numpy loads BLAS
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from xlatsm.reestimation import rolling, window_chunks  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "diebold_li_1972_2000_bonds.csv"
PAPER_COLUMNS = ["3M", "1Y", "3Y", "5Y", "10Y"]
# Diebold and Li (2006), Table 5, 6-month-ahead, Nelson-Siegel AR(1) and random walk RMSE
DL_TABLE5 = pd.DataFrame({"NS AR(1) (paper)": [0.517, 0.669, 0.750, 0.777, 0.721],
                          "random walk (paper)": [0.605, 0.779, 0.879, 0.861, 0.758]}, index=PAPER_COLUMNS)


def dl_rmse(errors: pd.DataFrame, h: int) -> pd.Series:
    """Diebold and Li's RMSE: sqrt(mean^2 + sd^2), sd with n - 1."""
    e = errors.xs(h, level="horizon")
    return np.sqrt(e.mean() ** 2 + e.std(ddof=1) ** 2)


def diebold_li(yields: pd.DataFrame) -> None:
    started = time.perf_counter()
    out = rolling(yields, method="dns", horizons=(1, 6, 12), forecast_start="1994-01", client="serial",
                  progress=False, dynamics="ar", lam=0.0609)
    seconds = time.perf_counter() - started
    pd.set_option("display.float_format", "{:.3f}".format)
    pd.set_option("display.width", 160)
    print(f"Diebold-Li (2006) recursive exercise: {len(out.windows)} expanding windows from 1985:01, origins "
          f"{out.windows['end'].iloc[0]:%Y-%m}..{out.windows['end'].iloc[-1]:%Y-%m}, targets 1994:01-2000:12 "
          f"({int(out.forecast_counts.iloc[0].min())} per horizon); {seconds:.1f} s serial\n")
    print("Out-of-sample RMSE, percent (model: DNS with AR(1) factors, lambda 0.0609)")
    print(out.forecast_rmse[PAPER_COLUMNS].to_string())
    print("\nModel RMSE / random-walk RMSE (below 1: the model forecasts better)")
    print(out.rmse_ratio[PAPER_COLUMNS].to_string())
    print("\nAll 17 maturities, RMSE percent")
    print(out.forecast_rmse.to_string())
    table = DL_TABLE5.copy()
    table.insert(0, "NS AR(1) (xlatsm)", dl_rmse(out.errors, 6)[PAPER_COLUMNS])
    table.insert(2, "random walk (xlatsm)", dl_rmse(out.random_walk_errors, 6)[PAPER_COLUMNS])
    print("\n6-month-ahead RMSE as the paper defines it (sqrt(mean^2 + sd^2)), against its Table 5")
    print(table.to_string())


def speed_up(yields: pd.DataFrame, workers: int, step: int, method: str = "jsz") -> None:
    from dask.distributed import Client, LocalCluster

    kwargs = dict(method=method, horizons=(1, 6, 12), forecast_start="1994-01", step=step, progress=False)
    runs, seconds = {}, {}

    def timed(key, **extra):
        started = time.perf_counter()
        runs[key] = rolling(yields, **kwargs, **extra)
        seconds[key] = time.perf_counter() - started

    timed("serial cold", client="serial", warm_start=False)
    timed("serial warm", client="serial")
    timed("local cluster warm", n_workers=workers)          # start-up of a local cluster included
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("xlatsm.reestimation"))       # workers warm: imports done, as a running cluster
        timed("dask cold", client=client, warm_start=False)
        timed("dask warm", client=client)
    names = ("forecasts", "parameters", "term_premium", "forecast_rmse")
    same = {start: all(getattr(runs[f"dask {start}"], n).equals(getattr(runs[f"serial {start}"], n)) for n in names)
            for start in ("cold", "warm")}
    same["warm"] = same["warm"] and all(getattr(runs["local cluster warm"], n).equals(getattr(runs["serial warm"], n))
                                        for n in names)
    warm, cold = runs["serial warm"], runs["serial cold"]
    ll = np.array([[warm.fits[e].loglik, cold.fits[e].loglik] for e in cold.fits])
    ll_gap = np.max(np.abs(ll[:, 0] - ll[:, 1]) / np.abs(ll[:, 1]))
    tp_gap = np.max(np.abs(warm.term_premium.to_numpy() - cold.term_premium.to_numpy())) * 100   # percent -> bp
    starts = warm.windows["fit_start"].value_counts().to_dict()
    n = len(cold.windows)
    print(f"\nSpeed-up: {n} expanding {method} windows (3 factors, 17 maturities), step {step}; warm chunks of "
          f"{window_chunks(n)[0][1]} windows ({starts}); os.cpu_count() = "
          f"{os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end (a shared machine: other jobs run "
          "beside this one, so only the ratios of this run count)")
    s = seconds
    print(f"  serial, cold starts:                          {s['serial cold']:7.1f} s")
    print(f"  serial, warm starts:                          {s['serial warm']:7.1f} s   warm/cold speed-up "
          f"{s['serial cold'] / s['serial warm']:.2f}x")
    print(f"  running Dask cluster ({workers} workers), cold:       {s['dask cold']:7.1f} s   speed-up over serial "
          f"cold {s['serial cold'] / s['dask cold']:.2f}x")
    print(f"  running Dask cluster ({workers} workers), warm:       {s['dask warm']:7.1f} s   speed-up over serial "
          f"warm {s['serial warm'] / s['dask warm']:.2f}x, warm/cold {s['dask cold'] / s['dask warm']:.2f}x")
    print(f"  new local Dask cluster ({workers} workers), warm:     {s['local cluster warm']:7.1f} s   speed-up "
          f"over serial warm {s['serial warm'] / s['local cluster warm']:.2f}x (cluster start-up included)")
    print(f"  Dask warm vs serial cold (both gains):        {s['serial cold'] / s['dask warm']:.2f}x")
    print(f"  identical to the serial run with the same starts (forecasts, parameters, term premia, RMSE): "
          f"cold {'yes' if same['cold'] else 'NO'}, warm {'yes' if same['warm'] else 'NO'}")
    print(f"  warm vs cold answers: largest log-likelihood gap {ll_gap:.1e} (relative), largest term-premium gap "
          f"{tp_gap:.4f} bp")
    print(f"  engine: {runs['local cluster warm'].engine}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--step", type=int, default=4)
    parser.add_argument("--method", default="jsz", choices=["jsz", "kalman"], help="the model of the speed-up")
    parser.add_argument("--no-speed", action="store_true", help="only the Diebold-Li table")
    args = parser.parse_args(argv)
    if not Path(args.path).exists():
        sys.exit(f"rolling: needs {args.path} (the shared data beside this checkout); nothing was run")
    frame = pd.read_csv(args.path, sep=";", index_col=0)
    yields = frame.loc["1985:01":]
    diebold_li(yields)
    if not args.no_speed:
        speed_up(yields, args.workers, args.step, args.method)


if __name__ == "__main__":
    main()
