"""JSZ, AFNS, ACM and DNS on one panel: pricing errors by maturity and the 10-year term premia side by side.

    python benchmarks/model_comparison.py [--start 1971-08] [--end 2022-12] [--variants]

Built on :func:`xlatsm.report.comparison.compare_models` (what ``xlatsm compare`` and the report's comparison section
print), on two panels:

1. Liu-Wu (2021) monthly zero curve, 3M 6M 1Y 2Y 3Y 5Y 7Y 10Y, percent (``../shared/data``), 1971-08..2022-12 by
   default; the NY Fed's published ACM 10-year term premium (``../shared/reference``, the ACM model on the GSW
   curve) is added to the correlation table when present.
2. The embedded sample (GSW 1Y-12Y, 1985-11..2012-04): no short end, so every model's short rate is extrapolated.

Every model gets the same cells. Prints, per panel, Markdown tables of RMSE pricing errors (bp) per maturity and the
correlations of the 10-year term premia (levels above the diagonal, monthly changes below; DNS has none: it is not
arbitrage-free), the term premia's mean/std/last and the fit times. The numbers printed are checked: each row of
the error table against its fit's own ``pricing_errors``, each correlation against a direct pandas computation.
``--variants`` adds AFNS correlated, ACM with 3 factors and DNS one-step.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import xlatsm
from xlatsm.report.comparison import compare_models

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lw_monthly_1961_2022.csv"
NYFED = DATA.parents[1] / "reference" / "ACMTermPremium_replicated_monthly_1m_120m.csv.gz"
COLUMNS = ["m003", "m006", "m012", "m024", "m036", "m060", "m084", "m120"]
VARIANTS = {
    "JSZ": {"method": "jsz"},
    "AFNS": {"method": "afns"},
    "AFNS corr.": {"method": "afns", "afns_version": "correlated"},
    "ACM": {"method": "acm"},
    "ACM (K=3)": {"method": "acm", "n_factors": 3},
    "DNS": {"method": "dns"},
    "DNS one-step": {"method": "dns", "dns_method": "one_step"},
}


def markdown(frame: pd.DataFrame, fmt: str = "{:.2f}") -> str:
    """A DataFrame as a Markdown table (no optional dependency)."""
    head = "| | " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|---|" + "---:|" * len(frame.columns)
    rows = ["| " + str(i) + " | " + " | ".join(fmt.format(v) if np.isfinite(v) else "" for v in row) + " |"
            for i, row in zip(frame.index, frame.to_numpy(float))]
    return "\n".join([head, rule] + rows)


def check(cmp) -> None:
    """The table's numbers are the fits' own and pandas' correlations (a wrong number stops the benchmark)."""
    for label, fit in cmp.fits.items():
        np.testing.assert_allclose(cmp.pricing_errors.loc[label].to_numpy(), fit.pricing_errors.to_numpy(),
                                   rtol=1e-12)
    premia = pd.DataFrame({label: fit.term_premium_at(cmp.headline) for label, fit in cmp.fits.items()
                           if label not in cmp.no_term_premium})
    np.testing.assert_allclose(cmp.correlations.to_numpy(), premia.corr().to_numpy(), atol=1e-12)
    np.testing.assert_allclose(cmp.change_correlations.to_numpy(), premia.diff().corr().to_numpy(), atol=1e-12)


def show(cmp, title: str, published: pd.Series | None = None) -> None:
    check(cmp)
    print(f"\n## {title}\n\n{cmp.describe_panel()}\n")
    errors = cmp.errors_table
    errors["seconds"] = cmp.seconds
    print("Pricing errors, RMSE in bp (fit time in seconds)\n")
    print(markdown(errors))
    tp = cmp.term_premia.copy()
    if published is not None:
        tp["NY Fed ACMTP10"] = published.reindex(tp.index.to_period("M")).to_numpy()
    print(f"\n{cmp.headline} term premium: correlations (levels above the diagonal, monthly changes below)\n")
    levels, changes = tp.corr(), tp.diff().corr()
    table = levels.copy()
    for i in range(len(table)):
        for j in range(i):
            table.iloc[i, j] = changes.iloc[i, j]
    print(markdown(table, "{:.3f}"))
    print(f"\n{cmp.headline} term premium ({cmp.units}): mean, std, last\n")
    stats = pd.DataFrame({"mean": tp.mean(), "std": tp.std(), f"{tp.index[-1]:%Y-%m}": tp.iloc[-1]})
    print(markdown(stats, "{:.3f}"))
    print()
    for label, why in cmp.no_term_premium.items():
        print(f"{label}: no term premium (not arbitrage-free)")
    for note in cmp.notes:
        print(f"note: {note}")
    for label, fit in cmp.fits.items():
        for flag in getattr(fit, "flags", []):
            print(f"flag {label}: {flag}")


def main(start: str = "1971-08", end: str = "2022-12", variants: bool = False) -> None:
    methods = VARIANTS if variants else ("jsz", "afns", "acm", "dns")
    if DATA.exists():
        lw = pd.read_csv(DATA, index_col=0, parse_dates=True).loc[start:end, COLUMNS]
        published = None
        if NYFED.exists():        # the published ACM 10-year term premium (NY Fed's model on the GSW curve)
            published = pd.read_csv(NYFED, index_col=0, parse_dates=True)["ACMTP10"]
            published.index = published.index.to_period("M")
        show(compare_models(lw, methods), f"Liu-Wu {start}..{end}, 3M-10Y", published)
    else:
        print(f"model_comparison: {DATA} not found (the shared data beside this checkout); Liu-Wu skipped",
              file=sys.stderr)
    show(compare_models(xlatsm.load_sample().iloc[:, :8], methods), "Embedded sample: GSW 1Y-12Y")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="1971-08")
    parser.add_argument("--end", default="2022-12")
    parser.add_argument("--variants", action="store_true", help="add AFNS correlated, ACM K=3, DNS one-step")
    args = parser.parse_args()
    main(args.start, args.end, args.variants)
