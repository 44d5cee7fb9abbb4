"""Fit term structure and state-space models to yield curves: xlatsm demo | atsm | lgssm | report | compare | rolling | install.

The CLI is a thin shell over the core: read the input, fit with a progress bar, print the summary, write CSVs,
PNG charts and a report into an output folder it names. Everything it prints speaks its own language: advice
from the core (``max_iter=1000``) is restated as options (``--max-iter 1000``) by :func:`as_command_line`.
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


class Progress:
    """Feed the core's ``progress(iteration, loglik)`` callback to the terminal or a log; ``finish(n_iter, loglik)``
    with the result's own count ends it where the fit ended.

    On a terminal: one tqdm bar, redrawn once per update, that ends where the fit ends (its total becomes the
    fit's iteration count, so a fit that converges early finishes at 100%, not at 7% of ``--max-iter``) and stays
    on screen. In a file or pipe (a log): one plain line per update, at most one a second, and a last line
    saying where the fit ended; no carriage returns, no line written twice.
    """

    def __init__(self, total: int, desc: str, stream=None, interval: float = 1.0):
        import time

        self._time = time.monotonic
        self.total, self.desc, self.interval = total, desc, interval
        self.stream = stream or sys.stderr
        self.n, self.loglik, self._last_t, self._last_line = 0, float("nan"), -1e18, ""
        self.bar = None
        if _is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="it", leave=True, file=self.stream, dynamic_ncols=True)

    def __call__(self, iteration: int, loglik: float) -> None:
        self.n, self.loglik = iteration, loglik
        if self.bar is not None:
            self.bar.n = iteration
            self.bar.set_postfix_str(f"loglik {loglik:.3f}", refresh=False)
            self.bar.refresh()
            return
        now = self._time()
        if now - self._last_t >= self.interval:
            self._last_t = now
            self._write(f"{self.desc}: iteration {iteration}, loglik {loglik:.3f}")

    def finish(self, n_iter: int | None = None, loglik: float | None = None, how: str | None = None) -> None:
        """End where the fit ended; ``how`` says how a fit without iterations ended (e.g. regressions)."""
        if how is not None:
            if self.bar is not None:
                self.bar.total, self.bar.n = 1, 1
                self.bar.set_postfix_str(f"done: {how}", refresh=False)
                self.bar.refresh()
            else:
                self._write(f"{self.desc}: done ({how})")
            return
        n = self.n if n_iter is None else int(n_iter)
        ll = self.loglik if loglik is None else float(loglik)
        if self.bar is not None:
            self.bar.total = max(n, 1)
            self.bar.n = n
            self.bar.set_postfix_str(f"loglik {ll:.3f}, done", refresh=False)
            self.bar.refresh()
        else:
            self._write(f"{self.desc}: done after {n} iterations, loglik {ll:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _write(self, line: str) -> None:
        if line != self._last_line:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_line = line


@contextmanager
def progress_bar(total: int, desc: str, stream=None):
    """A :class:`Progress` that is closed whatever happens (Ctrl-C leaves no half-drawn bar behind)."""
    progress = Progress(total, desc, stream)
    try:
        yield progress
    finally:
        progress.close()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def say(message: str, stream=None) -> None:
    """A warning or note from the core, printed in the command line's spelling."""
    print(as_command_line(message), file=stream or sys.stderr)


def _write_frame(frame: pd.DataFrame, path: Path, written: list[Path]) -> None:
    frame.to_csv(path)
    written.append(path)


def _write_summary(text: str, out: Path, written: list[Path]) -> None:
    (out / "summary.txt").write_text(as_command_line(text) + "\n", encoding="utf-8")
    written.append(out / "summary.txt")


def _write_standard_errors(result, out: Path, written: list[Path], file_name=lambda name: f"param_{name}") -> None:
    """``<block>_se.csv`` for every parameter block whose fit has standard errors (computed once and cached by the
    summary); nothing for models without them (afns, dns), a refused fit (its summary says why) or an LGSSM too
    large for its summary to compute them."""
    from .errors import XlatsmError
    from .ssm.results import SUMMARY_SE_LIMIT, LGSSMResult

    if isinstance(result, LGSSMResult) and result.n_params > SUMMARY_SE_LIMIT:
        return
    try:
        blocks = result.standard_errors
    except XlatsmError:
        return
    if not blocks or all(frame.isna().all().all() for frame in blocks.values()):
        return
    for name, frame in blocks.items():
        _write_frame(frame, out / f"{file_name(name)}_se.csv", written)


def _forecast(result, args):
    """The fit's forecast when --forecast H was given (None otherwise), its summary printed."""
    if getattr(args, "forecast", None) is None:
        return None
    from .forecast import forecast

    fc = forecast(getattr(result, "_result", result), args.forecast, level=args.forecast_level,
                  parameter_uncertainty=bool(getattr(args, "forecast_parameters", False)))
    print("\n" + as_command_line(fc.summary()))
    return fc


def _write_forecast(fc, out: Path, written: list[Path]) -> list[tuple[Path, str]]:
    """forecast_*.csv, forecast.png and forecast_summary.txt; returns the chart for the report."""
    from .forecast import write_forecast_outputs

    if fc is None:
        return []
    paths = [Path(p) for p in write_forecast_outputs(fc, out)]
    written += paths
    return [(p, "forecast") for p in paths if p.suffix == ".png"]


@contextmanager
def count_progress(total: int, desc: str, stream=None, interval: float = 1.0):
    """Progress over ``total`` repetitions (bootstrap refits): a tqdm bar on a terminal, at most one line a second
    in a log. Yields ``update(done, total)``, the callable the inference layer takes as ``progress``."""
    import time

    stream = stream or sys.stderr
    bar = None
    if _is_terminal(stream):
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit="refit", leave=True, file=stream, dynamic_ncols=True)
    last = [-1e18, 0]

    def update(done: int, n: int) -> None:
        last[1] = done
        if bar is not None:
            bar.total, bar.n = n, done
            bar.refresh()
        elif time.monotonic() - last[0] >= interval or done == n:
            last[0] = time.monotonic()
            stream.write(f"{desc}: {done}/{n}\n")
            stream.flush()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def _bands(result, args, headline: str):
    """``(term-premium bands, expected short-rate bands, why not)`` by --bands (delta, bootstrap or none); for a
    model without them (afns, dns; the bootstrap for acm and continuous time) the reason, said once on stderr."""
    method = getattr(args, "bands", "none") or "none"
    if method == "none":
        return None, None, ""
    options = dict(method=method, robust=args.robust, n_boot=args.n_boot, seed=args.seed)
    try:
        with count_progress(args.n_boot, "bootstrap refits") as update:
            if method == "bootstrap":
                options["progress"] = update
            tp = result.term_premium_bands(args.band_level, headline, **options)
            short = result.expected_short_rate_bands(120, args.band_level, **options)
    except XlatsmError as exc:
        say(f"note: no bands: {exc}")
        return None, None, str(exc)
    return tp, short, ""


def write_lgssm_outputs(result, out: Path, units: str = "data's units", report: bool = True,
                        pdf: bool = False, forecast=None) -> list[Path]:
    """CSV files of every parameter block, the smoothed factors (model units and as yields/spreads), fit and RMSE,
    the summary, charts (smoothed_factors.png, rmse.png, fitted_curve.png when the series are maturities) and the
    report (report.html; report.pdf with ``pdf``)."""
    from .report.factors import analyst_factors
    from .report.html import add_forecast_section, lgssm_charts, lgssm_document

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # file names differing only in case (C.csv, c.csv) would overwrite each other on Windows and macOS
    file_names = {"d": "d_state_intercept", "c": "c_obs_intercept"}
    for name, block in result.parameter_blocks().items():
        _write_frame(block, out / f"{file_names.get(name, name)}.csv", written)
    _write_frame(result.factors.join(result.factor_std_errors.add_suffix("_se")), out / "smoothed_factors.csv",
                 written)
    af = analyst_factors(result)
    af.labels = {k: v.replace("(data's units)", f"({units})") for k, v in af.labels.items()}
    _write_frame(af.frame(), out / "factors_as_yields.csv", written)
    _write_frame(result.fitted, out / "fitted.csv", written)
    _write_frame(result.rmse.to_frame(f"RMSE ({units})"), out / "rmse.csv", written)
    _write_frame(pd.DataFrame({"loglik": result.loglik_path}), out / "loglik_path.csv", written)
    _write_summary(result.summary(), out, written)
    _write_standard_errors(result, out, written, lambda name: file_names.get(name, name))
    charts = lgssm_charts(result, out, units, af)
    written += [png for png, _ in charts]
    forecast_chart = _write_forecast(forecast, out, written)
    if report:
        doc = lgssm_document(result, "State-space model report", units, charts=charts)
        if forecast is not None:
            add_forecast_section(doc, forecast, forecast_chart)
        doc = _speak(doc)
        written.append(doc.write_html(out / "report.html"))
        if pdf:
            written.append(doc.write_pdf(out / "report.pdf"))
    return written


def write_atsm_outputs(result, out: Path, headline: str = "10Y", report: bool = True,
                       title: str = "Term structure model report", pdf: bool = False, forecast=None,
                       bands: tuple | None = None) -> list[Path]:
    """CSV files of every parameter block, factors (model units and as yields/spreads), fitted yields, pricing
    errors, term premia and loadings; the summary; charts of the factors, the fitted curve, the pricing errors
    and the headline term premium; the report (report.html; report.pdf with ``pdf``). Outputs at maturities outside the
    fitted range carry the extrapolation mark in their column or row name. A model without term premia (dns) gets
    no term_premium.csv and no term-premium chart; its summary and report say why. ``bands`` (from :func:`_bands`:
    term-premium bands, expected short-rate bands, why none) adds term_premium_bands_<10Y>.csv,
    expected_short_rate_bands.csv, their charts and an Uncertainty section in the report."""
    from . import extrapolation
    from .report.factors import analyst_factors
    from .report.html import (add_bands_section, add_forecast_section, atsm_charts, atsm_document,
                              has_term_premium, headline_term_premium)

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, block in result.parameter_blocks().items():
        _write_frame(block, out / f"param_{name}.csv", written)
    _write_frame(result.factors.join(result.factor_std_errors.add_suffix("_se")), out / "factors.csv", written)
    af = analyst_factors(result)
    _write_frame(af.frame(), out / "factors_as_yields.csv", written)
    _write_frame(result.fitted_yields, out / "fitted_yields.csv", written)
    _write_frame(result.pricing_errors.to_frame(), out / "pricing_errors_bp.csv", written)
    shown = list(result.panel.labels)
    if has_term_premium(result):       # not for dns: it is not arbitrage-free (the summary says so)
        tp = result.term_premium
        head, where = headline_term_premium(result, headline)
        _write_frame(tp.join(head) if where.label not in tp.columns else tp, out / "term_premium.csv", written)
        shown.append(where.label)
    loadings = extrapolation.marked_loadings(result, shown)
    _write_frame(loadings, out / "loadings.csv", written)
    _write_summary(result.summary(), out, written)
    _write_standard_errors(result, out, written)
    charts = atsm_charts(result, out, headline, af)
    written += [png for png, _ in charts]
    forecast_chart = _write_forecast(forecast, out, written)
    tp_bands, short_bands, no_bands = bands or (None, None, "")
    band_charts = []
    if tp_bands is not None:
        from .report.charts import plot_bands

        years = float(extrapolation.to_years(headline)[0])
        marked = tp_bands.add_suffix(f" ({where.mark})") if where.extrapolated else tp_bands
        _write_frame(marked, out / f"term_premium_bands_{where.label}.csv", written)
        _write_frame(short_bands, out / "expected_short_rate_bands.csv", written)
        band_title = f"{where.label} term premium ({where.mark})" if where.extrapolated else None
        band_charts = [(plot_bands(tp_bands, out / f"term_premium_{years:g}y_bands.png", band_title,
                                   dashed=where.extrapolated), "term premium bands"),
                       (plot_bands(short_bands, out / "expected_short_rate_bands.png"), "expected short rate bands")]
        written += [png for png, _ in band_charts]
    if report:
        doc = atsm_document(result, title, headline, charts=charts)
        if tp_bands is not None or no_bands:
            add_bands_section(doc, tp_bands, short_bands, band_charts, no_bands)
        if forecast is not None:
            add_forecast_section(doc, forecast, forecast_chart)
        doc = _speak(doc)
        written.append(doc.write_html(out / "report.html"))
        if pdf:
            written.append(doc.write_pdf(out / "report.pdf"))
    return written


class _Once:
    """A fitted result whose ``summary()`` and ``parameter_blocks()`` are computed once: the CLI prints, writes
    and reports them, and each costs matrix logarithms."""

    def __init__(self, result):
        self._result, self._cache = result, {}

    def __getattr__(self, name):
        return getattr(self._result, name)

    def _once(self, name):
        if name not in self._cache:
            self._cache[name] = getattr(self._result, name)()
        return self._cache[name]

    def summary(self) -> str:
        return self._once("summary")

    def parameter_blocks(self) -> dict:
        return dict(self._once("parameter_blocks"))


def _print_caught(caught) -> None:
    for w in caught:
        say(f"warning: {w.message}")


def _fit_atsm(data, args, label: str):
    from .atsm.methods import fit_atsm

    max_iter = args.max_iter or 500
    with progress_bar(max_iter, f"ATSM {args.method} {label}") as update, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = fit_atsm(data, n_factors=args.n_factors, method=args.method, max_iter=max_iter,
                          measurement_error=args.measurement_error, progress=update,
                          yield_units=getattr(args, "yield_units", "auto"),
                          maturity_units=getattr(args, "maturity_units", "auto"),
                          time=getattr(args, "time", "discrete"), **_model_options(args))
        if getattr(result, "loglik", None) is None:     # acm, dns two-step: least squares, nothing iterated
            update.finish(how="least-squares regressions, no iterations")
        else:
            update.finish(result.n_iter, result.loglik)
    _print_caught(caught)
    return _Once(result)


def _model_options(args) -> dict:
    """The options of the afns and dns models, from --afns-version, --dns-method and --dns-lambda."""
    options = {"afns_version": getattr(args, "afns_version", "independent"),
               "dns_method": getattr(args, "dns_method", "two-step").replace("-", "_")}
    if getattr(args, "dns_lambda", None) is not None:
        options["dns_lambda"] = args.dns_lambda
    return options


def _whole_periods(text: str) -> int:
    """--forecast H: a whole number of periods >= 1, checked before any fitting."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of periods >= 1, e.g. 12") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of periods >= 1, e.g. 12")
    return value


def _probability(text: str) -> float:
    """--forecast-level P: strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a probability strictly between 0 and 1, e.g. 0.9")
    return value


def _dns_lambda(text: str):
    """--dns-lambda: a decay per month of maturity (Diebold-Li's 0.0609) or 'profile'."""
    if text.strip().lower() == "profile":
        return "profile"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number (per month of maturity, e.g. 0.0609) nor "
                                         "'profile'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the decay must be positive")
    return value


def _fit_lgssm(data, args, label: str):
    from .ssm import fit_lgssm

    max_iter = args.max_iter or 5000
    with progress_bar(max_iter, f"EM {label}") as update, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = fit_lgssm(data, args.n_factors or 3, lags=args.lags, measurement_error=args.lgssm_measurement_error,
                           max_iter=max_iter, tol=args.tol, progress=update)
        update.finish(result.n_iter, result.loglik)
    _print_caught(caught)
    return _Once(result)


def _headline(result, headline: str = "10Y") -> str:
    """The headline term premium line, with the extrapolation mark when the maturity was not fitted; for a model
    without term premia (dns) the line says so and why."""
    from .report.html import headline_term_premium, no_term_premium_reason

    why = no_term_premium_reason(result)
    if why:
        return as_command_line(f"Term premium: not defined; {why}")
    tp, where = headline_term_premium(result, headline)
    line = f"Term premium {where.text}: mean {tp.mean():.2f}, last {tp.iloc[-1]:.2f} ({result.units})"
    if where.extrapolated:
        say(f"warning: the {where.label} term premium is extrapolated: the model was fitted to {where.fitted}")
    return line


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


#: the demo's ATSM panel: GSW 1Y-12Y, so the headline 10-year maturity lies inside the fitted range
DEMO_ATSM_COLUMNS = 8
DEMO_HEADLINE = "10Y"


def _check_headline(args) -> None:
    """A --headline that is not a maturity is said before any fitting."""
    from .extrapolation import to_years

    if getattr(args, "headline", None) is not None:
        try:
            to_years(args.headline)
        except XlatsmError as exc:
            raise XlatsmError(f"--headline {args.headline}: {exc}") from None


def _speak(doc):
    """A report written by the command line gives its advice in option spelling, like everything it prints."""
    from .diagnostics import Flag

    for section in doc.sections:
        if section.kind == "flags":
            section.content = [Flag(f.code, as_command_line(f.message)) for f in section.content]
        elif section.kind in ("pre", "p"):
            section.content = as_command_line(section.content)
    return doc


def cmd_demo(args) -> int:
    from .data import SAMPLE_SOURCE, load_sample

    sample = load_sample()
    out = check_output(Path(args.out), "dir")
    _check_headline(args)
    print(f"xlatsm {__version__} demo on the embedded sample: {SAMPLE_SOURCE}")
    print(f"{sample.shape[0]} months x {sample.shape[1]} maturities; results go to {out.resolve()}\n")
    # 1. the arbitrage-free model of the 1-12 year curve: it covers the 10-year maturity it headlines (the sample
    #    has no 10y column, so the model interpolates between 9 and 12 years; it has no short end either, which
    #    the report notes)
    curve = sample.iloc[:, :DEMO_ATSM_COLUMNS]
    atsm = _fit_atsm(curve, args, "on GSW 1Y-12Y")
    print(as_command_line(atsm.summary()))
    print("\n" + _headline(atsm, args.headline))
    from .extrapolation import short_rate_note

    print(f"note: {short_rate_note(atsm)}")
    written = write_atsm_outputs(atsm, out / "atsm", args.headline, pdf=True,
                                 title="Term structure model report: GSW US Treasury curve, 1-12 years")
    _print_written(written, out / "atsm")
    # 2. a statistical dynamic factor model of the whole 1-30 year curve by exact EM
    lgssm = _fit_lgssm(sample, args, "dynamic factor model of GSW 1Y-30Y")
    print(as_command_line(lgssm.summary()))
    written = write_lgssm_outputs(lgssm, out / "lgssm", units="percent", pdf=True)
    _print_written(written, out / "lgssm")
    return 0


def _print_written(written: list[Path], folder: Path) -> None:
    kinds = {}
    for path in written:
        kinds.setdefault(path.suffix.lstrip(".").upper() or "other", []).append(path.name)
    details = "; ".join(f"{len(v)} {k}" + (f" ({', '.join(v)})" if k != "CSV" else "") for k, v in kinds.items())
    print(f"\nwrote {len(written)} files to {folder.resolve()}: {details}\n")


def cmd_atsm(args) -> int:
    from .data import read_panel

    out = check_output(Path(args.out), "dir")
    _check_headline(args)
    obs = _read_input(args)
    read_panel(obs, yield_units=args.yield_units, maturity_units=args.maturity_units)   # input errors before the bar
    result = _fit_atsm(obs, args, Path(args.file).name)
    print(as_command_line(result.summary()))
    print("\n" + _headline(result, args.headline))
    fc = _forecast(result, args)
    bands = _bands(result, args, args.headline)
    written = write_atsm_outputs(result, out, args.headline, report=not args.no_report, pdf=args.pdf,
                                 title=f"Term structure model report: {Path(args.file).name}", forecast=fc,
                                 bands=bands)
    _print_written(written, out)
    return 0


def cmd_lgssm(args) -> int:
    out = check_output(Path(args.out), "dir")
    obs = _read_input(args)
    result = _fit_lgssm(obs, args, Path(args.file).name)
    print(as_command_line(result.summary()))
    fc = _forecast(result, args)
    written = write_lgssm_outputs(result, out, report=not args.no_report, pdf=args.pdf, forecast=fc)
    _print_written(written, out)
    return 0


def cmd_report(args) -> int:
    from .data import load_sample

    out = check_output(Path(args.out), "file")
    if out.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise XlatsmError(f"--out {out} should end in .html or .pdf (the report's format)")
    _check_headline(args)
    if args.file:
        data = _read_input(args)
        name = Path(args.file).name
    elif args.model == "atsm":
        data, name = load_sample().iloc[:, :DEMO_ATSM_COLUMNS], "GSW US Treasury curve, 1-12 years (embedded sample)"
    else:
        data, name = load_sample(), "GSW US Treasury curve, 1-30 years (embedded sample)"
    from .report.html import build_document

    if args.compare and args.model != "atsm":
        raise XlatsmError("--compare compares term structure models: use it with --model atsm")
    if args.model == "atsm":
        result = _fit_atsm(data, args, "for the report")
        _headline(result, args.headline)
        comparison = _compare(data, args) if args.compare else None
        tp_bands, short_bands, no_bands = _bands(result, args, args.headline)
        doc = build_document(result, f"Term structure model report: {name}", headline=args.headline,
                             comparison=comparison)
        if tp_bands is not None or no_bands:
            from .report.html import add_bands_section

            add_bands_section(doc, tp_bands, short_bands, why_not=no_bands)
    else:
        result = _fit_lgssm(data, args, "for the report")
        doc = build_document(result, f"State-space model report: {name}",
                             units="percent" if not args.file else "data's units")
    doc = _speak(doc)
    if out.suffix.lower() == ".pdf":
        paths = [doc.write_pdf(out)]
    else:
        paths = [doc.write_html(out)] + ([doc.write_pdf(out.with_suffix(".pdf"))] if args.pdf else [])
    for path in paths:
        print(f"wrote {path.resolve()}")
    return 0


@contextmanager
def step_progress(total: int, desc: str, stream=None):
    """Progress over a few long steps (one per model): a tqdm bar on a terminal, one line per step in a log.
    Yields ``update(label, i, n)``, called before step ``i`` of ``n``."""
    stream = stream or sys.stderr
    bar = None
    if _is_terminal(stream):
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit="model", leave=True, file=stream, dynamic_ncols=True)

    def update(label: str, i: int, n: int) -> None:
        if bar is not None:
            bar.n = i
            bar.set_postfix_str(f"fitting {label}", refresh=False)
            bar.refresh()
        else:
            stream.write(f"{desc}: fitting {label} ({i + 1}/{n})\n")
            stream.flush()

    try:
        yield update
        if bar is not None:
            bar.n = total
            bar.set_postfix_str("done", refresh=False)
            bar.refresh()
        else:
            stream.write(f"{desc}: done, {total} models fitted\n")
            stream.flush()
    finally:
        if bar is not None:
            bar.close()


def _compare(data, args, desc: str = "compare"):
    """:func:`xlatsm.report.comparison.compare_models` with the command line's options, progress and warnings."""
    from .report.comparison import DEFAULT_METHODS, MODEL_LABELS, compare_models

    names = [m.strip().lower() for m in (getattr(args, "methods", None) or ",".join(DEFAULT_METHODS)).split(",")
             if m.strip()]
    unknown = [m for m in names if m not in MODEL_LABELS]
    if unknown:
        raise XlatsmError(f"--methods: unknown {', '.join(unknown)}; choose from auto, jsz, kalman, em, acm, afns, "
                          "dns")
    options = _model_options(args)
    specs = {}
    for name in names:
        spec = {"method": name}
        if name == "afns":
            spec["afns_version"] = options["afns_version"]
        elif name == "dns":
            spec.update({k: v for k, v in options.items() if k.startswith("dns_")})
        elif name in ("jsz", "kalman", "em"):
            spec["max_iter"] = args.max_iter or 500
        specs.setdefault(MODEL_LABELS[name], spec)
    with step_progress(len(specs), desc) as update, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        comparison = compare_models(data, specs, args.headline, yield_units=getattr(args, "yield_units", "auto"),
                                    maturity_units=getattr(args, "maturity_units", "auto"), progress=update)
    _print_caught(caught)
    return comparison


def write_comparison_outputs(comparison, out: Path, report: bool = True, title: str = "Model comparison",
                             pdf: bool = False) -> list[Path]:
    """comparison.txt (the table), pricing_errors_bp.csv (models x maturities, with the mean), the headline term
    premia (term_premium_10Y.csv, dates x models), their correlations (levels and changes) and statistics, the
    charts errors_by_maturity.png and term_premia_10y.png, and the report (report.html; report.pdf with ``pdf``)."""
    from .report.charts_compare import comparison_charts
    from .report.comparison import comparison_document

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    (out / "comparison.txt").write_text(as_command_line(comparison.table()) + "\n", encoding="utf-8")
    written.append(out / "comparison.txt")
    _write_frame(comparison.errors_table, out / "pricing_errors_bp.csv", written)
    if comparison.term_premia.shape[1]:
        head = comparison.headline
        unit = f" ({comparison.units})"        # the premia and their statistics in the yields' units
        _write_frame(comparison.term_premia.add_suffix(unit), out / f"term_premium_{head}.csv", written)
        _write_frame(comparison.correlations, out / f"term_premium_{head}_correlations.csv", written)
        _write_frame(comparison.change_correlations, out / f"term_premium_{head}_change_correlations.csv", written)
        _write_frame(comparison.term_premium_stats.add_suffix(unit), out / f"term_premium_{head}_stats.csv", written)
    charts = comparison_charts(comparison, out)
    written += [png for png, _ in charts]
    if report:
        doc = _speak(comparison_document(comparison, title, charts))
        written.append(doc.write_html(out / "report.html"))
        if pdf:
            written.append(doc.write_pdf(out / "report.pdf"))
    return written


def cmd_compare(args) -> int:
    from .data import load_sample, read_panel

    out = check_output(Path(args.out), "dir")
    _check_headline(args)
    if args.file:
        data, name = _read_input(args), Path(args.file).name
        read_panel(data, yield_units=args.yield_units, maturity_units=args.maturity_units)   # input errors first
    else:
        data, name = load_sample().iloc[:, :DEMO_ATSM_COLUMNS], "GSW US Treasury curve, 1-12 years (embedded sample)"
    comparison = _compare(data, args)
    print(as_command_line(comparison.table()))
    written = write_comparison_outputs(comparison, out, report=not args.no_report, pdf=args.pdf,
                                       title=f"Model comparison: {name}")
    _print_written(written, out)
    return 0


def cmd_rolling(args) -> int:
    """xlatsm rolling (:func:`xlatsm.rolling_cli.run_rolling`), what it prints restated in the command line's
    spelling like every other command (its progress goes to stderr as it runs; the summary comes at the end)."""
    import io
    from contextlib import redirect_stdout

    from .rolling_cli import run_rolling

    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            code = run_rolling(args)
    finally:
        if printed.getvalue():
            sys.stdout.write(as_command_line(printed.getvalue()))
    return code


def cmd_install(args) -> int:
    from .install import install

    done = install(home=Path(args.home) if args.home else None, target=Path(args.target) if args.target else None,
                   trusted_location=False if args.no_trusted_location else None)
    print(f"workbook: {done['workbook']}")
    print(f"xlwings settings: {done['conf']} (interpreter {done['interpreter']})")
    for note in done["notes"]:
        print(as_command_line(f"note: {note}"))
    print("Open the workbook and press Refit on the xlatsm tab (enable macros if Excel asks).")
    return 0


def cmd_uninstall(args) -> int:
    from .install import uninstall

    for line in uninstall(home=Path(args.home) if args.home else None):
        print(line)
    return 0


#: Python argument -> command-line option (and how a value is restated)
_OPTIONS = {"yield_units": "yield-units", "maturity_units": "maturity-units", "n_factors": "n-factors",
            "k_states": "n-factors", "method": "method", "max_iter": "max-iter", "measurement_error":
            "measurement-error", "lags": "lags", "tol": "tol", "sheet": "sheet", "skip_rows": "skip-rows",
            "time": "time"}
_OPTION = re.compile(r"\b(" + "|".join(_OPTIONS) + r"|diagonal_R)\s*=\s*(?:'([^']*)'|\"([^\"]*)\"|([\w.+-]+))")
#: Python attributes named in advice -> the files the command line writes
_PYTHON_NAMES = {"result.rmse": "rmse.csv", "result.pricing_errors": "pricing_errors_bp.csv"}
#: estimators named as Python functions -> the --method that runs them
_METHOD_OF = re.compile(r"\bmethod '(\w+)' of fit_atsm\b")
_FIT_FUNCTION = re.compile(r"\bfit_(afns|acm|atsm)\b")
_BARE = re.compile(r"\b(yield_units|maturity_units|n_factors|k_states|max_iter|measurement_error|skip_rows|"
                   r"diagonal_R)\b")


def as_command_line(message: str) -> str:
    """The core's advice in the command line's spelling: ``yield_units='bp'`` -> ``--yield-units bp``,
    ``k_states=3`` -> ``--n-factors 3``, ``diagonal_R=False`` -> ``--measurement-error full``, a bare
    ``max_iter`` -> ``--max-iter``, ``fit_afns`` -> ``--method afns``, ``time='continuous'`` -> ``--time
    continuous``. Errors, warnings, notes, flags and summaries printed by the CLI go through it."""
    def option(m):
        value = next(v for v in m.groups()[1:] if v is not None)
        if m.group(1) == "diagonal_R":
            return "--measurement-error " + ("diagonal" if value == "True" else "full")
        return f"--{_OPTIONS[m.group(1)]} {value}"

    message = _OPTION.sub(option, message)
    message = _METHOD_OF.sub(r"--method \1", message)
    message = _FIT_FUNCTION.sub(lambda m: "--method " + ("jsz" if m.group(1) == "atsm" else m.group(1)), message)
    for python, files in _PYTHON_NAMES.items():
        message = message.replace(python, files)
    return _BARE.sub(lambda m: "--" + (_OPTIONS.get(m.group(1)) or "measurement-error"), message)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors said in one ``xlatsm: ...`` line like every other failure."""

    def error(self, message):
        self.exit(2, f"xlatsm: {message} (see '{self.prog} --help')\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=100)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xlatsm", description=__doc__.splitlines()[0], formatter_class=_Help,
                     epilog="Run 'xlatsm COMMAND --help' for a command's options. Every failure is one line "
                            "starting 'xlatsm:' (exit code 2; 130 after Ctrl-C).")
    parser.add_argument("--version", action="version", version=f"xlatsm {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND",
                                title="commands")

    def factors_option(p, default=3):
        p.add_argument("--n-factors", "--k", "--k-states", dest="n_factors", type=int, default=default,
                       metavar="N", help="number of factors (default " + ("3; 5 for acm" if default is None else
                                                                         str(default)) + "; --k is the older spelling)")

    def lgssm_options(p):
        p.add_argument("--lags", type=int, default=1, metavar="L", help="VAR lags of the factors (default 1)")
        me = p.add_mutually_exclusive_group()
        me.add_argument("--lgssm-measurement-error" if p.prog.endswith(("demo", "report")) else
                        "--measurement-error", dest="lgssm_measurement_error", default="diagonal",
                        choices=["diagonal", "common", "full"],
                        help="measurement error covariance of the state-space model: diagonal (default), common "
                             "(one variance) or full")
        me.add_argument("--full-R", dest="lgssm_measurement_error", action="store_const", const="full",
                        help="the older spelling of the full measurement error covariance")
        p.add_argument("--tol", type=float, default=1e-9,
                       help="EM stops when an EM step gains less than this per observed cell (default 1e-9)")

    def compare_option(p, flag, help_text):
        p.add_argument(flag, action="store_true", help=help_text)
        p.add_argument("--methods", default="auto,afns,acm,dns", metavar="LIST",
                       help="with --compare: the models compared, comma-separated (default auto,afns,acm,dns; auto "
                            "is JSZ, by the Kalman filter when cells are blank; acm is left out on blanks)")

    def model_options(p):
        p.add_argument("--afns-version", default="independent", choices=["independent", "correlated"],
                       help="afns: independent factors (diagonal K_P and Sigma, default) or correlated ones")
        p.add_argument("--dns-method", default="two-step", choices=["two-step", "one-step"],
                       help="dns: Diebold-Li two-step (least squares per date, then a VAR; default) or "
                            "Diebold-Rudebusch-Aruoba one-step (Kalman maximum likelihood, lambda estimated)")
        p.add_argument("--dns-lambda", type=_dns_lambda, default=None, metavar="L",
                       help="dns two-step: the Nelson-Siegel decay per month of maturity (default 0.0609, "
                            "Diebold-Li) or 'profile' (the value that fits the cross-sections best)")

    def atsm_options(p):
        p.add_argument("--method", default="auto", choices=["auto", "jsz", "kalman", "em", "acm", "afns", "dns"],
                       help="estimator (default auto: jsz on a complete panel, kalman when cells are blank); acm "
                            "(Adrian-Crump-Moench, 5 factors unless --n-factors) and afns (arbitrage-free "
                            "Nelson-Siegel) are other models with term premia; dns (dynamic Nelson-Siegel) has "
                            "no term premium: it is not arbitrage-free")
        model_options(p)
        p.add_argument("--time", default="discrete", choices=["discrete", "continuous"],
                       help="the JSZ model in discrete (per data period, default) or continuous time "
                            "(dX = K(theta - X)dt + Sigma dW; K, theta, Sigma per year); continuous: methods "
                            "auto, jsz, kalman, em")
        p.add_argument("--measurement-error", default="common", choices=["common", "per_maturity"],
                       help="pricing error standard deviation: one for all maturities (common, default) or one "
                            "per maturity")
        p.add_argument("--headline", default="10Y", metavar="TENOR",
                       help="maturity of the headline term premium (default 10Y; marked extrapolated when "
                            "outside the fitted maturities)")

    def iteration_option(p):
        p.add_argument("--max-iter", type=int, default=None, metavar="N",
                       help="iteration cap (default 500 for the ATSM estimators, 5000 for the state-space EM)")

    def input_options(p, columns="maturities"):
        p.add_argument("--sheet", help="XLSX sheet name or number (default: the first sheet holding a table)")
        p.add_argument("--skip-rows", type=int, metavar="N",
                       help="rows above the table's header to skip (default: found)")
        p.add_argument("--maturities", metavar="LIST", help=f"{columns} to fit, comma-separated, e.g. 3M,1Y,10Y "
                       "(default: every column)")
        p.add_argument("--start", metavar="DATE", help="first date to fit, e.g. 1990-01 (default: the first)")
        p.add_argument("--end", metavar="DATE", help="last date to fit (default: the last)")

    def yield_options(p):
        p.add_argument("--yield-units", default="auto", choices=["auto", "percent", "decimal", "bp"],
                       help="units of the yields (default auto, see README 'What xlatsm accepts')")
        p.add_argument("--maturity-units", default="auto", choices=["auto", "months", "years"],
                       help="how numeric maturity headers are meant (default auto: asks when unclear)")

    def band_options(p):
        p.add_argument("--bands", default="delta", choices=["delta", "bootstrap", "none"],
                       help="confidence bands on the headline term premium and the expected short-rate path "
                            "(jsz, kalman, em): delta method (default), parametric bootstrap, or none")
        p.add_argument("--band-level", type=_probability, default=0.9, metavar="P",
                       help="central probability of the bands (default 0.9)")
        p.add_argument("--n-boot", type=_whole_periods, default=199, metavar="N",
                       help="bootstrap refits with --bands bootstrap (default 199)")
        p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap (default 0)")
        p.add_argument("--robust", action="store_true",
                       help="delta method on the sandwich (robust) covariance instead of the inverse information")

    def forecast_options(p):
        p.add_argument("--forecast", type=_whole_periods, default=None, metavar="H",
                       help="also forecast H periods ahead from the last date (yields, factors, short rate and "
                            "term premia with bands; forecast_*.csv, forecast.png, a section in the report)")
        p.add_argument("--forecast-level", type=_probability, default=0.9, metavar="P",
                       help="central probability of the forecast bands (default 0.9)")
        p.add_argument("--forecast-parameters", action="store_true",
                       help="widen the forecast bands by the parameters' estimation error (delta method; jsz, "
                            "kalman, em and the LGSSM)")

    def report_options(p):
        p.add_argument("--pdf", action="store_true", help="also write report.pdf, the report for sending around")
        p.add_argument("--no-report", action="store_true", help="skip report.html (CSV files and charts only)")

    def sub_parser(name, help_text):
        return sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                              formatter_class=_Help)

    demo = sub_parser("demo", "fit the embedded real sample and write results, charts and reports")
    demo.add_argument("--out", default="xlatsm-demo", metavar="DIR",
                      help="output folder (default ./xlatsm-demo; results in its atsm/ and lgssm/ folders)")
    factors_option(demo)
    iteration_option(demo)
    atsm_options(demo)
    lgssm_options(demo)
    demo.set_defaults(func=cmd_demo)

    at = sub_parser("atsm", "fit a Gaussian affine term structure model to a CSV/XLSX of zero yields")
    at.add_argument("file", help="CSV or XLSX: dates down, maturities across (tenors like 3M, 10Y), blanks = missing")
    at.add_argument("--out", default="xlatsm-atsm", metavar="DIR", help="output folder (default ./xlatsm-atsm)")
    input_options(at)
    yield_options(at)
    factors_option(at, default=None)
    iteration_option(at)
    atsm_options(at)
    band_options(at)
    forecast_options(at)
    report_options(at)
    at.set_defaults(func=cmd_atsm)

    lg = sub_parser("lgssm", "fit a linear Gaussian state-space model by exact EM to a CSV/XLSX file")
    lg.add_argument("file", help="CSV or XLSX: dates down the first column, series across, blanks = missing")
    lg.add_argument("--out", default="xlatsm-lgssm", metavar="DIR", help="output folder (default ./xlatsm-lgssm)")
    input_options(lg, columns="series")
    factors_option(lg)
    iteration_option(lg)
    lgssm_options(lg)
    forecast_options(lg)
    report_options(lg)
    lg.set_defaults(func=cmd_lgssm)

    rep = sub_parser("report", "fit a model and write its report as HTML or PDF (default: the embedded sample)")
    rep.add_argument("file", nargs="?", help="CSV or XLSX of zero yields (default: the embedded sample)")
    rep.add_argument("--model", default="atsm", choices=["atsm", "lgssm"],
                     help="the model to fit and report (default atsm)")
    rep.add_argument("--out", default="xlatsm-report.html", metavar="FILE",
                     help="output file, .html or .pdf (default ./xlatsm-report.html)")
    rep.add_argument("--pdf", action="store_true", help="also write a PDF beside the HTML (same name, .pdf)")
    input_options(rep)
    yield_options(rep)
    factors_option(rep, default=None)
    iteration_option(rep)
    atsm_options(rep)
    lgssm_options(rep)
    band_options(rep)
    compare_option(rep, "--compare", "add a section comparing the models on the same panel (see 'xlatsm compare')")
    rep.set_defaults(func=cmd_report)

    cmp = sub_parser("compare", "fit JSZ, AFNS, ACM and DNS to one panel and compare their pricing errors and "
                                "term premia (default: the embedded sample)")
    cmp.add_argument("file", nargs="?", help="CSV or XLSX of zero yields (default: the embedded sample, 1Y-12Y)")
    cmp.add_argument("--out", default="xlatsm-compare", metavar="DIR", help="output folder (default ./xlatsm-compare)")
    input_options(cmp)
    yield_options(cmp)
    cmp.add_argument("--methods", default="auto,afns,acm,dns", metavar="LIST",
                     help="models to compare, comma-separated, from auto, jsz, kalman, em, acm, afns, dns (default "
                          "auto,afns,acm,dns: auto is JSZ, by the Kalman filter when cells are blank; acm is left "
                          "out on blanks)")
    cmp.add_argument("--headline", default="10Y", metavar="TENOR",
                     help="maturity of the term premium compared (default 10Y)")
    model_options(cmp)
    iteration_option(cmp)
    report_options(cmp)
    cmp.set_defaults(func=cmd_compare)

    from .rolling_cli import add_rolling_parser    # xlatsm rolling: its options and body live in rolling_cli

    add_rolling_parser(sub).set_defaults(func=cmd_rolling)

    inst = sub_parser("install", "copy the workbook to ~/Documents/xlatsm and point it at this Python")
    inst.add_argument("--target", metavar="DIR", help="folder for the workbook (default ~/Documents/xlatsm)")
    inst.add_argument("--home", help=argparse.SUPPRESS)
    inst.add_argument("--no-trusted-location", action="store_true",
                      help="Windows: do not add the workbook folder as a per-user Excel Trusted Location")
    inst.set_defaults(func=cmd_install)
    uninst = sub_parser("uninstall", "remove what 'xlatsm install' wrote (your changes are kept)")
    uninst.add_argument("--home", help=argparse.SUPPRESS)
    uninst.set_defaults(func=cmd_uninstall)
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
