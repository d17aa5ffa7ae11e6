"""A self-contained HTML report: text, tables and figures embedded as base64 PNG.

The file needs nothing else to display (no scripts, no network), so it can be
mailed or archived with the results.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..base import atomic_write_bytes

__all__ = ["Report", "is_p_value_column", "format_p_value"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #1f4e79;padding-bottom:.2em}
h2{color:#1f4e79;margin-top:2em;border-bottom:1px solid #ddd}
h3{color:#333}
figure{margin:1em 0;text-align:center}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f6fa}
td:first-child,th:first-child{text-align:left}
.meta{color:#666;font-size:.85em}
nav ul{columns:2;font-size:.9em}
"""


_P_NAMES = {"p", "q", "fdr", "pvalue", "p_value", "qvalue", "q_value", "padj", "p_adj", "adj_p", "pval", "qval"}
_P_SUFFIXES = ("_p", "_fdr", "_pvalue", "_p_value", "_qvalue", "_q_value", "_padj", "_p_adj", "_pval")


def is_p_value_column(name: Any) -> bool:
    """Whether a column holds p-values or FDRs, judged by its name: ``p``, ``p_value``,
    ``fdr``, ``q``, ``q_value``, ``padj`` ..., or a name ending in ``_p``, ``_fdr``,
    ``_p_value`` ... (e.g. ``delong_p``), or starting with ``fdr``."""
    text = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return text in _P_NAMES or text.endswith(_P_SUFFIXES) or text.startswith("fdr")


def format_p_value(value: Any) -> str:
    """A p-value or FDR for a report table: scientific notation with 3 significant
    digits (``6.16e-21``, ``5.00e-02``); text (e.g. "n/a (...)") as it is; blank
    for a missing value."""
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return ""
        return f"{float(value):.2e}"
    except (TypeError, ValueError):
        return str(value)


@dataclass
class _Section:
    title: str
    level: int
    blocks: list[str] = field(default_factory=list)


class Report:
    """Collect sections, tables and figures; write one HTML file.

    Example
    -------
    >>> rep = Report("My study")
    >>> rep.section("Results")
    >>> rep.text("Held-out canonical correlations by method.")
    >>> rep.table(df, caption="Table 1")          # doctest: +SKIP
    >>> rep.figure(fig, caption="Figure 1")        # doctest: +SKIP
    >>> rep.write("out/report.html")               # doctest: +SKIP
    """

    def __init__(self, title: str, subtitle: str | None = None, figure_dir=None) -> None:
        self.title = title
        self.subtitle = subtitle
        #: When set, every figure is also written there as ``figNN_<caption>.png``.
        self.figure_dir = Path(figure_dir) if figure_dir is not None else None
        self.figure_files: list[Path] = []
        self.sections: list[_Section] = []
        self.n_figures = 0

    def _current(self) -> _Section:
        if not self.sections:
            self.section("Results")
        return self.sections[-1]

    def section(self, title: str, level: int = 2) -> "Report":
        """Start a new section (``level`` 2) or subsection (``level`` 3)."""
        self.sections.append(_Section(title, level))
        return self

    def text(self, paragraph: str) -> "Report":
        """A paragraph of plain text (escaped)."""
        self._current().blocks.append(f"<p>{html.escape(paragraph)}</p>")
        return self

    def table(self, frame: pd.DataFrame, caption: str | None = None, float_format: str = "{:.3f}", max_rows: int = 200) -> "Report":
        """A table; floats are formatted with ``float_format``, p-values and FDRs in
        scientific notation (columns that :func:`is_p_value_column` recognises).

        The index is shown unless it is an unnamed integer index (row numbers).
        Text entries of a p-value column (e.g. "n/a (...)") are shown as they are.
        """
        shown = frame.head(max_rows)
        formatters = {}
        for c in shown.columns:
            if is_p_value_column(c):
                formatters[c] = format_p_value
            elif pd.api.types.is_float_dtype(shown[c]):
                formatters[c] = lambda v, f=float_format: f.format(v) if pd.notna(v) else ""
        index = shown.index
        show_index = any(n is not None for n in index.names) or not pd.api.types.is_integer_dtype(index.dtype)
        body = shown.to_html(index=show_index, formatters=formatters, border=0, escape=True)
        cap = f"<p class='meta'>{html.escape(caption)}</p>" if caption else ""
        more = f"<p class='meta'>first {max_rows} of {len(frame)} rows</p>" if len(frame) > max_rows else ""
        self._current().blocks.append(cap + body + more)
        return self

    def figure(self, fig: Any, caption: str | None = None, dpi: int = 110) -> "Report":
        """Embed a matplotlib figure (closed afterwards) or a PNG file path."""
        if isinstance(fig, (str, Path)):
            png = Path(fig).read_bytes()
        else:
            import matplotlib.pyplot as plt

            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
            plt.close(fig)
            png = buf.getvalue()
        self.n_figures += 1
        if self.figure_dir is not None:
            slug = re.sub(r"[^a-z0-9]+", "_", (caption or "figure").lower()).strip("_")[:40] or "figure"
            target = self.figure_dir / f"fig{self.n_figures:02d}_{slug}.png"
            atomic_write_bytes(target, lambda fh: fh.write(png))
            self.figure_files.append(target)
        data = base64.b64encode(png).decode("ascii")
        cap = f"<figcaption>Figure {self.n_figures}. {html.escape(caption)}</figcaption>" if caption else ""
        self._current().blocks.append(
            f"<figure><img alt='{html.escape(caption or 'figure')}' src='data:image/png;base64,{data}'>{cap}</figure>"
        )
        return self

    def render(self) -> str:
        """The whole document as a string."""
        toc = "".join(
            f"<li><a href='#s{i}'>{html.escape(s.title)}</a></li>" for i, s in enumerate(self.sections) if s.level == 2
        )
        parts = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        if self.subtitle:
            parts.append(f"<p>{html.escape(self.subtitle)}</p>")
        from .. import __version__

        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        parts.append(f"<p class='meta'>imaging-genetics {__version__} · generated {stamp}</p>")
        if toc:
            parts.append(f"<nav><ul>{toc}</ul></nav>")
        for i, s in enumerate(self.sections):
            parts.append(f"<h{s.level} id='s{i}'>{html.escape(s.title)}</h{s.level}>")
            parts.extend(s.blocks)
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, path) -> Path:
        """Write the report atomically; returns the path."""
        document = self.render().encode("utf-8")
        return atomic_write_bytes(path, lambda fh: fh.write(document))
