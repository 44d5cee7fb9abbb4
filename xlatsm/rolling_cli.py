"""``xlatsm rolling FILE ...``: the command line of :func:`xlatsm.reestimation.rolling`.

Registered in :mod:`xlatsm.cli` by ``add_rolling_parser(sub)``; ``run_rolling(args)`` fits every window, prints the
summary (RMSE table, real-time term premia) and writes ``forecast_rmse.csv``, ``forecasts.csv``, ``errors.csv``,
``random_walk_errors.csv``, ``term_premium.csv`` (models with one), ``parameters.csv``, ``windows.csv`` and
``summary.txt`` into ``--out``. Errors are :class:`xlatsm.XlatsmError` (the CLI prints one ``xlatsm:`` line).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import InputError

METHODS = ("auto", "jsz", "kalman", "em", "acm", "afns", "dns")


def _horizons(text: str) -> tuple:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers of periods, comma-separated, e.g. "
                                         "1,6,12") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: horizons are whole numbers of periods >= 1")
    return values


def add_rolling_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``rolling`` command to the CLI's subparsers."""
    help_text = ("refit a model over many windows (recursive or moving): real-time term premia, parameter paths "
                 "and out-of-sample forecasts against the random walk, on a Dask cluster")
    p = subparsers.add_parser("rolling", help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="CSV or XLSX of zero yields: dates down, maturities across, blanks = missing")
    p.add_argument("--out", default="xlatsm-rolling", metavar="DIR", help="output folder (default ./xlatsm-rolling)")
    p.add_argument("--sheet", help="XLSX sheet name or number (default: the first sheet holding a table)")
    p.add_argument("--skip-rows", type=int, metavar="N", help="rows above the table's header to skip")
    p.add_argument("--maturities", metavar="LIST", help="maturities to fit, comma-separated (default: every column)")
    p.add_argument("--start", metavar="DATE", help="first date of the data used, e.g. 1985-01 (default: the first)")
    p.add_argument("--end", metavar="DATE", help="last date of the data used (default: the last)")
    p.add_argument("--yield-units", default="auto", choices=["auto", "percent", "decimal", "bp"],
                   help="units of the yields (default auto)")
    p.add_argument("--maturity-units", default="auto", choices=["auto", "months", "years"],
                   help="how numeric maturity headers are meant (default auto)")
    p.add_argument("--method", default="auto", choices=METHODS,
                   help="the model refitted in every window (default auto: jsz, or kalman when cells are blank)")
    p.add_argument("--n-factors", type=int, default=None, metavar="N",
                   help="number of factors (default 3; 5 for acm; dns and afns have 3)")
    p.add_argument("--window", type=int, default=None, metavar="N",
                   help="a moving window of N dates (default: expanding from the first date, recursive)")
    p.add_argument("--step", type=int, default=1, metavar="N", help="refit every N dates (default 1)")
    p.add_argument("--horizons", type=_horizons, default=(1, 6, 12), metavar="LIST",
                   help="forecast horizons in periods, comma-separated (default 1,6,12)")
    p.add_argument("--forecast-start", metavar="DATE",
                   help="the first date forecast, e.g. 1994-01: the first window ends max(horizons) dates before "
                        "it and every horizon is evaluated on the targets from it (default: the first window ends "
                        "at the middle of the sample, or at the --window-th date)")
    p.add_argument("--dns-dynamics", default="var", choices=["var", "ar"],
                   help="dns: VAR(1) factors (default) or three AR(1)s (Diebold-Li 2006)")
    p.add_argument("--dns-lambda", default=None, metavar="L",
                   help="dns: decay per month of maturity (default 0.0609) or 'profile'")
    p.add_argument("--dns-method", default="two-step", choices=["two-step", "one-step"],
                   help="dns: Diebold-Li two-step (default) or one-step Kalman maximum likelihood")
    p.add_argument("--afns-version", default="independent", choices=["independent", "correlated"],
                   help="afns: independent (default) or correlated factors")
    p.add_argument("--max-iter", type=int, default=None, metavar="N", help="iteration cap of each window's fit")
    engine = p.add_mutually_exclusive_group()
    engine.add_argument("--scheduler", metavar="ADDRESS",
                        help="an existing Dask cluster's scheduler, e.g. tcp://10.0.0.5:8786 (default: a local "
                             "cluster on this machine's cores)")
    engine.add_argument("--serial", action="store_true", help="fit the windows one after the other in this process")
    engine.add_argument("--processes", action="store_true",
                        help="local processes (concurrent.futures) instead of a Dask cluster")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="workers of the local cluster (default: the number of cores)")
    p.add_argument("--no-warm-start", dest="warm_start", action="store_false",
                   help="fit every window from the estimator's own starting values (default: jsz, kalman, em and "
                        "auto start each window from the previous one's estimate within chunks of windows; the "
                        "same optima, faster, identical on every engine)")
    p.add_argument("--chunk-size", type=int, default=None, metavar="N",
                   help="windows per warm-started chunk (one worker task each; default: windows/32 within 4..25)")
    p.set_defaults(func=run_rolling)
    return p


def _fit_options(args) -> dict:
    method = args.method
    options: dict = {}
    if method == "dns":
        options["dynamics"] = args.dns_dynamics
        options["dns_method"] = args.dns_method.replace("-", "_")
        if args.dns_lambda is not None:
            text = args.dns_lambda.strip()
            try:
                options["lam"] = text if text.lower() == "profile" else float(text)
            except ValueError:
                raise InputError(f"--dns-lambda {text!r} is neither a number (per month of maturity, e.g. 0.0609) "
                                 "nor 'profile'") from None
        if args.n_factors not in (None, 3):
            raise InputError(f"--method dns has exactly 3 factors, not --n-factors {args.n_factors}")
        if args.max_iter is not None:
            options["max_iter"] = args.max_iter
        return options
    if args.dns_dynamics != "var" or args.dns_lambda is not None or args.dns_method != "two-step":
        raise InputError(f"--dns-dynamics, --dns-lambda and --dns-method are options of --method dns, not {method}")
    if method == "afns":
        options["afns_version"] = args.afns_version
    if args.n_factors is not None:
        options["n_factors"] = args.n_factors
    if args.max_iter is not None:
        options["max_iter"] = args.max_iter
    return options


def _line_progress(stream):
    """Without a terminal: one line per tenth of the windows."""
    marks = set()

    def report(done, total):
        tenth = done * 10 // max(total, 1)
        if tenth not in marks:
            marks.add(tenth)
            print(f"rolling: {done}/{total} windows", file=stream, flush=True)
    return report


def run_rolling(args) -> int:
    from .data import read_observations, select
    from .reestimation import rolling

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is an existing file, not a folder: name a folder for the results")
    obs = read_observations(args.file, sheet=args.sheet, skip_rows=args.skip_rows)
    wanted = [m.strip() for m in args.maturities.split(",") if m.strip()] if args.maturities else None
    obs = select(obs, wanted, args.start, args.end, maturity_units=args.maturity_units)
    from .data import read_panel

    read_panel(obs, yield_units=args.yield_units, maturity_units=args.maturity_units)   # input errors first
    client = args.scheduler or ("serial" if args.serial else "processes" if args.processes else None)
    progress = True if sys.stderr.isatty() else _line_progress(sys.stderr)
    result = rolling(obs, method=args.method, window=args.window, step=args.step, horizons=args.horizons,
                     forecast_start=args.forecast_start, client=client, n_workers=args.workers, progress=progress,
                     yield_units=args.yield_units, maturity_units=args.maturity_units, keep_fits=False,
                     warm_start=args.warm_start, chunk_size=args.chunk_size, **_fit_options(args))
    print(result.summary())
    out.mkdir(parents=True, exist_ok=True)
    written = []
    frames = {"forecast_rmse": result.forecast_rmse, "forecasts": result.forecasts, "errors": result.errors,
              "random_walk_errors": result.random_walk_errors, "parameters": result.parameters,
              "windows": result.windows}
    if result._term_premium is not None:
        frames["term_premium"] = result.term_premium
    for name, frame in frames.items():
        path = out / f"{name}.csv"
        frame.to_csv(path)
        written.append(path)
    (out / "summary.txt").write_text(result.summary() + "\n", encoding="utf-8")
    written.append(out / "summary.txt")
    print(f"\nwrote {len(written)} files to {out}: " + ", ".join(p.name for p in written))
    return 0
