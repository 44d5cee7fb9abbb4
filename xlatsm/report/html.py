"""A self-contained HTML report of an ATSM fit: the charts a desk would send around, and the key tables."""
from __future__ import annotations

import base64
import datetime as dt
import html
import tempfile
from pathlib import Path

import pandas as pd

from .charts import plot_bars, plot_curves, plot_factors, plot_lines


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    return frame.to_html(float_format=lambda v: f"{v:.{digits}g}", border=0, classes="t")


def atsm_report(result, path: str | Path, title: str = "Term structure model report") -> Path:
    """Write an HTML file with the factors, fitted curve, pricing errors and 10-year term premium charts, the
    summary, the parameter tables and the pricing errors."""
    path = Path(path)
    units = result.units
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        se = result.factor_std_errors.to_numpy() if result.method != "jsz" else None
        tp10 = result.term_premium_at("10Y")
        charts = [
            plot_factors(result.factors, tmp / "factors.png", se, title=f"Yield-curve factors ({units})"),
            plot_curves(result.panel.maturities, result.panel.frame, result.fitted_yields, tmp / "curve.png",
                        ylabel=units),
            plot_bars(result.pricing_errors, tmp / "errors.png", "Pricing errors, RMSE (bp)", "bp"),
            plot_lines(tp10.to_frame("10-year term premium"), tmp / "tp10.png",
                       f"10-year term premium ({units})", ylabel=units),
        ]
        images = "\n".join(f"<figure>{_img(p)}</figure>" for p in charts)
    blocks = result.parameter_blocks()
    tables = "\n".join(f"<h3>{html.escape(name)}</h3>{_table(frame)}" for name, frame in blocks.items()
                       if name in ("lambda_Q", "r_inf_Q", "K1_P", "K0_P", "Sigma_P", "K1_Q", "lambda_0", "lambda_1"))
    tp_last = tp10.iloc[-1]
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;color:#222}}
figure{{margin:1em 0}} img{{max-width:100%}} table.t{{border-collapse:collapse;font-size:90%}}
table.t td,table.t th{{padding:2px 8px;text-align:right}} pre{{background:#f6f6f6;padding:1em;font-size:80%;
overflow-x:auto}} .kpi{{display:inline-block;margin-right:2em}} .kpi b{{font-size:150%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Gaussian affine term structure model, JSZ canonical form, {result.n_factors} factors, method
<code>{result.method}</code>; {len(result.panel.dates)} dates {result.panel.dates[0]:%Y-%m} to
{result.panel.dates[-1]:%Y-%m}; maturities {", ".join(result.panel.labels)}; yields in {units}.
Converged: <b>{"yes" if result.converged else "NO"}</b>. Generated {dt.datetime.now():%Y-%m-%d %H:%M} by xlatsm.</p>
<p><span class="kpi">10-year term premium, last<br><b>{tp_last:.2f}</b> {units}</span>
<span class="kpi">mean<br><b>{tp10.mean():.2f}</b> {units}</span>
<span class="kpi">mean pricing error<br><b>{result.pricing_errors.mean():.1f}</b> bp</span></p>
{images}
<h2>Pricing errors (RMSE, bp)</h2>{_table(result.pricing_errors.to_frame().T, 3)}
<h2>Parameters</h2>{tables}
<h2>Summary</h2><pre>{html.escape(result.summary())}</pre>
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
