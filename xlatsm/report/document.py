"""One report, two renderings: a self-contained HTML page and a PDF of the same content.

A :class:`Document` is a list of sections (headings, paragraphs, key figures, flags, charts, tables, text). The HTML
page embeds the charts as base64 PNGs. The PDF is printed from that HTML by a headless Chromium/Chrome when one
is installed (``pdf_route="browser"``), or laid out page by page with matplotlib from the same sections
(``pdf_route="matplotlib"``: pure Python, no browser needed; the default when no browser is found).
"""
from __future__ import annotations

import base64
import html
import os
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "msedge")

CSS = """body{font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;color:#222}
figure{margin:1em 0} img{max-width:100%} table.t{border-collapse:collapse;font-size:90%;margin-bottom:1em}
table.t td,table.t th{padding:2px 8px;text-align:right} pre{background:#f6f6f6;padding:1em;font-size:80%;
overflow-x:auto} .kpi{display:inline-block;margin-right:2em;vertical-align:top} .kpi b{font-size:150%}
.flag{background:#fff3cd;border-left:4px solid #d39e00;padding:.4em .8em;margin:.3em 0}
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.4em .8em} .x{color:#b45309}
@media print{body{margin:0;max-width:none} figure{page-break-inside:avoid}}"""


@dataclass
class Section:
    kind: str            # "h2", "p", "kpis", "flags", "figure", "table", "pre"
    content: object
    caption: str = ""


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)

    # -- building ----------------------------------------------------------------------------------------------
    def heading(self, text: str) -> None:
        self.sections.append(Section("h2", text))

    def para(self, text: str) -> None:
        self.sections.append(Section("p", text))

    def kpis(self, items: list[tuple[str, str, str]]) -> None:
        """Key figures: ``(what, value, unit)``."""
        self.sections.append(Section("kpis", items))

    def flags(self, flags: list) -> None:
        self.sections.append(Section("flags", list(flags)))

    def figure(self, png: Path, caption: str = "") -> None:
        self.sections.append(Section("figure", Path(png).read_bytes(), caption or Path(png).stem))

    def table(self, frame: pd.DataFrame, caption: str = "", digits: int = 4) -> None:
        self.sections.append(Section("table", (frame, digits), caption))

    def pre(self, text: str, caption: str = "") -> None:
        self.sections.append(Section("pre", text, caption))

    def merge(self, part: "Document", before: str | None = None) -> None:
        """Put ``part``'s sections before the first heading reading ``before`` (e.g. "Parameters": an added
        section stays next to the results it belongs with, ahead of the reference tables), or at the end."""
        at = next((i for i, s in enumerate(self.sections) if s.kind == "h2" and s.content == before), None)
        if at is None:
            self.sections.extend(part.sections)
        else:
            self.sections[at:at] = part.sections

    @property
    def n_figures(self) -> int:
        return sum(s.kind == "figure" for s in self.sections)

    # -- HTML --------------------------------------------------------------------------------------------------
    def to_html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for s in self.sections:
            if s.kind == "h2":
                body.append(f"<h2>{html.escape(s.content)}</h2>")
            elif s.kind == "p":
                body.append(f"<p>{html.escape(s.content)}</p>")
            elif s.kind == "kpis":
                body.append("<p>" + "\n".join(
                    f'<span class="kpi">{html.escape(what)}<br><b>{html.escape(value)}</b> {html.escape(unit)}</span>'
                    for what, value, unit in s.content) + "</p>")
            elif s.kind == "flags":
                if s.content:
                    body += [f'<div class="flag"><b>{html.escape(f.code)}</b>: {html.escape(f.message)}</div>'
                             for f in s.content]
                else:
                    body.append('<div class="ok">No flags: nothing in this fit calls for caution.</div>')
            elif s.kind == "figure":
                data = base64.b64encode(s.content).decode()
                body.append(f'<figure><img alt="{html.escape(s.caption)}" src="data:image/png;base64,{data}">'
                            f"</figure>")
            elif s.kind == "table":
                frame, digits = s.content
                cap = f"<h3>{html.escape(s.caption)}</h3>" if s.caption else ""
                body.append(cap + frame.to_html(float_format=lambda v: f"{v:.{digits}g}", border=0, classes="t"))
            elif s.kind == "pre":
                cap = f"<h3>{html.escape(s.caption)}</h3>" if s.caption else ""
                body.append(f"{cap}<pre>{html.escape(s.content)}</pre>")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title>\n<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")

    def write_html(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path

    # -- PDF ---------------------------------------------------------------------------------------------------
    def write_pdf(self, path: str | Path, route: str = "auto") -> Path:
        """``route``: "browser" (print the HTML with headless Chromium/Chrome), "matplotlib" (lay out the same
        sections with matplotlib, no browser needed) or "auto" (the browser if one is found, else matplotlib; a
        browser that fails falls back to matplotlib)."""
        path = Path(path)
        if route not in ("auto", "browser", "matplotlib"):
            raise ValueError(f"route must be auto, browser or matplotlib, not {route!r}")
        if route in ("auto", "browser"):
            browser = find_browser()
            if browser is None and route == "browser":
                raise RuntimeError("no Chromium/Chrome found for the browser route")
            if browser is not None:
                try:
                    return self._pdf_by_browser(browser, path)
                except (OSError, subprocess.SubprocessError, RuntimeError):
                    if route == "browser":
                        raise
        return self._pdf_by_matplotlib(path)

    def _pdf_by_browser(self, browser: str, path: Path) -> Path:
        with tempfile.TemporaryDirectory() as tmp:
            page = self.write_html(Path(tmp) / "report.html")
            run_browser(browser, [f"--print-to-pdf={path.resolve()}", "--no-pdf-header-footer", page.as_uri()])
        if not path.exists() or path.read_bytes()[:5] != b"%PDF-":
            raise RuntimeError("the browser wrote no PDF")
        return path

    def _pdf_by_matplotlib(self, path: Path) -> Path:
        from matplotlib.backends.backend_pdf import PdfPages

        from .charts import plt

        with PdfPages(path, metadata={"Title": self.title, "Creator": "xlatsm"}) as pdf:
            _Pager(pdf, plt).render(self)
        return path


class _Pager:
    """Flow the sections down A4 pages (inches; matplotlib figure coordinates)."""

    W, H, M = 8.27, 11.69, 0.6

    def __init__(self, pdf, plt):
        self.pdf, self.plt, self.fig, self.y = pdf, plt, None, 0.0

    def _new_page(self):
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.plt.close(self.fig)
        self.fig = self.plt.figure(figsize=(self.W, self.H))
        self.y = self.H - self.M

    def _need(self, height: float):
        if self.fig is None or self.y - height < self.M:
            self._new_page()

    def _text(self, text: str, size: float = 9, weight: str = "normal", family: str = "sans-serif",
              width: int = 110, color: str = "black", wrap: bool = True):
        lines = []
        for raw in text.splitlines() or [""]:
            if wrap:
                lines += textwrap.wrap(raw, width) or [""]
            else:   # monospace: keep the layout, fold only what would run off the page
                limit = int((self.W - 2 * self.M) * 72 / (0.6 * size))
                lines += textwrap.wrap(raw, limit, subsequent_indent="    ", drop_whitespace=False,
                                       replace_whitespace=False) if len(raw) > limit else [raw]
        step = size / 72 * 1.35
        for line in lines:
            self._need(step)
            self.fig.text(self.M / self.W, self.y / self.H, line, fontsize=size, weight=weight, family=family,
                          color=color, va="top", ha="left")
            self.y -= step
        self.y -= step * 0.4

    def render(self, doc: Document):
        from io import BytesIO

        import matplotlib.image as mpimg

        self._new_page()
        self._text(doc.title, size=15, weight="bold", width=70)
        for s in doc.sections:
            if s.kind == "h2":
                self._need(0.9)
                self.y -= 0.1
                self._text(s.content, size=12, weight="bold", width=85)
            elif s.kind == "p":
                self._text(s.content, size=9, width=115)
            elif s.kind == "kpis":
                self._text("   ".join(f"{what}: {value} {unit}" for what, value, unit in s.content), size=10,
                           weight="bold", width=100)
            elif s.kind == "flags":
                text = "\n".join(f"FLAG {f.code}: {f.message}" for f in s.content) or \
                    "No flags: nothing in this fit calls for caution."
                self._text(text, size=9, width=115, color="#8a5a00" if s.content else "#2e7d32")
            elif s.kind == "figure":
                img = mpimg.imread(BytesIO(s.content), format="png")
                h_px, w_px = img.shape[:2]
                width = self.W - 2 * self.M
                height = width * h_px / w_px
                if height > self.H - 2 * self.M:
                    height = self.H - 2 * self.M
                    width = height * w_px / h_px
                self._need(height + 0.1)
                ax = self.fig.add_axes([self.M / self.W, (self.y - height) / self.H, width / self.W,
                                        height / self.H])
                ax.imshow(img)
                ax.set_axis_off()
                self.y -= height + 0.15
            elif s.kind == "table":
                frame, digits = s.content
                if s.caption:
                    self._text(s.caption, size=10, weight="bold")
                text = frame.to_string(float_format=lambda v: f"{v:.{digits}g}", line_width=125)
                self._text(text, size=7, family="monospace", wrap=False)
            elif s.kind == "pre":
                if s.caption:
                    self._text(s.caption, size=10, weight="bold")
                self._text(s.content, size=6.5, family="monospace", wrap=False)
        self.pdf.savefig(self.fig)
        self.plt.close(self.fig)


def find_browser() -> str | None:
    """A headless-capable Chromium or Chrome on PATH (``XLATSM_BROWSER`` names one explicitly), or None."""
    explicit = os.environ.get("XLATSM_BROWSER")
    if explicit:
        return explicit if shutil.which(explicit) or Path(explicit).exists() else None
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def run_browser(browser: str, args: list[str], timeout: float = 90) -> None:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", f"--user-data-dir={profile}", *args]
        subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1100, height: int = 4000,
               browser: str | None = None) -> Path:
    """A PNG of the HTML page as a browser draws it (for tests and previews)."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium/Chrome found")
    png_path = Path(png_path)
    run_browser(browser, [f"--screenshot={png_path.resolve()}", f"--window-size={width},{height}",
                          Path(html_path).resolve().as_uri()])
    return png_path
