"""Command line: ``xlatsm demo | atsm FILE | lgssm FILE | report [FILE] | install | uninstall``.

The CLI is a thin shell over the core: read the input, fit with a progress bar, print the summary, write CSVs
and PNG charts into an output folder it names.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import ConvergenceWarning, XlatsmError


@contextmanager
def progress_bar(total: int, desc: str):
    """A tqdm bar fed by the core's ``progress(iteration, loglik)`` callback."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="it", leave=False, file=sys.stderr, dynamic_ncols=True)

    def update(iteration: int, loglik: float) -> None:
        bar.n = iteration
        bar.set_postfix_str(f"loglik {loglik:.3f}")
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _write_frame(frame: pd.DataFrame, path: Path, written: list[Path]) -> None:
    frame.to_csv(path)
    written.append(path)


def write_lgssm_outputs(result, out: Path) -> list[Path]:
    """CSV files of every parameter block, the smoothed factors and fit, the summary, and a factor chart."""
    from .report import plot_factors

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # file names differing only in case (C.csv, c.csv) would overwrite each other on Windows and macOS
    file_names = {"d": "d_state_intercept", "c": "c_obs_intercept"}
    for name, block in result.parameter_blocks().items():
        _write_frame(block, out / f"{file_names.get(name, name)}.csv", written)
    factors = result.factors
    se = result.factor_std_errors
    _write_frame(factors.join(se.add_suffix("_se")), out / "smoothed_factors.csv", written)
    _write_frame(result.fitted, out / "fitted.csv", written)
    _write_frame(pd.DataFrame({"loglik": result.loglik_path}), out / "loglik_path.csv", written)
    (out / "summary.txt").write_text(result.summary() + "\n")
    written.append(out / "summary.txt")
    written.append(plot_factors(factors, out / "smoothed_factors.png", se.to_numpy()))
    return written


def write_atsm_outputs(result, out: Path) -> list[Path]:
    """CSV files of every parameter block, factors, fitted yields, pricing errors and term premia; summary; charts
    of the factors, the fitted curve and the 10-year term premium."""
    from .report import plot_bars, plot_curves, plot_factors, plot_lines

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, block in result.parameter_blocks().items():
        _write_frame(block, out / f"param_{name}.csv", written)
    factors = result.factors
    se = result.factor_std_errors
    _write_frame(factors.join(se.add_suffix("_se")), out / "factors.csv", written)
    _write_frame(result.fitted_yields, out / "fitted_yields.csv", written)
    _write_frame(result.pricing_errors.to_frame(), out / "pricing_errors_bp.csv", written)
    tp = result.term_premium
    tp10 = result.term_premium_at("10Y")
    _write_frame(tp.join(tp10) if tp10.name not in tp.columns else tp, out / "term_premium.csv", written)
    _write_frame(result.loadings(), out / "loadings.csv", written)
    (out / "summary.txt").write_text(result.summary() + "\n")
    written.append(out / "summary.txt")
    units = result.units
    written.append(plot_factors(factors, out / "factors.png", se.to_numpy() if result.method != "jsz" else None,
                                title=f"Yield-curve factors ({units})"))
    written.append(plot_curves(result.panel.maturities, result.panel.frame, result.fitted_yields,
                               out / "fitted_curve.png", ylabel=units))
    written.append(plot_lines(tp10.to_frame("10-year term premium"), out / "term_premium_10y.png",
                              f"10-year term premium ({units})", ylabel=units))
    written.append(plot_bars(result.pricing_errors, out / "pricing_errors.png", "Pricing errors, RMSE (bp)", "bp"))
    return written


def _fit_atsm(data, args, label: str):
    from .atsm import fit_atsm

    with progress_bar(args.max_iter, f"ATSM {args.method} {label}") as update, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = fit_atsm(data, n_factors=args.n_factors, method=args.method, max_iter=args.max_iter,
                          measurement_error=args.measurement_error, progress=update,
                          yield_units=getattr(args, "yield_units", "auto"),
                          maturity_units=getattr(args, "maturity_units", "auto"))
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return result


def _fit_lgssm(data, args, label: str):
    from .ssm import fit_lgssm

    with progress_bar(args.max_iter, f"EM {label}") as update, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = fit_lgssm(data, args.k, lags=args.lags, diagonal_R=not args.full_R, max_iter=args.max_iter,
                           tol=args.tol, progress=update)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return result


def _read_input(args):
    """The file's table by the data layer's rules, with the command line's selection applied."""
    from .data import read_observations, select

    obs = read_observations(args.file, sheet=args.sheet, skip_rows=args.skip_rows)
    wanted = [m.strip() for m in args.maturities.split(",") if m.strip()] if args.maturities else None
    return select(obs, wanted, args.start, args.end, maturity_units=getattr(args, "maturity_units", "auto"))


def check_output(path: Path, kind: str) -> Path:
    """Refuse an output path that cannot be written *before* any fitting (a folder for 'dir', a file for 'file')."""
    path = Path(path)
    if kind == "dir":
        if path.exists() and not path.is_dir():
            raise XlatsmError(f"--out {path} is an existing file, not a folder: name a folder for the results")
        target = path if path.exists() else _existing_parent(path)
    else:
        if path.is_dir():
            raise XlatsmError(f"--out {path} is a folder: name the file to write, e.g. {path / 'report.html'}")
        target = _existing_parent(path)
    if target is None or not os.access(target, os.W_OK):
        raise XlatsmError(f"cannot write to {path}: choose a folder you can write to with --out")
    return path


def _existing_parent(path: Path) -> Path | None:
    for parent in [path.parent, *path.parent.parents] if not path.exists() else [path]:
        if parent.exists():
            return parent if parent.is_dir() else None
    return None


def cmd_demo(args) -> int:
    from .data import SAMPLE_SOURCE, load_sample

    sample = load_sample()
    out = check_output(Path(args.out), "dir")
    print(f"xlatsm {__version__} demo on the embedded sample: {SAMPLE_SOURCE}")
    print(f"{sample.shape[0]} months x {sample.shape[1]} maturities; results go to {out.resolve()}\n")
    # 1. the arbitrage-free model of the 1-9 year curve (the sample has no 10y column; the 10y term premium is
    #    the model's, at 10 years)
    curve = sample.iloc[:, :7]
    atsm = _fit_atsm(curve, args, "on GSW 1y-9y")
    print(atsm.summary())
    written = write_atsm_outputs(atsm, out / "atsm")
    tp10 = atsm.term_premium_at("10Y")
    print(f"\n10-year term premium: mean {tp10.mean():.2f}, last {tp10.iloc[-1]:.2f} ({atsm.units})")
    from .report import atsm_report

    written.append(atsm_report(atsm, out / "atsm" / "report.html", "GSW US Treasury curve, 1-9 years"))
    print(f"wrote {len(written)} files to {(out / 'atsm').resolve()} "
          "(charts: factors.png, fitted_curve.png, term_premium_10y.png, pricing_errors.png; report.html)\n")
    # 2. a statistical dynamic factor model of the whole 1-30 year curve by exact EM
    lgssm = _fit_lgssm(sample, args, "dynamic factor model of GSW 1y-30y")
    print(lgssm.summary())
    written = write_lgssm_outputs(lgssm, out / "lgssm")
    print(f"\nwrote {len(written)} files to {(out / 'lgssm').resolve()} (chart: smoothed_factors.png)")
    return 0


def cmd_atsm(args) -> int:
    from .data import read_panel

    out = check_output(Path(args.out), "dir")
    obs = _read_input(args)
    read_panel(obs, yield_units=args.yield_units, maturity_units=args.maturity_units)   # input errors before the bar
    result = _fit_atsm(obs, args, Path(args.file).name)
    print(result.summary())
    written = write_atsm_outputs(result, out)
    print(f"\nwrote {len(written)} files to {Path(args.out).resolve()}")
    return 0


def cmd_lgssm(args) -> int:
    out = check_output(Path(args.out), "dir")
    obs = _read_input(args)
    result = _fit_lgssm(obs, args, Path(args.file).name)
    print(result.summary())
    written = write_lgssm_outputs(result, out)
    print(f"\nwrote {len(written)} files to {Path(args.out).resolve()}")
    return 0


def cmd_report(args) -> int:
    from .data import load_sample
    from .report import atsm_report

    check_output(Path(args.out), "file")
    if args.file:
        data = _read_input(args)
        title = f"Term structure model report: {Path(args.file).name}"
    else:
        data = load_sample().iloc[:, :7]
        title = "Term structure model report: GSW US Treasury curve, 1-9 years (embedded sample)"
    result = _fit_atsm(data, args, "for the report")
    path = atsm_report(result, args.out, title)
    print(f"wrote {path.resolve()}")
    return 0


def cmd_install(args) -> int:
    from .install import install

    done = install(home=Path(args.home) if args.home else None, target=Path(args.target) if args.target else None)
    print(f"workbook: {done['workbook']}")
    print(f"xlwings settings: {done['conf']} (interpreter {done['interpreter']})")
    for note in done["notes"]:
        print(f"note: {note}")
    print("Open the workbook, enable macros, and press Refit on the xlatsm tab.")
    return 0


def cmd_uninstall(args) -> int:
    from .install import uninstall

    for line in uninstall(home=Path(args.home) if args.home else None):
        print(line)
    return 0


_OPTION = re.compile(r"\b(yield_units|maturity_units|n_factors|method|max_iter|measurement_error)\s*=\s*"
                     r"(?:'([^']*)'|\"([^\"]*)\"|(\w+))")


def as_command_line(message: str) -> str:
    """The core's advice in the command line's spelling: ``yield_units='bp'`` -> ``--yield-units bp``."""
    def option(m):
        value = next(v for v in m.groups()[1:] if v is not None)
        return f"--{m.group(1).replace('_', '-')} {value}"
    message = _OPTION.sub(option, message)
    return re.sub(r"\b(yield_units|maturity_units)\b", lambda m: "--" + m.group(1).replace("_", "-"), message)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors said in one ``xlatsm: ...`` line like every other failure."""

    def error(self, message):
        self.exit(2, f"xlatsm: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xlatsm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"xlatsm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def lgssm_options(p, k_default=3):
        p.add_argument("--k", type=int, default=k_default, help="number of factors (default %(default)s)")
        p.add_argument("--lags", type=int, default=1, help="VAR lags of the factors (default 1)")
        p.add_argument("--full-R", action="store_true", help="full measurement error covariance (default diagonal)")
        p.add_argument("--max-iter", type=int, default=500, help="EM iteration cap (default 500)")
        p.add_argument("--tol", type=float, default=1e-7, help="relative log-likelihood tolerance (default 1e-7)")

    def atsm_options(p):
        p.add_argument("--n-factors", type=int, default=3, help="number of factors N, 1..5 (default 3)")
        p.add_argument("--method", default="auto", choices=["auto", "jsz", "kalman", "em"],
                       help="estimator (default auto: jsz on a complete panel, kalman when cells are blank)")
        p.add_argument("--measurement-error", default="common", choices=["common", "per_maturity"])

    def input_options(p, columns="maturities"):
        p.add_argument("--sheet", help="XLSX sheet name or number (default: the first sheet holding a table)")
        p.add_argument("--skip-rows", type=int, help="rows above the table's header to skip (default: found)")
        p.add_argument("--maturities", metavar="LIST", help=f"{columns} to fit, comma-separated, e.g. 3M,1Y,10Y "
                       "(default: every column)")
        p.add_argument("--start", help="first date to fit, e.g. 1990-01 (default: the first)")
        p.add_argument("--end", help="last date to fit (default: the last)")

    def yield_options(p):
        p.add_argument("--yield-units", default="auto", choices=["auto", "percent", "decimal", "bp"],
                       help="units of the yields (default auto, see README 'What xlatsm accepts')")
        p.add_argument("--maturity-units", default="auto", choices=["auto", "months", "years"],
                       help="how numeric maturity headers are meant (default auto: asks when unclear)")

    demo = sub.add_parser("demo", help="fit the embedded real sample and write results and charts")
    demo.add_argument("--out", default="xlatsm-demo", help="output folder (default ./xlatsm-demo)")
    lgssm_options(demo)
    atsm_options(demo)
    demo.set_defaults(func=cmd_demo)

    at = sub.add_parser("atsm", help="fit a Gaussian affine term structure model to a CSV/XLSX of zero yields")
    at.add_argument("file", help="CSV or XLSX: dates down, maturities across (tenors like 3M, 10Y), blanks = missing")
    at.add_argument("--out", default="xlatsm-atsm", help="output folder (default ./xlatsm-atsm)")
    input_options(at)
    yield_options(at)
    at.add_argument("--max-iter", type=int, default=500, help="iteration cap for kalman/em (default 500)")
    atsm_options(at)
    at.set_defaults(func=cmd_atsm)

    rep = sub.add_parser("report", help="fit the ATSM and write an HTML report with charts (default: the sample)")
    rep.add_argument("file", nargs="?", help="CSV or XLSX of zero yields (default: the embedded sample)")
    rep.add_argument("--out", default="xlatsm-report.html", help="output file (default ./xlatsm-report.html)")
    rep.add_argument("--max-iter", type=int, default=500)
    input_options(rep)
    yield_options(rep)
    atsm_options(rep)
    rep.set_defaults(func=cmd_report)

    inst = sub.add_parser("install", help="copy the workbook to ~/Documents/xlatsm and point it at this Python")
    inst.add_argument("--target", help="folder for the workbook (default ~/Documents/xlatsm)")
    inst.add_argument("--home", help=argparse.SUPPRESS)
    inst.set_defaults(func=cmd_install)
    uninst = sub.add_parser("uninstall", help="remove what 'xlatsm install' wrote (your changes are kept)")
    uninst.add_argument("--home", help=argparse.SUPPRESS)
    uninst.set_defaults(func=cmd_uninstall)

    lg = sub.add_parser("lgssm", help="fit a linear Gaussian state-space model by exact EM to a CSV/XLSX file")
    lg.add_argument("file", help="CSV or XLSX: dates down the first column, series across, blanks = missing")
    lg.add_argument("--out", default="xlatsm-lgssm", help="output folder (default ./xlatsm-lgssm)")
    input_options(lg, columns="series")
    lgssm_options(lg)
    lg.set_defaults(func=cmd_lgssm)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:     # --help, --version, or a usage error already said in one line
        return int(exc.code or 0)
    try:
        return args.func(args)
    except XlatsmError as exc:
        print(f"xlatsm: {as_command_line(' '.join(str(exc).split()))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xlatsm: interrupted; nothing more was written", file=sys.stderr)
        return 130
    except OSError as exc:   # a disk full, a file open in Excel (Windows locks it), a permission
        print(f"xlatsm: cannot write or read {exc.filename or 'a file'}: {exc.strerror or exc}; close it in other "
              "programs or choose another --out", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        print(f"xlatsm: could not finish ({type(exc).__name__}: {' '.join(str(exc).split())}); check the input "
              "and options, and if they look right please report this with the data", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
